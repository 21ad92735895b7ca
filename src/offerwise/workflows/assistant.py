"""``offerwise brief``, ``copy`` and ``explain``: the language-model assistant, end to end.

Each reads what it needs (the shop's menu and segments, the plan and its summary), asks the
configured backend (:func:`offerwise.assistant.backends.make_backend`) and returns what was
checked; nothing a check rejects is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from offerwise._io import read_table, write_table, write_text
from offerwise.assistant.backends import Backend, make_backend
from offerwise.assistant.brief import BriefContext, RulesDraft, draft_rules, rules_diff
from offerwise.assistant.copywriter import CopyMessage, CopyRequest, write_messages
from offerwise.assistant.explain import Explanation, PlanFacts, explain_plan
from offerwise.assistant.terms import OfferTerms
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import InputError
from offerwise.vocab import NO_OFFER, SEGMENTS, plan_model_dir, summary_path
from offerwise.workflows._common import DataArg, open_data

__all__ = [
    "BriefRun",
    "CopyRun",
    "ExplainRun",
    "brief_context",
    "copy_plan",
    "draft_brief",
    "explain",
    "offer_terms",
]


@dataclass(slots=True)
class BriefRun:
    """A drafted rules file, its diff against ``rules_out`` and whether it was written."""

    draft: RulesDraft
    rules_out: Path
    diff: str = ""
    written: Path | None = None


@dataclass(slots=True)
class CopyRun:
    """Checked messages, one per (offer, segment), and where they were written."""

    messages: list[CopyMessage]
    out: Path
    backend: str

    @property
    def n_model(self) -> int:
        return sum(m.source == "model" for m in self.messages)

    @property
    def n_fallback(self) -> int:
        """Messages a model wrote that failed the check (or were never written): template used."""
        return sum(m.source == "template" and bool(m.fallback) for m in self.messages)


@dataclass(slots=True)
class ExplainRun:
    """A plan's explanation."""

    explanation: Explanation
    plan: Path
    facts: PlanFacts


#: Category cells that mean "no category" (a None written as text by some writers).
NO_CATEGORY = ("", "None", "none", "nan", "NaN", "<NA>")


def offer_terms(offers: pd.DataFrame) -> list[OfferTerms]:
    """The offer menu (data contract ``offers``) as :class:`OfferTerms`."""
    out = []
    for r in offers.to_dict("records"):
        ms, cat, mo = r.get("min_spend"), r.get("category"), r.get("members_only")
        out.append(
            OfferTerms(
                offer_id=str(r["offer_id"]),
                kind=str(r["kind"]),
                value=float(r["value"]),
                min_spend=0.0 if ms is None or pd.isna(ms) else float(ms),
                category=None
                if cat is None or pd.isna(cat) or str(cat) in NO_CATEGORY
                else str(cat),
                members_only=False if mo is None or pd.isna(mo) else bool(mo),
            )
        )
    return out


def _categories(ds: DataSet | None, terms: list[OfferTerms]) -> tuple[str, ...]:
    cats = [t.category for t in terms if t.category]
    if ds is not None and ds.has("products"):
        rows = ds.con.execute(
            "SELECT DISTINCT category FROM products WHERE category IS NOT NULL"
        ).fetchall()
        cats += [str(r[0]) for r in rows]
    return tuple(sorted(set(cats)))


def brief_context(ds: DataSet | None) -> BriefContext:
    """The shop's offers, segment names (offerwise's and the customers table's) and customer
    columns; offerwise's segments alone without data."""
    if ds is None:
        return BriefContext()
    terms = tuple(offer_terms(ds.frame("offers"))) if ds.has("offers") else ()
    cols: tuple[str, ...] = ()
    segs = list(SEGMENTS)
    if ds.has("customers"):
        cols = tuple(
            str(d[0]) for d in ds.con.execute("SELECT * FROM customers LIMIT 0").description
        )
        if "segment" in cols:
            rows = ds.con.execute("SELECT DISTINCT segment FROM customers").fetchall()
            segs += [str(r[0]) for r in rows if r[0] is not None]
        cols = tuple(c for c in cols if c not in ("customer_id", "segment"))
    return BriefContext(terms, tuple(dict.fromkeys(segs)), cols)


def draft_brief(
    brief: str,
    *,
    data: DataArg | None = None,
    rules_out: str | Path = "rules.toml",
    write: bool = False,
    backend: Backend | None = None,
    settings: Settings | None = None,
) -> BriefRun:
    """Draft rules for ``brief``; diff them against ``rules_out`` (empty when absent); with
    ``write`` and a draft that passed every check, write it atomically."""
    if not brief.strip():
        raise InputError("the brief is empty: say what the campaign should do")
    if Path(rules_out).suffix != ".toml":
        raise InputError(f"--rules-out must be a .toml file (the draft is TOML): {rules_out}")
    settings = settings or default_settings()
    ds = open_data(data, settings) if data is not None else None
    backend = backend or make_backend()
    draft = draft_rules(brief, brief_context(ds), backend)
    out = Path(rules_out)
    run = BriefRun(draft, out)
    if draft.toml is not None:
        current = out.read_text() if out.exists() else ""
        header = f"# drafted by {draft.backend} from the brief: {' '.join(brief.split())}\n"
        draft.toml = header + draft.toml
        run.diff = rules_diff(current, draft.toml, out.name)
        if write:
            run.written = write_text(draft.toml, out)
    return run


def _menu(
    plan: Path, data: DataArg | None, model: Path | None, settings: Settings
) -> tuple[list[OfferTerms], DataSet | None]:
    if data is not None:
        ds = open_data(data, settings, ("offers",))
        return offer_terms(ds.frame("offers")), ds
    places = [model / "offers.parquet"] if model is not None else []
    places += [plan.parent / "offers.parquet", plan.parent / "model" / "offers.parquet"]
    made_with = plan_model_dir(plan)
    places += [made_with / "offers.parquet"] if made_with is not None else []
    for p in places:
        if p.exists():
            return offer_terms(read_table(p, "offer menu", ("offer_id", "kind", "value"))), None
    raise InputError(
        f"{plan}: the offer terms are needed to write messages: pass --data DIR (the shop's "
        "offers table) or --model DIR (its offers.parquet)"
    )


def copy_plan(
    plan: str | Path,
    out: str | Path,
    *,
    data: DataArg | None = None,
    model: str | Path | None = None,
    backend: Backend | None = None,
    settings: Settings | None = None,
) -> CopyRun:
    """One checked message per (offer, segment) of the plan's treatment group, written to
    ``out`` (CSV or Parquet) with who wrote it and why a template replaced a model's text."""
    plan = Path(plan)
    settings = settings or default_settings()
    df = read_table(plan, "plan", ("offer_id", "segment"))
    if "group" in df.columns:
        df = df[df["group"].astype(str) != "holdout"]
    df = df[df["offer_id"].astype(str) != NO_OFFER]
    terms, ds = _menu(plan, data, Path(model) if model else None, settings)
    by_id = {t.offer_id: t for t in terms}
    counts = df.groupby(["offer_id", "segment"], sort=True).size()
    missing = sorted({str(o) for o, _ in counts.index} - set(by_id))
    if missing:
        raise InputError(f"{plan}: offer(s) {', '.join(missing)} are not in the offer menu")
    reqs = [CopyRequest(by_id[str(o)], str(s), int(n)) for (o, s), n in counts.items()]
    backend = backend or make_backend()
    msgs = write_messages(reqs, backend, _categories(ds, terms))
    table = pd.DataFrame(
        [
            {
                "offer_id": m.offer_id,
                "segment": m.segment,
                "n_customers": m.n_customers,
                "message": m.message,
                "source": m.source,
                "backend": m.backend,
                "fallback_reason": m.fallback,
            }
            for m in msgs
        ],
        columns=[
            "offer_id",
            "segment",
            "n_customers",
            "message",
            "source",
            "backend",
            "fallback_reason",
        ],
    )
    out = write_table(table, out)
    return CopyRun(msgs, out, backend.name)


def plan_facts(plan: str | Path) -> PlanFacts:
    """The figures of the plan's ``.summary.json`` sidecar."""
    side = summary_path(Path(plan))
    if not side.exists():
        raise InputError(
            f"{plan}: its summary {side.name} is missing (written by `offerwise plan`)"
        )
    try:
        return PlanFacts.model_validate(json.loads(side.read_text()))
    except (ValueError, ValidationError) as exc:
        raise InputError(f"{side}: not a plan summary: {exc}") from exc


def explain(plan: str | Path, *, backend: Backend | None = None) -> ExplainRun:
    """The plan in plain words: the model's text if every figure in it is the summary's, else the
    template's (and why)."""
    facts = plan_facts(plan)
    backend = backend or make_backend()
    return ExplainRun(explain_plan(facts, backend), Path(plan), facts)

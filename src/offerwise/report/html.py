"""Assemble the one-file HTML report.

The page is self-contained: plots are PNGs embedded as base64 ``data:`` URIs, the CSS is inline,
there is no JavaScript and no external font, image or link, so it opens without a network. Every
value that comes from data is passed through :func:`html.escape`. Each section is optional: a
missing input gives a short "not available" note; an input that cannot be drawn gives a note with
the reason instead of failing the whole report.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offerwise._io import write_text
from offerwise.errors import InputError, require
from offerwise.report import plots
from offerwise.report.inputs import ReportInputs
from offerwise.report.tables import (
    campaign_results,
    category_mix,
    expected_vs_measured,
    fairness_audit,
    four_fifths_summary,
    id_overlap,
    key_numbers,
    offer_colors,
    top_categories_by_segment,
    treated_rows,
)
from offerwise.vocab import NO_OFFER, UPLIFT_METRICS_LEGEND

__all__ = ["HINTS", "Section", "build_report", "render_html"]

#: What to run when an input is missing (shown in the section's note).
HINTS: dict[str, str] = {
    "profiles": "pass --profiles PROFILES.parquet (one row per customer with a segment column)",
    "model": "pass --model MODEL_DIR from `offerwise train --out MODEL_DIR`",
    "curves": "the model directory has no uplift_curves.parquet; retrain with `offerwise train`",
    "importance": (
        "the model directory has no feature_importance.parquet; retrain with `offerwise train`"
    ),
    "plan": "run `offerwise plan --out PLAN.parquet` and pass --plan PLAN.parquet",
    "frontier": "no PLAN.frontier.parquet beside the plan; `offerwise plan` writes it",
    "customers": "pass customer attributes (--data DATA or --profiles with the protected columns)",
    "analysis": (
        "analyse the campaign once outcomes are in (`offerwise analyze ... --out ANALYSIS.json`) "
        "and pass --analysis ANALYSIS.json"
    ),
    "forecast": "run `offerwise forecast --data DATA --level category --horizon 12 --out "
    "FC.parquet` and pass --forecast FC.parquet",
    "elasticity": "run `offerwise elasticity --data DATA --out EL.parquet` and pass "
    "--elasticity EL.parquet",
    "categories": "run `offerwise categories --data DATA --out CAT.parquet` (with "
    "competitor_prices and inventory tables in the data) and pass --categories CAT.parquet",
}

PNG_DPI = 110
Fmt = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class Section:
    """One report section: anchor ``id``, ``title`` and its HTML ``body``."""

    id: str
    title: str
    body: str


# --------------------------------------------------------------------------------------------
# small HTML helpers
# --------------------------------------------------------------------------------------------


def esc(v: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(v), quote=True)


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def money(currency: str, decimals: int = 0) -> Fmt:
    def f(v: Any) -> str:
        if not _finite(v):
            return "–"
        x = float(v)
        return f"{'−' if x < 0 else ''}{currency}{abs(x):,.{decimals}f}"

    return f


def pct(decimals: int = 1, signed: bool = False) -> Fmt:
    def f(v: Any) -> str:
        if not _finite(v):
            return "–"
        return f"{float(v):{'+' if signed else ''}.{decimals}%}"

    return f


def num(decimals: int = 0, signed: bool = False) -> Fmt:
    def f(v: Any) -> str:
        if not _finite(v):
            return "–"
        return f"{float(v):{'+' if signed else ''},.{decimals}f}"

    return f


def pvalue(v: Any) -> str:
    if not _finite(v):
        return "–"
    return "< 0.001" if float(v) < 0.001 else f"{float(v):.3f}"


def p_text(v: Any) -> str:
    """``p < 0.001`` or ``p = 0.123``."""
    s = pvalue(v)
    return f"p {s}" if s.startswith("<") else f"p = {s}"


def text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–"
    return str(v)


def note(message: str) -> str:
    return f'<p class="na">{esc(message)}</p>'


def table(
    df: pd.DataFrame,
    columns: Sequence[tuple[str, str, Fmt]],
    *,
    row_class: Callable[[pd.Series], str] | None = None,
) -> str:
    """An HTML table of ``df``: ``columns`` = (column, header, formatter); cells escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in columns)
    rows = []
    for _, r in df.iterrows():
        cls = row_class(r) if row_class else ""
        cells = []
        for col, _, fmt in columns:
            v = r[col] if col in r.index else None
            numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                v, bool
            )
            td = '<td class="n">' if numeric else "<td>"
            cells.append(f"{td}{esc(fmt(v))}</td>")
        tr = f'<tr class="{esc(cls)}">' if cls else "<tr>"
        rows.append(tr + "".join(cells) + "</tr>")
    body = "".join(rows)
    return (
        f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    w, h = struct.unpack(">II", png[16:24])
    return int(w), int(h)


def image(fig: Any, name: str, alt: str, caption: str | None = None) -> str:
    """A figure as an embedded PNG (``data:`` URI); ``data-plot`` names it for tests."""
    png = plots.figure_to_png(fig, dpi=PNG_DPI)
    w, h = _png_size(png)
    b64 = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="plot"><img class="plot-img" data-plot="{esc(name)}" alt="{esc(alt)}" '
        f'width="{w}" height="{h}" src="data:image/png;base64,{b64}">{cap}</figure>'
    )


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------


def _all_offers(inp: ReportInputs) -> list[str]:
    ids: set[str] = set()
    if inp.offers is not None and "offer_id" in inp.offers.columns:
        ids |= set(inp.offers["offer_id"].astype(str))
    if inp.model_meta and isinstance(inp.model_meta.get("offers"), list):
        ids |= {str(o) for o in inp.model_meta["offers"]}
    for df in (inp.plan, inp.uplift_curves, inp.feature_importance):
        if df is not None and "offer_id" in df.columns:
            ids |= set(df["offer_id"].astype(str))
    return sorted(ids)


def _first_campaign_plan(inp: ReportInputs) -> bool:
    """The plan was made without a model (a randomized first campaign): no expected profit."""
    return isinstance((inp.plan_summary or {}).get("first_campaign"), dict)


def _known_profit(
    inp: ReportInputs, cols: list[tuple[str, str, Fmt]]
) -> list[tuple[str, str, Fmt]]:
    """``cols`` without the expected incremental profit where the plan has none (a first
    campaign's zeros are not an estimate)."""
    return [c for c in cols if c[0] != "incremental_profit"] if _first_campaign_plan(inp) else cols


def _summary(inp: ReportInputs) -> str:
    k = key_numbers(inp.plan, inp.plan_summary, inp.profiles)
    cur = inp.currency
    cards = [
        ("Customers", num()(k.customers) if k.customers is not None else "–"),
        ("Offered a discount", num()(k.offered) if k.offered is not None else "–"),
        ("Holdout", num()(k.holdout) if k.holdout is not None else "–"),
        (
            "Budget",
            money(cur)(k.budget) if k.budget is not None else "no cap" if inp.plan_summary else "–",
        ),
        ("Expected discount cost", money(cur)(k.expected_cost)),
        ("Expected incremental profit", money(cur)(k.expected_incremental_profit)),
        ("ROI (profit / cost)", pct(0)(k.roi)),
    ]
    if _first_campaign_plan(inp):  # no model: the profit is unknown
        cards[-3:] = [
            (_cost_label(inp).capitalize(), money(cur)(k.expected_cost)),
            ("Expected incremental profit", "unknown (first campaign)"),
        ]
    if k.customers and k.offered is not None:
        cards.insert(2, ("Share offered", pct(1)(k.offered / k.customers)))
    grid = "".join(
        f'<div class="kpi"><div class="v">{esc(v)}</div><div class="l">{esc(lbl)}</div></div>'
        for lbl, v in cards
    )
    meta = [
        ("offerwise version", inp.version),
        ("data fingerprint", inp.data_fingerprint or "–"),
        ("campaign", k.campaign_id or "–"),
        ("objective", k.objective or "–"),
        ("lambda (shadow price of budget)", num(4)(k.lam) if k.lam is not None else "–"),
    ]
    if inp.model_meta and inp.model_meta.get("version"):
        meta.append(("model trained with offerwise", inp.model_meta["version"]))
    if inp.model_card and inp.model_card.get("learner"):
        meta.append(("learner", inp.model_card["learner"]))
    meta.append(("generated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")))
    meta += [(f"input: {k2}", v) for k2, v in inp.sources.items()]
    dl = "".join(f"<dt>{esc(a)}</dt><dd>{esc(b)}</dd>" for a, b in meta)
    extra = "" if inp.plan is not None else note(f"Not available: no plan. {HINTS['plan']}.")
    return f'<div class="kpis">{grid}</div>{extra}<dl class="meta">{dl}</dl>'


def _population_check(inp: ReportInputs) -> str:
    """A warning when the profiles' customers are not the plan's customers (ids compared)."""
    prof, plan = inp.profiles, inp.plan
    if prof is None or plan is None:
        return ""
    if "customer_id" not in prof.columns or "customer_id" not in plan.columns:
        return note(
            "Cannot check that these profiles describe the plan's customers: "
            "no customer_id column to compare."
        )
    ov = id_overlap(prof, plan)
    if ov.same:
        return f"<p>These are the plan's {ov.n_right:,} customers.</p>"
    if ov.n_common == 0:
        what = "none of the plan's customers"
    else:
        what = (
            f"{ov.n_common:,} of the plan's {ov.n_right:,} customers "
            f"({ov.n_common / ov.n_right:.0%}); the other {ov.n_left - ov.n_common:,} profiled "
            f"customers are not in the plan"
        )
    return (
        f'<p class="alert">These profiles are not the plan\'s customers: the {ov.n_left:,} '
        f"profiled customers include {esc(what)}. The segments below describe a different "
        f"population from the offer mix, fairness audit and campaign results; pass the profiles "
        f"of the customers the plan was made for.</p>"
    )


def _segments(inp: ReportInputs) -> str:
    if inp.profiles is None:
        return note(f"Not available: no customer profiles. {HINTS['profiles']}.")
    if "segment" not in inp.profiles.columns:
        return note("Not available: the profiles have no 'segment' column.")
    n = (
        inp.profiles["customer_id"].astype(str).nunique()
        if "customer_id" in inp.profiles.columns
        else len(inp.profiles)
    )
    src = inp.sources.get("profiles", "(in memory)")
    population = f"<p>Population: {n:,} customers, profiles from {esc(src)}.</p>"
    fig = plots.plot_segment_profiles(inp.profiles, currency=inp.currency)
    return (
        population
        + _population_check(inp)
        + image(
            fig,
            "segment_profiles",
            "Customers and mean profile features per segment",
            "Mean of each profile feature per segment; segments sorted by size.",
        )
    )


def _model(inp: ReportInputs, colors: dict[str, str]) -> str:
    if not inp.sources.get("model"):
        return note(f"Not available: no model. {HINTS['model']}.")
    parts = []
    card = inp.model_card or {}
    per_offer = (card.get("holdout") or {}).get("per_offer") or card.get("per_offer") or {}
    facts = []
    if card.get("learner"):
        facts.append(f"learner <b>{esc(card['learner'])}</b>")
    if card.get("n_exposures") is not None:
        facts.append(f"trained on <b>{esc(num()(card['n_exposures']))}</b> logged exposures")
    if card.get("n_holdout") is not None:
        facts.append(f"evaluated on <b>{esc(num()(card['n_holdout']))}</b> holdout exposures")
    if facts:
        parts.append(f"<p>{', '.join(facts)}.</p>")
    if inp.uplift_curves is None:
        parts.append(note(f"Not available: uplift curves. {HINTS['curves']}."))
    else:
        outcome = (card.get("holdout") or {}).get("outcome")
        label = (
            f"cumulative incremental {str(outcome).replace('_', ' ')} ({inp.currency})"
            if outcome
            else None
        )
        fig = plots.plot_uplift_curves(
            inp.uplift_curves,
            metrics=per_offer,
            colors=colors,
            currency=inp.currency,
            value_label=label,
        )
        parts.append(
            image(
                fig,
                "uplift_curves",
                "Qini curves per offer against random targeting",
                "Above the dashed line: the model ranks responsive customers first.",
            )
        )
    if per_offer:
        df = pd.DataFrame(
            [{"offer_id": o, **(m if isinstance(m, dict) else {})} for o, m in per_offer.items()]
        )
        known = [
            ("n_treatment", "n treated", num()),
            ("n_control", "n control", num()),
            ("qini", "Qini", num(2)),
            ("qini_normalized", "Qini (normalised)", num(3)),
            ("normalized", "normalised", num(3)),
            ("auuc", "AUUC", num(2)),
            ("auuc_normalized", "AUUC (normalised)", num(3)),
            ("uplift_at_10", "uplift @10%", num(3)),
            ("conversion_auc", "conversion AUC", num(3)),
            ("cost_mae", "cost MAE", num(3)),
        ]
        cols = [("offer_id", "offer", text)] + [c for c in known if c[0] in df.columns]
        parts.append(
            "<h3>Holdout metrics per offer</h3>" + table(df, cols) + note(UPLIFT_METRICS_LEGEND)
        )
    elif inp.model_card is None:
        parts.append(note("Not available: the model directory has no model_card.json."))
    warns = card.get("warnings") or []
    if warns:
        parts.append('<ul class="warn">' + "".join(f"<li>{esc(w)}</li>" for w in warns) + "</ul>")
    return "".join(parts)


def _frontier(inp: ReportInputs) -> str:
    if inp.plan is None:
        return note(f"Not available: no plan. {HINTS['plan']}.")
    if inp.frontier is None:
        return note(f"Not available: budget frontier. {HINTS['frontier']}.")
    s = inp.plan_summary or {}
    budget = float(s["budget"]) if _finite(s.get("budget")) else None
    value = (
        float(s["expected_incremental_profit"])
        if _finite(s.get("expected_incremental_profit"))
        else None
    )
    cur = inp.currency
    caption = "Each point is an optimal plan at that budget."
    x = budget
    if x is None and value is not None and _finite(s.get("expected_cost")):
        x = float(s["expected_cost"])  # no budget cap: the plan sits at what it spends
    if x is not None and value is not None:
        caption += (
            f" The diamond is this plan as its summary states it: budget "
            f"{money(cur)(budget) if budget is not None else 'uncapped'}"
            f"{'' if budget is not None else f' (spends {money(cur)(x)})'}, expected incremental "
            f"profit {money(cur)(value)}."
        )
        f = inp.frontier
        if {"budget", "value"} <= set(f.columns):
            fb = pd.to_numeric(f["budget"], errors="coerce")
            fv = pd.to_numeric(f["value"], errors="coerce")
            ok = fb.notna() & fv.notna()
            if ok.any():
                order = np.argsort(fb[ok].to_numpy())
                at = float(np.interp(x, fb[ok].to_numpy()[order], fv[ok].to_numpy()[order]))
                if abs(at - value) > 0.01 * max(abs(value), 1.0):
                    caption += (
                        f" The frontier curve reads {money(cur)(at)} at this budget; the plan's "
                        f"own figure differs because the curve is computed separately from "
                        f"the plan."
                    )
    elif x is not None:
        caption += " The dotted line is this plan's budget (its summary states no expected profit)."
    fig = plots.plot_budget_frontier(inp.frontier, budget=x, plan_value=value, currency=cur)
    return image(fig, "budget_frontier", "Expected incremental profit against the budget", caption)


def _mix(inp: ReportInputs, colors: dict[str, str]) -> str:
    if inp.plan is None:
        return note(f"Not available: no plan. {HINTS['plan']}.")
    fig = plots.plot_offer_mix(inp.plan, colors=colors)
    p = treated_rows(inp.plan)
    cur = inp.currency
    agg = p.assign(offer_id=p["offer_id"].astype(str))
    agg = agg.assign(
        **{
            c: pd.to_numeric(agg[c], errors="coerce")
            for c in ("expected_cost", "incremental_profit")
            if c in agg.columns
        }
    )
    g = agg.groupby("offer_id")
    t = pd.DataFrame({"customers": g.size()})
    t["share"] = t["customers"] / t["customers"].sum()
    for c in ("expected_cost", "incremental_profit"):
        if c in agg.columns:
            t[c] = g[c].sum()
    t = t.sort_values("customers", ascending=False).reset_index()
    cols: list[tuple[str, str, Fmt]] = [
        ("offer_id", "offer", text),
        ("customers", "customers", num()),
        ("share", "share", pct(1)),
    ]
    first = _first_campaign_plan(inp)
    if "expected_cost" in t.columns:
        cols.append(("expected_cost", f"{_cost_label(inp)} ({cur})", money(cur)))
    if "incremental_profit" in t.columns and not first:
        cols.append(("incremental_profit", f"expected incremental profit ({cur})", money(cur)))
    return image(fig, "offer_mix", "Share of customers per offer in each segment") + table(t, cols)


def _categories(inp: ReportInputs) -> str:
    """The plan's category mix and each segment's top categories (from the profiles)."""
    parts = []
    cur = inp.currency
    if inp.plan is None:
        parts.append(note(f"Not available: the plan's category mix (no plan). {HINTS['plan']}."))
    else:
        mix = category_mix(inp.plan)
        cols: list[tuple[str, str, Fmt]] = [
            ("category", "category the offer is scoped to", text),
            ("customers", "customers", num()),
            ("share", "share of offers", pct(1)),
        ]
        if "expected_cost" in mix.columns:
            cols.append(("expected_cost", f"expected cost ({cur})", money(cur)))
        cols.append(("offers", "offers", text))
        parts.append(
            "<h3>The plan's targeted categories</h3><p>Treated customers given an offer, by the "
            "category the offer is scoped to (a recommendation template's concrete category, a "
            "fixed category, or site-wide).</p>" + table(mix, cols)
        )
    if inp.profiles is None:
        parts.append(note(f"Not available: top categories (no profiles). {HINTS['profiles']}."))
    else:
        top = top_categories_by_segment(inp.profiles)
        if not len(top):
            parts.append(note("Not available: the profiles have no top_category column."))
        else:
            cols2: list[tuple[str, str, Fmt]] = [
                ("segment", "segment", text),
                ("rank", "rank", num()),
                ("category", "top category of the customer", text),
                ("customers", "customers", num()),
                ("share", "share of the segment", pct(1)),
            ]
            parts.append(
                "<h3>Top categories per segment</h3><p>The categories most often a customer's "
                "largest share of spend, per segment (profiles).</p>" + table(top, cols2)
            )
    return "".join(parts)


def _fairness(inp: ReportInputs) -> str:
    if inp.plan is None:
        return note(f"Not available: no plan. {HINTS['plan']}.")
    protected = list(inp.protected_attributes)
    source = None
    for df in (inp.customers, inp.profiles):
        if (
            df is not None
            and "customer_id" in df.columns
            and any(a in df.columns for a in protected)
        ):
            source = df
            break
    if source is None:
        return note(
            f"Not available: no protected attribute ({', '.join(protected) or 'none configured'}) "
            f"in the customer data. {HINTS['customers']}."
        )
    audit = fairness_audit(inp.plan, source, protected)
    missing = [a for a in protected if a not in source.columns]
    summ = four_fifths_summary(audit)
    fig = plots.plot_fairness(audit, currency=inp.currency)
    intro = (
        "<p>Protected attributes are never decision features; this audit checks the outcome. "
        "Four-fifths ratio = lowest group offer rate / highest group offer rate; below 0.8 is "
        "flagged for review (treatment group only).</p>"
    )
    flagged = summ[summ["flagged"]]
    alert = ""
    if len(flagged):
        alert = (
            '<p class="alert">Flagged: '
            + esc(", ".join(f"{r.attribute} ({r.ratio:.2f})" for r in flagged.itertuples()))
            + "</p>"
        )
    cur = inp.currency
    t1 = table(
        summ,
        [
            ("attribute", "attribute", text),
            ("groups", "groups", num()),
            ("min_rate_group", "lowest group", text),
            ("min_rate", "its offer rate", pct(1)),
            ("max_rate_group", "highest group", text),
            ("max_rate", "its offer rate", pct(1)),
            ("ratio", "four-fifths ratio", num(2)),
            ("flagged", "flagged", lambda v: "yes" if v else "no"),
        ],
        row_class=lambda r: "bad" if r["flagged"] else "",
    )
    t2 = table(
        audit,
        [
            ("attribute", "attribute", text),
            ("group", "group", text),
            ("n", "customers", num()),
            ("offer_rate", "offer rate", pct(1)),
            ("avg_discount", f"avg discount ({cur})", money(cur, 2)),
            ("ratio_to_max", "ratio to top group", num(2)),
            ("four_fifths_ok", "four-fifths ok", lambda v: "yes" if v else "no"),
        ],
        row_class=lambda r: "" if r["four_fifths_ok"] else "bad",
    )
    miss = note(f"Not in the customer data: {', '.join(missing)}.") if missing else ""
    return (
        intro
        + alert
        + image(fig, "fairness", "Offer rate and average discount by group")
        + t1
        + "<details><summary>All groups</summary>"
        + t2
        + "</details>"
        + miss
    )


def _drivers(inp: ReportInputs, colors: dict[str, str]) -> str:
    parts = []
    if inp.feature_importance is None:
        hint = HINTS["importance"] if inp.sources.get("model") else HINTS["model"]
        parts.append(note(f"Not available: feature importances. {hint}."))
    else:
        fig = plots.plot_feature_importance(inp.feature_importance, colors=colors)
        parts.append(image(fig, "feature_importance", "Top features by share of model importance"))
    if inp.plan is None or "reason" not in inp.plan.columns:
        parts.append(
            note("Not available: reason codes (the plan's reason column). " + HINTS["plan"] + ".")
        )
        return "".join(parts)
    cur = inp.currency
    p = treated_rows(inp.plan).copy()
    p["reason"] = p["reason"].astype(str)
    for c in ("expected_cost", "incremental_profit"):
        p[c] = pd.to_numeric(p[c], errors="coerce") if c in p.columns else np.nan
    g = p.groupby("reason")
    r = pd.DataFrame(
        {
            "customers": g.size(),
            "expected_cost": g["expected_cost"].mean(),
            "incremental_profit": g["incremental_profit"].mean(),
        }
    )
    r["share"] = r["customers"] / r["customers"].sum()
    r = r.sort_values("customers", ascending=False).reset_index().head(20)
    parts.append(
        "<h3>Reason codes</h3>"
        + table(
            r,
            _known_profit(
                inp,
                [
                    ("reason", "reason", text),
                    ("customers", "customers", num()),
                    ("share", "share", pct(1)),
                    ("expected_cost", f"avg {_cost_label(inp)} ({cur})", money(cur, 2)),
                    (
                        "incremental_profit",
                        f"avg expected incremental profit ({cur})",
                        money(cur, 2),
                    ),
                ],
            ),
        )
    )
    offered = p[p["offer_id"].astype(str) != NO_OFFER].sort_values(
        "incremental_profit", ascending=False
    )
    none = p[p["offer_id"].astype(str) == NO_OFFER]
    ex = pd.concat([offered.head(8), none.head(4)])
    cols: list[tuple[str, str, Fmt]] = [("customer_id", "customer", text)]
    if "segment" in ex.columns:
        cols.append(("segment", "segment", text))
    cols += [
        ("offer_id", "offer", text),
        ("expected_cost", f"expected cost ({cur})", money(cur, 2)),
        ("incremental_profit", f"expected incremental profit ({cur})", money(cur, 2)),
        ("reason", "reason", text),
    ]
    parts.append("<h3>Example decisions</h3>" + table(ex, _known_profit(inp, cols)))
    return "".join(parts)


def _fmt_kind(kind: str, currency: str, signed: bool = False) -> Fmt:
    if kind == "money":
        base = money(currency, 2)
        return (
            (lambda v: ("+" if _finite(v) and float(v) >= 0 else "") + base(v)) if signed else base
        )
    if kind == "pct":
        if signed:
            return lambda v: f"{float(v) * 100:+.2f} pp" if _finite(v) else "–"
        return pct(2)
    return num(3, signed=signed)


def _results(inp: ReportInputs) -> str:
    if inp.analysis is None:
        return note(f"Not available: no campaign analysis yet. {HINTS['analysis']}.")
    res = campaign_results(inp.analysis)
    ca = res.analysis
    cur = inp.currency
    level = f"{1 - ca.alpha:.0%}"
    parts = []
    if res.meta is not None:
        m = res.meta
        window = f"from {m.start.date()}" + (f" to {m.end.date()}" if m.end is not None else "")
        parts.append(
            f"<p>Outcomes {esc(window)} in <b>{esc(m.data)}</b> for the plan "
            f"<b>{esc(m.plan)}</b>: {ca.n_treatment:,} treatment and {ca.n_holdout:,} holdout "
            f"customers.</p>"
        )
    if inp.plan is not None and ca.n_customers != len(inp.plan):
        parts.append(
            f'<p class="alert">The analysis covers {ca.n_customers:,} customers, the plan in '
            f"this report {len(inp.plan):,}: it may be the analysis of another plan.</p>"
        )
    if res.srm_warning:
        parts.append(
            f'<p class="alert">Sample ratio mismatch: {esc(res.srm_warning)}'
            + (f" ({esc(p_text(res.srm_p_value))})" if res.srm_p_value is not None else "")
            + ". Treat the results below with caution.</p>"
        )
    elif res.srm_p_value is not None:
        parts.append(f"<p>Sample ratio check: {esc(p_text(res.srm_p_value))} (no mismatch).</p>")
    parts.append(_expected_vs_measured(inp, res))
    roi = res.roi
    if _finite(roi.incremental_net_profit):
        lo, hi = roi.incremental_net_profit_ci_low, roi.incremental_net_profit_ci_high
        rlo, rhi = roi.roi_ci_low, roi.roi_ci_high
        cards = [
            (
                "Realised incremental net profit",
                money(cur)(roi.incremental_net_profit),
                f"{level} CI {money(cur)(lo)} to {money(cur)(hi)}"
                if _finite(lo) and _finite(hi)
                else "",
            ),
            ("Incremental discount cost", money(cur)(roi.incremental_discount_cost), ""),
            (
                "Realised ROI",
                pct(0)(roi.roi),
                f"{level} CI {pct(0)(rlo)} to {pct(0)(rhi)}"
                if _finite(rlo) and _finite(rhi)
                else "",
            ),
        ]
        parts.append(
            '<div class="kpis">'
            + "".join(
                f'<div class="kpi"><div class="v">{esc(v)}</div><div class="l">{esc(lbl)}</div>'
                f'<div class="l">{esc(sub)}</div></div>'
                for lbl, v, sub in cards
            )
            + "</div>"
        )
    parts.append(
        image(
            plots.plot_campaign_results(res, currency=cur),
            "campaign_results",
            f"Lift of each metric over the holdout with {level} confidence intervals",
            "Per customer, treatment minus holdout; green: the whole interval is above 0.",
        )
    )
    rows = []
    for r in res.metrics.itertuples(index=False):
        kind = plots.metric_kind(str(r.metric))
        f, fs = _fmt_kind(kind, cur), _fmt_kind(kind, cur, signed=True)

        def ci(lo: Any, hi: Any, g: Fmt) -> str:
            return f"[{g(lo)}, {g(hi)}]" if _finite(lo) and _finite(hi) else "–"

        rows.append(
            {
                "metric": plots.metric_label(str(r.metric)),
                "treatment": f(r.treatment_mean),
                "holdout": f(r.holdout_mean),
                "lift": fs(r.lift),
                "ci": ci(r.ci_low, r.ci_high, fs),
                "rel": pct(1, signed=True)(r.rel_lift),
                "rel_ci": ci(r.rel_ci_low, r.rel_ci_high, pct(1, signed=True)),
                "p": pvalue(r.p_value),
                "cuped": ci(r.cuped_ci_low, r.cuped_ci_high, fs),
                "reason": text(r.reason or None),
            }
        )
    t = pd.DataFrame(rows)
    cols: list[tuple[str, str, Fmt]] = [
        ("metric", "metric", text),
        ("treatment", "treatment mean", text),
        ("holdout", "holdout mean", text),
        ("lift", "lift", text),
        ("ci", f"{level} CI", text),
        ("rel", "relative lift", text),
        ("rel_ci", f"{level} CI (relative)", text),
        ("p", "p-value", text),
        ("cuped", f"{level} CI with CUPED", text),
        ("reason", "note", text),
    ]
    cols = [c for c in cols if c[0] == "metric" or (t[c[0]] != "–").any()]
    parts.append(table(t, cols))
    if not res.breakdown.empty and np.isfinite(res.breakdown["lift"].to_numpy(dtype=float)).any():
        parts.append(
            image(
                plots.plot_campaign_breakdown(res, currency=cur),
                "campaign_breakdown",
                f"Lift by offer and segment with {level} confidence intervals",
            )
        )
    if res.warnings:
        parts.append(
            '<ul class="warn">' + "".join(f"<li>{esc(w)}</li>" for w in res.warnings) + "</ul>"
        )
    return "".join(parts)


def _expected_vs_measured(inp: ReportInputs, res: Any) -> str:
    """The plan's expected incremental profit per customer against the measured lift."""
    head = "<h3>Expected vs measured</h3>"
    if inp.plan_summary is None:
        return head + note(f"Not available: no plan summary to compare with. {HINTS['plan']}.")
    ev = expected_vs_measured(inp.plan_summary, res.analysis)
    if ev is None:
        return head + note(
            "Not available: the plan summary has no expected incremental profit or the analysis "
            "has no usable overall net-profit result."
        )
    cur = inp.currency
    m2 = money(cur, 2)
    level = f"{1 - ev.alpha:.0%}"
    rows = pd.DataFrame(
        [
            {
                "what": "expected by the plan (summary)",
                "value": m2(ev.expected),
                "detail": f"{money(cur)(ev.expected_total)} expected incremental profit "
                f"/ {ev.n_expected:,} treatment customers",
            },
            {
                "what": "measured (treatment − holdout)",
                "value": m2(ev.measured),
                "detail": f"{level} CI {m2(ev.ci_low)} to {m2(ev.ci_high)}"
                + (" (CUPED)" if ev.cuped else ""),
            },
            {
                "what": f"minimum detectable effect ({ev.power:.0%} power, α = {ev.alpha:g})",
                "value": m2(ev.mde),
                "detail": f"outcome SD {m2(ev.sd)} per customer, {ev.n_treatment:,} treatment "
                f"and {ev.n_holdout:,} holdout customers",
            },
        ]
    )
    tbl = table(
        rows,
        [
            ("what", "", text),
            ("value", "net profit per treatment customer", text),
            ("detail", "from", text),
        ],
    )
    cls = "" if ev.contains and ev.detectable else ' class="alert"'
    body = " ".join(esc(x) for x in ev.sentences(cur))
    return f"{head}{tbl}<p{cls}>{body}</p>"


def _safe(fn: Callable[[], str]) -> str:
    """Run a section; bad or unexpected input becomes a note instead of failing the report."""
    try:
        return fn()
    except (InputError, KeyError, ValueError, TypeError, IndexError) as exc:
        msg = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        return note(f"Could not be drawn: {msg}")


def _trust(inp: ReportInputs) -> str:
    """The model's identification verdict, placebo and overlap; the plan's checked estimate."""
    card = inp.model_card or {}
    ident = card.get("identification")
    first = (inp.plan_summary or {}).get("first_campaign")
    if isinstance(first, dict) and not isinstance(ident, dict):
        return _first_campaign(first, inp.plan_summary or {})
    if not isinstance(ident, dict):
        return note(
            "Not available: the model card has no identification report (a model "
            "trained before offerwise 0.2); retrain to get one."
        )
    verdict = str(ident.get("verdict"))
    cls = "alert" if verdict != "ok" else "na"
    parts = [
        f'<p class="{cls}">Verdict: {esc(verdict)} — logging: {esc(ident.get("logging"))} '
        f"({esc(ident.get('logging_reason'))}).</p>"
    ]
    parts.append("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in ident.get("reasons", [])) + "</ul>")
    pl = ident.get("placebo")
    if isinstance(pl, dict):
        parts.append(
            f"<p>Placebo: the offers' estimated effect on {esc(pl.get('outcome'))} in the "
            f"{esc(pl.get('window_days'))} days <b>before</b> the offer (which they cannot have "
            f"caused; should be 0): <b>{esc(num(2, True)(pl.get('estimate')))}</b> per customer, "
            f"95% interval {esc(num(2, True)(pl.get('ci_low')))} to "
            f"{esc(num(2, True)(pl.get('ci_high')))}, {esc(p_text(pl.get('p_value')))} "
            f"({esc(num()(pl.get('n')))} exposures).</p>"
        )
    ov = ident.get("overlap") or []
    if ov:
        df = pd.DataFrame([{**o, "p50": (o.get("quantiles") or {}).get("p50")} for o in ov])
        parts.append(
            table(
                df,
                [
                    ("offer", "offer", text),
                    ("n_offer", "offer rows", num()),
                    ("n_none", "no-offer rows", num()),
                    ("p50", "median propensity", num(3)),
                    ("share_outside", "outside [0.05, 0.95]", pct()),
                    ("ess_offer", "effective offer rows", num()),
                ],
            )
        )
    for label, other in inp.other_identifications.items():
        opl = other.get("placebo") or {}
        parts.append(
            f"<h3>{esc(label)}</h3><p>Verdict: <b>{esc(other.get('verdict'))}</b> (logging: "
            f"{esc(other.get('logging'))}). Placebo {esc(num(2, True)(opl.get('estimate')))} per "
            f"customer, 95% interval {esc(num(2, True)(opl.get('ci_low')))} to "
            f"{esc(num(2, True)(opl.get('ci_high')))}, {esc(p_text(opl.get('p_value')))}.</p>"
        )
        parts.append(
            "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in other.get("reasons", [])) + "</ul>"
        )
    claims = (inp.plan_summary or {}).get("claims")
    if isinstance(claims, dict):
        est = claims.get("estimate")
        if isinstance(est, dict):
            parts.append(
                f"<p>The plan's incremental profit checked on exposures the model did not fit "
                f"(doubly robust): <b>{esc(num()(est.get('value')))}</b>, "
                f"{esc(pct(0)(est.get('level')))} interval {esc(num()(est.get('ci_low')))} to "
                f"{esc(num()(est.get('ci_high')))} ({esc(claims.get('estimate_note'))}).</p>"
            )
        ex = claims.get("explore")
        if isinstance(ex, dict) and (ex.get("customers") or 0) > 0 and claims.get("explore_note"):
            parts.append(f"<p>Exploration: {esc(claims.get('explore_note'))}.</p>")
        if claims.get("experiment"):
            parts.append(f"<p>{esc(claims.get('experiment'))}.</p>")
    cost = (inp.plan_summary or {}).get("cost")
    if isinstance(cost, dict):
        cal = cost.get("calibration") or {}
        parts.append(
            f"<p>The plan's true discount cost: expected <b>{esc(num()(cost.get('expected')))}</b>"
            f", {esc(pct(0)(cost.get('level')))} interval {esc(num()(cost.get('ci_low')))} to "
            f"{esc(num()(cost.get('ci_high')))} against a budget of "
            f"{esc(num()(cost.get('budget')))}; chance of exceeding it "
            f"{esc(pct(0)(cost.get('p_over_budget')))} (the model's cost x "
            f"{esc(num(2)(cal.get('ratio')))}, calibrated on {esc(num()(cal.get('n_rows')))} "
            f"{esc(cal.get('scope'))}).</p>"
        )
    return "".join(parts)


def _cost_label(inp: ReportInputs) -> str:
    """What the plan's cost figures are: the model's expected cost; for a first campaign (no
    model) the cost if all redeem, or the expected cost at the redemption rate the user assumed
    (``plan --redeem-rate``)."""
    if not _first_campaign_plan(inp):
        return "expected cost"
    first = (inp.plan_summary or {}).get("first_campaign") or {}
    rate = first.get("redemption_rate", 1.0) if isinstance(first, dict) else 1.0
    if not isinstance(rate, int | float) or rate >= 1:
        return "discount cost if every offered customer redeems"
    return f"expected discount cost if {rate:.0%} of offered customers redeem"


def _first_campaign(first: dict[str, Any], summary: dict[str, Any]) -> str:
    """A plan made without a model: what it randomizes, what it can detect, what comes next."""
    parts = [
        f'<p class="alert">No model yet: this plan is a randomized first campaign. '
        f"{esc(num()(summary.get('n_explore')))} customers (share "
        f"{esc(num(4)(first.get('explore_share')))} of the treatment group) each get "
        "<code>none</code> or one of their eligible offers with equal chance; the others get "
        "none. Its incremental profit is unknown until the campaign is measured; every row's "
        "propensity is its offer's exact probability, so the first <code>offerwise train</code> "
        "on the served exposures is identified.</p>",
        f"<p>Cost counted against the budget: {esc(first.get('cost_basis'))}.</p>",
    ]
    if first.get("explore_note"):
        parts.append(f"<p>What these customers can show: {esc(first.get('explore_note'))}.</p>")
    left = first.get("offers_left_out") or {}
    if isinstance(left, dict) and left:
        parts.append(
            "<ul>"
            + "".join(f"<li>{esc(o)} is not drawn: {esc(why)}</li>" for o, why in left.items())
            + "</ul>"
        )
    return "".join(parts)


def _plan_margin(inp: ReportInputs) -> str:
    """The plan's margin against its target and its per-category table (plan summary)."""
    cur = inp.currency
    if inp.plan is None:
        return note(f"Not available: the plan's margin (no plan). {HINTS['plan']}.")
    s = inp.plan_summary or {}
    parts = []
    m = s.get("margin")
    if isinstance(m, dict):
        if m.get("per", "campaign") == "customer":
            bind = "every offered customer's own expected margin meets it"
            scope = " for every offered customer"
        else:
            bind = "the target did not bind" if not m.get("mu") else "the target binds"
            scope = " for the campaign"
        parts.append(
            f"<h3>Margin against the target</h3><p>Target gross margin after discounts "
            f"<b>{esc(pct(1)(m.get('target')))}</b>{esc(scope)} (gross margin before discounts "
            f"{esc(pct(1)(m.get('rate')))}): the plan's expected margin is "
            f"<b>{esc(pct(1)(m.get('expected')))}</b>, {esc(pct(1)(m.get('unconstrained')))} "
            f"without the target; value given up {esc(money(cur)(m.get('value_given_up')))} "
            f"({esc(bind)}). Expected figures of the model; the measured margin comes with the "
            "campaign's results.</p>"
        )
    else:
        parts.append(note("The plan has no margin target (rules [margin] target = 0.2)."))
    cats = s.get("categories")
    cats = cats if isinstance(cats, dict) else {}
    rows = cats.get("rows")
    if rows:
        t = pd.DataFrame(rows)
        cols: list[tuple[str, str, Fmt]] = [
            ("category", "category the offers are scoped to", text),
            ("customers", "customers", num()),
            ("expected_cost", f"expected cost ({cur})", money(cur)),
            ("incremental_profit", f"expected incremental profit ({cur})", money(cur)),
            ("expected_margin", "expected margin after discounts", pct(1)),
        ]
        extra = [
            ("demand_per_week", "demand (units / week)", num()),
            ("weeks_of_cover", "weeks of cover", num(1)),
            ("weight", "stock weight", num(2)),
        ]
        cols += [c for c in extra if c[0] in t.columns and t[c[0]].notna().any()]
        cols = _known_profit(inp, cols)
        how = (
            "offers were weighed by stock cover (rules [stock])"
            if cats.get("stock_weights")
            else "stock did not weigh the offers"
        )
        src = (
            f"the forecast {cats.get('forecast')}"
            if cats.get("demand_source") == "forecast"
            else "the last 4 weeks of sales"
        )
        parts.append(
            f"<h3>The plan per category</h3><p>Demand per week from {esc(src)}; "
            f"{esc(how)}.</p>" + table(t, cols)
        )
    return "".join(parts)


def _demand(inp: ReportInputs) -> str:
    """Margin vs target, the price index against competitors, forecasts, elasticities."""
    from offerwise.report import demand_plots

    cur = inp.currency
    parts = [_plan_margin(inp)]
    parts.append("<h3>Prices against competitors and stock</h3>")
    o = inp.categories
    if o is None:
        parts.append(note(f"Not available: price index and stock. {HINTS['categories']}."))
    else:
        if (
            "price_index" in o.columns
            and pd.to_numeric(o["price_index"], errors="coerce").notna().any()
        ):
            parts.append(
                image(
                    demand_plots.plot_price_index(o),
                    "price_index",
                    "Price index against competitors per category",
                    "Our shelf price over the competitors' median price, weighted by the units we "
                    "sold (the largest categories by revenue). Red: dearer than the market.",
                )
            )
        else:
            parts.append(note("No competitor prices in the data (table competitor_prices)."))
        cols: list[tuple[str, str, Fmt]] = [
            ("category", "category", text),
            ("revenue", f"revenue, last weeks ({cur})", money(cur)),
            ("price_index", "price index", num(3)),
            ("n_competitors", "competitors", num()),
            ("on_hand", "on hand (units)", num()),
            ("demand_per_week", "demand (units / week)", num()),
            ("weeks_of_cover", "weeks of cover", num(1)),
            ("stock_status", "stock", text),
            ("weight", "weight in a plan with [stock]", num(2)),
        ]
        parts.append(table(o.head(20), [c for c in cols if c[0] in o.columns]))
    parts.append("<h3>Demand forecast</h3>")
    f = inp.forecast
    if f is None:
        parts.append(note(f"Not available: forecast. {HINTS['forecast']}."))
    else:
        parts.append(
            image(
                demand_plots.plot_forecasts(f),
                "forecasts",
                "Weekly sales forecast with prediction intervals",
                "The six largest series; each with the model its backtest chose. Shaded: 80 % "
                "and 95 % prediction intervals.",
            )
        )
        g = f.assign(yhat=pd.to_numeric(f["yhat"], errors="coerce")).sort_values("week")
        first = g.groupby("series", sort=False).first()
        tot = g.groupby("series")["yhat"].agg(["sum", "size"])
        t = first.join(tot).reset_index().sort_values("sum", ascending=False).head(20)
        fc_cols: list[tuple[str, str, Fmt]] = [
            ("series", "series", text),
            ("model", "model", text),
            ("yhat", "next week", num(1)),
            ("lo80", "80 % low", num(1)),
            ("hi80", "80 % high", num(1)),
            ("sum", "total over the horizon", num()),
            ("size", "weeks", num()),
        ]
        parts.append(table(t, [c for c in fc_cols if c[0] in t.columns]))
    parts.append("<h3>Price elasticity</h3>")
    e = inp.elasticity
    if e is None:
        parts.append(note(f"Not available: elasticities. {HINTS['elasticity']}."))
    else:
        if pd.to_numeric(e.get("elasticity"), errors="coerce").notna().any():
            parts.append(
                image(
                    demand_plots.plot_elasticities(e),
                    "elasticities",
                    "Own-price elasticity per category with 90 % intervals",
                    "Double ML with product and week effects (largest sales first). Left of −1: "
                    "a price cut raises revenue.",
                )
            )
        el_cols: list[tuple[str, str, Fmt]] = [
            ("category", "category", text),
            ("elasticity", "elasticity", num(2, signed=True)),
            ("ci_low", "90 % low", num(2, signed=True)),
            ("ci_high", "90 % high", num(2, signed=True)),
            ("competitor_effect", "competitor price effect", num(2, signed=True)),
            ("n_obs", "product-weeks", num()),
            ("reason", "why no estimate", text),
        ]
        parts.append(table(e.head(20), [c for c in el_cols if c[0] in e.columns]))
    return "".join(parts)


def sections(inp: ReportInputs) -> list[Section]:
    """The report's sections in order."""
    colors = offer_colors(_all_offers(inp))
    spec: list[tuple[str, str, Callable[[], str]]] = [
        ("summary", "Summary", lambda: _summary(inp)),
        ("trust", "Can these numbers be trusted?", lambda: _trust(inp)),
        ("segments", "Segment profiles", lambda: _segments(inp)),
        ("model", "Model quality: uplift and Qini curves", lambda: _model(inp, colors)),
        ("frontier", "Budget frontier", lambda: _frontier(inp)),
        ("mix", "Offer mix by segment", lambda: _mix(inp, colors)),
        ("categories", "What is discounted: categories", lambda: _categories(inp)),
        ("demand", "Demand, prices and margin", lambda: _demand(inp)),
        ("fairness", "Fairness audit", lambda: _fairness(inp)),
        ("drivers", "Feature importance and reason codes", lambda: _drivers(inp, colors)),
        ("results", "Campaign results", lambda: _results(inp)),
    ]
    return [Section(i, t, _safe(f)) for i, t, f in spec]


CSS = """
:root{--fg:#1d2630;--muted:#5f6b76;--line:#dde3e8;--bg:#f6f8fa;--accent:#1f77b4;--bad:#c62828}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
color:var(--fg);background:var(--bg);font-size:15px;line-height:1.45}
header{background:#fff;border-bottom:1px solid var(--line);padding:18px 32px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:var(--muted)}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid var(--line);font-size:14px}
nav a{margin-right:16px;color:var(--accent);text-decoration:none}
main{max-width:1240px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin:18px 0}
section h2{margin:0 0 10px;font-size:19px}
h3{font-size:16px;margin:16px 0 6px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:10px 12px;background:#fbfcfd}
.kpi .v{font-size:21px;font-weight:600}
.kpi .l{color:var(--muted);font-size:13px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;
color:var(--muted);margin:14px 0 0}
dl.meta dt{font-weight:600}
dl.meta dd{margin:0;word-break:break-all}
figure.plot{margin:8px 0 12px}
figure.plot img{max-width:100%;height:auto;display:block;border:1px solid #eef1f4}
figcaption{color:var(--muted);font-size:13px;margin-top:4px}
.tw{overflow-x:auto}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0 10px}
th,td{border-bottom:1px solid var(--line);padding:5px 10px;text-align:left}
td{white-space:nowrap}
th{background:#f0f3f6;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fdecea}
.na{color:var(--muted);font-style:italic;background:#f4f6f8;border-left:3px solid #b0bec5;
padding:8px 12px}
.alert{color:var(--bad);background:#fdecea;border-left:3px solid var(--bad);padding:8px 12px;
font-weight:600}
ul.warn{color:#8a5a00}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 0 24px}
"""


def render_html(inputs: ReportInputs) -> str:
    """The whole report as one self-contained HTML string (matplotlib needed for the plots)."""
    require("matplotlib", "report")
    secs = sections(inputs)
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in secs)
    body = "".join(
        f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in secs
    )
    fp = inputs.data_fingerprint
    sub = f"offerwise {inputs.version}" + (f" · data fingerprint {fp}" if fp else "")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(inputs.title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(inputs.title)}</h1><p>{esc(sub)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>Generated by offerwise {esc(inputs.version)}. All figures are embedded; "
        "this file needs no network.</footer></body></html>\n"
    )


def build_report(inputs: ReportInputs, out: str | Path) -> Path:
    """Render the report and write it atomically to ``out``; returns ``out``.

    Non-ASCII characters are written as character references, so the file reads the same
    whatever the platform's default encoding.
    """
    page = render_html(inputs).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return write_text(page, Path(out))

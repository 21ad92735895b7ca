"""Pure data preparation for the report: key numbers, the fairness audit, campaign results.

No plotting here; every function takes DataFrames/dicts and returns a DataFrame or dataclass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from offerwise.errors import InputError

__all__ = [
    "MISSING",
    "NO_OFFER",
    "CampaignResults",
    "KeyNumbers",
    "campaign_results",
    "curves_table",
    "fairness_audit",
    "four_fifths_summary",
    "key_numbers",
    "offer_colors",
    "require_columns",
    "treated_rows",
]

NO_OFFER = "none"
#: Colour of "no offer" in every plot.
NONE_COLOR = "#a0a0a0"
#: Offer colours (tab10 without its grey), assigned to offers in sorted order.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
)
#: Four-fifths rule: a group's offer rate below this share of the highest group's rate is flagged.
FOUR_FIFTHS = 0.8
#: Group of customers whose attribute is unknown (or who are not in the customers table).
MISSING = "(missing)"


def require_columns(df: pd.DataFrame, table: str, cols: Sequence[str]) -> None:
    """Raise :class:`InputError` naming ``table`` and the missing columns."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"{table}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"has {', '.join(map(str, df.columns))}"
        )


def offer_colors(offer_ids: Iterable[Any]) -> dict[str, str]:
    """A stable colour per offer id: ``none`` grey, the others by sorted id from :data:`PALETTE`."""
    ids = sorted({str(o) for o in offer_ids if o is not None and str(o) != NO_OFFER})
    colors = {o: PALETTE[i % len(PALETTE)] for i, o in enumerate(ids)}
    colors[NO_OFFER] = NONE_COLOR
    return colors


def treated_rows(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan rows whose decision is carried out: ``group == 'treatment'`` if the column exists.

    Holdout customers are held out at random, so including them would only dilute every rate.
    """
    if "group" in plan.columns and (plan["group"].astype(str) == "treatment").any():
        return plan[plan["group"].astype(str) == "treatment"]
    return plan


def _offered(plan: pd.DataFrame) -> pd.Series:
    return plan["offer_id"].astype(str) != NO_OFFER


# --------------------------------------------------------------------------------------------
# key numbers
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class KeyNumbers:
    """The summary header. Money in currency units; ``roi`` = incremental profit / expected cost."""

    customers: int | None = None
    offered: int | None = None
    holdout: int | None = None
    budget: float | None = None
    expected_cost: float | None = None
    expected_incremental_profit: float | None = None
    roi: float | None = None
    campaign_id: str | None = None
    objective: str | None = None
    lam: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def key_numbers(
    plan: pd.DataFrame | None,
    summary: Mapping[str, Any] | None,
    profiles: pd.DataFrame | None = None,
) -> KeyNumbers:
    """Key numbers from the plan summary, filled in from the plan (or profiles) where absent.

    ``offered`` counts treatment-group customers whose offer is not ``none``; the expected cost
    and incremental profit are sums over those rows when the summary lacks them.
    """
    s = dict(summary or {})
    k = KeyNumbers(
        customers=int(s["n_customers"]) if _num(s.get("n_customers")) is not None else None,
        holdout=int(s["n_holdout"]) if _num(s.get("n_holdout")) is not None else None,
        budget=_num(s.get("budget")),
        expected_cost=_num(s.get("expected_cost")),
        expected_incremental_profit=_num(s.get("expected_incremental_profit")),
        campaign_id=str(s["campaign_id"]) if s.get("campaign_id") is not None else None,
        objective=str(s["objective"]) if s.get("objective") is not None else None,
        lam=_num(s.get("lambda")),
    )
    if plan is not None and "offer_id" in plan.columns:
        treated = treated_rows(plan)
        offered = treated[_offered(treated)]
        k.offered = len(offered)
        if k.customers is None:
            k.customers = len(plan)
        if k.holdout is None and "group" in plan.columns:
            k.holdout = int((plan["group"].astype(str) == "holdout").sum())
        if k.expected_cost is None and "expected_cost" in plan.columns:
            k.expected_cost = float(pd.to_numeric(offered["expected_cost"], errors="coerce").sum())
        if k.expected_incremental_profit is None and "incremental_profit" in plan.columns:
            k.expected_incremental_profit = float(
                pd.to_numeric(offered["incremental_profit"], errors="coerce").sum()
            )
    elif profiles is not None and k.customers is None:
        k.customers = len(profiles)
    if k.expected_cost and k.expected_incremental_profit is not None and k.expected_cost > 0:
        k.roi = k.expected_incremental_profit / k.expected_cost
    return k


# --------------------------------------------------------------------------------------------
# fairness audit
# --------------------------------------------------------------------------------------------


def _short(x: float) -> str:
    """Compact number for bin labels: 91000 -> '91k', 1250000 -> '1.25M', 34.5 -> '34.5'."""
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.4g}"


def _groups(values: pd.Series, max_levels: int = 8, n_bins: int = 5) -> tuple[pd.Series, list[str]]:
    """Group labels per row and their display order.

    Numeric attributes with more than ``max_levels`` distinct values are cut into ``n_bins``
    quantile bins labelled ``lo–hi``; missing values form the group ``(missing)``.
    """
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > max_levels:
        v = values.astype(float)
        codes, edges = pd.qcut(v, q=n_bins, labels=False, retbins=True, duplicates="drop")
        labels = [f"{_short(edges[i])}–{_short(edges[i + 1])}" for i in range(len(edges) - 1)]
        lab = pd.Series(pd.NA, index=values.index, dtype=object)
        ok = codes.notna()
        lab[ok] = [labels[int(c)] for c in codes[ok]]
        order = list(labels)
    else:
        lab = values.astype(object).where(values.notna(), pd.NA)
        lab = lab.map(lambda x: x if x is pd.NA else (f"{x:g}" if isinstance(x, float) else str(x)))
        if numeric:
            order = [
                f"{x:g}" if isinstance(x, float) else str(x)
                for x in sorted(values.dropna().unique())
            ]
        else:
            order = sorted(str(x) for x in values.dropna().unique())
    if lab.isna().any():
        order.append(MISSING)
    return lab.fillna(MISSING).astype(str), order


def fairness_audit(
    plan: pd.DataFrame,
    customers: pd.DataFrame,
    protected: Sequence[str],
    *,
    max_levels: int = 8,
    n_bins: int = 5,
) -> pd.DataFrame:
    """Offer rate and average discount by group of each protected attribute.

    ``plan`` (customer_id, offer_id [, expected_cost, group]) is restricted to the treatment group
    (:func:`treated_rows`) and left-joined to ``customers`` on ``customer_id``. For each
    attribute in ``protected`` present in ``customers`` and each group g (numeric attributes
    with more than ``max_levels`` values: ``n_bins`` quantile bins; missing: ``(missing)``)::

        n            customers in g
        offer_rate   share of g whose offer is not 'none'                      (0..1)
        avg_discount mean expected_cost over offered customers in g (NaN if none)
        ratio_to_max offer_rate / max over the attribute's known groups of offer_rate (NaN if 0)
        four_fifths_ok  ratio_to_max >= 0.8 (True when undefined)

    The ``(missing)`` group is shown but not judged: it sets no maximum and is never flagged.
    The attribute's four-fifths ratio is min rate / max rate over its known groups
    (:func:`four_fifths_summary`). Rows come in attribute order, groups in their natural order.
    Attributes absent from ``customers`` are skipped.
    """
    require_columns(plan, "plan", ["customer_id", "offer_id"])
    require_columns(customers, "customers", ["customer_id"])
    cols: list[str] = [
        "attribute",
        "group",
        "n",
        "offer_rate",
        "avg_discount",
        "ratio_to_max",
        "four_fifths_ok",
    ]
    attrs = [a for a in dict.fromkeys(protected) if a in customers.columns and a != "customer_id"]
    if not attrs:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    p = treated_rows(plan)
    base = pd.DataFrame(
        {
            "customer_id": p["customer_id"].astype(str).to_numpy(),
            "offered": _offered(p).to_numpy(),
            "cost": (
                pd.to_numeric(p["expected_cost"], errors="coerce").to_numpy(dtype=float)
                if "expected_cost" in p.columns
                else np.full(len(p), np.nan)
            ),
        }
    )
    cust = customers[["customer_id", *attrs]].copy()
    cust["customer_id"] = cust["customer_id"].astype(str)
    cust = cust.drop_duplicates("customer_id")
    df = base.merge(cust, on="customer_id", how="left")
    out = []
    for a in attrs:
        lab, order = _groups(df[a], max_levels=max_levels, n_bins=n_bins)
        g = df.assign(_g=lab).groupby("_g", sort=False)
        n = g.size()
        rate = g["offered"].mean()
        disc = df[df["offered"]].assign(_g=lab[df["offered"]]).groupby("_g")["cost"].mean()
        known = rate.drop(MISSING, errors="ignore")
        top = float(known.max()) if len(known) else 0.0
        for grp in [o for o in order if o in n.index]:
            r = float(rate[grp])
            ratio = r / top if top > 0 else float("nan")
            out.append(
                {
                    "attribute": a,
                    "group": grp,
                    "n": int(n[grp]),
                    "offer_rate": r,
                    "avg_discount": float(disc.get(grp, np.nan)),
                    "ratio_to_max": ratio,
                    "four_fifths_ok": bool(grp == MISSING or not (ratio < FOUR_FIFTHS)),
                }
            )
    return pd.DataFrame(out, columns=cols)


def four_fifths_summary(audit: pd.DataFrame) -> pd.DataFrame:
    """Per attribute (known groups only): min and max group offer rate, ``ratio`` = min / max,
    ``flagged`` = ratio < 0.8."""
    rows = []
    for a, g in audit[audit["group"] != MISSING].groupby("attribute", sort=False):
        lo, hi = float(g["offer_rate"].min()), float(g["offer_rate"].max())
        ratio = lo / hi if hi > 0 else float("nan")
        rows.append(
            {
                "attribute": a,
                "groups": len(g),
                "min_rate_group": str(g.loc[g["offer_rate"].idxmin(), "group"]),
                "min_rate": lo,
                "max_rate_group": str(g.loc[g["offer_rate"].idxmax(), "group"]),
                "max_rate": hi,
                "ratio": ratio,
                "flagged": bool(ratio < FOUR_FIFTHS),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "attribute",
            "groups",
            "min_rate_group",
            "min_rate",
            "max_rate_group",
            "max_rate",
            "ratio",
            "flagged",
        ],
    )


# --------------------------------------------------------------------------------------------
# campaign results (analysis JSON, read defensively)
# --------------------------------------------------------------------------------------------

METRIC_COLUMNS = [
    "metric",
    "unit",
    "reason",
    "treatment_mean",
    "holdout_mean",
    "lift",
    "ci_low",
    "ci_high",
    "rel_lift",
    "rel_ci_low",
    "rel_ci_high",
    "p_value",
    "cuped_lift",
    "cuped_ci_low",
    "cuped_ci_high",
    "n_treatment",
    "n_holdout",
]
_ALIASES: dict[str, tuple[str, ...]] = {
    "metric": ("metric", "name", "outcome", "key"),
    "unit": ("unit", "units"),
    "reason": ("reason",),
    "treatment_mean": ("treatment_mean", "mean_treatment", "mean_t", "treatment"),
    "holdout_mean": (
        "holdout_mean",
        "control_mean",
        "mean_holdout",
        "mean_control",
        "mean_c",
        "holdout",
        "control",
    ),
    "lift": ("lift", "abs_lift", "absolute_lift", "diff", "difference", "effect", "estimate"),
    "ci_low": ("ci_low", "lift_ci_low", "abs_ci_low", "ci_lower", "lower", "low"),
    "ci_high": ("ci_high", "lift_ci_high", "abs_ci_high", "ci_upper", "upper", "high"),
    "rel_lift": ("rel_lift", "relative_lift", "lift_rel", "rel_lift_pct", "rel"),
    "rel_ci_low": ("rel_ci_low", "relative_ci_low", "rel_lift_ci_low", "rel_lower"),
    "rel_ci_high": ("rel_ci_high", "relative_ci_high", "rel_lift_ci_high", "rel_upper"),
    "p_value": ("p_value", "pvalue", "p", "p_val"),
    "cuped_lift": ("cuped_abs_lift", "cuped_lift", "lift_cuped"),
    "cuped_ci_low": ("cuped_ci_low", "ci_low_cuped"),
    "cuped_ci_high": ("cuped_ci_high", "ci_high_cuped"),
    "n_treatment": ("n_treatment", "n_t", "treatment_n"),
    "n_holdout": ("n_holdout", "n_control", "n_c", "holdout_n", "control_n"),
}
_LEVEL_KEYS = ("level", "group", "value", "offer_id", "offer", "segment", "name", "key")


@dataclass(slots=True)
class CampaignResults:
    """Normalised campaign analysis.

    ``metrics``: one row per metric with :data:`METRIC_COLUMNS` (NaN where the analysis has no
    value; relative lifts as fractions, 0.05 = +5%). ``breakdown``: the same columns plus
    ``dimension`` (e.g. offer, segment) and ``level``. ``srm_p_value``/``srm_warning``: the
    sample-ratio-mismatch check. ``roi``: the realised-ROI block as given (keys of
    ``ROIResult``); ``warnings``: the analysis' own warnings.
    """

    metrics: pd.DataFrame
    breakdown: pd.DataFrame
    srm_p_value: float | None = None
    srm_warning: str | None = None
    roi: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _get(d: Mapping[str, Any], names: Iterable[str]) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


def _metric_row(d: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for col, names in _ALIASES.items():
        v = _get(d, names)
        if col in ("metric", "unit", "reason"):
            row[col] = None if v is None or isinstance(v, Mapping) else str(v)
        else:
            row[col] = _num(v) if not isinstance(v, Mapping) else None
    for side, mean_col, n_col in (
        ("treatment", "treatment_mean", "n_treatment"),
        ("holdout", "holdout_mean", "n_holdout"),
        ("control", "holdout_mean", "n_holdout"),
    ):
        v = d.get(side)
        if isinstance(v, Mapping):  # "treatment": {"mean": .., "n": ..}
            row[mean_col] = row[mean_col] if row[mean_col] is not None else _num(v.get("mean"))
            row[n_col] = row[n_col] if row[n_col] is not None else _num(v.get("n"))
    if name is not None and not row["metric"]:
        row["metric"] = str(name)
    # interval given as a pair: "ci": [lo, hi]; nested blocks: "absolute"/"relative"/"cuped"
    for key, prefix in (
        ("ci", ""),
        ("lift_ci", ""),
        ("rel_ci", "rel_"),
        ("relative_ci", "rel_"),
        ("cuped_ci", "cuped_"),
    ):
        v = d.get(key)
        if isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2:
            row[f"{prefix}ci_low"] = (
                row[f"{prefix}ci_low"] if row[f"{prefix}ci_low"] is not None else _num(v[0])
            )
            row[f"{prefix}ci_high"] = (
                row[f"{prefix}ci_high"] if row[f"{prefix}ci_high"] is not None else _num(v[1])
            )
    for key, prefix, lift_col in (
        ("absolute", "", "lift"),
        ("abs", "", "lift"),
        ("relative", "rel_", "rel_lift"),
        ("rel", "rel_", "rel_lift"),
        ("cuped", "cuped_", "cuped_lift"),
    ):
        v = d.get(key)
        if isinstance(v, Mapping):
            sub = _metric_row(v)
            for src, dst in (
                ("lift", lift_col),
                ("ci_low", f"{prefix}ci_low"),
                ("ci_high", f"{prefix}ci_high"),
            ):
                if row.get(dst) is None and sub.get(src) is not None:
                    row[dst] = sub[src]
            if key in ("absolute", "abs") and row.get("p_value") is None:
                row["p_value"] = sub.get("p_value")
    return row


def _metric_list(obj: Any) -> list[dict[str, Any]]:
    """Metric results from a list of dicts or a mapping name -> dict."""
    if isinstance(obj, Mapping):
        return [_metric_row(v, name=k) for k, v in obj.items() if isinstance(v, Mapping)]
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [_metric_row(v) for v in obj if isinstance(v, Mapping)]
    return []


def _frame(rows: list[dict[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    cols = [*extra, *METRIC_COLUMNS]
    df = pd.DataFrame(rows, columns=cols)
    for c in METRIC_COLUMNS:
        if c not in ("metric", "unit", "reason"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def _breakdown_rows(dimension: str, obj: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    items: list[tuple[str | None, Any]]
    if isinstance(obj, Mapping):
        items = list(obj.items())
    elif isinstance(obj, Sequence) and not isinstance(obj, str):
        items = [(None, v) for v in obj]
    else:
        return out
    for key, v in items:
        if not isinstance(v, Mapping):
            continue
        level = _get(v, _LEVEL_KEYS) if key is None else key
        dim = str(v.get("dimension") or v.get("by") or dimension)
        nested = _get(v, ("metrics", "results"))
        rows = _metric_list(nested) if nested is not None else [_metric_row(v)]
        if nested is None and isinstance(level, str) and rows[0]["metric"] == level:
            rows[0]["metric"] = None  # the level key doubled as the metric name
        for r in rows:
            out.append({"dimension": dim, "level": None if level is None else str(level), **r})
    return out


_OVERALL = ("", "overall", "all", "total", "none")


def _split_flat(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A flat result list whose items carry ``dimension``/``level`` (``CampaignAnalysis.to_dict``):
    rows of the overall dimension are metrics, the others breakdown rows."""
    metrics: list[dict[str, Any]] = []
    brk: list[dict[str, Any]] = []
    if not (isinstance(raw, Sequence) and not isinstance(raw, str)):
        return _metric_list(raw), brk
    for v in raw:
        if not isinstance(v, Mapping):
            continue
        dim = v.get("dimension")
        row = _metric_row(v)
        if dim is None or str(dim).lower() in _OVERALL:
            metrics.append(row)
        else:
            level = v.get("level")
            brk.append(
                {"dimension": str(dim), "level": None if level is None else str(level), **row}
            )
    return metrics, brk


def _srm(analysis: Mapping[str, Any]) -> tuple[float | None, str | None]:
    srm = analysis.get("srm")
    srm = srm if isinstance(srm, Mapping) else {}
    p = _num(
        analysis.get("srm_p_value")
        if analysis.get("srm_p_value") is not None
        else srm.get("p_value")
    )
    warn = analysis.get("srm_warning")
    if warn is None:
        warn = _get(srm, ("warning", "message", "mismatch"))
    if isinstance(warn, bool):
        if not warn:
            return p, None
        obs, exp = (
            _num(srm.get("observed_holdout_fraction")),
            _num(srm.get("expected_holdout_fraction")),
        )
        warn = "the treatment/holdout split differs from the plan"
        if obs is not None and exp is not None:
            warn += f" (holdout share {obs:.1%}, planned {exp:.1%})"
    return p, (str(warn) if warn else None)


def campaign_results(analysis: Mapping[str, Any]) -> CampaignResults:
    """Normalise a campaign-analysis JSON object; unknown keys are ignored, missing ones are NaN.

    Reads :meth:`offerwise.evaluation.experiment.CampaignAnalysis.to_dict` (``results``: a flat
    list of lift results with ``dimension``/``level``; ``srm``; ``roi``; ``warnings``) and looser
    shapes: ``metrics`` as a list of objects with ``metric`` or a mapping name -> object. Per
    metric: treatment/holdout means, absolute lift with ``ci_low``/``ci_high`` (``abs_ci_low``...,
    or ``ci: [lo, hi]``), relative lift with ``rel_ci_low``/``rel_ci_high``, ``p_value`` and the
    CUPED interval (``cuped_ci_low``/``cuped_ci_high`` or ``cuped: {...}``). Breakdowns also from
    ``breakdown`` (mapping dimension -> list) and ``by_<dimension>`` keys. SRM from ``srm_p_value``
    or ``srm: {p_value, warning | mismatch}``. Raises :class:`InputError` when no metric is found.
    """
    if not isinstance(analysis, Mapping):
        raise InputError(
            f"campaign analysis: expected a JSON object, got {type(analysis).__name__}"
        )
    raw = _get(analysis, ("metrics", "results", "metric_results"))
    rows, brk = _split_flat(raw)
    if not rows and not brk and _get(analysis, _ALIASES["lift"]) is not None:
        rows = [_metric_row(analysis, name="primary metric")]
    rows = [r for r in rows if r["lift"] is not None or r["rel_lift"] is not None or r["reason"]]
    if not rows:
        raise InputError(
            "campaign analysis: no overall metric results found (expected 'results' or 'metrics': "
            "a list of objects with 'metric', 'lift', 'ci_low', 'ci_high'); top-level keys: "
            f"{', '.join(map(str, analysis))}"
        )
    for i, r in enumerate(rows):
        r["metric"] = r["metric"] or f"metric {i + 1}"
    b = _get(analysis, ("breakdown", "breakdowns", "by"))
    if isinstance(b, Mapping):
        for dim, v in b.items():
            brk += _breakdown_rows(str(dim), v)
    elif b is not None:
        brk += _breakdown_rows("group", b)
    for key, v in analysis.items():
        if isinstance(key, str) and key.startswith("by_") and key != "by":
            brk += _breakdown_rows(key[3:], v)
    metrics_df = _frame(rows)
    first = str(metrics_df["metric"].iloc[0])
    for r in brk:
        r["metric"] = r["metric"] or first
    brk = [r for r in brk if r["lift"] is not None or r["rel_lift"] is not None or r["reason"]]
    srm_p, warn = _srm(analysis)
    roi = analysis.get("roi")
    warnings = analysis.get("warnings")
    return CampaignResults(
        metrics=metrics_df,
        breakdown=_frame(brk, extra=("dimension", "level")),
        srm_p_value=srm_p,
        srm_warning=warn,
        roi={k: v for k, v in roi.items()} if isinstance(roi, Mapping) else {},
        warnings=[str(w) for w in warnings] if isinstance(warnings, list) else [],
    )


# --------------------------------------------------------------------------------------------
# uplift curves file (written by training, read by the report)
# --------------------------------------------------------------------------------------------


def curves_table(metrics: Mapping[str, Any], max_points: int = 101) -> pd.DataFrame:
    """``uplift_curves.parquet`` rows from per-offer uplift metrics.

    ``metrics``: offer id -> an object with ``qini_curve`` / ``uplift_curve`` attributes holding
    ``x`` (share targeted, 0..1) and ``y`` arrays (e.g. :class:`offerwise.evaluation.uplift.
    UpliftMetrics` with ``keep_curves=True``). Each curve is resampled to at most ``max_points``
    evenly spaced x (linear interpolation, so files stay small). Columns: ``offer_id``, ``curve``
    (qini|uplift), ``fraction``, ``value``, ``random`` (straight line from (0, 0) to the end).
    """
    frames = []
    for offer, m in metrics.items():
        for kind in ("qini", "uplift"):
            c = getattr(m, f"{kind}_curve", None)
            if c is None:
                continue
            x, y = np.asarray(c.x, dtype=float), np.asarray(c.y, dtype=float)
            if len(x) > max_points:
                grid = np.linspace(0.0, 1.0, max_points)
                x, y = grid, np.interp(grid, x, y)
            end = float(y[-1]) if len(y) else 0.0
            frames.append(pd.DataFrame({"offer_id": str(offer), "curve": kind, "fraction": x,
                                        "value": y, "random": x * end}))
    if not frames:
        return pd.DataFrame(columns=["offer_id", "curve", "fraction", "value", "random"])
    return pd.concat(frames, ignore_index=True)

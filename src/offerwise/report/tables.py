"""Pure data preparation for the report: key numbers, the fairness audit, campaign results.

No plotting here; every function takes DataFrames/dicts and returns a DataFrame or dataclass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.evaluation.power import minimum_detectable_effect, sd_from_se
from offerwise.vocab import NO_OFFER

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.evaluation.analyze import AnalyzeResult
    from offerwise.evaluation.experiment import CampaignAnalysis, LiftResult, ROIResult, SRMCheck

__all__ = [
    "MISSING",
    "CampaignResults",
    "ExpectedVsMeasured",
    "KeyNumbers",
    "Overlap",
    "campaign_of",
    "campaign_results",
    "category_mix",
    "curves_table",
    "expected_vs_measured",
    "fairness_audit",
    "four_fifths_summary",
    "id_overlap",
    "key_numbers",
    "minimum_detectable_effect",
    "offer_colors",
    "parse_analysis",
    "require_columns",
    "sd_from_se",
    "top_categories_by_segment",
    "treated_rows",
]

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


def top_categories_by_segment(profiles: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Per segment, the ``n`` categories most often a customer's top category (profile column
    ``top_category``): columns segment, rank (1..n), category, customers, share (of the segment's
    customers with a top category). Empty when the profiles lack those columns."""
    cols = ["segment", "rank", "category", "customers", "share"]
    if not {"segment", "top_category"} <= set(profiles.columns):
        return pd.DataFrame(columns=cols)
    p = profiles[["segment", "top_category"]].dropna()
    p = p.assign(segment=p["segment"].astype(str), top_category=p["top_category"].astype(str))
    counts = p.groupby(["segment", "top_category"]).size().rename("customers").reset_index()
    totals = p.groupby("segment").size()
    counts["share"] = counts["customers"] / counts["segment"].map(totals)
    counts = counts.sort_values(
        ["segment", "customers", "top_category"], ascending=[True, False, True]
    )
    counts["rank"] = counts.groupby("segment").cumcount() + 1
    out = counts[counts["rank"] <= n].rename(columns={"top_category": "category"})
    return out[cols].reset_index(drop=True)


def category_mix(plan: pd.DataFrame) -> pd.DataFrame:
    """What the plan discounts: treated customers with an offer per category scope (the plan's
    ``category`` column: a template's concrete category or a fixed category; missing or empty:
    ``site-wide``). Columns category, customers, share, expected_cost (when the plan has it),
    offers (the offer ids, comma-separated); the largest first."""
    p = treated_rows(plan)
    p = p[_offered(p)]
    cat = (
        p["category"].astype("string").fillna("").replace("", "site-wide")
        if "category" in p.columns
        else pd.Series("site-wide", index=p.index)
    )
    d = pd.DataFrame({"category": cat.astype(str), "offer_id": p["offer_id"].astype(str)})
    if "expected_cost" in p.columns:
        d["expected_cost"] = pd.to_numeric(p["expected_cost"], errors="coerce")
    g = d.groupby("category")
    out = pd.DataFrame({"customers": g.size()})
    out["share"] = out["customers"] / max(int(out["customers"].sum()), 1)
    if "expected_cost" in d.columns:
        out["expected_cost"] = g["expected_cost"].sum()
    out["offers"] = g["offer_id"].agg(lambda s: ", ".join(sorted(set(s))))
    return out.sort_values(["customers"], ascending=False).reset_index()


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
# campaign results (the typed analysis of `offerwise analyze`)
# --------------------------------------------------------------------------------------------

#: Columns of :attr:`CampaignResults.metrics` (and, after ``dimension, level``, of ``breakdown``).
METRIC_COLUMNS = [
    "metric",
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


def parse_analysis(obj: Mapping[str, Any]) -> AnalyzeResult | CampaignAnalysis:
    """The analysis JSON as its typed result: :class:`AnalyzeResult` when it has the
    ``campaign`` block that ``offerwise analyze --out`` writes, else :class:`CampaignAnalysis`
    (``CampaignAnalysis.to_dict()``). :class:`InputError` names a missing or malformed key."""
    from offerwise.evaluation.analyze import AnalyzeResult
    from offerwise.evaluation.experiment import CampaignAnalysis

    if not isinstance(obj, Mapping):
        raise InputError(f"campaign analysis: expected a JSON object, got {type(obj).__name__}")
    if "campaign" in obj:
        return AnalyzeResult.from_dict(obj)
    return CampaignAnalysis.from_dict(obj)


def campaign_of(analysis: AnalyzeResult | CampaignAnalysis) -> CampaignAnalysis:
    """The :class:`CampaignAnalysis` inside an :class:`AnalyzeResult` (or the argument itself)."""
    from offerwise.evaluation.analyze import AnalyzeResult

    return analysis.analysis if isinstance(analysis, AnalyzeResult) else analysis


def _row(r: LiftResult) -> dict[str, Any]:
    return {
        "metric": r.metric,
        "reason": r.reason,
        "treatment_mean": r.mean_treatment,
        "holdout_mean": r.mean_holdout,
        "lift": r.abs_lift,
        "ci_low": r.abs_ci_low,
        "ci_high": r.abs_ci_high,
        "rel_lift": r.rel_lift,
        "rel_ci_low": r.rel_ci_low,
        "rel_ci_high": r.rel_ci_high,
        "p_value": r.p_value,
        "cuped_lift": r.cuped_abs_lift,
        "cuped_ci_low": r.cuped_ci_low,
        "cuped_ci_high": r.cuped_ci_high,
        "n_treatment": r.n_treatment,
        "n_holdout": r.n_holdout,
    }


def _frame(rows: list[dict[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[*extra, *METRIC_COLUMNS])
    for c in METRIC_COLUMNS:
        if c not in ("metric", "reason"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


@dataclass(slots=True)
class CampaignResults:
    """The campaign analysis as the report shows it.

    ``analysis`` is the typed :class:`~offerwise.evaluation.experiment.CampaignAnalysis`;
    ``metrics`` (one row per overall metric) and ``breakdown`` (``dimension, level`` + the same
    columns, every non-overall slice) are its lift results as :data:`METRIC_COLUMNS` frames for
    tables and plots (NaN where undefined; relative lifts as fractions). ``meta`` is the
    :class:`~offerwise.evaluation.analyze.AnalyzeResult` (campaign window, plan, data) when the
    analysis came from ``offerwise analyze``.
    """

    analysis: CampaignAnalysis
    metrics: pd.DataFrame
    breakdown: pd.DataFrame
    meta: AnalyzeResult | None = None

    @property
    def srm(self) -> SRMCheck:
        return self.analysis.srm

    @property
    def roi(self) -> ROIResult:
        return self.analysis.roi

    @property
    def warnings(self) -> list[str]:
        return list(self.analysis.warnings)

    @property
    def srm_p_value(self) -> float | None:
        return _num(self.analysis.srm.p_value)

    @property
    def srm_warning(self) -> str | None:
        """A sentence when the sample-ratio check failed, else ``None``."""
        s = self.analysis.srm
        if not s.mismatch:
            return None
        return (
            f"the treatment/holdout split differs from the plan (holdout share "
            f"{s.observed_holdout_fraction:.1%}, planned {s.expected_holdout_fraction:.1%})"
        )


def campaign_results(
    analysis: AnalyzeResult | CampaignAnalysis | Mapping[str, Any],
) -> CampaignResults:
    """The report's view of a campaign analysis.

    ``analysis``: the typed result (:class:`AnalyzeResult` or :class:`CampaignAnalysis`); a JSON
    mapping is parsed once with :func:`parse_analysis`. Overall results (dimension ``overall``)
    become ``metrics``, all others ``breakdown``. :class:`InputError` when there is no overall
    result.
    """
    from offerwise.evaluation.analyze import AnalyzeResult
    from offerwise.evaluation.experiment import CampaignAnalysis

    if not isinstance(analysis, AnalyzeResult | CampaignAnalysis):
        analysis = parse_analysis(analysis)  # a JSON object; anything else is an InputError
    ca = campaign_of(analysis)
    meta = analysis if isinstance(analysis, AnalyzeResult) else None
    overall = [_row(r) for r in ca.results if r.dimension == "overall"]
    if not overall:
        raise InputError("campaign analysis: no overall result (dimension 'overall') to show")
    brk = [
        {"dimension": r.dimension, "level": r.level, **_row(r)}
        for r in ca.results
        if r.dimension != "overall"
    ]
    return CampaignResults(
        analysis=ca,
        metrics=_frame(overall),
        breakdown=_frame(brk, extra=("dimension", "level")),
        meta=meta,
    )


# --------------------------------------------------------------------------------------------
# expected (plan) vs measured (campaign)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedVsMeasured:
    """The plan's expectation next to the campaign's measurement, per treatment-group customer.

    ``expected`` = plan summary's ``expected_incremental_profit`` / ``n_expected`` (the plan's
    treatment-group size, offered or not, as in the A/B comparison); ``n_treatment`` and
    ``n_holdout`` are the analysis' group sizes; ``measured`` and ``ci_low`` /
    ``ci_high``: the analysis' net-profit lift per customer (CUPED when it narrowed the CI,
    ``cuped``); ``mde``: :func:`minimum_detectable_effect` from the analysis' group sizes and the
    outcome SD implied by its standard error (:func:`sd_from_se`).
    """

    expected_total: float
    n_expected: int
    n_treatment: int
    n_holdout: int
    expected: float
    measured: float
    ci_low: float
    ci_high: float
    sd: float
    mde: float
    alpha: float
    power: float
    cuped: bool

    @property
    def contains(self) -> bool:
        """Whether the measured interval contains the expected lift."""
        return bool(self.ci_low <= self.expected <= self.ci_high)

    @property
    def detectable(self) -> bool:
        """Whether the expected lift is at least the minimum detectable effect."""
        return bool(math.isfinite(self.mde) and abs(self.expected) >= self.mde)

    def sentences(self, currency: str = "$") -> list[str]:
        """Plain-language verdicts: interval vs expectation, holdout size vs expectation."""

        def m(v: float) -> str:
            return f"{'−' if v < 0 else ''}{currency}{abs(v):,.2f}"

        level = f"{1 - self.alpha:.0%}"
        first = (
            f"The measured lift of {m(self.measured)} per customer ({level} CI {m(self.ci_low)} to "
            f"{m(self.ci_high)}) {'contains' if self.contains else 'does not contain'} the plan's "
            f"expected {m(self.expected)}"
        )
        if not self.contains:
            first += (
                ": the campaign earned less than planned"
                if self.ci_high < self.expected
                else ": the campaign earned more than planned"
            )
        second = (
            f"With {self.n_treatment:,} treatment and {self.n_holdout:,} holdout customers the "
            f"smallest lift this test detects with {self.power:.0%} power (two-sided α = "
            f"{self.alpha:g}) is {m(self.mde)} per customer, so the holdout was "
            f"{'large enough' if self.detectable else 'too small'} to detect the expected "
            f"{m(self.expected)}."
        )
        return [first + ".", second]


def expected_vs_measured(
    summary: Mapping[str, Any] | None,
    analysis: AnalyzeResult | CampaignAnalysis,
    *,
    power: float = 0.8,
    metric: str = "net_profit",
) -> ExpectedVsMeasured | None:
    """Compare the plan summary's expected incremental profit with the measured ``metric`` lift.

    ``None`` when the summary lacks ``expected_incremental_profit`` or the analysis has no
    usable overall ``metric`` result. The treatment-group size is the summary's ``n_treatment``
    (else the analysis'); the MDE uses the analysis' group sizes and ``alpha``.
    """
    ca = campaign_of(analysis)
    total = _num((summary or {}).get("expected_incremental_profit"))
    if total is None:
        return None
    try:
        r = ca.get(metric)
    except KeyError:
        return None
    if not r.ok:
        return None
    lift, lo, hi = r.best()
    cuped = bool(r.has_cuped and r.variance_reduction > 0)
    se = r.cuped_se if cuped else r.abs_se
    n_plan = _num((summary or {}).get("n_treatment"))
    n_t = int(n_plan) if n_plan else int(ca.n_treatment)
    if n_t <= 0:
        return None
    sd = sd_from_se(float(se), r.n_treatment, r.n_holdout)
    mde = minimum_detectable_effect(sd, r.n_treatment, r.n_holdout, alpha=ca.alpha, power=power)
    return ExpectedVsMeasured(
        expected_total=total,
        n_expected=n_t,
        n_treatment=r.n_treatment,
        n_holdout=r.n_holdout,
        expected=total / n_t,
        measured=float(lift),
        ci_low=float(lo),
        ci_high=float(hi),
        sd=sd,
        mde=mde,
        alpha=float(ca.alpha),
        power=power,
        cuped=cuped,
    )


# --------------------------------------------------------------------------------------------
# populations (do the profiles describe the plan's customers?)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overlap:
    """Customer ids of two tables: sizes and how many are in both."""

    n_left: int
    n_right: int
    n_common: int

    @property
    def same(self) -> bool:
        return self.n_common == self.n_left == self.n_right


def id_overlap(left: pd.DataFrame, right: pd.DataFrame) -> Overlap:
    """Distinct ``customer_id`` (as text) of ``left`` and ``right`` and their intersection."""
    require_columns(left, "profiles", ["customer_id"])
    require_columns(right, "plan", ["customer_id"])
    a = set(left["customer_id"].astype(str))
    b = set(right["customer_id"].astype(str))
    return Overlap(len(a), len(b), len(a & b))


# --------------------------------------------------------------------------------------------
# uplift curves file (written by training, read by the report)
# --------------------------------------------------------------------------------------------


def curves_table(metrics: Mapping[str, Any], max_points: int = 101) -> pd.DataFrame:
    """``uplift_curves.parquet`` rows from per-offer uplift metrics.

    ``metrics``: offer id -> an object with ``qini_curve`` / ``uplift_curve`` attributes holding
    ``x`` (share targeted, 0..1) and ``y`` arrays (e.g. :class:`offerwise.evaluation.uplift.
    UpliftMetrics` with ``keep_curves=True``). Each curve is resampled to at most ``max_points``
    evenly spaced x (linear interpolation, so files stay small). Columns: ``offer_id``, ``curve``
    (qini|uplift), ``fraction``, ``value``, ``random``: the curve's random-targeting baseline
    (``UpliftCurve.baseline``, the one the normalized scores use), else the straight line from
    (0, 0) to the curve's end.
    """
    frames = []
    for offer, m in metrics.items():
        for kind in ("qini", "uplift"):
            c = getattr(m, f"{kind}_curve", None)
            if c is None:
                continue
            x, y = np.asarray(c.x, dtype=float), np.asarray(c.y, dtype=float)
            base = getattr(c, "baseline", None)
            r = x * (float(y[-1]) if len(y) else 0.0) if base is None else np.asarray(base, float)
            if len(x) > max_points:
                grid = np.linspace(0.0, 1.0, max_points)
                x, y, r = grid, np.interp(grid, x, y), np.interp(grid, x, r)
            frames.append(
                pd.DataFrame(
                    {"offer_id": str(offer), "curve": kind, "fraction": x, "value": y, "random": r}
                )
            )
    if not frames:
        return pd.DataFrame(columns=["offer_id", "curve", "fraction", "value", "random"])
    return pd.concat(frames, ignore_index=True)

"""A/B analysis of a campaign: treatment vs holdout on per-customer outcomes.

Everything works on additive summary statistics (as in GrowthBook's stats engine):
:class:`SampleStats` ``(n, Σy, Σy²)`` and :class:`RegressionStats` (adds ``Σx, Σx², Σxy`` for
CUPED), so segments and offers are summed with one ``groupby`` and groups can be merged with ``+``.

For a metric with treatment mean ``ȳ_T``, holdout mean ``ȳ_H``, unbiased variances ``s²`` and sizes
``n``:

* absolute lift ``Δ = ȳ_T − ȳ_H``, ``se² = s²_T/n_T + s²_H/n_H``; CI ``Δ ± t_{ν, 1−α/2} · se`` with
  Welch–Satterthwaite ``ν = se⁴ / ((s²_T/n_T)²/(n_T−1) + (s²_H/n_H)²/(n_H−1))``.
* relative lift ``ρ = ȳ_T/ȳ_H − 1``; delta method
  ``Var ρ ≈ s²_T/(n_T ȳ_H²) + ȳ_T² s²_H/(n_H ȳ_H⁴)``; CI ``ρ ± z_{1−α/2} √Var ρ``.
* CUPED (Deng et al. 2013) with covariate ``x`` = pre-period spend: ``θ = cov(y, x)/var(x)`` over
  both groups pooled; ``Δ_cuped = Δ − θ (x̄_T − x̄_H)`` with per-group variance
  ``s²_y + θ² s²_x − 2θ s_xy``; variance reduction ``1 − se²_cuped / se²``.
* sample-ratio mismatch: Pearson χ² (1 d.o.f.) of the group sizes against the planned split;
  flagged when ``p < 0.001``.

Degenerate comparisons (an empty group, fewer than 2 customers, zero variance) return a result
whose ``reason`` names the problem instead of raising, so one bad segment does not sink a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd

from offerwise.errors import InputError

GROUPS = ("treatment", "holdout")
METRICS: tuple[str, ...] = ("converted", "revenue", "discount_cost", "net_profit")
SRM_P_THRESHOLD = 0.001

# reason codes of degenerate comparisons
EMPTY_GROUP = "empty_group"
TOO_FEW_UNITS = "too_few_units"
ZERO_VARIANCE = "zero_variance"


# --------------------------------------------------------------------------------------------
# summary statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleStats:
    """Sufficient statistics of one metric in one group: ``n``, ``Σy``, ``Σy²``. Add with ``+``."""

    n: int = 0
    sum: float = 0.0
    sum_squares: float = 0.0

    @classmethod
    def from_array(cls, y: np.ndarray) -> SampleStats:
        y = np.asarray(y, dtype=float)
        return cls(int(y.size), float(y.sum()), float((y * y).sum()))

    def __add__(self, other: SampleStats) -> SampleStats:
        if not isinstance(other, SampleStats):
            return NotImplemented
        return SampleStats(
            self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares
        )

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else float("nan")

    @property
    def variance(self) -> float:
        """Unbiased sample variance ``(Σy² − (Σy)²/n)/(n−1)``; NaN when n < 2, clipped at 0."""
        if self.n < 2:
            return float("nan")
        return max(0.0, (self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1))


@dataclass(frozen=True, slots=True)
class RegressionStats:
    """Joint statistics of a metric ``y`` and a covariate ``x`` (for CUPED). Add with ``+``."""

    n: int = 0
    sum_y: float = 0.0
    sum_y2: float = 0.0
    sum_x: float = 0.0
    sum_x2: float = 0.0
    sum_xy: float = 0.0

    @classmethod
    def from_arrays(cls, y: np.ndarray, x: np.ndarray) -> RegressionStats:
        y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
        if y.shape != x.shape:
            raise InputError(f"y and x must have the same shape, got {y.shape} and {x.shape}")
        return cls(
            int(y.size),
            float(y.sum()),
            float((y * y).sum()),
            float(x.sum()),
            float((x * x).sum()),
            float((x * y).sum()),
        )

    def __add__(self, other: RegressionStats) -> RegressionStats:
        if not isinstance(other, RegressionStats):
            return NotImplemented
        return RegressionStats(
            self.n + other.n,
            self.sum_y + other.sum_y,
            self.sum_y2 + other.sum_y2,
            self.sum_x + other.sum_x,
            self.sum_x2 + other.sum_x2,
            self.sum_xy + other.sum_xy,
        )

    @property
    def y(self) -> SampleStats:
        return SampleStats(self.n, self.sum_y, self.sum_y2)

    @property
    def x(self) -> SampleStats:
        return SampleStats(self.n, self.sum_x, self.sum_x2)

    @property
    def covariance(self) -> float:
        """Unbiased ``cov(x, y) = (Σxy − Σx Σy / n)/(n−1)``; NaN when n < 2."""
        if self.n < 2:
            return float("nan")
        return (self.sum_xy - self.sum_x * self.sum_y / self.n) / (self.n - 1)


# --------------------------------------------------------------------------------------------
# one comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiftResult:
    """Treatment vs holdout on one metric in one slice (``dimension``/``level``).

    ``reason`` is None for a usable result, else a code (``empty_group``, ``too_few_units``,
    ``zero_variance``) with a short explanation; ``notes`` lists partial issues (e.g. relative
    lift undefined, CUPED skipped).
    """

    metric: str
    dimension: str
    level: str
    n_treatment: int
    n_holdout: int
    mean_treatment: float
    mean_holdout: float
    abs_lift: float = float("nan")
    abs_se: float = float("nan")
    abs_ci_low: float = float("nan")
    abs_ci_high: float = float("nan")
    p_value: float = float("nan")
    rel_lift: float = float("nan")
    rel_ci_low: float = float("nan")
    rel_ci_high: float = float("nan")
    cuped_abs_lift: float = float("nan")
    cuped_se: float = float("nan")
    cuped_ci_low: float = float("nan")
    cuped_ci_high: float = float("nan")
    cuped_rel_lift: float = float("nan")
    cuped_rel_ci_low: float = float("nan")
    cuped_rel_ci_high: float = float("nan")
    theta: float = float("nan")
    variance_reduction: float = float("nan")
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def has_cuped(self) -> bool:
        return bool(np.isfinite(self.cuped_abs_lift) and np.isfinite(self.cuped_se))

    def best(self) -> tuple[float, float, float]:
        """(lift, ci_low, ci_high): the CUPED estimate when it narrows the CI, else the plain
        one."""
        if self.has_cuped and self.variance_reduction > 0:
            return self.cuped_abs_lift, self.cuped_ci_low, self.cuped_ci_high
        return self.abs_lift, self.abs_ci_low, self.abs_ci_high

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return {k: _json(v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> LiftResult:
        """Inverse of :meth:`to_dict` (``None`` -> NaN); :class:`InputError` on a missing key."""
        kw = _from_json(
            cls, d, "lift result", ("metric", "dimension", "level", "n_treatment", "n_holdout")
        )
        kw.setdefault("mean_treatment", float("nan"))
        kw.setdefault("mean_holdout", float("nan"))
        return cls(**kw)


def _json(v: object) -> object:
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _from_json(cls: type, d: object, what: str, required: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments of dataclass ``cls`` from its ``to_dict()`` (``None`` float -> NaN).

    Keys ``cls`` does not have are ignored; a missing ``required`` key or a value of the wrong
    type is an :class:`InputError` naming ``what`` and the key.
    """
    if not isinstance(d, Mapping):
        raise InputError(f"{what}: expected a JSON object, got {type(d).__name__}")
    missing = [k for k in required if d.get(k) is None]
    if missing:
        raise InputError(
            f"{what}: missing key(s) {', '.join(map(repr, missing))}; "
            f"has {', '.join(map(str, d)) or 'none'}"
        )
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v, t = d[f.name], str(f.type)
        try:
            if t == "float":
                kw[f.name] = float("nan") if v is None else float(v)
            elif t == "int":
                kw[f.name] = int(v)
            elif t == "bool":
                kw[f.name] = bool(v)
            elif t == "str":
                kw[f.name] = str(v)
            elif t == "str | None":
                kw[f.name] = None if v is None else str(v)
            elif t.startswith("tuple[str"):
                kw[f.name] = tuple(str(x) for x in (v or ()))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what}: key {f.name!r}: {v!r} is not a {t}") from exc
    return kw


class _LiftBase(TypedDict):
    """The :class:`LiftResult` fields every comparison fills."""

    metric: str
    dimension: str
    level: str
    n_treatment: int
    n_holdout: int
    mean_treatment: float
    mean_holdout: float


class _LiftEstimates(TypedDict, total=False):
    """The :class:`LiftResult` estimates a usable comparison fills."""

    abs_lift: float
    abs_se: float
    abs_ci_low: float
    abs_ci_high: float
    p_value: float
    rel_lift: float
    rel_ci_low: float
    rel_ci_high: float
    cuped_abs_lift: float
    cuped_se: float
    cuped_ci_low: float
    cuped_ci_high: float
    cuped_rel_lift: float
    cuped_rel_ci_low: float
    cuped_rel_ci_high: float
    theta: float
    variance_reduction: float


def _welch(vt: float, nt: int, vh: float, nh: int) -> tuple[float, float]:
    """(se, df) of the difference of two means with Welch–Satterthwaite degrees of freedom."""
    at, ah = vt / nt, vh / nh
    se2 = at + ah
    den = (at * at / (nt - 1) if nt > 1 else 0.0) + (ah * ah / (nh - 1) if nh > 1 else 0.0)
    df = se2 * se2 / den if den > 0 else float(nt + nh - 2)
    return float(np.sqrt(se2)), float(df)


def _ratio_ci(mt: float, vmt: float, mh: float, vmh: float, z: float) -> tuple[float, float, float]:
    """Relative lift ``mt/mh − 1`` and its delta-method CI; ``vm*`` are variances of the means."""
    rel = mt / mh - 1.0
    se = float(np.sqrt(vmt / mh**2 + mt**2 * vmh / mh**4))
    return rel, rel - z * se, rel + z * se


def compare(
    treatment: SampleStats | RegressionStats,
    holdout: SampleStats | RegressionStats,
    *,
    alpha: float = 0.05,
    metric: str = "metric",
    dimension: str = "overall",
    level: str = "all",
) -> LiftResult:
    """Compare two groups from their summary statistics (CUPED when both are RegressionStats)."""
    from scipy import special  # t and normal quantiles without scipy.stats' per-call overhead

    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1), got {alpha}")
    yt = treatment.y if isinstance(treatment, RegressionStats) else treatment
    yh = holdout.y if isinstance(holdout, RegressionStats) else holdout
    base = _LiftBase(
        metric=metric,
        dimension=dimension,
        level=level,
        n_treatment=yt.n,
        n_holdout=yh.n,
        mean_treatment=yt.mean,
        mean_holdout=yh.mean,
    )
    if yt.n == 0 or yh.n == 0:
        empty = "treatment" if yt.n == 0 else "holdout"
        return LiftResult(**base, reason=f"{EMPTY_GROUP}: no customers in the {empty} group")
    if yt.n < 2 or yh.n < 2:
        small = "treatment" if yt.n < 2 else "holdout"
        return LiftResult(
            **base,
            abs_lift=yt.mean - yh.mean,
            reason=f"{TOO_FEW_UNITS}: the {small} group has fewer than 2 customers",
        )
    vt, vh = yt.variance, yh.variance
    diff = yt.mean - yh.mean
    se, df = _welch(vt, yt.n, vh, yh.n)
    if not se > 0:
        return LiftResult(
            **base,
            abs_lift=diff,
            abs_se=0.0,
            reason=f"{ZERO_VARIANCE}: the metric is constant within both groups",
        )
    q = 1 - alpha / 2
    tcrit, z = float(special.stdtrit(df, q)), float(special.ndtri(q))
    out = _LiftEstimates(
        abs_lift=diff,
        abs_se=se,
        abs_ci_low=diff - tcrit * se,
        abs_ci_high=diff + tcrit * se,
        p_value=float(2 * special.stdtr(df, -abs(diff) / se)),
    )
    notes: list[str] = []
    if yh.mean != 0:
        r, lo, hi = _ratio_ci(yt.mean, vt / yt.n, yh.mean, vh / yh.n, z)
        out.update(_LiftEstimates(rel_lift=r, rel_ci_low=lo, rel_ci_high=hi))
    else:
        notes.append("relative lift undefined: the holdout mean is 0")
    if isinstance(treatment, RegressionStats) and isinstance(holdout, RegressionStats):
        pooled = treatment + holdout
        vx = pooled.x.variance
        if not vx > 0:
            notes.append("CUPED skipped: the covariate is constant")
        else:
            theta = pooled.covariance / vx
            xbar = pooled.x.mean

            def adj(s: RegressionStats) -> tuple[float, float]:
                v = s.y.variance + theta**2 * s.x.variance - 2 * theta * s.covariance
                return s.y.mean - theta * (s.x.mean - xbar), max(v, 0.0)

            mt, avt = adj(treatment)
            mh, avh = adj(holdout)
            cse, cdf = _welch(avt, yt.n, avh, yh.n)
            cdiff = mt - mh
            ct = float(special.stdtrit(cdf, q))
            out.update(
                _LiftEstimates(
                    cuped_abs_lift=cdiff,
                    cuped_se=cse,
                    cuped_ci_low=cdiff - ct * cse,
                    cuped_ci_high=cdiff + ct * cse,
                    theta=theta,
                    variance_reduction=1.0 - cse**2 / se**2,
                )
            )
            if mh != 0:
                r, lo, hi = _ratio_ci(mt, avt / yt.n, mh, avh / yh.n, z)
                out.update(
                    _LiftEstimates(cuped_rel_lift=r, cuped_rel_ci_low=lo, cuped_rel_ci_high=hi)
                )
    return LiftResult(**base, **out, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# sample-ratio mismatch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SRMCheck:
    """Pearson χ² test of the observed group sizes against the planned holdout share."""

    n_treatment: int
    n_holdout: int
    expected_holdout_fraction: float
    observed_holdout_fraction: float
    chi2: float
    p_value: float
    mismatch: bool

    def to_dict(self) -> dict[str, object]:
        return {k: _json(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> SRMCheck:
        """Inverse of :meth:`to_dict` (``None`` -> NaN)."""
        kw = _from_json(
            cls, d, "sample-ratio check", ("n_treatment", "n_holdout", "expected_holdout_fraction")
        )
        for k in ("observed_holdout_fraction", "chi2", "p_value"):
            kw.setdefault(k, float("nan"))
        kw.setdefault("mismatch", False)
        return cls(**kw)


def srm_check(
    n_treatment: int,
    n_holdout: int,
    expected_holdout_fraction: float,
    threshold: float = SRM_P_THRESHOLD,
) -> SRMCheck:
    """χ² = Σ (observed − expected)² / expected over both groups, 1 d.o.f.; mismatch if
    p < threshold."""
    from scipy import stats as st

    f = float(expected_holdout_fraction)
    if not 0 <= f < 1:
        raise InputError(
            f"expected_holdout_fraction must lie in [0, 1), got {expected_holdout_fraction}"
        )
    n = n_treatment + n_holdout
    if n == 0:
        return SRMCheck(0, 0, f, float("nan"), float("nan"), float("nan"), False)
    if f == 0:  # no holdout planned: any holdout customer is a mismatch, no χ² to compute
        return SRMCheck(
            int(n_treatment),
            int(n_holdout),
            0.0,
            n_holdout / n,
            float("nan"),
            0.0 if n_holdout else 1.0,
            n_holdout > 0,
        )
    et, eh = n * (1 - f), n * f
    chi2 = (n_treatment - et) ** 2 / et + (n_holdout - eh) ** 2 / eh
    p = float(st.chi2.sf(chi2, 1))
    return SRMCheck(
        int(n_treatment), int(n_holdout), f, n_holdout / n, float(chi2), p, p < threshold
    )


# --------------------------------------------------------------------------------------------
# campaign
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ROIResult:
    """Realized return of the campaign, scaled to the treatment group.

    ``incremental_net_profit = Δ net profit per customer × n_treatment`` (the CUPED estimate when
    it narrows the CI, see :meth:`LiftResult.best`) with its CI; ``incremental_discount_cost``
    likewise from the discount-cost lift;
    ``roi = incremental_net_profit / incremental_discount_cost`` (CI bounds from the profit CI,
    cost taken as fixed). ``discount_cost_treatment`` is the total discount given to treated
    customers (it includes discounts they would have had anyway).
    """

    n_treatment: int
    discount_cost_treatment: float
    incremental_discount_cost: float
    incremental_revenue: float
    incremental_net_profit: float
    incremental_net_profit_ci_low: float
    incremental_net_profit_ci_high: float
    roi: float
    roi_ci_low: float
    roi_ci_high: float
    cuped: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: _json(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ROIResult:
        """Inverse of :meth:`to_dict` (``None`` -> NaN)."""
        kw = _from_json(cls, d, "ROI", ("n_treatment",))
        for f in fields(cls):
            if str(f.type) == "float":
                kw.setdefault(f.name, float("nan"))
        kw.setdefault("cuped", False)
        return cls(**kw)


@dataclass(slots=True)
class CampaignAnalysis:
    """Result of :func:`analyze_campaign`: SRM check, lifts per metric and slice, ROI, warnings."""

    n_customers: int
    n_treatment: int
    n_holdout: int
    alpha: float
    srm: SRMCheck
    results: list[LiftResult]
    roi: ROIResult
    warnings: list[str] = field(default_factory=list)

    def get(self, metric: str, dimension: str = "overall", level: str = "all") -> LiftResult:
        for r in self.results:
            if r.metric == metric and r.dimension == dimension and r.level == level:
                return r
        raise KeyError((metric, dimension, level))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready nested dict (NaN → None)."""
        return {
            "n_customers": self.n_customers,
            "n_treatment": self.n_treatment,
            "n_holdout": self.n_holdout,
            "alpha": self.alpha,
            "srm": self.srm.to_dict(),
            "roi": self.roi.to_dict(),
            "results": [r.to_dict() for r in self.results],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> CampaignAnalysis:
        """Inverse of :meth:`to_dict`; extra keys (e.g. ``AnalyzeResult``'s ``campaign``) ignored.

        :class:`InputError` when a key is missing or has the wrong type.
        """
        kw = _from_json(
            cls,
            d,
            "campaign analysis",
            ("n_customers", "n_treatment", "n_holdout", "alpha", "srm", "roi", "results"),
        )
        res = d["results"]
        if not isinstance(res, list):
            raise InputError(
                f"campaign analysis: 'results' must be a list, got {type(res).__name__}"
            )
        warns = d.get("warnings") or []
        if not isinstance(warns, list):
            raise InputError(
                f"campaign analysis: 'warnings' must be a list, got {type(warns).__name__}"
            )
        return cls(
            n_customers=int(kw["n_customers"]),
            n_treatment=int(kw["n_treatment"]),
            n_holdout=int(kw["n_holdout"]),
            alpha=float(kw["alpha"]),
            srm=SRMCheck.from_dict(cast(Mapping[str, object], d["srm"])),
            results=[LiftResult.from_dict(r) for r in res],
            roi=ROIResult.from_dict(cast(Mapping[str, object], d["roi"])),
            warnings=[str(w) for w in warns],
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per (dimension, level, metric) with the columns a report table shows."""
        rows = [
            {
                "dimension": r.dimension,
                "level": r.level,
                "metric": r.metric,
                "n_treatment": r.n_treatment,
                "n_holdout": r.n_holdout,
                "mean_treatment": r.mean_treatment,
                "mean_holdout": r.mean_holdout,
                "abs_lift": r.abs_lift,
                "abs_ci_low": r.abs_ci_low,
                "abs_ci_high": r.abs_ci_high,
                "p_value": r.p_value,
                "rel_lift": r.rel_lift,
                "rel_ci_low": r.rel_ci_low,
                "rel_ci_high": r.rel_ci_high,
                "cuped_abs_lift": r.cuped_abs_lift,
                "cuped_ci_low": r.cuped_ci_low,
                "cuped_ci_high": r.cuped_ci_high,
                "variance_reduction": r.variance_reduction,
                "reason": r.reason or "",
            }
            for r in self.results
        ]
        return pd.DataFrame(rows)


_REQUIRED = ("customer_id", "group", "converted", "revenue", "discount_cost")


def _validate_customers(customers: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Check the per-customer frame; return numeric working copy and warnings."""
    if not isinstance(customers, pd.DataFrame):
        raise InputError(f"customers must be a pandas DataFrame, got {type(customers).__name__}")
    missing = [c for c in _REQUIRED if c not in customers.columns]
    if "gross_profit" not in customers.columns and "net_profit" not in customers.columns:
        missing.append("gross_profit")
    if missing:
        raise InputError(
            f"campaign customers: required column(s) {', '.join(map(repr, missing))} missing "
            f"(found: {', '.join(map(str, list(customers.columns)[:12]))})"
        )
    warnings: list[str] = []
    cols: dict[str, np.ndarray] = {
        "customer_id": customers["customer_id"].astype(str).to_numpy(),
        "group": customers["group"].astype(str).str.strip().str.lower().to_numpy(),
    }
    ids = pd.Series(cols["customer_id"])
    bad = ~np.isin(cols["group"], GROUPS)
    if bad.any():
        raise InputError(
            f"campaign customers: column 'group' must be 'treatment' or 'holdout'; "
            f"{int(bad.sum())} row(s) are not (e.g. {str(customers['group'].to_numpy()[bad][0])!r})"
        )
    dup = ids.duplicated().to_numpy()
    if dup.any():
        raise InputError(
            f"campaign customers: {int(dup.sum())} duplicate customer_id(s), "
            f"e.g. {str(ids[dup].iloc[0])!r}"
        )
    num_cols = ["converted", "revenue", "discount_cost"]
    num_cols += ["net_profit"] if "net_profit" in customers.columns else ["gross_profit"]
    if "pre_spend" in customers.columns:
        num_cols.append("pre_spend")
    for c in num_cols:
        v = pd.to_numeric(customers[c], errors="coerce").to_numpy(dtype=float)
        badv = ~np.isfinite(v)
        if badv.any():
            raise InputError(
                f"campaign customers: column '{c}' has {int(badv.sum())} missing or non-numeric "
                f"value(s) (e.g. customer_id={str(ids[badv].iloc[0])!r})"
            )
        cols[c] = v
    badc = ~np.isin(cols["converted"], (0.0, 1.0))
    if badc.any():
        raise InputError(
            f"campaign customers: column 'converted' must be 0/1; {int(badc.sum())} row(s) are "
            f"not (e.g. {float(cols['converted'][badc][0])!r})"
        )
    if "net_profit" not in cols:
        cols["net_profit"] = cols["gross_profit"] - cols["discount_cost"]
    if "pre_spend" not in cols:
        warnings.append("no 'pre_spend' column: CUPED variance reduction skipped")
    for c in ("offer_id", "segment"):
        if c in customers.columns:
            cols[c] = customers[c].fillna("unknown").astype(str).to_numpy()
    return pd.DataFrame(cols), warnings


def _grouped_stats(
    df: pd.DataFrame, by: str | None, metrics: Sequence[str], cuped: bool
) -> dict[tuple[str, str, str], SampleStats | RegressionStats]:
    """Summary stats per (level, group, metric) in one pass: {(level, group, metric): stats}.

    Rows are coded ``2·level + is_holdout`` and every sum is one ``np.bincount``.
    """
    if by is None:
        lev_codes, levels = np.zeros(len(df), dtype=np.int64), np.array(["all"])
    else:
        lev_codes, levels = pd.factorize(df[by], sort=True)
    code = 2 * lev_codes + (df["group"].to_numpy() == "holdout")
    size = 2 * len(levels)

    def s(v: np.ndarray) -> np.ndarray:
        return np.bincount(code, weights=v, minlength=size)

    cnt = np.bincount(code, minlength=size)
    x = df["pre_spend"].to_numpy(dtype=float) if cuped else None
    sx, sx2 = (s(x), s(x * x)) if x is not None else (None, None)
    out: dict[tuple[str, str, str], SampleStats | RegressionStats] = {}
    for m in metrics:
        y = df[m].to_numpy(dtype=float)
        sy, sy2 = s(y), s(y * y)
        sxy = s(x * y) if x is not None else None
        for c in np.flatnonzero(cnt):
            key = (str(levels[c // 2]), GROUPS[c % 2], m)
            if sx is not None and sx2 is not None and sxy is not None:
                out[key] = RegressionStats(
                    int(cnt[c]),
                    float(sy[c]),
                    float(sy2[c]),
                    float(sx[c]),
                    float(sx2[c]),
                    float(sxy[c]),
                )
            else:
                out[key] = SampleStats(int(cnt[c]), float(sy[c]), float(sy2[c]))
    return out


def analyze_campaign(
    customers: pd.DataFrame,
    expected_holdout_fraction: float,
    alpha: float = 0.05,
    *,
    metrics: Sequence[str] = METRICS,
) -> CampaignAnalysis:
    """Analyze a campaign from one row per customer (see :func:`campaign_outcomes`).

    Columns: customer_id, group ('treatment'|'holdout'), converted (0/1), revenue, discount_cost,
    gross_profit (or net_profit), and optionally pre_spend (CUPED covariate), offer_id and segment
    (breakdowns). Holdout customers keep the offer the plan would have given them, so per-offer
    rows compare like with like. Net profit = gross_profit − discount_cost.
    """
    df, warnings = _validate_customers(customers)
    cuped = "pre_spend" in df.columns
    n_t = int((df["group"] == "treatment").sum())
    n_h = len(df) - n_t
    srm = srm_check(n_t, n_h, expected_holdout_fraction)
    if srm.mismatch:
        warnings.append(
            f"sample ratio mismatch: {n_h} of {n_t + n_h} customers in holdout "
            f"({srm.observed_holdout_fraction:.2%}) vs planned {expected_holdout_fraction:.2%} "
            f"(chi2={srm.chi2:.1f}, p={srm.p_value:.2g}); "
            "the assignment or the outcome join may be broken"
        )
    empty = SampleStats()
    results: list[LiftResult] = []
    for dim, by in (("overall", None), ("offer", "offer_id"), ("segment", "segment")):
        if by is not None and by not in df.columns:
            continue
        stats = _grouped_stats(df, by, metrics, cuped)
        levels = sorted({k[0] for k in stats})
        for level in levels:
            for m in metrics:
                t = stats.get((level, "treatment", m), empty)
                h = stats.get((level, "holdout", m), empty)
                if isinstance(t, RegressionStats) != isinstance(
                    h, RegressionStats
                ):  # one side empty
                    t = t.y if isinstance(t, RegressionStats) else t
                    h = h.y if isinstance(h, RegressionStats) else h
                results.append(compare(t, h, alpha=alpha, metric=m, dimension=dim, level=level))
    bad = [r for r in results if r.reason and r.dimension != "overall"]
    if bad:
        warnings.append(
            f"{len(bad)} breakdown comparison(s) not estimable (see 'reason'), "
            f"e.g. {bad[0].dimension}={bad[0].level} {bad[0].metric}: {bad[0].reason}"
        )
    roi = _roi(results, df, n_t)
    if roi.reason:
        warnings.append(f"ROI: {roi.reason}")
    return CampaignAnalysis(len(df), n_t, n_h, alpha, srm, results, roi, warnings)


def _roi(results: list[LiftResult], df: pd.DataFrame, n_t: int) -> ROIResult:
    overall = {r.metric: r for r in results if r.dimension == "overall"}
    disc_t = float(df.loc[df["group"] == "treatment", "discount_cost"].sum())
    nan = float("nan")
    need = [m for m in ("net_profit", "discount_cost", "revenue") if m not in overall]
    if need:
        return ROIResult(
            n_t,
            disc_t,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            False,
            reason=f"metric(s) {need} not analyzed",
        )
    npf, dc, rv = overall["net_profit"], overall["discount_cost"], overall["revenue"]
    lift, lo, hi = (float(v) for v in npf.best())
    cost = float(dc.best()[0]) * n_t
    reason = npf.reason
    roi = roi_lo = roi_hi = nan
    if reason is None:
        if np.isfinite(cost) and cost > 0:
            roi, roi_lo, roi_hi = lift * n_t / cost, lo * n_t / cost, hi * n_t / cost
        else:
            reason = "incremental discount cost is not positive; ROI undefined"
    return ROIResult(
        n_t,
        disc_t,
        cost,
        float(rv.best()[0]) * n_t,
        lift * n_t,
        lo * n_t,
        hi * n_t,
        roi,
        roi_lo,
        roi_hi,
        npf.has_cuped and npf.variance_reduction > 0,
        reason,
    )


# --------------------------------------------------------------------------------------------
# building the per-customer frame
# --------------------------------------------------------------------------------------------


def campaign_outcomes(
    plan: pd.DataFrame,
    transactions: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    pre_period_days: int,
    margin_rate: float,
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-customer outcomes of a campaign, ready for :func:`analyze_campaign`.

    ``plan``: customer_id, group, and optionally offer_id, segment (missing → 'none'/'all').
    ``transactions`` (contract): customer_id, ts, amount, discount, optional quantity, product_id.
    Outcome window ``start ≤ ts < end`` (no upper bound when ``end`` is None); pre-period
    ``start − pre_period_days ≤ ts < start``. Per plan customer (customers without purchases get
    zeros; transactions of customers outside the plan are ignored):

    * converted = 1 if any line in the window with amount > 0 or quantity > 0
    * revenue = Σ amount; discount_cost = Σ discount
    * gross_profit = Σ (amount + discount − quantity·unit_cost) for lines whose product has a
      ``unit_cost`` in ``products``, else ``margin_rate·(amount + discount)``
    * net_profit = gross_profit − discount_cost; pre_spend = Σ amount in the pre-period
    """
    for name, df, cols in (
        ("plan", plan, ("customer_id", "group")),
        ("transactions", transactions, ("customer_id", "ts", "amount", "discount")),
    ):
        miss = [c for c in cols if c not in df.columns]
        if miss:
            raise InputError(
                f"{name}: required column(s) {', '.join(map(repr, miss))} missing "
                f"(found: {', '.join(map(str, list(df.columns)[:12]))})"
            )
    if pre_period_days < 0:
        raise InputError(f"pre_period_days must be >= 0, got {pre_period_days}")
    if not 0 <= margin_rate <= 1:
        raise InputError(f"margin_rate must lie in [0, 1], got {margin_rate}")
    start = pd.Timestamp(start)
    end = None if end is None else pd.Timestamp(end)
    if end is not None and end <= start:
        raise InputError(f"campaign end {end} is not after its start {start}")

    out = pd.DataFrame(
        {
            "customer_id": plan["customer_id"].astype(str).to_numpy(),
            "group": plan["group"].astype(str).to_numpy(),
            "offer_id": (
                plan["offer_id"].astype(str).to_numpy() if "offer_id" in plan.columns else "none"
            ),
            "segment": (
                plan["segment"].astype(str).to_numpy() if "segment" in plan.columns else "all"
            ),
        }
    )
    dup = out["customer_id"].duplicated()
    if dup.any():
        raise InputError(
            f"plan: {int(dup.sum())} duplicate customer_id(s), "
            f"e.g. {str(out['customer_id'][dup].iloc[0])!r}"
        )

    tx = transactions
    cust = tx["customer_id"].astype(str)
    ts = pd.to_datetime(tx["ts"], errors="coerce")
    if ts.isna().any():
        raise InputError(
            f"transactions: column 'ts' has {int(ts.isna().sum())} "
            "missing or unparseable timestamp(s)"
        )
    amount = pd.to_numeric(tx["amount"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    disc = pd.to_numeric(tx["discount"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    qty = (
        pd.to_numeric(tx["quantity"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "quantity" in tx.columns
        else np.zeros(len(tx))
    )
    gross = margin_rate * (amount + disc)
    if products is not None and "unit_cost" in products.columns and "product_id" in tx.columns:
        uc = pd.Series(
            pd.to_numeric(products["unit_cost"], errors="coerce").to_numpy(dtype=float),
            index=products["product_id"].astype(str).to_numpy(),
        )
        uc = uc[~uc.index.duplicated()]
        line_cost = tx["product_id"].astype(str).map(uc).to_numpy(dtype=float)
        known = np.isfinite(line_cost)
        gross = np.where(known, amount + disc - qty * np.nan_to_num(line_cost), gross)

    ts, start, end = _naive_utc(ts), _naive_utc(start), None if end is None else _naive_utc(end)
    in_win = (ts >= start).to_numpy()
    if end is not None:
        in_win = in_win & (ts < end).to_numpy()
    pre = ((ts >= start - pd.Timedelta(days=pre_period_days)) & (ts < start)).to_numpy()

    w = pd.DataFrame(
        {
            "customer_id": cust.to_numpy(),
            "revenue": amount,
            "discount_cost": disc,
            "gross_profit": gross,
            "bought": ((amount > 0) | (qty > 0)).astype(float),
        }
    )
    agg = (
        w[in_win]
        .groupby("customer_id", sort=False)
        .agg(
            revenue=("revenue", "sum"),
            discount_cost=("discount_cost", "sum"),
            gross_profit=("gross_profit", "sum"),
            converted=("bought", "max"),
        )
    )
    pre_spend = pd.Series(amount[pre], index=cust.to_numpy()[pre]).groupby(level=0).sum()

    ids = out["customer_id"]
    for c in ("converted", "revenue", "discount_cost", "gross_profit"):
        out[c] = ids.map(agg[c]).fillna(0.0).to_numpy(dtype=float)
    out["converted"] = out["converted"].astype(np.int64)
    out["net_profit"] = out["gross_profit"] - out["discount_cost"]
    out["pre_spend"] = ids.map(pre_spend).fillna(0.0).to_numpy(dtype=float)
    return out


def _naive_utc(t):  # noqa: ANN001, ANN202 - Timestamp or datetime Series
    """Drop time zones (converting to UTC) so naive and aware timestamps compare."""
    if isinstance(t, pd.Series):
        return t.dt.tz_convert(None) if t.dt.tz is not None else t
    return t.tz_convert(None) if t.tzinfo is not None else t


__all__ = [
    "METRICS",
    "CampaignAnalysis",
    "LiftResult",
    "ROIResult",
    "RegressionStats",
    "SRMCheck",
    "SampleStats",
    "analyze_campaign",
    "campaign_outcomes",
    "compare",
    "srm_check",
]

"""Can the logged exposures identify the offers' effects? Logging, overlap, balance, a placebo.

Pure functions on arrays (the train workflow gathers them):

- **logging**: ``randomized`` (logged propensities that do not vary within an offer),
  ``logged_propensities`` (they vary with the customer: a targeted policy that logged its
  probabilities), ``observational`` (no propensities: who got an offer was decided by rules the data
  may not show).
- **overlap**: per offer, the estimated probability ``e(x) = P(offer | x, offer or none)`` from a
  cross-fitted classifier on the model's features; the share of rows with ``e`` outside
  [0.05, 0.95] and the effective sample size ``ESS = (Σw)² / Σw²`` of the inverse-propensity
  weights ``w = 1/e`` (offer rows) and ``1/(1−e)`` (none rows).
- **balance**: standardized mean differences
  ``SMD = (x̄_offer − x̄_none) / √((s²_offer + s²_none)/2)``
  of the top features, before and after weighting.
- **placebo**: the offers' effect on an outcome they cannot have caused — the customer's net profit
  in the ``window_days`` **before** the exposure — estimated by AIPW with the same propensities
  the effects need (the logged ones, or a cross-fitted estimate from the features at the exposure)
  and an outcome model on the features as of the start of that window (see :func:`placebo_aipw`).
  A real "effect" on the past means the offered and the not-offered customers differed in ways
  the propensities do not capture: the same bias sits in the estimated effects.
- **sensitivity**: the E-value (VanderWeele & Ding 2017) of the plan's expected conversion lift over
  the break-even lift: how strongly (risk ratio, with both offer and conversion) an unobserved
  confounder would have to be associated to erase the plan's expected profit.
- **verdict**: ``ok`` | ``warning`` | ``unreliable`` with plain reasons (see :func:`verdict`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from offerwise.models.propensity import shrink_to_frequencies

__all__ = [
    "LOGGING_KINDS",
    "OVERLAP_BOUNDS",
    "BalanceRow",
    "Identification",
    "OverlapStats",
    "PlaceboResult",
    "Sensitivity",
    "arm_propensities",
    "placebo_aipw",
    "balance",
    "cross_fitted_propensity",
    "e_value",
    "effective_sample_size",
    "fill_propensities",
    "logged_or_estimated",
    "logged_rows",
    "logging_kind",
    "overlap",
    "verdict",
]

LOGGING_KINDS = ("randomized", "logged_propensities", "mixed", "observational")
#: Fewest rows with logged propensities that the value checks of mixed logs use on their own.
MIN_LOGGED_ROWS = 200
#: Estimated propensities outside these bounds count as poor overlap.
OVERLAP_BOUNDS = (0.05, 0.95)
#: Overlap is poor for an offer when more than ``POOR_OVERLAP_SHARE`` of its rows (and of none's)
#: have an estimated propensity outside :data:`EXTREME_BOUNDS`, or when the inverse-propensity
#: weights leave an effective sample below ``MIN_ESS_SHARE`` of the offer's rows. (The share outside
#: [0.05, 0.95] is reported too, but a rare offer has most of its propensities below 0.05 by its
#: base rate alone, which is not a lack of overlap.)
EXTREME_BOUNDS = (0.01, 0.99)
POOR_OVERLAP_SHARE = 0.1
MIN_ESS_SHARE = 0.1
#: Placebo p-value below which the placebo fails (one pooled test: treated vs none).
PLACEBO_ALPHA = 0.01
#: |SMD| after weighting above which a feature counts as imbalanced.
SMD_LIMIT = 0.1


@dataclass(frozen=True, slots=True)
class OverlapStats:
    """One offer vs ``none``: estimated propensity quantiles, share outside bounds, ESS."""

    offer: str
    n_offer: int
    n_none: int
    quantiles: dict[str, float]  # "p05", "p25", "p50", "p75", "p95" of e(x) over both arms' rows
    share_outside: float
    share_extreme: float  # outside EXTREME_BOUNDS
    ess_offer: float
    ess_none: float
    # with logged propensities: share of the offer's rows logged with probability < 0.01
    share_logged_below: float | None = None

    @property
    def poor(self) -> bool:
        """Overlap too poor to trust this offer's effect. With logged propensities the logged ones
        decide (the estimate only describes the features); else see :data:`EXTREME_BOUNDS`."""
        if self.share_logged_below is not None and math.isfinite(self.share_logged_below):
            return self.share_logged_below > POOR_OVERLAP_SHARE
        return self.share_extreme > POOR_OVERLAP_SHARE or (
            self.n_offer > 0 and self.ess_offer < MIN_ESS_SHARE * self.n_offer
        )


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """Standardized mean difference of one feature, offer vs ``none``, before/after weighting."""

    offer: str
    feature: str
    smd_before: float
    smd_after: float


@dataclass(frozen=True, slots=True)
class PlaceboResult:
    """The effect of an offer on the customer's outcome *before* the exposure (should be 0)."""

    outcome: str
    window_days: int
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """E-value of the plan's conversion lift over the break-even lift (``method`` says which)."""

    method: str
    risk_ratio: float
    e_value: float
    note: str


@dataclass(slots=True)
class Identification:
    """The identification report of a model (``model_card.json`` key ``identification``)."""

    logging: str
    logging_reason: str
    overlap: list[OverlapStats] = field(default_factory=list)
    balance: list[BalanceRow] = field(default_factory=list)
    placebo: PlaceboResult | None = None
    sensitivity: Sensitivity | None = None
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (NaN -> None)."""
        return _clean(asdict(self))  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identification:
        """Read back :meth:`to_dict`'s output (as stored in ``model_card.json``)."""
        ov = [OverlapStats(**_nan(o)) for o in d.get("overlap") or []]
        bal = [BalanceRow(**_nan(b)) for b in d.get("balance") or []]
        pl = d.get("placebo")
        se = d.get("sensitivity")
        return cls(
            logging=str(d["logging"]),
            logging_reason=str(d.get("logging_reason", "")),
            overlap=ov,
            balance=bal,
            placebo=PlaceboResult(**_nan(pl)) if isinstance(pl, dict) else None,
            sensitivity=Sensitivity(**_nan(se)) if isinstance(se, dict) else None,
            verdict=str(d.get("verdict", "ok")),
            reasons=[str(r) for r in d.get("reasons") or []],
        )


def _clean(v: object) -> object:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def _nan(d: object) -> dict[str, Any]:
    """A stored record with ``None`` (JSON's NaN) back to NaN."""
    assert isinstance(d, dict)
    out: dict[str, Any] = {}
    for k, v in d.items():
        if v is None and k not in ("note",):
            out[k] = float("nan")
        elif isinstance(v, dict):
            out[k] = {kk: float("nan") if vv is None else vv for kk, vv in v.items()}
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# pure pieces
# --------------------------------------------------------------------------------------------


def logging_kind(propensity: np.ndarray | None, offer: np.ndarray) -> tuple[str, str]:
    """(kind, why) of the logging policy from the logged propensities (n,) and offers (n,)."""
    if propensity is None:
        return (
            "observational",
            "the exposures carry no propensities: who got which offer was "
            "decided by a policy whose probabilities were not logged (a targeted campaign)",
        )
    logged = np.isfinite(propensity)
    if not logged.all():
        return (
            "mixed",
            f"{int(logged.sum()):,} of {len(logged):,} exposures carry the logging policy's "
            "probability (e.g. offers served with exploration); the other "
            f"{int((~logged).sum()):,} were decided by a policy whose probabilities were not "
            "logged (a targeted campaign)",
        )
    spread = 0.0
    for o in np.unique(offer):
        p = propensity[offer == o]
        if len(p) > 1:
            spread = max(spread, float(np.max(p) - np.min(p)))
    if spread <= 1e-9:
        return (
            "randomized",
            "every offer was logged with the same probability for every "
            "customer: a randomized assignment",
        )
    return (
        "logged_propensities",
        "the logging policy's probability of each logged offer is "
        f"recorded (it varies with the customer by up to {spread:.2f}): a targeted policy "
        "that can be corrected for",
    )


def _out_of_fold(
    X: np.ndarray,
    y: np.ndarray,
    out: np.ndarray,
    *,
    objective: str,
    rounds: int,
    folds: int,
    seed: int,
    threads: int,
    num_class: int = 1,
) -> np.ndarray:
    """Fill ``out`` (n,) or (n, num_class) with out-of-fold LightGBM predictions of ``y`` from X.

    Each row is predicted by a small model (15 leaves, 50 rows per leaf, learning rate 0.1) fitted
    on the other ``folds``; a fold whose training part is too small or has one label only keeps
    ``out``'s prior value.
    """
    import lightgbm as lgb

    params: dict[str, object] = {
        "objective": objective,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 50,
        "verbose": -1,
        "num_threads": threads,
        "seed": seed,
    }
    if num_class > 1:
        params["num_class"] = num_class
    fold = np.random.default_rng(seed).integers(0, folds, len(y))
    for f in range(folds):
        tr, te = fold != f, fold == f
        if (
            not te.any()
            or tr.sum() < 50
            or (objective != "regression" and len(np.unique(y[tr])) < 2)
        ):
            continue
        b = lgb.train(params, lgb.Dataset(X[tr], label=y[tr]), num_boost_round=rounds)
        # the fit's own thread count: LightGBM keeps one process-wide default that every call
        # sets (a predict without num_threads resets it), and a call whose parallel loop runs
        # with another thread count than it sized its buffers for crashes; fits side by side
        # (identification's offers, cross-fitting) must all pass the same one
        pred = b.predict(X[te], num_threads=threads)
        out[te] = np.asarray(pred).reshape(out[te].shape)
    return out


def cross_fitted_propensity(
    X: np.ndarray, t: np.ndarray, *, seed: int, threads: int = 1, folds: int = 5
) -> np.ndarray:
    """Out-of-fold P(t = 1 | x) (n,) from a small LightGBM classifier, clipped to [0.001, 0.999].

    X: (n, p) float features; t: (n,) 0/1. Each row's probability comes from a model fitted on the
    other folds, so the overlap diagnostics do not flatter themselves.
    """
    t = np.asarray(t, dtype=np.int64)
    n = len(t)
    out = np.full(n, float(t.mean()) if n else 0.5)
    if n < 2 * folds or t.min() == t.max():
        return np.clip(out, 0.001, 0.999)
    out = _out_of_fold(
        X, t, out, objective="binary", rounds=100, folds=folds, seed=seed, threads=threads
    )
    P = shrink_to_frequencies(
        np.column_stack([1.0 - out, out]), t, np.array([1 - t.mean(), t.mean()])
    )
    return np.clip(P[:, 1], 0.001, 0.999)


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size ``(Σw)² / Σw²`` of weights ``w`` (0 for none)."""
    w = np.asarray(w, dtype=np.float64)
    s2 = float(np.sum(w * w))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def overlap(
    offer: str, e: np.ndarray, t: np.ndarray, logged: np.ndarray | None = None
) -> OverlapStats:
    """Overlap of one offer vs none from estimated propensities ``e`` (n,) and arms ``t`` (n,)."""
    t = np.asarray(t, dtype=bool)
    lo, hi = OVERLAP_BOUNDS
    q = np.quantile(e, [0.05, 0.25, 0.5, 0.75, 0.95]) if len(e) else np.full(5, np.nan)
    return OverlapStats(
        offer=offer,
        n_offer=int(t.sum()),
        n_none=int((~t).sum()),
        quantiles={
            k: float(v) for k, v in zip(("p05", "p25", "p50", "p75", "p95"), q, strict=True)
        },
        share_outside=float(np.mean((e < lo) | (e > hi))) if len(e) else float("nan"),
        share_extreme=float(np.mean((e < EXTREME_BOUNDS[0]) | (e > EXTREME_BOUNDS[1])))
        if len(e)
        else float("nan"),
        share_logged_below=None
        if logged is None or not t.any()
        else float(np.mean(np.asarray(logged)[t] < EXTREME_BOUNDS[0])),
        ess_offer=effective_sample_size(1.0 / e[t]),
        ess_none=effective_sample_size(1.0 / (1.0 - e[~t])),
    )


def _smd(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    a, b = x[t], x[~t]
    wa, wb = w[t], w[~t]
    if len(a) < 2 or len(b) < 2 or wa.sum() <= 0 or wb.sum() <= 0:
        return float("nan")
    ma, mb = np.average(a, weights=wa), np.average(b, weights=wb)
    va = np.average((a - ma) ** 2, weights=wa)
    vb = np.average((b - mb) ** 2, weights=wb)
    pooled = math.sqrt((va + vb) / 2)
    return float((ma - mb) / pooled) if pooled > 0 else 0.0


def balance(
    offer: str, X: np.ndarray, names: list[str], t: np.ndarray, e: np.ndarray, top: int = 8
) -> list[BalanceRow]:
    """SMD before and after inverse-propensity weighting of the ``top`` most imbalanced features."""
    t = np.asarray(t, dtype=bool)
    X = np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0)
    ones = np.ones(len(t))
    w = np.where(t, 1.0 / e, 1.0 / (1.0 - e))
    rows = [
        BalanceRow(offer, n, _smd(X[:, j], t, ones), _smd(X[:, j], t, w))
        for j, n in enumerate(names)
    ]
    rows = [r for r in rows if math.isfinite(r.smd_before)]
    rows.sort(key=lambda r: -abs(r.smd_before))
    return rows[:top]


def arm_propensities(
    X: np.ndarray, arm: np.ndarray, n_arms: int, *, seed: int, threads: int = 1, folds: int = 3
) -> np.ndarray:
    """Out-of-fold P(arm_i | x_i) (n,) of each row's own arm from a multiclass LightGBM model.

    X: (n, p) covariates; arm: (n,) integer arm index in [0, n_arms) (0 = none). Clipped to
    [0.001, 1]. The estimate of the logging policy when it did not log its probabilities.
    """
    arm = np.asarray(arm, dtype=np.int64)
    n = len(arm)
    freq = np.bincount(arm, minlength=n_arms) / max(n, 1)
    out = freq[arm].astype(np.float64)
    if n < 10 * folds or len(np.unique(arm)) < 2:
        return np.clip(out, 0.001, 1.0)
    P = _out_of_fold(
        X,
        arm,
        np.tile(freq, (n, 1)),
        objective="multiclass",
        rounds=60,
        folds=folds,
        seed=seed,
        threads=threads,
        num_class=n_arms,
    )
    P = shrink_to_frequencies(P, arm, freq)
    return np.clip(P[np.arange(n), arm], 0.001, 1.0)


def logged_rows(propensity: np.ndarray | None) -> np.ndarray | None:
    """(n,) bool: the rows of mixed logs whose propensity was logged, when there are at least
    :data:`MIN_LOGGED_ROWS` of them; None otherwise (every row is used: all logged, none, or too
    few to check a value on). Off-policy values on these rows alone are identified."""
    if propensity is None:
        return None
    logged = np.isfinite(np.asarray(propensity, dtype=np.float64))
    if logged.all() or logged.sum() < MIN_LOGGED_ROWS:
        return None
    return logged


def logged_or_estimated(
    propensity: np.ndarray | None,
    X: np.ndarray,
    arm: np.ndarray,
    n_arms: int,
    *,
    seed: int,
    threads: int = 1,
) -> tuple[np.ndarray, int]:
    """Each row's probability of its logged arm (n,): the logged propensity where there is one,
    else :func:`arm_propensities`' out-of-fold estimate (fitted on every row; every row when
    ``propensity`` is None), and how many rows were estimated (0: all logged, n: none)."""
    n = len(arm)
    p = np.full(n, np.nan) if propensity is None else np.asarray(propensity, np.float64).copy()
    miss = ~np.isfinite(p)
    if not miss.any():
        return p, 0
    est = arm_propensities(np.nan_to_num(X, nan=0.0), arm, n_arms, seed=seed, threads=threads)
    p[miss] = est[miss]
    return p, int(miss.sum())


def fill_propensities(
    propensity: np.ndarray | None,
    X: np.ndarray,
    arm: np.ndarray,
    n_arms: int,
    *,
    seed: int,
    threads: int = 1,
) -> tuple[np.ndarray | None, int]:
    """:func:`logged_or_estimated` for logs with propensities (complete or mixed); None for
    observational logs (``propensity`` None), whose learners estimate their own."""
    if propensity is None:
        return None, 0
    return logged_or_estimated(propensity, X, arm, n_arms, seed=seed, threads=threads)


def placebo_aipw(
    y: np.ndarray,
    arm: np.ndarray,
    p_arm: np.ndarray,
    X: np.ndarray,
    *,
    seed: int,
    threads: int = 1,
    folds: int = 3,
    alpha: float = 0.05,
) -> tuple[float, float, float, float]:
    """AIPW estimate of the offers' pooled effect on a pre-treatment outcome, with (ci_low,
    ci_high, p_value). Should be 0 when the arms are comparable given the propensities.

    y: (n,) outcome measured before the exposure; arm: (n,) arm index (0 = none); p_arm: (n,)
    probability of each row's own arm (logged, or :func:`arm_propensities`), clipped below at
    0.01; X: (n, p) covariates of a cross-fitted outcome model μ(x) (y is pre-treatment, so one
    model serves every arm). Per offer k: ``ψ_k = 1{a=k}(y − μ)/p − 1{a=0}(y − μ)/p``; pooled
    ``ψ = Σ_k (n_k/N_offered) ψ_k``; estimate = mean ψ, SE = sd(ψ)/√n.
    """
    y = np.asarray(y, dtype=np.float64)
    arm = np.asarray(arm, dtype=np.int64)
    p = np.clip(np.asarray(p_arm, dtype=np.float64), 0.01, 1.0)
    n = len(y)
    mu = _out_of_fold(
        X,
        y,
        np.full(n, y.mean() if n else 0.0),
        objective="regression",
        rounds=100,
        folds=folds,
        seed=seed,
        threads=threads,
    )
    resid = (y - mu) / p
    counts = np.bincount(arm)
    offered = counts[1:].sum()
    psi = np.zeros(n)
    for k in range(1, len(counts)):
        if counts[k]:
            psi += counts[k] / offered * ((arm == k) * resid - (arm == 0) * resid)
    est = float(psi.mean())
    se = float(psi.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    z = NormalDist().inv_cdf(1 - alpha / 2)
    pv = 2 * (1 - NormalDist().cdf(abs(est) / se)) if se > 0 else float("nan")
    return est, est - z * se, est + z * se, pv


def e_value(rr: float) -> float:
    """E-value of a risk ratio: ``RR + √(RR (RR − 1))`` (RR < 1 is inverted first; 1 for RR ≤ 1)."""
    if not math.isfinite(rr) or rr <= 0:
        return float("nan")
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def verdict(
    kind: str, overlaps: list[OverlapStats], bal: list[BalanceRow], placebo: PlaceboResult | None
) -> tuple[str, list[str]]:
    """``ok`` | ``warning`` | ``unreliable`` and the reasons, in plain sentences.

    - observational logs are never ``ok`` (nothing in the data can show that the offered and the
      not-offered customers were alike): ``warning``; nor are ``mixed`` logs (partly logged);
    - a failed placebo (p < :data:`PLACEBO_ALPHA` and the interval excluding 0) makes the verdict
      ``unreliable`` for observational and mixed logs and ``warning`` with logged propensities;
    - poor overlap (:attr:`OverlapStats.poor`) adds a warning; for observational logs, features
      still imbalanced after weighting (|SMD| > 0.1) are named.
    """
    level = 0
    reasons: list[str] = []
    if kind == "observational":
        level = 1
        reasons.append(
            "no propensities were logged, so the effects rest on the assumption that the "
            "features capture why customers were offered; the data cannot check it (if the "
            "offers were assigned at random, as in an A/B test, give each exposure its "
            "probability in the column 'propensity', e.g. 0.25 for four equal arms)"
        )
    elif kind == "mixed":
        level = 1
        reasons.append(
            "only part of the exposures carry logged propensities: the model also learns from "
            "the others, so its effects rest on the features capturing why those customers were "
            "offered; the plan's value check and `offerwise evaluate` use the logged rows alone"
        )
    if (
        placebo is not None
        and placebo.p_value < PLACEBO_ALPHA
        and not (placebo.ci_low <= 0 <= placebo.ci_high)
    ):
        level = max(level, 2 if kind in ("observational", "mixed") else 1)
        reasons.append(
            f"placebo failed: offered customers differed from the others already in the "
            f"{placebo.window_days} days before the offer ({placebo.outcome} "
            f"{placebo.estimate:+,.2f} per customer, interval {placebo.ci_low:+,.2f} to "
            f"{placebo.ci_high:+,.2f}, p = {placebo.p_value:.2g}) after adjusting for the "
            "features: "
            "the estimated effects carry the same bias"
        )
    poor = [o.offer for o in overlaps if o.poor]
    if poor:
        level = max(level, 1)
        reasons.append(
            f"little overlap for {', '.join(poor)}: more than "
            f"{POOR_OVERLAP_SHARE:.0%} of their rows have an estimated propensity outside "
            f"[{EXTREME_BOUNDS[0]}, {EXTREME_BOUNDS[1]}] or weighting leaves fewer than "
            f"{MIN_ESS_SHARE:.0%} of them effective; effects there are extrapolated"
        )
    imbalanced = sorted({b.feature for b in bal if abs(b.smd_after) > SMD_LIMIT})
    if imbalanced and kind in ("observational", "mixed"):
        reasons.append(
            f"features still imbalanced after weighting (|SMD| > {SMD_LIMIT}): "
            f"{', '.join(imbalanced[:5])}"
        )
    if not reasons:
        reasons.append("propensities were logged, overlap is adequate and the placebo passed")
    return ("ok", "warning", "unreliable")[level], reasons

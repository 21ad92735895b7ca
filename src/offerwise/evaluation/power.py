"""How large an effect a treatment-vs-holdout comparison can detect, and how large a holdout it
needs: the arithmetic behind "could this campaign's result have shown the expected profit?"."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from offerwise.errors import InputError

__all__ = [
    "arm_draw_counts",
    "explore_to_detect",
    "holdout_to_detect",
    "median_offer_mde",
    "minimum_detectable_effect",
    "offer_mdes",
    "per_arm_to_detect",
    "sd_from_se",
]


def minimum_detectable_effect(
    sd: float, n_treatment: float, n_holdout: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest true lift a two-sided test at level ``alpha`` detects with probability ``power``.

    ``MDE = (z_{1−α/2} + z_{power}) · sd · √(1/n_T + 1/n_H)`` with ``sd`` the outcome's standard
    deviation per customer (assumed equal in both groups) and standard-normal quantiles ``z``
    (2.80 · sd · √(1/n_T + 1/n_H) at α = 0.05, 80% power); the group sizes may be expected
    counts (not whole numbers). NaN when a group is empty or ``sd`` is not finite.
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise InputError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
    if n_treatment <= 0 or n_holdout <= 0 or not math.isfinite(sd):
        return float("nan")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * abs(sd) * math.sqrt(1 / n_treatment + 1 / n_holdout)


def sd_from_se(se: float, n_treatment: int, n_holdout: int) -> float:
    """The per-customer standard deviation implied by the standard error of a difference of
    means: ``sd = se / √(1/n_T + 1/n_H)`` (equal variances; NaN when a group is empty)."""
    if n_treatment <= 0 or n_holdout <= 0 or se is None or not math.isfinite(se):
        return float("nan")
    return se / math.sqrt(1 / n_treatment + 1 / n_holdout)


def holdout_to_detect(
    effect: float, sd: float, n_customers: int, *, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest holdout share f in (0, 0.5] of ``n_customers`` whose MDE is at most |effect|.

    Solves ``(z_{1−α/2} + z_{power}) · sd · √(1/((1−f)N) + 1/(fN)) ≤ |effect|`` for f; ``None``
    when even a 50/50 split of ``n_customers`` cannot detect it (or the effect is 0).
    """
    if effect == 0 or n_customers < 4 or not (math.isfinite(sd) and math.isfinite(effect)):
        return None
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    need = (abs(effect) / (z * abs(sd))) ** 2 * n_customers if sd else math.inf  # ≥ 1/(1-f) + 1/f
    if need < 4:  # 1/(1-f) + 1/f has its minimum 4 at f = 0.5
        return None
    # 1/(1-f) + 1/f = need  ->  f² - f + 1/need = 0, smaller root
    return (1 - math.sqrt(1 - 4 / need)) / 2


def arm_draw_counts(eligible: np.ndarray) -> np.ndarray:
    """(K + 1,) expected number of rows drawing each arm (``none`` first) when every row draws
    one arm uniformly from ``none`` and its eligible offers; ``eligible`` (n, K) bool.

    ``none``: Σ_i 1 / (1 + m_i); offer k: Σ_i e_ik / (1 + m_i), with m_i = Σ_k e_ik.
    """
    e = np.asarray(eligible, dtype=np.float64)
    if e.ndim != 2:
        raise InputError(f"eligible must be (n, K); got shape {e.shape}")
    w = 1.0 / (1.0 + e.sum(axis=1))
    return np.concatenate([[w.sum()], (e * w[:, None]).sum(axis=0)])


def offer_mdes(
    sd: float, counts: np.ndarray, *, alpha: float = 0.05, power: float = 0.8
) -> np.ndarray:
    """(K,) minimum detectable difference of each offer's mean from ``none``'s (per customer, the
    unit of ``sd``) for ``counts`` (K + 1,) rows per arm, ``none`` first
    (:func:`minimum_detectable_effect` with n_T = the offer's rows, n_H = none's; NaN for an
    offer below one row)."""
    c = np.asarray(counts, dtype=np.float64)
    return np.array(
        [
            minimum_detectable_effect(sd, float(k), float(c[0]), alpha=alpha, power=power)
            if k >= 1
            else math.nan
            for k in c[1:]
        ],
        dtype=np.float64,
    )


def per_arm_to_detect(
    effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Rows per arm (equal arms) at which a difference of ``effect`` between two arms is detected:
    ``n = 2 · ((z_{1−α/2} + z_{power}) · sd / effect)²``; inf for a zero effect."""
    if effect == 0 or not (math.isfinite(effect) and math.isfinite(sd)):
        return math.inf
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return 2.0 * (z * abs(sd) / abs(effect)) ** 2


def median_offer_mde(sd: float, counts: np.ndarray) -> float:
    """The median over offers of :func:`offer_mdes` (offers with at least one row); NaN when none
    has one."""
    mdes = offer_mdes(sd, counts)
    mdes = mdes[np.isfinite(mdes)]
    return float(np.median(mdes)) if len(mdes) else math.nan


def explore_to_detect(effect: float, sd: float, eligible: np.ndarray) -> float | None:
    """The smallest exploration share F of the rows ``eligible`` (n, K) bool describes at which the
    median offer's minimum detectable difference from ``none`` (:func:`offer_mdes` of
    F · :func:`arm_draw_counts`) is at most ``|effect|``: F = (median MDE at F = 1 / effect)²,
    since every count scales with F. None when even F = 1 cannot (or nothing is eligible)."""
    if effect == 0 or not (math.isfinite(effect) and math.isfinite(sd)) or sd <= 0:
        return None
    mde = median_offer_mde(sd, arm_draw_counts(eligible))
    if not math.isfinite(mde):
        return None
    f = (mde / abs(effect)) ** 2
    return f if f <= 1.0 else None

"""How far to trust a plan's expected discount cost: calibration on out-of-fold rows, and the
interval of the true cost that a budget must cover.

Calibration (at ``train``): on the exposures whose logged offer is the one a plan would give
(out-of-fold predictions, so the model never saw them), ``ratio = Σ w·cost_true / Σ w·cost_pred``
with inverse-propensity weights w (the plan's customers, not the logging policy's). A plan picks
customers where the model's profit is high and its cost low, so its errors are selected against
the budget: the ratio measures that on the rows a plan picks. Its standard error comes from a
bootstrap over customers.

Interval (at ``plan``): with n planned customers of expected cost c_i (model) and conversion
probability p_i, the true cost is ``ratio · Σ c_i`` in expectation; its variance has the outcome
part ``ratio² · Σ c_i (d_i − c_i)`` (a cost of ``d_i = c_i / p_i`` paid with probability p_i) and
the calibration part ``(se · Σ c_i)²``. Normal approximation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = ["UNCALIBRATED", "CostCalibration", "CostInterval", "calibrate_cost", "cost_interval"]


@dataclass(frozen=True, slots=True)
class CostCalibration:
    """True / predicted discount cost (weighted) on ``n_rows`` out-of-fold rows of ``scope``."""

    ratio: float
    se: float
    n_rows: int
    scope: str

    def to_dict(self) -> dict[str, object]:
        return {"ratio": self.ratio, "se": self.se, "n_rows": self.n_rows, "scope": self.scope}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> CostCalibration:
        return cls(
            ratio=float(d["ratio"]),  # type: ignore[arg-type]
            se=float(d["se"]),  # type: ignore[arg-type]
            n_rows=int(d["n_rows"]),  # type: ignore[call-overload]
            scope=str(d["scope"]),
        )


#: No calibration: the model's own costs, without calibration uncertainty.
UNCALIBRATED = CostCalibration(1.0, 0.0, 0, "none (the model's costs as predicted)")


def calibrate_cost(
    customer: np.ndarray,
    true_cost: np.ndarray,
    predicted_cost: np.ndarray,
    weight: np.ndarray,
    *,
    scope: str,
    n_bootstrap: int = 300,
    seed: int = 0,
) -> CostCalibration:
    """Weighted ratio of true to predicted cost over the rows (all (n,)), with a customer bootstrap
    standard error. Fewer than 30 rows or no predicted cost: no calibration (ratio 1)."""
    if len(true_cost) < 30 or not np.sum(weight * predicted_cost) > 0:
        return UNCALIBRATED
    codes, _ = pd.factorize(pd.Series(customer).astype(str))
    m = int(codes.max()) + 1
    num = np.bincount(codes, weights=weight * true_cost, minlength=m)
    den = np.bincount(codes, weights=weight * predicted_cost, minlength=m)
    ratio = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, m, m)
        d = den[idx].sum()
        if d > 0:
            boots.append(num[idx].sum() / d)
    se = float(np.std(boots, ddof=1)) if len(boots) > 1 else float("inf")
    return CostCalibration(ratio, se, int(len(true_cost)), scope)


@dataclass(frozen=True, slots=True)
class CostInterval:
    """A plan's true discount cost: calibrated expectation, standard deviation, ``level``
    interval, and the probability that it exceeds ``budget`` (normal approximation)."""

    predicted: float
    expected: float
    sd: float
    ci_low: float
    ci_high: float
    level: float
    budget: float
    p_over_budget: float
    calibration: CostCalibration

    def to_dict(self) -> dict[str, object]:
        return {
            "predicted": self.predicted,
            "expected": self.expected,
            "sd": self.sd,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "budget": self.budget,
            "p_over_budget": self.p_over_budget,
            "calibration": self.calibration.to_dict(),
        }


def cost_interval(
    cost: np.ndarray,
    p_convert: np.ndarray,
    budget: float,
    cal: CostCalibration,
    *,
    level: float = 0.9,
) -> CostInterval:
    """Interval of the true cost of a plan whose customers have model cost ``cost`` (n,) and
    conversion probability ``p_convert`` (n,) for their planned offer (see the module docstring)."""
    c = np.clip(np.asarray(cost, dtype=np.float64), 0.0, None)
    p = np.clip(np.asarray(p_convert, dtype=np.float64), 1e-6, 1.0)
    total = float(c.sum())
    d = c / p
    var = cal.ratio**2 * float(np.sum(c * np.clip(d - c, 0.0, None))) + (cal.se * total) ** 2
    sd = math.sqrt(var)
    mean = cal.ratio * total
    z = float(ndtri((1 + level) / 2))
    p_over = float(ndtr(-(budget - mean) / sd)) if sd > 0 else float(mean > budget)
    return CostInterval(
        predicted=total,
        expected=mean,
        sd=sd,
        ci_low=max(0.0, mean - z * sd),
        ci_high=mean + z * sd,
        level=level,
        budget=float(budget),
        p_over_budget=p_over,
        calibration=cal,
    )

"""Stock weights in the allocation and the plan's figures per category.

Rules ``[stock]`` weigh each category-scoped offer's value by its category's stock weight
(:func:`offerwise.demand.competition.stock_weight`: below 1 for scarce stock, above 1 for
overstock); site-wide offers weigh 1. Only the allocation sees the weights (it maximises
``Σ w·V x``); every figure the plan states (cost, incremental profit) stays unweighted.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from offerwise.policy.margin import plan_margin
from offerwise.policy.plan import PlanResult, ScoreArrays

__all__ = ["SITE_WIDE", "category_summary", "stock_weight_matrix", "weighted"]

#: Category label of offers that are not scoped to a category.
SITE_WIDE = "(site-wide)"


def stock_weight_matrix(categories: np.ndarray | None, weights: dict[str, float]) -> np.ndarray:
    """(n, K) weight of each customer x offer from ``categories`` (n, K) object (None:
    site-wide, weight 1; a category without a weight: 1)."""
    if categories is None:
        return np.ones((0, 0))
    flat = categories.ravel()
    w = np.array([1.0 if c is None else weights.get(str(c), 1.0) for c in flat])
    return w.reshape(categories.shape)


def weighted(arrays: ScoreArrays, w: np.ndarray) -> ScoreArrays:
    """``arrays`` with ``value`` multiplied by ``w`` (n, K); the rest shared, not copied."""
    if w.shape != arrays.shape:
        return arrays
    return replace(arrays, value=arrays.value * w)


def category_summary(res: PlanResult, rate: float, cut: np.ndarray | None = None) -> pd.DataFrame:
    """Per category the treated customers' offers are scoped to (``SITE_WIDE`` otherwise):
    ``customers``, ``expected_cost``, ``incremental_profit``, ``expected_revenue`` and
    ``expected_margin`` (``Σ (rate·(R + s·C) − C) / Σ R``; NaN without expected revenue)."""
    on = np.flatnonzero(res.assignment >= 0)
    cats = res.assigned_categories()[on]
    label = np.array([SITE_WIDE if c is None else str(c) for c in cats], dtype=object)
    arr = res.arrays
    k = res.assignment[on]
    rev = (
        np.full(len(on), np.nan)
        if arr is None or arr.revenue is None
        else arr.revenue[on, k].astype(np.float64)
    )
    df = pd.DataFrame(
        {
            "category": label,
            "expected_cost": res.expected_cost[on],
            "incremental_profit": res.incremental_profit[on],
            "expected_revenue": rev,
        }
    )
    rows = []
    for cat, g in df.groupby("category", sort=True):
        idx = g.index.to_numpy()
        margin = float("nan")
        if arr is not None and arr.revenue is not None:
            choice = np.full(arr.shape[0], -1, dtype=np.int64)
            choice[on[idx]] = k[idx]
            mc = arr.cost if arr.margin_cost is None else arr.margin_cost
            margin = plan_margin(choice, arr.revenue, mc, rate, cut)
        rows.append(
            {
                "category": str(cat),
                "customers": len(g),
                "expected_cost": float(g["expected_cost"].sum()),
                "incremental_profit": float(g["incremental_profit"].sum()),
                "expected_revenue": float(g["expected_revenue"].sum(min_count=1)),
                "expected_margin": margin,
            }
        )
    cols = [
        "category",
        "customers",
        "expected_cost",
        "incremental_profit",
        "expected_revenue",
        "expected_margin",
    ]
    out = pd.DataFrame(rows, columns=cols).astype({"category": object})
    return out.sort_values("expected_cost", ascending=False)

"""Budget frontier: optimal value of the LP relaxation for every budget, in one pass.

For each customer the upper convex hull of its (cost, value) points, including (0, 0) for no
offer, is a chain of segments with decreasing slope (value per currency unit). Sorting all
segments by slope and accumulating gives value(B) of the LP relaxation for every B; the slope
where B is reached is the budget price lambda (the ``maq`` construction).

:func:`plan_frontier` builds it from a solved plan's own arrays and eligibility (rules, scored
pairs, holdout), so its value at the plan's budget bounds the plan's total from above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from offerwise.errors import InputError, require

if TYPE_CHECKING:
    from offerwise.policy.plan import PlanResult

__all__ = ["Frontier", "budget_frontier", "plan_frontier", "plot_frontier", "write_frontier"]


@dataclass(frozen=True)
class Frontier:
    """Sorted hull segments: cumulative cost, value and number treated after each segment."""

    slope: np.ndarray
    cum_cost: np.ndarray
    cum_value: np.ndarray
    cum_treated: np.ndarray

    def at(self, budget: float | np.ndarray) -> pd.DataFrame:
        """Table (budget, value, cost, n_treated, lambda) of the LP relaxation at each budget."""
        b = np.atleast_1d(np.asarray(budget, dtype=np.float64))
        j = np.searchsorted(self.cum_cost, b, side="right")  # segments fully taken
        cc = np.concatenate([[0.0], self.cum_cost])
        cv = np.concatenate([[0.0], self.cum_value])
        ct = np.concatenate([[0], self.cum_treated])
        m = len(self.slope)
        part = np.zeros_like(b)
        nxt = j < m
        seg_cost = np.where(nxt, cc[np.minimum(j + 1, m)] - cc[j], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(nxt & (seg_cost > 0), (b - cc[j]) / seg_cost, 0.0)
        value = cv[j] + part * np.where(nxt, cv[np.minimum(j + 1, m)] - cv[j], 0.0)
        lam = np.where(nxt, self.slope[np.minimum(j, m - 1)] if m else 0.0, 0.0)
        return pd.DataFrame(
            {
                "budget": b,
                "value": value,
                "cost": np.minimum(b, cc[j] + part * seg_cost),
                "n_treated": ct[j],
                "lambda": lam,
            }
        )

    def table(self, n_points: int = 50, max_budget: float | None = None) -> pd.DataFrame:
        """``at`` on an even grid from 0 to ``max_budget`` (default: the unconstrained spend)."""
        top = float(self.cum_cost[-1]) if len(self.cum_cost) else 0.0
        return self.at(np.linspace(0.0, top if max_budget is None else max_budget, n_points))


def budget_frontier(
    value: np.ndarray, cost: np.ndarray, mask: np.ndarray | None = None
) -> Frontier:
    """Build the frontier of an (n, K) problem (budget only). Loops over K, vectorised over n."""
    value = np.asarray(value, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    if value.shape != cost.shape or value.ndim != 2:
        raise InputError("value and cost must be (n, K) arrays of one shape")
    if (cost < 0).any():
        raise InputError("expected_cost must be >= 0")
    n, K = value.shape
    ok = ~np.isnan(value) if mask is None else (np.asarray(mask, bool) & ~np.isnan(value))
    v = np.where(ok, value, -np.inf)
    cur_c = np.zeros(n)
    cur_v = np.zeros(n)
    first = np.ones(n, dtype=bool)
    rows = np.arange(n)
    slopes, dcs, dvs, firsts = [], [], [], []
    for _ in range(K):  # gift wrapping: each step adds the steepest remaining hull segment
        dc = cost - cur_c[:, None]
        dv = v - cur_v[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(dc > 0, dv / dc, np.where((dc == 0) & (dv > 0), np.inf, -np.inf))
        s[~ok] = -np.inf
        k = s.argmax(axis=1)
        best = s[rows, k]
        go = best > 0
        if not go.any():
            break
        r = rows[go]
        slopes.append(best[go])
        dcs.append(dc[r, k[go]])
        dvs.append(dv[r, k[go]])
        firsts.append(first[go])
        cur_c[r] = cost[r, k[go]]
        cur_v[r] = value[r, k[go]]
        first[r] = False
    if not slopes:
        e = np.empty(0)
        return Frontier(e, e, e, np.empty(0, np.int64))
    slope = np.concatenate(slopes)
    order = np.argsort(-slope, kind="stable")
    return Frontier(
        slope[order],
        np.cumsum(np.concatenate(dcs)[order]),
        np.cumsum(np.concatenate(dvs)[order]),
        np.cumsum(np.concatenate(firsts)[order]).astype(np.int64),
    )


def plan_frontier(result: PlanResult, n_points: int = 60) -> pd.DataFrame:
    """The budget frontier of a solved plan: the table of :meth:`Frontier.at` (budget, value,
    cost, n_treated, lambda) on ``n_points`` even budgets from 0 to the spend at which every
    eligible customer has their best offer, plus a row at the plan's own budget.

    It uses the plan's value and cost arrays restricted to ``result.eligible`` (rules AND scored
    AND not holdout), so it shows what the plan could reach at each budget under the same
    eligibility; ``value`` is what the plan maximised (incremental profit unless the objective is
    revenue or ``risk`` > 0). Per-offer caps, segment budgets and fairness are not applied: at
    the plan's budget the frontier's value is the LP bound, >= the plan's value, and within one
    customer's value of it when only the budget binds.
    """
    if result.arrays is None or result.eligible is None:
        raise InputError(
            "plan_frontier needs a PlanResult from solve_plan (arrays and eligibility)"
        )
    if n_points < 2:
        raise InputError(f"n_points must be >= 2; got {n_points}")
    fr = budget_frontier(result.arrays.value, result.arrays.cost, result.eligible)
    top = float(fr.cum_cost[-1]) if len(fr.cum_cost) else 0.0
    grid = np.linspace(0.0, top, n_points)
    if np.isfinite(result.budget):
        grid = np.unique(np.append(grid, result.budget))
    return fr.at(grid)


def plot_frontier(table: pd.DataFrame, path: str | Path, title: str = "Budget frontier") -> Path:
    """Save value vs budget as a PNG (matplotlib, Agg backend, written atomically)."""
    from offerwise._io import atomic_path

    mpl = require("matplotlib", "report")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", "report")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(table["budget"], table["value"], lw=2)
    ax.set_xlabel("budget (expected discount cost)")
    ax.set_ylabel("incremental value")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_frontier(table: pd.DataFrame, stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.parquet`` (or the given table suffix) and ``<stem>.png``."""
    from offerwise._io import write_table

    stem = Path(stem)
    tab = stem if stem.suffix in (".parquet", ".csv") else stem.with_suffix(".parquet")
    write_table(table, tab)
    return tab, plot_frontier(table, tab.with_suffix(".png"))

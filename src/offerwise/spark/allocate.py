"""The budget price on Spark: distributed bisection, then the single-node solver on the margin.

Only the budget constraint (no rules, caps, segment budgets or fairness). Each customer takes
``argmax_k V[i,k] - lam C[i,k]`` or nothing when that is <= 0 (ties to the lowest offer), the rule
of :func:`offerwise.policy.allocate`. Every bisection step is one Spark pass that sums the spend
at the middle price and counts the customers whose choice still differs between the bracket's
ends. When few enough are undecided, their rows are collected and solved by
:func:`offerwise.policy.allocate` with the budget left by the decided ones (whose choice is the
same at every price in the bracket, hence at the optimum's price): the screening argument of
``offerwise.policy.solver._solve_screened``, with the bracket found by Spark.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from offerwise.errors import InputError, require
from offerwise.policy.allocation import Allocation

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkAllocation", "allocate_on_spark", "spark_allocator"]


@dataclass(frozen=True, slots=True)
class SparkAllocation:
    """``allocation``: the result, as :func:`offerwise.policy.allocate` returns it (``lam`` is
    the budget price, value per currency unit of cost); ``bracket``: the price interval Spark
    narrowed down; ``passes``: Spark passes over the rows; ``undecided``: rows solved on the
    driver; ``inside``: the driver's price lies in the bracket (so every decided row's choice is
    its choice at that price, and the plan is the single-node solver's)."""

    allocation: Allocation
    bracket: tuple[float, float]
    passes: int
    undecided: int
    inside: bool

    @property
    def choice(self) -> np.ndarray:
        """(n,) int16 offer index, -1 = none."""
        return self.allocation.choice


def _choose(v: np.ndarray, c: np.ndarray, m: np.ndarray, lam: float) -> np.ndarray:
    """(n,) choice at price ``lam``: argmax of V - lam C over allowed offers, -1 unless > 0."""
    score = np.where(m, v - lam * c, -np.inf)
    bk = np.argmax(score, axis=1)
    take = np.take_along_axis(score, bk[:, None], axis=1)[:, 0] > 0
    return np.where(take, bk, -1)


def _frame(value: np.ndarray, cost: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
    K = value.shape[1]
    cols: dict[str, np.ndarray] = {"_row": np.arange(len(value), dtype=np.int64)}
    cols |= {f"v{k}": value[:, k] for k in range(K)}
    cols |= {f"c{k}": cost[:, k] for k in range(K)}
    cols |= {f"m{k}": mask[:, k] for k in range(K)}
    return pd.DataFrame(cols)


def _arrays(b: pd.DataFrame, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = b[[f"v{k}" for k in range(K)]].to_numpy(np.float64)
    c = b[[f"c{k}" for k in range(K)]].to_numpy(np.float64)
    m = b[[f"m{k}" for k in range(K)]].to_numpy(bool)
    return v, c, m


def _pass(sdf: DataFrame, K: int, lo: float, mid: float, hi: float) -> tuple[float, int, int]:
    """One pass: (spend at ``mid``, undecided in [lo, mid], undecided in [mid, hi])."""

    def sums(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        spend, u_lo, u_hi = 0.0, 0, 0
        for b in batches:
            v, c, m = _arrays(b, K)
            a, x, z = _choose(v, c, m, lo), _choose(v, c, m, mid), _choose(v, c, m, hi)
            rows = np.flatnonzero(x >= 0)
            spend += float(c[rows, x[rows]].sum())
            u_lo += int((a != x).sum())
            u_hi += int((x != z).sum())
        yield pd.DataFrame({"spend": [spend], "u_lo": [u_lo], "u_hi": [u_hi]})

    got = cast(pd.DataFrame, sdf.mapInPandas(sums, "spend double, u_lo long, u_hi long").toPandas())
    return float(got["spend"].sum()), int(got["u_lo"].sum()), int(got["u_hi"].sum())


def allocate_on_spark(
    spark: SparkSession,
    value: np.ndarray,
    cost: np.ndarray,
    budget: float,
    mask: np.ndarray | None = None,
    *,
    partitions: int | None = None,
    max_undecided: int = 20_000,
    max_passes: int = 80,
    threads: int | None = 2,
) -> SparkAllocation:
    """Assign each of n customers one of K offers or none within ``budget`` (currency).

    ``value``, ``cost``: (n, K) incremental profit and expected discount cost, ``cost`` >= 0;
    ``mask``: (n, K) allowed offers. The rows are split into ``partitions`` Spark partitions
    (default: the session's parallelism); bisection stops when at most ``max_undecided`` rows
    are undecided (or after ``max_passes`` passes).
    """
    require("pyspark", "spark")
    from offerwise.policy import allocate

    t0 = time.perf_counter()
    value = np.asarray(value, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    n, K = value.shape
    mask = np.ones((n, K), bool) if mask is None else np.asarray(mask, bool)
    if cost.shape != (n, K) or mask.shape != (n, K):
        raise InputError(f"value, cost and mask must all be (n, K) = {(n, K)}")
    if np.isnan(value).any() or np.isnan(cost).any() or (cost < 0).any():
        raise InputError("value and cost must have no NaN, and cost must be >= 0")
    if not budget >= 0:
        raise InputError(f"budget must be >= 0; got {budget}")
    if budget == 0 or n == 0 or K == 0:  # nobody is offered: nothing to distribute
        return SparkAllocation(allocate(value, cost, budget, mask), (0.0, 0.0), 0, 0, True)
    parts = max(1, int(partitions or spark.sparkContext.defaultParallelism))
    sdf = spark.createDataFrame(_frame(value, cost, mask)).repartition(parts).cache()
    pos = (cost > 0) & mask & (value > 0)
    hi = float((value[pos] / cost[pos]).max()) * 2.0 + 1.0 if pos.any() else 1.0
    lo, passes = 0.0, 1
    spend0, _, und = _pass(sdf, K, 0.0, 0.0, hi)
    if spend0 <= budget:  # the budget does not bind: everyone takes their best offer
        lo = hi = 0.0
        und = 0
    while und > max_undecided and passes < max_passes and hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        spend, u_lo, u_hi = _pass(sdf, K, lo, mid, hi)
        passes += 1
        lo, hi, und = (mid, hi, u_hi) if spend > budget else (lo, mid, u_lo)

    def final(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            v, c, m = _arrays(b, K)
            a, z = _choose(v, c, m, lo), _choose(v, c, m, hi)
            out = b[["_row"]].copy()
            out["choice"] = np.where(a == z, a, -2)  # -2: undecided, solved on the driver
            yield out

    got = cast(pd.DataFrame, sdf.mapInPandas(final, "_row long, choice long").toPandas())
    passes += 1
    sdf.unpersist()
    choice = np.full(n, -1, dtype=np.int16)
    choice[got["_row"].to_numpy()] = got["choice"].to_numpy()
    und_rows = np.flatnonzero(choice == -2)
    dec = np.flatnonzero(choice >= 0)
    dec_spend = float(cost[dec, choice[dec]].sum())
    red = None
    if len(und_rows):
        red = allocate(
            value[und_rows],
            cost[und_rows],
            max(budget - dec_spend, 0.0),
            mask[und_rows],
            threads=threads,
        )
        choice[und_rows] = red.choice
    lam = lo if red is None else float(red.lam)
    alloc = _allocation(choice, value, cost, red, und_rows, lam, passes)
    alloc.seconds = time.perf_counter() - t0
    inside = bool(lo * (1 - 1e-9) <= lam <= hi * (1 + 1e-9))
    return SparkAllocation(alloc, (lo, hi), passes, len(und_rows), inside)


def _allocation(
    choice: np.ndarray,
    value: np.ndarray,
    cost: np.ndarray,
    red: Allocation | None,
    und_rows: np.ndarray,
    lam: float,
    passes: int,
) -> Allocation:
    """The combined result as an :class:`~offerwise.policy.allocation.Allocation` (totals in
    float64 over the treated rows; one segment; no side constraints)."""
    n, K = value.shape
    rows = np.flatnonzero(choice >= 0)
    k = choice[rows].astype(np.int64)
    v, c = value[rows, k], cost[rows, k]
    dropped = np.zeros(n, dtype=np.int8)
    if red is not None:
        dropped[und_rows] = red.dropped
    dec_value = float(v.sum()) - (0.0 if red is None else red.value)
    return Allocation(
        choice=choice,
        lam=lam,
        lam_segment=np.array([lam]),
        mu_count=np.zeros(K),
        mu_spend=np.zeros(K),
        phi={},
        value=float(v.sum()),
        cost=float(c.sum()),
        n_treated=len(rows),
        count_by_offer=np.bincount(k, minlength=K).astype(np.int64),
        spend_by_offer=np.bincount(k, weights=c, minlength=K),
        value_by_offer=np.bincount(k, weights=v, minlength=K),
        spend_by_segment=np.array([float(c.sum())]),
        dropped=dropped,
        kernel="spark" if red is None else f"spark+{red.kernel}",
        rounds=0 if red is None else red.rounds,
        passes=float(passes),
        seconds=0.0,
        upper_bound=math.nan if red is None else red.upper_bound + dec_value,
        binding=[] if red is None else list(red.binding),
    )


#: ``allocate`` upper bounds that are side constraints when finite.
_MAX = ("segment_max_spend", "max_count", "max_spend")


def spark_allocator(
    spark: SparkSession, *, partitions: int | None = None, max_undecided: int = 20_000
) -> Callable[..., Allocation]:
    """A drop-in for :func:`offerwise.policy.allocate` that finds the budget price on Spark.

    With side constraints (finite segment bounds or per-offer caps, fairness guardrails) it calls
    ``allocate`` on the driver unchanged: only the budget is distributed.
    """
    from offerwise.policy import allocate

    def run(
        value: np.ndarray, cost: np.ndarray, budget: float, mask: Any = None, **kw: Any
    ) -> Allocation:
        side = any(
            kw.get(name) is not None and bool(np.isfinite(np.asarray(kw[name], float)).any())
            for name in _MAX
        ) or (
            kw.get("segment_min_spend") is not None
            and bool((np.asarray(kw["segment_min_spend"], float) > 0).any())
        )
        if side or kw.get("fairness"):
            return allocate(value, cost, budget, mask, **kw)
        res = allocate_on_spark(
            spark,
            value,
            cost,
            budget,
            mask,
            partitions=partitions,
            max_undecided=max_undecided,
            threads=kw.get("threads", 2),
        )
        alloc = res.allocation
        seg = kw.get("segment")
        if seg is not None:  # totals per segment, as allocate reports them (one price for all)
            seg = np.asarray(seg, dtype=np.int64)
            S = max(int(seg.max()) + 1 if len(seg) else 1, len(kw.get("segment_names") or ()))
            rows = np.flatnonzero(alloc.choice >= 0)
            c = np.asarray(cost, float)[rows, alloc.choice[rows]]
            alloc.spend_by_segment = np.bincount(seg[rows], weights=c, minlength=S)
            alloc.lam_segment = np.full(S, alloc.lam)
        return alloc

    return run

"""The plan's allocation on Spark: the screening pass over all customers runs on partitions.

:func:`offerwise.policy.allocate` solves large problems by *screening* (``policy.solver.
_solve_screened``): the same problem on a stratified row sample gives estimates of the
multipliers (budget price per segment, per-offer count and spend prices); one pass over all rows
keeps each row's choice at those multipliers and marks it *decided* when that choice stays best
for every multiplier in a box around them, summing the decided rows' spend, counts and value;
the undecided rows are solved exactly with what the decided ones leave of the budget, segment
bounds and caps. When the exact multipliers fall inside the box, the plan is the one the full
method gives on all rows. Here that pass is a ``mapInPandas`` over the Spark partitions (the
per-customer work is a sum, which distributes, as in Ant Group's MapReduce allocation); the
sample, the undecided rows and the multiplier search stay on the driver. So the budget, segment
budgets (max and min spend) and per-offer caps (count and spend) are all handled; fairness
guardrails are solved on the driver (their multipliers need the group rates of every customer).
"""

from __future__ import annotations

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
    """``allocation``: the result, as :func:`offerwise.policy.allocate` returns it; ``passes``:
    screening passes Spark made over all rows (0: solved on the driver only, e.g. budget 0 or
    inf, fewer than 1,024 customers, or a fairness guardrail); ``undecided``: rows the driver
    solved exactly after the last pass; ``seconds_spark``: seconds inside those passes (building
    the cached frame included)."""

    allocation: Allocation
    passes: int
    undecided: int
    seconds_spark: float

    @property
    def choice(self) -> np.ndarray:
        """(n,) int16 offer index, -1 = none."""
        return self.allocation.choice


def _frame(value: np.ndarray, cost: np.ndarray, mask: np.ndarray, seg: np.ndarray) -> pd.DataFrame:
    """One row per customer: ``_row``, ``seg``, ``v0..``, ``c0..``, ``m0..`` (K each)."""
    K = value.shape[1]
    cols: dict[str, np.ndarray] = {"_row": np.arange(len(value), dtype=np.int64), "seg": seg}
    cols |= {f"v{k}": value[:, k] for k in range(K)}
    cols |= {f"c{k}": cost[:, k] for k in range(K)}
    cols |= {f"m{k}": mask[:, k] for k in range(K)}
    return pd.DataFrame(cols)


def _arrays(b: pd.DataFrame, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    v = np.ascontiguousarray(b[[f"v{k}" for k in range(K)]].to_numpy(np.float64))
    c = np.ascontiguousarray(b[[f"c{k}" for k in range(K)]].to_numpy(np.float64))
    m = np.ascontiguousarray(b[[f"m{k}" for k in range(K)]].to_numpy(bool))
    return v, c, m, b["seg"].to_numpy(np.int32)


def _screen_pass(sdf: DataFrame, n: int, K: int, S: int, calls: list[float]) -> Any:
    """A :data:`offerwise.policy.solver.ScreenPass` over the cached frame ``sdf`` of n rows.

    Each partition runs ``screen_rows`` (numba when installed, one thread) on its batches and
    sends back the rows that are treated or undecided (``_row``, ``choice``, ``active``) and one
    row of its decided totals (``_row`` = -1, ``base``); rows decided to get nothing stay there.
    """
    from offerwise.policy._kernels import kernel_name, screen_rows

    kernel = kernel_name("auto")

    def run(
        lam: np.ndarray,
        dlam: np.ndarray,
        mu_c: np.ndarray,
        dmu_c: np.ndarray,
        mu_s: np.ndarray,
        dmu_s: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        lam, dlam, mu_c, dmu_c, mu_s, dmu_s = (
            np.asarray(x, dtype=np.float64) for x in (lam, dlam, mu_c, dmu_c, mu_s, dmu_s)
        )

        def part(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            base = np.zeros(S + 3 * K + 1)
            for b in batches:
                v, c, m, seg = _arrays(b, K)
                choice, active, tot = screen_rows(
                    v, c, m, seg, lam, dlam, mu_c, dmu_c, mu_s, dmu_s, kernel, 1
                )
                base += tot
                keep = (choice >= 0) | active
                yield pd.DataFrame(
                    {
                        "_row": b["_row"].to_numpy()[keep],
                        "choice": choice[keep].astype(np.int8),
                        "active": active[keep],
                        "base": None,
                    }
                )
            yield pd.DataFrame({"_row": [-1], "choice": [-1], "active": [False], "base": [base]})

        schema = "_row long, choice byte, active boolean, base array<double>"
        got = cast(pd.DataFrame, sdf.mapInPandas(part, schema).toPandas())
        tot_rows = got["_row"].to_numpy() < 0
        base = np.zeros(S + 3 * K + 1)
        for b in got.loc[tot_rows, "base"]:
            base += np.asarray(b, dtype=np.float64)
        rows = got.loc[~tot_rows]
        idx = rows["_row"].to_numpy(np.int64)
        choice = np.full(n, -1, dtype=np.int8)
        active = np.zeros(n, dtype=bool)
        choice[idx] = rows["choice"].to_numpy(np.int8)
        active[idx] = rows["active"].to_numpy(bool)
        calls.append(time.perf_counter() - t0)
        return choice, active, base

    return run


def allocate_on_spark(
    spark: SparkSession,
    value: np.ndarray,
    cost: np.ndarray,
    budget: float,
    mask: np.ndarray | None = None,
    *,
    partitions: int | None = None,
    **kw: Any,
) -> SparkAllocation:
    """:func:`offerwise.policy.allocate` with its screening pass over all rows on Spark.

    ``value``, ``cost``: (n, K) incremental profit and expected discount cost (currency),
    ``mask``: (n, K) allowed offers; ``kw``: the other arguments of ``allocate`` (``segment``,
    ``segment_max_spend``, ``segment_min_spend``, ``max_count``, ``max_spend``, ``fairness``,
    ``threads``, ...). The rows are split into ``partitions`` Spark partitions (default: the
    session's parallelism) and cached for the passes. The result is ``allocate``'s plan: the
    same choices, as long as the exact multipliers fall inside the screening box (otherwise the
    box is widened, and after three passes the driver solves all rows).
    """
    require("pyspark", "spark")
    from offerwise.policy import allocate

    t0 = time.perf_counter()
    value = np.asarray(value, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    if value.ndim != 2:
        raise InputError(f"value must be (n, K); got shape {value.shape}")
    n, K = value.shape
    m = np.ones((n, K), bool) if mask is None else np.asarray(mask, bool)
    if cost.shape != (n, K) or m.shape != (n, K):
        raise InputError(f"value, cost and mask must all be (n, K) = {(n, K)}")
    seg_arg = kw.get("segment")
    seg = np.zeros(n, np.int32) if seg_arg is None else np.asarray(seg_arg, dtype=np.int32)
    if seg.shape != (n,):
        raise InputError(f"segment must be (n,) = ({n},)")
    b = float(budget)
    distributable = not kw.get("fairness") and 0 < b < np.inf and n >= 1024 and K > 0
    if not distributable:
        return SparkAllocation(allocate(value, cost, budget, mask, **kw), 0, n, 0.0)
    S = int(seg.max()) + 1 if n else 1
    S = max(S, len(kw.get("segment_names") or ()))
    parts = max(1, int(partitions or spark.sparkContext.defaultParallelism))
    calls: list[float] = []
    t1 = time.perf_counter()
    sdf = spark.createDataFrame(_frame(value, cost, m, seg)).repartition(parts).cache()
    build = time.perf_counter() - t1
    try:
        alloc = allocate(
            value, cost, budget, mask, screen_pass=_screen_pass(sdf, n, K, S, calls), **kw
        )
    finally:
        sdf.unpersist()
    alloc.seconds = time.perf_counter() - t0
    undecided = int(round(alloc.screened * n)) if calls else n
    if calls and alloc.screened < 1.0:  # else every pass failed and the driver solved all rows
        alloc.kernel = f"spark+{alloc.kernel}"
    return SparkAllocation(alloc, len(calls), undecided, build + sum(calls))


def spark_allocator(
    spark: SparkSession, *, partitions: int | None = None
) -> Callable[..., Allocation]:
    """A drop-in for :func:`offerwise.policy.allocate` (what ``policy.plan.solve_plan`` calls)
    whose screening pass runs on Spark (see :func:`allocate_on_spark`)."""

    def run(
        value: np.ndarray, cost: np.ndarray, budget: float, mask: Any = None, **kw: Any
    ) -> Allocation:
        return allocate_on_spark(
            spark, value, cost, budget, mask, partitions=partitions, **kw
        ).allocation

    return run

"""Baselines and helpers used only by the benchmarks (not part of ``offerwise.policy``).

* :func:`bare_bisection`: plain compiled bisection of the budget price (numba), the speed baseline
  of ``bench_policy.py``;
* :func:`plan_value`: total of an oracle's value over a plan's choices.
"""

from __future__ import annotations

import numpy as np

from offerwise.errors import InputError

try:
    from numba import njit, prange
except ImportError:  # pragma: no cover - the speed benchmark needs numba
    njit = None


def _bare(V, C, budget, lam_hi, n_iter):  # noqa: ANN001, ANN202
    """Plain budget bisection: n_iter full passes, no side constraints (compiled below)."""
    n = V.shape[0]
    K = V.shape[1]
    lo = 0.0
    hi = lam_hi
    nch = max(1, min(256, n // 8192))
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        acc = np.zeros(nch)
        for ch in prange(nch):
            a = ch * n // nch
            e = (ch + 1) * n // nch
            s_tot = 0.0
            for i in range(a, e):
                b = 0.0
                bk = -1
                for k in range(K):
                    s = V[i, k] - mid * C[i, k]
                    if s > b:
                        b = s
                        bk = k
                if bk >= 0:
                    s_tot += C[i, bk]
            acc[ch] = s_tot
        if acc.sum() <= budget:
            hi = mid
        else:
            lo = mid
    return hi


if njit is not None:
    _bare = njit(parallel=True, cache=True)(_bare)


def bare_bisection(value: np.ndarray, cost: np.ndarray, budget: float, n_iter: int = 40,
                   threads: int = 2) -> float:
    """Baseline for benchmarks: plain compiled bisection of the budget price, ``n_iter`` full
    passes, no mask or side constraints. Returns the price. Needs numba."""
    from offerwise.errors import require
    from offerwise.policy._search import _ratio_guess

    numba = require("numba", "fast")

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return float(_bare(value, cost, float(budget), _ratio_guess(value, cost), n_iter))


def plan_value(choice: np.ndarray, true_value: np.ndarray) -> float:
    """Total of ``true_value[i, choice[i]]`` over treated customers (choice -1 = none adds 0).

    Use it to score a plan against an oracle, e.g. the simulator's true incremental profit (n, K).
    """
    choice = np.asarray(choice)
    true_value = np.asarray(true_value)
    if true_value.ndim != 2 or true_value.shape[0] != len(choice):
        raise InputError(f"true_value must be (n, K) with n = {len(choice)}; got {true_value.shape}")
    on = np.flatnonzero(choice >= 0)
    return float(true_value[on, choice[on].astype(np.int64)].astype(np.float64).sum())

"""Bisection machinery of the solver: the multiplier state, the shrinking-bracket search and the
first guesses of prices from row samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from offerwise.policy._kernels import Evaluator, Params


@dataclass
class _Search:
    lo: float
    hi: float
    tot_hi: np.ndarray
    rows: np.ndarray  # undecided rows (choice differs at lo and hi)
    ch_lo: np.ndarray
    ch_hi: np.ndarray


def _search(
    ev: Evaluator,
    rows: np.ndarray | None,
    make: Callable[[float], Params],
    ok: Callable[[np.ndarray], bool | np.bool_],
    lo: float,
    hi: float,
    *,
    floor: float = 0.0,
    max_iter: int = 80,
    rtol: float = 1e-12,
) -> _Search | None:
    """Smallest ``t`` in [floor, inf) with ``ok(totals(t))``; ``ok`` must be monotone
    (False -> True).

    ``[lo, hi]`` is a first guess of the bracket; it is widened as needed. Returns None when no
    ``t`` up to ~1e15 satisfies ``ok`` (infeasible). ``rows`` restricts the evaluation to those rows
    (totals then cover only them); None = all rows.
    """
    lo, hi = max(lo, floor), max(hi, floor)
    if hi <= lo:
        hi = lo + 1.0
    for _ in range(60):
        a, z, tb = ev.pair(rows, make(lo), make(hi))
        if ok(tb[0] + tb[1]):
            if lo <= floor:
                idx = np.empty(0, dtype=np.int64)
                e8 = np.empty(0, dtype=np.int8)
                return _Search(lo, lo, tb[0] + tb[1], idx, e8, e8)
            width = hi - lo
            hi, lo = lo, max(floor, lo - 4.0 * max(width, abs(lo) * 1e-3, 1e-9))
            continue
        if not ok(tb[0] + tb[2]):
            if hi > 1e15:
                return None
            width = hi - lo
            lo, hi = hi, hi + 4.0 * max(width, abs(hi), 1e-9)
            continue
        break
    else:  # pragma: no cover - bracketing always ends well before 60 widenings
        return None
    settled = tb[0].copy()
    act = np.flatnonzero(a != z)
    t_lo, t_hi = tb[1].copy(), tb[2].copy()
    a, z = a[act], z[act]
    act = act if rows is None else rows[act]
    for _ in range(max_iter):
        if len(act) == 0 or hi - lo <= rtol * max(1.0, abs(hi)):
            break
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        ch, tb = ev.split(act, make(mid), a, z)
        if ok(settled + tb.sum(axis=0)):
            hi = mid
            settled += tb[0]
            t_lo -= tb[0]
            t_hi = tb[1] + tb[2]
            keep = ch != a
            z = ch
        else:
            lo = mid
            settled += tb[1]
            t_hi -= tb[1]
            t_lo = tb[0] + tb[2]
            keep = ch != z
            a = ch
        act, a, z = act[keep], a[keep], z[keep]
    return _Search(lo, hi, settled + t_hi, act, a, z)


@dataclass
class _State:
    lam: float
    lam_min: np.ndarray
    lam_max: np.ndarray
    mu_cnt: np.ndarray
    mu_spend: np.ndarray
    phi: list[np.ndarray]


def _sample_rows(n: int, m: int = 65536) -> np.ndarray | slice:
    if n <= m:
        return slice(None)
    return np.linspace(0, n - 1, m).astype(np.int64)


def _ratio_guess(V: np.ndarray, C: np.ndarray) -> float:
    """A price likely above the budget price: 2 x the largest value/cost ratio in a sample."""
    idx = _sample_rows(V.shape[0])
    v, c = V[idx].astype(np.float64), C[idx].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((c > 0) & (v > 0), v / c, 0.0)
    m = float(np.nanmax(r)) if r.size else 0.0
    return max(2.0 * m, 1e-6)


def _sample_price(
    V: np.ndarray, C: np.ndarray, budget: float, p: Params, m: int = 16384
) -> float | None:
    """Budget price of an evenly spaced sample of m rows with the budget scaled by m/n."""
    n = V.shape[0]
    if n <= 4 * m:
        return None
    idx = np.linspace(0, n - 1, m).astype(np.int64)
    v = np.nan_to_num(V[idx].astype(np.float64), nan=-np.inf)
    c = C[idx].astype(np.float64)
    b = budget * m / n
    lo, hi = 0.0, _ratio_guess(V, C)

    def spend(t: float) -> float:
        s = v - t * c - p.mu_cnt
        k = s.argmax(axis=1)
        take = s[np.arange(m), k] > 0
        return float(c[np.arange(m), k][take].sum())

    if spend(lo) <= b:
        return None
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if spend(mid) <= b else (mid, hi)
    return hi


def _value_guess(V: np.ndarray) -> float:
    idx = _sample_rows(V.shape[0])
    v = np.abs(V[idx].astype(np.float64))
    m = float(np.nanmax(v)) if v.size and not np.isnan(v).all() else 0.0
    return max(2.0 * m, 1e-6)

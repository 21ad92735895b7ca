"""Exact reference of the allocation problem with HiGHS (LP relaxation or MILP), for tests and
gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offerwise.errors import InfeasibleError
from offerwise.policy._validate import _vec
from offerwise.policy.allocation import FairnessGroups

__all__ = ["LPResult", "solve_lp"]


@dataclass(frozen=True)
class LPResult:
    """Optimum of the LP relaxation (or of the integer program when ``integer``)."""

    value: float
    x: np.ndarray  # (n, K) fractional assignment
    integer: bool
    status: str


def solve_lp(
    value: np.ndarray,
    cost: np.ndarray,
    budget: float,
    mask: np.ndarray | None = None,
    *,
    segment: np.ndarray | None = None,
    segment_max_spend: np.ndarray | None = None,
    segment_min_spend: np.ndarray | None = None,
    max_count: np.ndarray | None = None,
    max_spend: np.ndarray | None = None,
    fairness: Sequence[FairnessGroups] = (),
    side: np.ndarray | None = None,
    side_min: float = 0.0,
    integer: bool = False,
    time_limit: float = 120.0,
    method: str = "milp",
) -> LPResult:
    """Exact optimum of the same problem with HiGHS: LP relaxation, or the MILP when ``integer``.

    Meant for small instances (tests, optimality gaps): builds a sparse model with n*K variables.
    Fairness is linearised as ``r_g >= rho * r_h`` for every ordered pair of groups. ``side``
    (n, K): one more row ``Σ side[i,k] x[i,k] >= side_min`` (the margin target,
    :mod:`offerwise.policy.margin`).
    ``method``: 'milp' (HiGHS through ``scipy.optimize.milp``, also for the relaxation) or, for the
    relaxation only, a ``scipy.optimize.linprog`` method: 'highs-ipm' (interior point, about 10x
    faster than the simplex on these problems: 4 s at 20k x 8), 'highs-ds', 'highs'.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    value = np.asarray(value, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    n, K = value.shape
    allowed = np.ones((n, K), bool) if mask is None else np.asarray(mask, bool).copy()
    allowed &= ~np.isnan(value)
    if budget == 0:
        allowed[:] = False
    ii, kk = np.nonzero(allowed)
    m = len(ii)
    if m == 0:
        return LPResult(0.0, np.zeros((n, K)), integer, "empty")
    v = value[ii, kk]
    c = cost[ii, kk]
    rows, lbs, ubs = [], [], []

    def add(mat: sparse.spmatrix, lb: np.ndarray | float, ub: np.ndarray | float) -> None:
        rows.append(sparse.csr_matrix(mat))
        r = mat.shape[0]
        lbs.append(np.broadcast_to(np.asarray(lb, float), (r,)))
        ubs.append(np.broadcast_to(np.asarray(ub, float), (r,)))

    cols = np.arange(m)
    add(sparse.coo_matrix((np.ones(m), (ii, cols)), shape=(n, m)), -np.inf, 1.0)
    if np.isfinite(budget):
        add(sparse.csr_matrix(c[None, :]), -np.inf, budget)
    seg = np.zeros(n, np.int64) if segment is None else np.asarray(segment, np.int64)
    S = int(seg.max()) + 1 if n else 1
    smax = _vec(
        segment_max_spend,
        len(segment_max_spend) if segment_max_spend is not None else S,
        np.inf,
        "segment_max_spend",
    )
    smin = _vec(
        segment_min_spend,
        len(segment_min_spend) if segment_min_spend is not None else S,
        0.0,
        "segment_min_spend",
    )
    for s in range(len(smax)):
        if np.isfinite(smax[s]) or smin[s] > 0:
            sel = seg[ii] == s
            add(sparse.csr_matrix(np.where(sel, c, 0.0)[None, :]), smin[s], smax[s])
    cn = _vec(max_count, K, np.inf, "max_count")
    cs = _vec(max_spend, K, np.inf, "max_spend")
    for k in range(K):
        if np.isfinite(cn[k]):
            add(sparse.csr_matrix((kk == k).astype(float)[None, :]), -np.inf, cn[k])
        if np.isfinite(cs[k]):
            add(sparse.csr_matrix(np.where(kk == k, c, 0.0)[None, :]), -np.inf, cs[k])
    for f in fairness:
        codes = np.asarray(f.codes)
        G = len(f.labels)
        ng = np.bincount(codes[codes >= 0], minlength=G).astype(float)
        member: list[np.ndarray | None] = [
            (codes[ii] == g).astype(float) / ng[g] if ng[g] > 0 else None for g in range(G)
        ]
        for g in range(G):
            for h in range(G):
                mg, mh = member[g], member[h]
                if g != h and mg is not None and mh is not None:
                    add(
                        sparse.csr_matrix((mg - f.min_ratio * mh)[None, :]),
                        0.0,
                        np.inf,
                    )
    if side is not None:
        add(sparse.csr_matrix(np.asarray(side, np.float64)[ii, kk][None, :]), side_min, np.inf)
    A = sparse.vstack(rows).tocsr()
    lb_all, ub_all = np.concatenate(lbs), np.concatenate(ubs)
    if not integer and method != "milp":
        from scipy.optimize import linprog

        up, lo = np.isfinite(ub_all), np.isfinite(lb_all)
        A_ub = sparse.vstack([A[up], -A[lo]]).tocsr()
        b_ub = np.concatenate([ub_all[up], -lb_all[lo]])
        res = linprog(
            -v,
            A_ub=A_ub,
            b_ub=b_ub,
            bounds=(0, 1),
            method=method,
            options={"time_limit": time_limit, "presolve": True},
        )
    else:
        res = milp(
            -v,
            constraints=LinearConstraint(A, lb_all, ub_all),
            integrality=np.ones(m) if integer else np.zeros(m),
            bounds=Bounds(0, 1),
            options={"time_limit": time_limit, "presolve": True},
        )
    if res.x is None:
        raise InfeasibleError(f"LP reference: {res.message}", binding=None)
    x = np.zeros((n, K))
    x[ii, kk] = res.x
    return LPResult(float(v @ res.x), x, integer, str(res.message))

"""Budgeted offer allocation: a multiple-choice knapsack solved by Lagrangian bisection.

Problem (n customers, K offers, x[i,k] in {0,1}, at most one offer per customer)::

    maximise   sum_ik V[i,k] x[i,k]
    subject to sum_ik C[i,k] x[i,k] <= B                          (budget)
               sum_i x[i,k] <= N_k,  sum_i C[i,k] x[i,k] <= S_k    (per-offer caps)
               L_s <= sum_{i in s,k} C[i,k] x[i,k] <= U_s          (per-segment budgets)
               min_g r_g / max_g r_g >= rho                        (fairness; r_g = offer rate
                                                                    of group g)
               x[i,k] = 0 where mask[i,k] is False                 (eligibility, ROI, depth,
                                                                    cooldown)

Every constraint gets a multiplier; given the multipliers each customer independently takes
``argmax_k V - (lam_s + mu_spend_k) C - mu_cnt_k + phi_g`` or nothing when that is <= 0.
The budget price ``lam`` is found by bisection on total spend; segment budgets clip the
per-segment price (``lam_s = clip(lam, lam_min_s, lam_max_s)``, each bound found by its own
bisection on that segment's rows); caps and fairness bonuses ``phi_g`` are set by coordinate
rounds of one-dimensional bisections. Each bisection retires customers whose choice is equal at
both ends of the bracket (a customer's choice is piecewise constant and each offer occupies one
interval of the parameter), so after the first pass it touches only the few undecided ones.
A final repair drops the lowest-value customers until every hard constraint (budget, caps,
segment budgets, fairness) holds exactly, and a greedy fill spends what is left.
Nothing loops over customers in Python except the fill, which only sees undecided customers.

This module holds :func:`allocate` and the screened method; the direct method is in
``_direct``; the pieces live in ``allocation`` (result types, ``DROP_*``), ``_validate`` (input
checks), ``_search`` (bisection), ``_fairness`` (guardrail bonuses), ``_repair`` (repair, fill,
totals) and ``lp`` (HiGHS reference).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from offerwise.errors import InfeasibleError, InputError
from offerwise.policy._direct import _Options, _Problem, _solve_direct
from offerwise.policy._kernels import kernel_name, screen_rows
from offerwise.policy._validate import _validate, _vec, _work_dtype
from offerwise.policy.allocation import NONE, Allocation, FairnessGroups

__all__ = ["Allocation", "FairnessGroups", "ScreenPass", "allocate", "kernel_name"]

#: The screening pass over all n rows, given the multipliers at the centre of the box and the
#: box's half-widths ``(lam, dlam, mu_count, dmu_count, mu_spend, dmu_spend)`` ((S,), (S,), (K,)
#: x 4): returns ``(choice (n,) int8, active (n,) bool, totals of the decided rows (S + 3K + 1,)
#: float64)``, what ``_kernels.screen_rows`` returns. ``offerwise.spark`` passes one that runs on
#: Spark partitions.
ScreenPass = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    tuple[np.ndarray, np.ndarray, np.ndarray],
]

_log = logging.getLogger(__name__)
_SCREEN_MIN = 1 << 18  # n*K from which allocate screens (sample, one pass, solve the undecided)


def allocate(
    value: np.ndarray,
    cost: np.ndarray,
    budget: float,
    mask: np.ndarray | None = None,
    *,
    segment: np.ndarray | None = None,
    segment_max_spend: Sequence[float] | np.ndarray | None = None,
    segment_min_spend: Sequence[float] | np.ndarray | None = None,
    segment_names: Sequence[str] | None = None,
    max_count: Sequence[float] | np.ndarray | None = None,
    max_spend: Sequence[float] | np.ndarray | None = None,
    fairness: Sequence[FairnessGroups] = (),
    offer_names: Sequence[str] | None = None,
    kernel: str = "auto",
    threads: int | None = 2,
    precision: str = "auto",
    max_rounds: int = 20,
    fill: bool = True,
    screen: str | bool = "auto",
    screen_pass: ScreenPass | None = None,
) -> Allocation:
    """Assign each of n customers one of K offers or none, maximising total value within budget.

    value, cost: (n, K) float arrays (value = incremental profit or revenue, cost = expected
    discount cost >= 0, both in currency). budget: bound on the total expected cost of the treated
    customers (``inf`` = none; ``0`` = nobody is offered, even offers of zero cost).
    mask: (n, K) bool, False = offer not allowed for that customer.
    segment: (n,) int codes in [0, S); segment_max_spend / segment_min_spend: (S,) currency bounds
    on the spend per segment (inf / 0 = none). max_count / max_spend: (K,) caps per offer (inf =
    none). fairness: offer-rate ratio guardrails. kernel: 'auto' (numba when installed), 'numba'
    or 'numpy'. precision: 'auto' (float64 when n*K <= 4M, else float32), 'float32', 'float64'
    (of the working copies of the direct method). screen: 'auto' (from n*K >= 262144, without
    fairness guardrails), True or False: solve a row sample first, keep the rows whose choice is
    settled by the sample's multipliers and solve the rest exactly (see ``_solve_screened``); the
    result is the same plan, usually from one pass over the inputs and no copy of them.
    screen_pass: who makes that pass over all rows (see :data:`ScreenPass`; default: a numba or
    numpy kernel here); given, the top-level problem is screened whenever it can be (finite
    budget, no fairness guardrail, n >= 1024), and only the sample and the undecided rows are
    solved here.

    Hard constraints (budget, caps, segment budgets, fairness) always hold in the result.
    Raises InputError for NaN scores or negative cost, InfeasibleError when a rule cannot be met
    (``binding`` names it, e.g. ``segment_budget.dormant`` or ``fairness.age``).
    """
    t0 = time.perf_counter()
    kernel = kernel_name(kernel)
    if kernel not in ("numba", "numpy"):
        raise InputError(f"kernel must be 'auto', 'numba' or 'numpy', not {kernel!r}")
    _work_dtype(precision, 0)  # validates the name
    value, cost, mask = _validate(value, cost, mask, offer_names, kernel, threads)
    n, K = value.shape
    budget = float(budget)
    if not budget >= 0:
        raise InputError(f"budget must be >= 0; got {budget}")
    onames = list(offer_names) if offer_names is not None else [str(k) for k in range(K)]
    if n == 0 or K == 0:
        z = np.zeros(K)
        return Allocation(
            np.full(n, NONE, np.int16),
            0.0,
            np.zeros(1),
            z,
            z.copy(),
            {},
            0.0,
            0.0,
            0,
            np.zeros(K, np.int64),
            z.copy(),
            z.copy(),
            np.zeros(1),
            np.zeros(n, np.int8),
            kernel,
            0,
            0.0,
            0.0,
        )

    # -- side constraint arrays ------------------------------------------------------------
    if segment is None:
        seg = np.zeros(n, dtype=np.int32)
        S = 1
    else:
        seg = np.ascontiguousarray(segment, dtype=np.int32)
        if seg.shape != (n,) or (n and (seg.min() < 0)):
            raise InputError("segment must be (n,) non-negative integer codes")
        S = int(seg.max()) + 1 if n else 1
        if segment_names is not None:
            S = max(S, len(segment_names))
    snames = list(segment_names) if segment_names is not None else [str(s) for s in range(S)]
    seg_max = _vec(segment_max_spend, S, np.inf, "segment_max_spend")
    seg_min = _vec(segment_min_spend, S, 0.0, "segment_min_spend")
    cap_n = _vec(max_count, K, np.inf, "max_count")
    cap_s = _vec(max_spend, K, np.inf, "max_spend")
    for s in range(S):
        if seg_min[s] > seg_max[s]:
            raise InfeasibleError(
                f"segment '{snames[s]}': minimum spend {seg_min[s]:g} exceeds its "
                f"maximum {seg_max[s]:g}",
                binding=f"segment_budget.{snames[s]}",
            )
    if seg_min.sum() > budget * (1 + 1e-12):
        bad = snames[int(np.argmax(seg_min))]
        raise InfeasibleError(
            f"segment minimum spends add up to {seg_min.sum():g} > budget {budget:g}",
            binding=f"segment_budget.{bad}",
        )
    prob = _Problem(
        value,
        cost,
        mask,
        seg,
        S,
        budget,
        seg_max,
        seg_min,
        cap_n,
        cap_s,
        tuple(fairness),
        snames,
        onames,
    )
    opts = _Options(kernel, threads, precision, max_rounds, fill)
    if screen not in ("auto", True, False):
        raise InputError(f"screen must be 'auto', True or False, not {screen!r}")
    if screen_pass is not None and screen is not False:
        screen = True
    out = _solve(prob, opts, screen, screen_pass=screen_pass)
    out.seconds = time.perf_counter() - t0
    return out


def _solve(
    prob: _Problem,
    opts: _Options,
    screen: str | bool = "auto",
    depth: int = 0,
    screen_pass: ScreenPass | None = None,
) -> Allocation:
    use = screen is True or (
        screen == "auto" and prob.n * prob.value.shape[1] >= _SCREEN_MIN and depth < 4
    )
    if use and not prob.fairness and 0 < prob.budget < np.inf and prob.n >= 1024:
        out = _solve_screened(prob, opts, depth=depth, screen_pass=screen_pass)
        if out is not None:
            return out
    return _solve_direct(prob, opts)


def _strat_sample(n: int, m: int, seed: int = 0) -> np.ndarray:
    """m sorted row indices, one drawn uniformly (seeded) from each of m equal strata of [0, n)."""
    stride = n / m
    u = np.random.default_rng(seed).random(m)
    return np.minimum(((np.arange(m) + u) * stride).astype(np.int64), n - 1)


def _solve_screened(
    prob: _Problem,
    opts: _Options,
    attempts: int = 3,
    depth: int = 0,
    screen_pass: ScreenPass | None = None,
) -> Allocation | None:
    """Solve on a row sample, screen every row once, solve exactly on the undecided rows.

    1. The same problem on a stratified sample of m rows (budget, caps and segment bounds scaled
       to the sample) gives estimates of the multipliers (per-segment price, per-offer prices).
    2. One pass over all rows (``screen_rows``) takes each row's choice at those multipliers and
       marks it *decided* when that choice stays strictly best for every multiplier within a box
       around them (relative half-width ``delta`` ~ 1.5 / sqrt(m) for the prices of cost, 30 x
       that, at least 10%, for the per-offer cap prices, which a sample estimates less well);
       the decided rows' totals are summed.
       ``screen_pass``, when given, makes this pass (e.g. on Spark partitions).
    3. The undecided rows form a smaller problem of the same kind with the budget and the side
       bounds reduced by the decided totals; it is solved (recursively) with the full method.
    4. When its multipliers lie inside the box, every decided row's choice is also its choice at
       those multipliers, so the combined plan is what the full method would give on all rows.
       Otherwise the box is re-centred on them and widened (x2), up to ``attempts`` times;
       None then tells the caller to solve all rows directly.
    """
    n, K = prob.value.shape
    S = prob.S
    m = int(min(max(4.0 * n ** (2.0 / 3.0), 32768.0), n // 4))
    idx = _strat_sample(n, m)
    ns = np.bincount(prob.seg, minlength=S).astype(np.float64)
    frac = np.where(ns > 0, np.bincount(prob.seg[idx], minlength=S) / np.maximum(ns, 1), m / n)
    sub_prob = prob.rows(
        idx,
        budget=prob.budget * m / n,
        seg_max=prob.seg_max * frac,
        seg_min=prob.seg_min * frac,
        cap_n=prob.cap_n * m / n,
        cap_s=prob.cap_s * m / n,
    )
    try:
        sub = _solve(sub_prob, replace(opts, fill=False), depth=depth + 1)
    except InfeasibleError:
        return None
    lam = np.asarray(sub.lam_segment, dtype=np.float64).copy()
    mu_c, mu_s = sub.mu_count.copy(), sub.mu_spend.copy()
    passes = sub.passes * m / n
    present = ns > 0
    delta = min(max(1.5 / math.sqrt(m), 0.002), 0.02)
    for _ in range(attempts):
        dlam = delta * np.abs(lam)
        wmu = max(30 * delta, 0.1)
        dmu_c, dmu_s = wmu * mu_c, wmu * mu_s
        if screen_pass is not None:
            choice8, active, base = screen_pass(lam, dlam, mu_c, dmu_c, mu_s, dmu_s)
        else:
            choice8, active, base = screen_rows(
                prob.value,
                prob.cost,
                prob.mask,
                prob.seg,
                lam,
                dlam,
                mu_c,
                dmu_c,
                mu_s,
                dmu_s,
                opts.kernel,
                opts.threads,
            )
        passes += 1.0
        act = np.flatnonzero(active)
        _log.debug(
            "screen n=%d depth=%d delta=%g active=%.4f lam=%s mu_count=%s mu_spend=%s",
            n,
            depth,
            delta,
            len(act) / n,
            lam,
            mu_c,
            mu_s,
        )
        b_seg, b_cnt = base[:S], base[S : S + K]
        b_kspend, b_kval, b_treated = base[S + K : S + 2 * K], base[S + 2 * K : S + 3 * K], base[-1]
        with np.errstate(invalid="ignore"):
            red_kw = dict(
                budget=prob.budget - b_seg.sum(),
                seg_max=prob.seg_max - b_seg,
                seg_min=np.maximum(prob.seg_min - b_seg, 0.0),
                cap_n=prob.cap_n - b_cnt,
                cap_s=prob.cap_s - b_kspend,
            )
        room = min(
            red_kw["budget"], red_kw["seg_max"].min(), red_kw["cap_n"].min(), red_kw["cap_s"].min()
        )
        red = None
        if room >= 0 and len(act):
            try:
                red = _solve(prob.rows(act, **red_kw), opts, False)  # all rows are marginal
            except InfeasibleError:
                red = None
        if red is not None:
            lam_f = np.asarray(red.lam_segment, dtype=np.float64)
            inside = bool(
                np.all((np.abs(lam_f - lam) <= dlam * (1 + 1e-9)) | ~present)
                and np.all(np.abs(red.mu_count - mu_c) <= dmu_c * (1 + 1e-9))
                and np.all(np.abs(red.mu_spend - mu_s) <= dmu_s * (1 + 1e-9))
            )
            _log.debug(
                "reduced problem: lam=%s mu_count=%s mu_spend=%s inside=%s",
                lam_f,
                red.mu_count,
                red.mu_spend,
                inside,
            )
            if inside:
                choice = choice8.astype(np.int16)
                choice[act] = red.choice
                dropped = np.zeros(n, dtype=np.int8)
                dropped[act] = red.dropped
                return Allocation(
                    choice=choice,
                    lam=red.lam,
                    lam_segment=red.lam_segment,
                    mu_count=red.mu_count,
                    mu_spend=red.mu_spend,
                    phi={},
                    value=float(b_kval.sum()) + red.value,
                    cost=float(b_seg.sum()) + red.cost,
                    n_treated=int(round(b_treated)) + red.n_treated,
                    count_by_offer=np.rint(b_cnt).astype(np.int64) + red.count_by_offer,
                    spend_by_offer=b_kspend + red.spend_by_offer,
                    value_by_offer=b_kval + red.value_by_offer,
                    spend_by_segment=b_seg + red.spend_by_segment,
                    dropped=dropped,
                    kernel=red.kernel,
                    rounds=red.rounds,
                    passes=passes + red.passes * len(act) / n,
                    seconds=0.0,
                    upper_bound=red.upper_bound + float(b_kval.sum()),
                    binding=red.binding,
                    screened=len(act) / n,
                )
            lam, mu_c, mu_s = lam_f.copy(), red.mu_count.copy(), red.mu_spend.copy()
        elif len(act) == 0 and room >= 0:  # every row decided: the centre is a solution
            return None
        delta *= 2.0
    return None

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

This module holds :func:`allocate` and its two methods (direct, screened); the pieces live in
``allocation`` (result types, ``DROP_*``), ``_validate`` (input checks), ``_search`` (bisection),
``_fairness`` (guardrail bonuses), ``_repair`` (repair, fill, totals) and ``lp`` (HiGHS reference).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from offerwise.errors import InfeasibleError, InputError
from offerwise.policy._fairness import (
    _fair_band,
    _fair_cells,
    _fair_precheck,
    _golden_band,
    _group_counts,
    _rates,
)
from offerwise.policy._kernels import Evaluator, Layout, Params, kernel_name, screen_rows
from offerwise.policy._repair import _binding, _dual_bound, _fill, _net_score, _repair, _summarise
from offerwise.policy._search import (
    _ratio_guess,
    _sample_price,
    _Search,
    _search,
    _State,
    _value_guess,
)
from offerwise.policy._validate import _validate, _vec, _work_dtype
from offerwise.policy.allocation import NONE, Allocation, FairnessGroups

__all__ = ["Allocation", "FairnessGroups", "allocate", "kernel_name"]

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
    out = _solve(prob, opts, screen)
    out.seconds = time.perf_counter() - t0
    return out


@dataclass(frozen=True)
class _Problem:
    """A validated instance (see :func:`allocate`); ``seg`` (n,) int32 codes in [0, S)."""

    value: np.ndarray
    cost: np.ndarray
    mask: np.ndarray | None
    seg: np.ndarray
    S: int
    budget: float
    seg_max: np.ndarray
    seg_min: np.ndarray
    cap_n: np.ndarray
    cap_s: np.ndarray
    fairness: tuple[FairnessGroups, ...]
    snames: list[str]
    onames: list[str]

    @property
    def n(self) -> int:
        return self.value.shape[0]

    def rows(self, idx: np.ndarray, **changes: object) -> _Problem:
        """The same problem restricted to rows ``idx`` (fairness is not carried over)."""
        kw = dict(
            value=np.take(self.value, idx, axis=0),
            cost=np.take(self.cost, idx, axis=0),
            mask=None if self.mask is None else np.take(self.mask, idx, axis=0),
            seg=self.seg[idx],
        )
        kw.update(changes)
        return replace(self, **kw)


@dataclass(frozen=True)
class _Options:
    kernel: str
    threads: int | None
    precision: str
    max_rounds: int
    fill: bool


def _solve(
    prob: _Problem, opts: _Options, screen: str | bool = "auto", depth: int = 0
) -> Allocation:
    use = screen is True or (
        screen == "auto" and prob.n * prob.value.shape[1] >= _SCREEN_MIN and depth < 4
    )
    if use and not prob.fairness and 0 < prob.budget < np.inf and prob.n >= 1024:
        out = _solve_screened(prob, opts, depth=depth)
        if out is not None:
            return out
    return _solve_direct(prob, opts)


def _solve_direct(prob: _Problem, opts: _Options) -> Allocation:
    """Coordinate rounds of bisections over all rows (see the module docstring)."""
    t0 = time.perf_counter()
    value, cost, mask, seg, S = prob.value, prob.cost, prob.mask, prob.seg, prob.S
    budget, seg_max, seg_min, cap_n, cap_s = (
        prob.budget,
        prob.seg_max,
        prob.seg_min,
        prob.cap_n,
        prob.cap_s,
    )
    fairness, snames, onames = prob.fairness, prob.snames, prob.onames
    kernel, threads, precision, max_rounds, fill = (
        opts.kernel,
        opts.threads,
        opts.precision,
        opts.max_rounds,
        opts.fill,
    )
    n, K = value.shape
    cells, G, cell_groups, n_group = _fair_cells(fairness, n)
    layout = Layout(S, K, G)

    # -- working copies: C-contiguous, NaN marks an ineligible offer ---------------------------
    dt = _work_dtype(precision, n * K)
    V: np.ndarray = np.array(value, dtype=dt, order="C", copy=True)
    C: np.ndarray = np.array(cost, dtype=dt, order="C", copy=True)
    if mask is not None:
        V[~mask] = np.nan
        C[~mask] = 0
    elif np.isnan(V).any():  # pragma: no cover - caught by _validate
        raise InputError("value contains NaN")
    if budget == 0:
        V[:] = np.nan  # documented: a zero budget offers nothing, not even free offers
    ev = Evaluator(V, C, seg, cells, layout, kernel=kernel, threads=threads)

    st = _State(
        lam=0.0,
        lam_min=np.full(S, -np.inf),
        lam_max=np.full(S, np.inf),
        mu_cnt=np.zeros(K),
        mu_spend=np.zeros(K),
        phi=[np.zeros(len(f.labels)) for f in fairness],
    )

    def cell_phi(phi_list: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(G + 1)
        for a, ph in enumerate(phi_list):
            out[:G] += ph[cell_groups[a]]
        return out

    def params(
        lam: float | None = None,
        *,
        lam_min: np.ndarray | None = None,
        lam_max: np.ndarray | None = None,
        lam_seg: np.ndarray | None = None,
        mu_cnt: np.ndarray | None = None,
        mu_spend: np.ndarray | None = None,
        phi: list[np.ndarray] | None = None,
    ) -> Params:
        """Multipliers of the current state ``st``, with those given here in place of its own."""
        lam_v = st.lam if lam is None else lam
        lo = st.lam_min if lam_min is None else lam_min
        hi = st.lam_max if lam_max is None else lam_max
        seg_v = np.maximum(np.minimum(lam_v, hi), lo)  # upper budgets win conflicts
        if lam_seg is not None:
            seg_v = lam_seg
        return Params(
            np.asarray(seg_v, dtype=np.float64),
            np.asarray(st.mu_cnt if mu_cnt is None else mu_cnt, dtype=np.float64),
            np.asarray(st.mu_spend if mu_spend is None else mu_spend, dtype=np.float64),
            cell_phi(st.phi if phi is None else phi),
        )

    lam_guess = _ratio_guess(V, C)
    v_guess = _value_guess(V)
    seg_rows = (
        [np.flatnonzero(seg == s) for s in range(S)]
        if (np.isfinite(seg_max).any() or (seg_min > 0).any())
        else []
    )
    binding: list[str] = []
    last: _Search | None = None
    rounds = 0

    def solve_rounds(bands: list[float] | None) -> tuple[_Search | None, np.ndarray, int]:
        """Coordinate rounds at fixed fairness levels ``bands`` (rate of every group of
        attribute a kept in [rho_a * bands[a], bands[a]]; None = no fairness)."""
        last = None
        tot = np.zeros(layout.size)
        rounds = 0
        for rounds in range(1, max_rounds + 1):
            # segment budgets -> bounds of the per-segment price
            for s in range(S):
                if np.isfinite(seg_max[s]):
                    rs = seg_rows[s]

                    def mk(t: float, s: int = s) -> Params:
                        ls = params().lam_seg.copy()
                        ls[s] = t
                        return params(lam_seg=ls)

                    prev = st.lam_min[s] if np.isfinite(st.lam_min[s]) else 0.0
                    r = _search(
                        ev,
                        rs,
                        mk,
                        lambda tot: tot[s] <= seg_max[s],
                        max(0.0, prev * 0.9),
                        max(prev * 1.1, lam_guess),
                        floor=0.0,
                    )
                    if r is None:  # pragma: no cover - spend reaches 0 at a high enough price
                        raise InfeasibleError(
                            f"segment '{snames[s]}' budget cannot be met",
                            binding=f"segment_budget.{snames[s]}",
                        )
                    st.lam_min[s] = r.hi if r.hi > 0 else -np.inf
                if seg_min[s] > 0:
                    rs = seg_rows[s]

                    def mk2(u: float, s: int = s) -> Params:
                        ls = params().lam_seg.copy()
                        ls[s] = -u
                        return params(lam_seg=ls)

                    r = _search(
                        ev,
                        rs,
                        mk2,
                        lambda tot: tot[s] >= seg_min[s] * (1 - 1e-12),
                        -lam_guess * 4,
                        0.0,
                        floor=-1e15,
                    )
                    if r is None:
                        raise InfeasibleError(
                            f"segment '{snames[s]}' cannot absorb its minimum spend "
                            f"{seg_min[s]:g}: not enough eligible offers",
                            binding=f"segment_budget.{snames[s]}",
                        )
                    st.lam_max[s] = -r.hi
            # budget
            if np.isinf(budget):
                _, tb = ev.split(None, params(0.0))
                last = _Search(
                    0.0,
                    0.0,
                    tb.sum(axis=0),
                    np.empty(0, np.int64),
                    np.empty(0, np.int8),
                    np.empty(0, np.int8),
                )
            else:
                if rounds == 1:
                    est = _sample_price(V, C, budget, params(0.0))
                    lo0, hi0 = (0.0, lam_guess) if est is None else (est * 0.9, est * 1.1 + 1e-9)
                else:
                    lo0, hi0 = st.lam * 0.98, max(st.lam * 1.02, 1e-9)
                last = _search(
                    ev,
                    None,
                    lambda t: params(t),
                    lambda tot: bool(layout.spend(tot) <= budget * (1 + 1e-12)),
                    lo0,
                    hi0,
                )
                if last is None:
                    raise InfeasibleError(
                        "segment minimum spends cannot be met within the budget",
                        binding="segment_budget." + snames[int(np.argmax(seg_min))],
                    )
            st.lam = last.hi
            tot = last.tot_hi
            changed = False
            # per-offer caps
            for k in range(K):
                for cap, mu, metric, tag in (
                    (cap_n[k], st.mu_cnt, layout.count, "count"),
                    (cap_s[k], st.mu_spend, layout.offer_spend, "spend"),
                ):
                    if not np.isfinite(cap):
                        continue
                    cur = float(metric(tot)[k])
                    over_cap = cur > cap * (1 + 1e-9) + 1e-9
                    slack = mu[k] > 0 and cur < cap * (1 - 2e-3) - 1
                    if not (over_cap or slack):
                        continue

                    def mk3(t: float, k: int = k, tag: str = tag) -> Params:
                        m = (st.mu_cnt if tag == "count" else st.mu_spend).copy()
                        m[k] = t
                        return params(mu_cnt=m) if tag == "count" else params(mu_spend=m)

                    scale = v_guess if tag == "count" else lam_guess
                    lo0 = 0.0 if mu[k] == 0 else mu[k] * 0.8
                    r = _search(
                        ev,
                        None,
                        mk3,
                        lambda t: float(metric(t)[k]) <= cap * (1 + 1e-12),
                        lo0,
                        max(mu[k] * 1.25, scale),
                    )
                    assert r is not None  # at a high enough price nobody takes offer k
                    if abs(r.hi - mu[k]) > 1e-12 * max(1.0, abs(r.hi)):
                        mu[k] = r.hi
                        changed = True
                        tot = r.tot_hi
            # fairness: keep every group's rate inside its band
            if bands is not None:
                for a, f in enumerate(fairness):
                    if _fair_band(
                        ev, f, a, bands[a], st, params, layout, cell_groups, n_group, v_guess, tot
                    ):
                        changed = True
            if not changed:
                break
        return last, tot, rounds

    if fairness:
        last, tot, rounds = solve_rounds(None)
        for a, f in enumerate(fairness):
            rate = _group_counts(tot, layout, cell_groups[a], len(f.labels)) / np.maximum(
                n_group[a], 1
            )
            rate = rate[n_group[a] > 0]
            if rate.size and rate.max() > 0 and rate.min() < f.min_ratio * rate.max():
                _fair_precheck(f, a, V, n_group[a])
                binding.append(f"fairness.{f.name}")
        if binding:
            bands = [np.inf] * len(fairness)
            for _ in range(2 if len(fairness) > 1 else 1):
                for a, f in enumerate(fairness):
                    bands[a] = _golden_band(
                        a, f, bands, solve_rounds, layout, cell_groups, n_group, tot
                    )
            last, tot, rounds = solve_rounds(bands)
    else:
        last, tot, rounds = solve_rounds(None)

    # -- final plan at the feasible end of the last budget bracket ---------------------------
    P = params(st.lam)
    ch8, _ = ev.split(None, P)
    choice = ch8.astype(np.int16)
    lam_seg_final = P.lam_seg
    dropped = np.zeros(n, dtype=np.int8)
    net = _net_score(value, cost, choice, lam_seg_final[seg], st.mu_cnt, st.mu_spend)
    _repair(
        choice, dropped, value, cost, net, seg, budget, seg_max, cap_n, cap_s, fairness, n_group
    )
    if fill and last is not None:
        spent = float(cost[choice >= 0, choice[choice >= 0]].astype(np.float64).sum())
        free = budget - spent if np.isfinite(budget) else 0.0
        capped = bool((st.mu_cnt > 0).any() or (st.mu_spend > 0).any())
        rows, tgt = last.rows, last.ch_lo
        if free > 1e-9 * budget or capped:
            # candidates: customers whose choice changes at lower prices (a budget price that
            # would spend the budget plus twice what the repair freed, half the cap prices)
            lam2 = st.lam
            if free > 1e-9 * budget and st.lam > 0:
                wide = _search(
                    ev,
                    None,
                    lambda t: params(t),
                    lambda tot: bool(layout.spend(tot) <= budget + 2 * free),
                    st.lam * 0.9,
                    st.lam,
                    rtol=1e-6,
                    max_iter=30,
                )
                lam2 = wide.hi if wide is not None else st.lam
            lo_choice, _ = ev.split(
                None, params(lam2, mu_cnt=st.mu_cnt * 0.5, mu_spend=st.mu_spend * 0.5)
            )
            extra = np.flatnonzero(lo_choice != choice)
            rows = np.concatenate([rows, extra])
            tgt = np.concatenate([tgt, lo_choice[extra]])
            rows, first = np.unique(rows, return_index=True)
            tgt = tgt[first]
        if len(rows):
            _fill(
                choice,
                rows,
                tgt.astype(np.int16),
                value,
                cost,
                seg,
                budget,
                seg_max,
                cap_n,
                cap_s,
                fairness,
                n_group,
                dropped,
            )
    out = _summarise(choice, value, cost, seg, S, K)
    for s in range(S):
        if seg_min[s] > 0 and out["seg_spend"][s] < seg_min[s] * (1 - 1e-9):
            raise InfeasibleError(
                f"segment '{snames[s]}' minimum spend {seg_min[s]:g} cannot be met together with "
                f"the other rules (reached {out['seg_spend'][s]:g})",
                binding=f"segment_budget.{snames[s]}",
            )
    binding += _binding(out, budget, seg_max, seg_min, cap_n, cap_s, snames, onames, st)
    ub = math.nan
    no_side = (
        not fairness
        and not np.isfinite(seg_max).any()
        and not (seg_min > 0).any()
        and not np.isfinite(cap_n).any()
        and not np.isfinite(cap_s).any()
    )
    if no_side and budget > 0:
        ub = _dual_bound(value, cost, mask, st.lam, budget)
    rates = {f.name: _rates(choice, f, n_group[a]) for a, f in enumerate(fairness)}
    return Allocation(
        choice=choice,
        lam=float(st.lam),
        lam_segment=lam_seg_final,
        mu_count=st.mu_cnt.copy(),
        mu_spend=st.mu_spend.copy(),
        phi={f.name: st.phi[a].copy() for a, f in enumerate(fairness)},
        value=out["value"],
        cost=out["cost"],
        n_treated=out["n_treated"],
        count_by_offer=out["count"],
        spend_by_offer=out["spend"],
        value_by_offer=out["value_k"],
        spend_by_segment=out["seg_spend"],
        dropped=dropped,
        kernel=ev.kernel,
        rounds=rounds,
        passes=ev.passes,
        seconds=time.perf_counter() - t0,
        upper_bound=ub,
        binding=binding,
        rates=rates,
    )


def _strat_sample(n: int, m: int, seed: int = 0) -> np.ndarray:
    """m sorted row indices, one drawn uniformly (seeded) from each of m equal strata of [0, n)."""
    stride = n / m
    u = np.random.default_rng(seed).random(m)
    return np.minimum(((np.arange(m) + u) * stride).astype(np.int64), n - 1)


def _solve_screened(
    prob: _Problem, opts: _Options, attempts: int = 3, depth: int = 0
) -> Allocation | None:
    """Solve on a row sample, screen every row once, solve exactly on the undecided rows.

    1. The same problem on a stratified sample of m rows (budget, caps and segment bounds scaled
       to the sample) gives estimates of the multipliers (per-segment price, per-offer prices).
    2. One pass over all rows (``screen_rows``) takes each row's choice at those multipliers and
       marks it *decided* when that choice stays strictly best for every multiplier within a box
       around them (relative half-width ``delta`` ~ 1.5 / sqrt(m) for the prices of cost, 30 x
       that, at least 10%, for the per-offer cap prices, which a sample estimates less well);
       the decided rows' totals are summed.
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

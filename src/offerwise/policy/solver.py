"""Budgeted offer allocation: a multiple-choice knapsack solved by Lagrangian bisection.

Problem (n customers, K offers, x[i,k] in {0,1}, at most one offer per customer)::

    maximise   sum_ik V[i,k] x[i,k]
    subject to sum_ik C[i,k] x[i,k] <= B                          (budget)
               sum_i x[i,k] <= N_k,  sum_i C[i,k] x[i,k] <= S_k    (per-offer caps)
               L_s <= sum_{i in s,k} C[i,k] x[i,k] <= U_s          (per-segment budgets)
               min_g r_g / max_g r_g >= rho                        (fairness; r_g = offer rate of group g)
               x[i,k] = 0 where mask[i,k] is False                 (eligibility, ROI, depth, cooldown)

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
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from offerwise.errors import InfeasibleError, InputError
from offerwise.policy._kernels import (
    Evaluator,
    Layout,
    Params,
    check_inputs,
    numba_available,
    screen_rows,
)

NONE = -1
# Reasons why a customer was dropped by the final repair (``Allocation.dropped``).
DROP_NONE, DROP_BUDGET, DROP_CAP, DROP_SEGMENT, DROP_FAIRNESS = 0, 1, 2, 3, 4
_SMALL = 1 << 22  # n*K at or below this: decide in float64; above: float32 (half the bandwidth)
_log = logging.getLogger(__name__)
_SCREEN_MIN = 1 << 18  # n*K from which allocate screens (sample, one pass, solve the undecided)


@dataclass(frozen=True)
class FairnessGroups:
    """One fairness guardrail: offer rates of the groups of ``name`` must satisfy min/max >= min_ratio.

    ``codes`` (n,) int: group index of each customer in [0, len(labels)), -1 = not counted
    (holdout, missing attribute). Rate of group g = offered customers / counted customers of g.
    """

    name: str
    codes: np.ndarray
    labels: tuple[str, ...]
    min_ratio: float


@dataclass
class Allocation:
    """Result of :func:`allocate`.

    ``choice`` (n,) int16: offer index or -1 (none). ``value``/``cost`` are totals over the
    treated customers computed in float64 from the inputs. ``lam`` is the budget price (value per
    currency unit of cost at the margin), ``lam_segment`` the effective per-segment prices.
    ``upper_bound`` is the Lagrangian (dual) bound on the optimum when only the budget binds, so
    ``(upper_bound - value) / upper_bound`` bounds the optimality gap; NaN with side constraints.
    """

    choice: np.ndarray
    lam: float
    lam_segment: np.ndarray
    mu_count: np.ndarray
    mu_spend: np.ndarray
    phi: dict[str, np.ndarray]
    value: float
    cost: float
    n_treated: int
    count_by_offer: np.ndarray
    spend_by_offer: np.ndarray
    value_by_offer: np.ndarray
    spend_by_segment: np.ndarray
    dropped: np.ndarray  # (n,) int8, DROP_* code of customers removed by the repair
    kernel: str
    rounds: int
    passes: float
    seconds: float
    upper_bound: float = math.nan
    binding: list[str] = field(default_factory=list)
    rates: dict[str, np.ndarray] = field(default_factory=dict)
    screened: float = 1.0  # share of rows solved exactly after screening (1 = all, no screening)

    @property
    def roi(self) -> float:
        """Incremental value per currency unit of expected cost (NaN when nothing is spent)."""
        return self.value / self.cost if self.cost > 0 else math.nan


@dataclass
class _Search:
    lo: float
    hi: float
    tot_hi: np.ndarray
    rows: np.ndarray  # undecided rows (choice differs at lo and hi)
    ch_lo: np.ndarray
    ch_hi: np.ndarray


def _search(ev: Evaluator, rows: np.ndarray | None, make: Callable[[float], Params],
            ok: Callable[[np.ndarray], bool], lo: float, hi: float, *, floor: float = 0.0,
            max_iter: int = 80, rtol: float = 1e-12) -> _Search | None:
    """Smallest ``t`` in [floor, inf) with ``ok(totals(t))``; ``ok`` must be monotone (False -> True).

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


def _validate(value: np.ndarray, cost: np.ndarray, mask: np.ndarray | None,
              offer_names: Sequence[str] | None, kernel: str, threads: int | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shapes, then one fused pass for non-finite values / costs and negative costs.

    Returns C-contiguous float arrays (no copy when they already are) and a bool mask.
    """
    value = np.asarray(value)
    cost = np.asarray(cost)
    if value.ndim != 2 or value.shape != cost.shape:
        raise InputError(f"value and cost must be 2-d arrays of one shape (n, K); got "
                         f"{value.shape} and {cost.shape}")
    n, K = value.shape
    if K > 127:
        raise InputError(f"at most 127 offers are supported; got {K}")
    if mask is not None:
        mask = np.ascontiguousarray(mask, dtype=bool)
        if mask.shape != value.shape:
            raise InputError(f"mask must have shape {value.shape}; got {mask.shape}")
    value = np.ascontiguousarray(value, dtype=value.dtype if value.dtype in _FLOATS else np.float64)
    cost = np.ascontiguousarray(cost, dtype=value.dtype)
    if value.size == 0:
        return value, cost, mask
    names = list(offer_names) if offer_names is not None else [f"offer {k}" for k in range(K)]
    bad = check_inputs(value, cost, mask, kernel_name(kernel), threads)
    for row, what, arr in ((0, "value", value), (1, "expected_cost", cost)):
        if bad[row].any():
            k = int(np.argmax(bad[row]))
            raise InputError(f"scores: {what} is NaN or infinite for offer '{names[k]}' "
                             f"({int(bad[row, k])} rows)")
    if bad[2].any():
        k = int(np.argmax(bad[2]))
        neg = cost[:, k] < 0
        if mask is not None:
            neg &= mask[:, k]
        ex = float(cost[np.flatnonzero(neg)[0], k])
        raise InputError(f"scores: expected_cost is negative for offer '{names[k]}' "
                         f"({int(bad[2, k])} rows); e.g. {ex}")
    return value, cost, mask


_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


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
        return Allocation(np.full(n, NONE, np.int16), 0.0, np.zeros(1), z, z.copy(), {}, 0.0, 0.0,
                          0, np.zeros(K, np.int64), z.copy(), z.copy(), np.zeros(1),
                          np.zeros(n, np.int8), kernel, 0, 0.0, 0.0)

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
            raise InfeasibleError(f"segment '{snames[s]}': minimum spend {seg_min[s]:g} exceeds its "
                                  f"maximum {seg_max[s]:g}", binding=f"segment_budget.{snames[s]}")
    if seg_min.sum() > budget * (1 + 1e-12):
        bad = snames[int(np.argmax(seg_min))]
        raise InfeasibleError(f"segment minimum spends add up to {seg_min.sum():g} > budget "
                              f"{budget:g}", binding=f"segment_budget.{bad}")
    prob = _Problem(value, cost, mask, seg, S, budget, seg_max, seg_min, cap_n, cap_s,
                    tuple(fairness), snames, onames)
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
        kw = dict(value=np.take(self.value, idx, axis=0), cost=np.take(self.cost, idx, axis=0),
                  mask=None if self.mask is None else np.take(self.mask, idx, axis=0),
                  seg=self.seg[idx])
        kw.update(changes)
        return replace(self, **kw)


@dataclass(frozen=True)
class _Options:
    kernel: str
    threads: int | None
    precision: str
    max_rounds: int
    fill: bool


def _solve(prob: _Problem, opts: _Options, screen: str | bool = "auto", depth: int = 0
           ) -> Allocation:
    use = screen is True or (
        screen == "auto" and prob.n * prob.value.shape[1] >= _SCREEN_MIN and depth < 4)
    if use and not prob.fairness and 0 < prob.budget < np.inf and prob.n >= 1024:
        out = _solve_screened(prob, opts, depth=depth)
        if out is not None:
            return out
    return _solve_direct(prob, opts)


def _solve_direct(prob: _Problem, opts: _Options) -> Allocation:
    """Coordinate rounds of bisections over all rows (see the module docstring)."""
    t0 = time.perf_counter()
    value, cost, mask, seg, S = prob.value, prob.cost, prob.mask, prob.seg, prob.S
    budget, seg_max, seg_min, cap_n, cap_s = (prob.budget, prob.seg_max, prob.seg_min, prob.cap_n,
                                               prob.cap_s)
    fairness, snames, onames = prob.fairness, prob.snames, prob.onames
    kernel, threads, precision, max_rounds, fill = (opts.kernel, opts.threads, opts.precision,
                                                    opts.max_rounds, opts.fill)
    n, K = value.shape
    cells, G, cell_groups, n_group = _fair_cells(fairness, n)
    layout = Layout(S, K, G)

    # -- working copies: C-contiguous, NaN marks an ineligible offer ---------------------------
    dt = _work_dtype(precision, n * K)
    V = np.array(value, dtype=dt, order="C", copy=True)
    C = np.array(cost, dtype=dt, order="C", copy=True)
    if mask is not None:
        V[~mask] = np.nan
        C[~mask] = 0
    elif np.isnan(V).any():  # pragma: no cover - caught by _validate
        raise InputError("value contains NaN")
    if budget == 0:
        V[:] = np.nan  # documented: a zero budget offers nothing, not even free offers
    ev = Evaluator(V, C, seg, cells, layout, kernel=kernel, threads=threads)

    st = _State(lam=0.0, lam_min=np.full(S, -np.inf), lam_max=np.full(S, np.inf),
                mu_cnt=np.zeros(K), mu_spend=np.zeros(K),
                phi=[np.zeros(len(f.labels)) for f in fairness])

    def cell_phi(phi_list: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(G + 1)
        for a, ph in enumerate(phi_list):
            out[:G] += ph[cell_groups[a]]
        return out

    def params(lam: float | None = None, **over: object) -> Params:
        lam_v = st.lam if lam is None else lam
        lam_min = over.get("lam_min", st.lam_min)
        lam_max = over.get("lam_max", st.lam_max)
        lam_seg = np.maximum(np.minimum(lam_v, lam_max), lam_min)  # upper budgets win conflicts
        if "lam_seg" in over:
            lam_seg = over["lam_seg"]
        return Params(np.asarray(lam_seg, dtype=np.float64),
                      np.asarray(over.get("mu_cnt", st.mu_cnt), dtype=np.float64),
                      np.asarray(over.get("mu_spend", st.mu_spend), dtype=np.float64),
                      cell_phi(over.get("phi", st.phi)))

    lam_guess = _ratio_guess(V, C)
    v_guess = _value_guess(V)
    seg_rows = [np.flatnonzero(seg == s) for s in range(S)] if (
        np.isfinite(seg_max).any() or (seg_min > 0).any()) else []
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
                    r = _search(ev, rs, mk, lambda tot, s=s: tot[s] <= seg_max[s],
                                max(0.0, prev * 0.9), max(prev * 1.1, lam_guess), floor=0.0)
                    if r is None:  # pragma: no cover - spend reaches 0 at a high enough price
                        raise InfeasibleError(f"segment '{snames[s]}' budget cannot be met",
                                              binding=f"segment_budget.{snames[s]}")
                    st.lam_min[s] = r.hi if r.hi > 0 else -np.inf
                if seg_min[s] > 0:
                    rs = seg_rows[s]

                    def mk2(u: float, s: int = s) -> Params:
                        ls = params().lam_seg.copy()
                        ls[s] = -u
                        return params(lam_seg=ls)

                    r = _search(ev, rs, mk2, lambda tot, s=s: tot[s] >= seg_min[s] * (1 - 1e-12),
                                -lam_guess * 4, 0.0, floor=-1e15)
                    if r is None:
                        raise InfeasibleError(
                            f"segment '{snames[s]}' cannot absorb its minimum spend {seg_min[s]:g}: "
                            "not enough eligible offers", binding=f"segment_budget.{snames[s]}")
                    st.lam_max[s] = -r.hi
            # budget
            if np.isinf(budget):
                a, tb = ev.split(None, params(0.0))
                last = _Search(0.0, 0.0, tb.sum(axis=0), np.empty(0, np.int64),
                               np.empty(0, np.int8), np.empty(0, np.int8))
            else:
                if rounds == 1:
                    est = _sample_price(V, C, budget, params(0.0))
                    lo0, hi0 = (0.0, lam_guess) if est is None else (est * 0.9, est * 1.1 + 1e-9)
                else:
                    lo0, hi0 = st.lam * 0.98, max(st.lam * 1.02, 1e-9)
                last = _search(ev, None, lambda t: params(t),
                               lambda tot: layout.spend(tot) <= budget * (1 + 1e-12), lo0, hi0)
                if last is None:
                    raise InfeasibleError("segment minimum spends cannot be met within the budget",
                                          binding="segment_budget." + snames[int(np.argmax(seg_min))])
            st.lam = last.hi
            tot = last.tot_hi
            changed = False
            # per-offer caps
            for k in range(K):
                for cap, mu, metric, tag in ((cap_n[k], st.mu_cnt, layout.count, "count"),
                                             (cap_s[k], st.mu_spend, layout.offer_spend, "spend")):
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
                        return params(**{("mu_cnt" if tag == "count" else "mu_spend"): m})

                    scale = v_guess if tag == "count" else lam_guess
                    lo0 = 0.0 if mu[k] == 0 else mu[k] * 0.8
                    r = _search(ev, None, mk3, lambda t, k=k, metric=metric, cap=cap:
                                float(metric(t)[k]) <= cap * (1 + 1e-12), lo0,
                                max(mu[k] * 1.25, scale))
                    assert r is not None  # at a high enough price nobody takes offer k
                    if abs(r.hi - mu[k]) > 1e-12 * max(1.0, abs(r.hi)):
                        mu[k] = r.hi
                        changed = True
                        tot = r.tot_hi
            # fairness: keep every group's rate inside its band
            for a, f in enumerate(fairness if bands is not None else ()):
                if _fair_band(ev, f, a, bands[a], st, params, layout, cell_groups,
                              n_group, v_guess, tot):
                    changed = True
            if not changed:
                break
        return last, tot, rounds

    if fairness:
        last, tot, rounds = solve_rounds(None)
        for a, f in enumerate(fairness):
            rate = _group_counts(tot, layout, cell_groups[a], len(f.labels)) / np.maximum(
                n_group[a], 1)
            rate = rate[n_group[a] > 0]
            if rate.size and rate.max() > 0 and rate.min() < f.min_ratio * rate.max():
                _fair_precheck(f, a, V, n_group[a])
                binding.append(f"fairness.{f.name}")
        if binding:
            bands = [np.inf] * len(fairness)
            for _ in range(2 if len(fairness) > 1 else 1):
                for a, f in enumerate(fairness):
                    bands[a] = _golden_band(a, f, bands, solve_rounds, layout, cell_groups,
                                            n_group, tot)
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
    _repair(choice, dropped, value, cost, net, seg, budget, seg_max, cap_n, cap_s, fairness,
            n_group)
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
                wide = _search(ev, None, lambda t: params(t),
                               lambda tot: layout.spend(tot) <= budget + 2 * free,
                               st.lam * 0.9, st.lam, rtol=1e-6, max_iter=30)
                lam2 = wide.hi if wide is not None else st.lam
            lo_choice, _ = ev.split(None, params(lam2, mu_cnt=st.mu_cnt * 0.5,
                                                 mu_spend=st.mu_spend * 0.5))
            extra = np.flatnonzero(lo_choice != choice)
            rows = np.concatenate([rows, extra])
            tgt = np.concatenate([tgt, lo_choice[extra]])
            rows, first = np.unique(rows, return_index=True)
            tgt = tgt[first]
        if len(rows):
            _fill(choice, rows, tgt.astype(np.int16), value, cost, seg, budget, seg_max,
                  cap_n, cap_s, fairness, n_group, dropped)
    out = _summarise(choice, value, cost, seg, S, K)
    for s in range(S):
        if seg_min[s] > 0 and out["seg_spend"][s] < seg_min[s] * (1 - 1e-9):
            raise InfeasibleError(
                f"segment '{snames[s]}' minimum spend {seg_min[s]:g} cannot be met together with "
                f"the other rules (reached {out['seg_spend'][s]:g})",
                binding=f"segment_budget.{snames[s]}")
    binding += _binding(out, budget, seg_max, seg_min, cap_n, cap_s, snames, onames, st)
    ub = math.nan
    no_side = (not fairness and not np.isfinite(seg_max).any() and not (seg_min > 0).any()
               and not np.isfinite(cap_n).any() and not np.isfinite(cap_s).any())
    if no_side and budget > 0:
        ub = _dual_bound(value, cost, mask, st.lam, budget)
    rates = {f.name: _rates(choice, f, n_group[a]) for a, f in enumerate(fairness)}
    return Allocation(
        choice=choice, lam=float(st.lam), lam_segment=lam_seg_final, mu_count=st.mu_cnt.copy(),
        mu_spend=st.mu_spend.copy(), phi={f.name: st.phi[a].copy() for a, f in enumerate(fairness)},
        value=out["value"], cost=out["cost"], n_treated=out["n_treated"],
        count_by_offer=out["count"], spend_by_offer=out["spend"], value_by_offer=out["value_k"],
        spend_by_segment=out["seg_spend"], dropped=dropped, kernel=ev.kernel, rounds=rounds,
        passes=ev.passes, seconds=time.perf_counter() - t0, upper_bound=ub, binding=binding,
        rates=rates,
    )


def _strat_sample(n: int, m: int, seed: int = 0) -> np.ndarray:
    """m sorted row indices, one drawn uniformly (seeded) from each of m equal strata of [0, n)."""
    stride = n / m
    u = np.random.default_rng(seed).random(m)
    return np.minimum(((np.arange(m) + u) * stride).astype(np.int64), n - 1)


def _solve_screened(prob: _Problem, opts: _Options, attempts: int = 3, depth: int = 0
                    ) -> Allocation | None:
    """Solve on a row sample, screen every row once, solve exactly on the undecided rows.

    1. The same problem on a stratified sample of m rows (budget, caps and segment bounds scaled
       to the sample) gives estimates of the multipliers (per-segment price, per-offer prices).
    2. One pass over all rows (``screen_rows``) takes each row's choice at those multipliers and
       marks it *decided* when that choice stays strictly best for every multiplier within a box
       around them (relative half-width ``delta`` ~ 1.5 / sqrt(m) for the prices of cost, 30 x
       that, at least 10%, for the per-offer cap prices, which a sample estimates less well); the decided rows'
       totals are summed.
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
    sub_prob = prob.rows(idx, budget=prob.budget * m / n, seg_max=prob.seg_max * frac,
                         seg_min=prob.seg_min * frac, cap_n=prob.cap_n * m / n,
                         cap_s=prob.cap_s * m / n)
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
        choice8, active, base = screen_rows(prob.value, prob.cost, prob.mask, prob.seg, lam,
                                            dlam, mu_c, dmu_c, mu_s, dmu_s, opts.kernel,
                                            opts.threads)
        passes += 1.0
        act = np.flatnonzero(active)
        _log.debug("screen n=%d depth=%d delta=%g active=%.4f lam=%s mu_count=%s mu_spend=%s",
                   n, depth, delta, len(act) / n, lam, mu_c, mu_s)
        b_seg, b_cnt = base[:S], base[S : S + K]
        b_kspend, b_kval, b_treated = base[S + K : S + 2 * K], base[S + 2 * K : S + 3 * K], base[-1]
        with np.errstate(invalid="ignore"):
            red_kw = dict(budget=prob.budget - b_seg.sum(), seg_max=prob.seg_max - b_seg,
                          seg_min=np.maximum(prob.seg_min - b_seg, 0.0),
                          cap_n=prob.cap_n - b_cnt, cap_s=prob.cap_s - b_kspend)
        room = min(red_kw["budget"], red_kw["seg_max"].min(), red_kw["cap_n"].min(),
                   red_kw["cap_s"].min())
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
                and np.all(np.abs(red.mu_spend - mu_s) <= dmu_s * (1 + 1e-9)))
            _log.debug("reduced problem: lam=%s mu_count=%s mu_spend=%s inside=%s",
                       lam_f, red.mu_count, red.mu_spend, inside)
            if inside:
                choice = choice8.astype(np.int16)
                choice[act] = red.choice
                dropped = np.zeros(n, dtype=np.int8)
                dropped[act] = red.dropped
                return Allocation(
                    choice=choice, lam=red.lam, lam_segment=red.lam_segment,
                    mu_count=red.mu_count, mu_spend=red.mu_spend, phi={},
                    value=float(b_kval.sum()) + red.value, cost=float(b_seg.sum()) + red.cost,
                    n_treated=int(round(b_treated)) + red.n_treated,
                    count_by_offer=np.rint(b_cnt).astype(np.int64) + red.count_by_offer,
                    spend_by_offer=b_kspend + red.spend_by_offer,
                    value_by_offer=b_kval + red.value_by_offer,
                    spend_by_segment=b_seg + red.spend_by_segment, dropped=dropped,
                    kernel=red.kernel, rounds=red.rounds,
                    passes=passes + red.passes * len(act) / n, seconds=0.0,
                    upper_bound=red.upper_bound + float(b_kval.sum()), binding=red.binding,
                    screened=len(act) / n)
            lam, mu_c, mu_s = lam_f.copy(), red.mu_count.copy(), red.mu_spend.copy()
        elif len(act) == 0 and room >= 0:  # every row decided: the centre is a solution
            return None
        delta *= 2.0
    return None


@dataclass
class _State:
    lam: float
    lam_min: np.ndarray
    lam_max: np.ndarray
    mu_cnt: np.ndarray
    mu_spend: np.ndarray
    phi: list[np.ndarray]


def _vec(x: Sequence[float] | np.ndarray | None, m: int, default: float, what: str) -> np.ndarray:
    if x is None:
        return np.full(m, default, dtype=np.float64)
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (m,):
        raise InputError(f"{what} must have {m} entries; got shape {a.shape}")
    if np.isnan(a).any() or (a < 0).any():
        raise InputError(f"{what} must be >= 0 (inf = no limit)")
    return a.copy()


def _work_dtype(precision: str, size: int) -> type:
    if precision == "auto":
        return np.float64 if size <= _SMALL else np.float32
    if precision in ("float32", "float64"):
        return np.float32 if precision == "float32" else np.float64
    raise InputError(f"precision must be 'auto', 'float32' or 'float64', not {precision!r}")


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


def _sample_price(V: np.ndarray, C: np.ndarray, budget: float, p: Params,
                  m: int = 16384) -> float | None:
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


def _fair_cells(fairness: Sequence[FairnessGroups], n: int
                ) -> tuple[np.ndarray, int, list[np.ndarray], list[np.ndarray]]:
    """Combine fairness attributes into cells (cross product); returns codes (n,) in [0, G]."""
    if not fairness:
        return np.zeros(n, dtype=np.int32), 0, [], []
    cells = np.zeros(n, dtype=np.int64)
    excluded = np.zeros(n, dtype=bool)
    sizes = []
    for f in fairness:
        codes = np.asarray(f.codes)
        if codes.shape != (n,):
            raise InputError(f"fairness '{f.name}': codes must have shape ({n},)")
        if not 0 < f.min_ratio <= 1:
            raise InputError(f"fairness '{f.name}': min_ratio must be in (0, 1]")
        g = max(len(f.labels), 1)
        if (codes >= g).any():
            raise InputError(f"fairness '{f.name}': codes must be < {g}")
        excluded |= codes < 0
        cells = cells * g + np.maximum(codes, 0)
        sizes.append(g)
    G = int(np.prod(sizes))
    if G > 4096:
        raise InputError(f"fairness: {G} combined groups; at most 4096 are supported")
    cells[excluded] = G
    cell_groups = []
    idx = np.arange(G)
    for a in range(len(sizes)):
        stride = int(np.prod(sizes[a + 1 :])) if a + 1 < len(sizes) else 1
        cell_groups.append((idx // stride) % sizes[a])
    n_group = [np.bincount(np.asarray(f.codes)[np.asarray(f.codes) >= 0],
                           minlength=len(f.labels)).astype(np.float64) for f in fairness]
    return cells.astype(np.int32), G, cell_groups, n_group


def _group_counts(tot: np.ndarray, layout: Layout, groups: np.ndarray, n_labels: int) -> np.ndarray:
    return np.bincount(groups, weights=layout.cell_count(tot), minlength=n_labels)


def _fair_precheck(f: FairnessGroups, a: int, V: np.ndarray, ng: np.ndarray) -> None:
    """A group without any eligible customer forces an empty plan: report it as infeasible."""
    codes = np.asarray(f.codes)
    elig = ~np.isnan(V).all(axis=1)
    n_elig = np.bincount(codes[(codes >= 0) & elig], minlength=len(f.labels))
    bad = np.flatnonzero((ng > 0) & (n_elig == 0))
    if len(bad):
        raise InfeasibleError(
            f"fairness guardrail '{f.name}': no customer of group '{f.labels[bad[0]]}' is "
            f"eligible for any offer, so an offer-rate ratio >= {f.min_ratio:g} is only met by "
            "offering nobody", binding=f"fairness.{f.name}")


def _fair_band(ev: Evaluator, f: FairnessGroups, a: int, level: float, st: _State,
               params: Callable[..., Params], layout: Layout, cell_groups: list[np.ndarray],
               n_group: list[np.ndarray], v_guess: float, tot: np.ndarray) -> bool:
    """Set the bonus phi_g of every group g of ``f`` so that its offer count lies in
    [ceil(rho * level * n_g), floor(level * n_g)]: phi_g = 0 when it already does, else the
    smallest bonus (or penalty) that gets it there. Returns True when a bonus changed."""
    ng = n_group[a]
    cells_of = cell_groups[a]
    codes = np.asarray(f.codes)
    G = len(f.labels)
    cnt = _group_counts(tot, layout, cells_of, G)
    changed = False
    for g in np.flatnonzero(ng > 0):
        need = math.ceil(f.min_ratio * level * ng[g] - 1e-9)
        allow = math.floor(level * ng[g] + 1e-9)
        rows = np.flatnonzero(codes == g)

        def mk(t: float, g: int = g) -> Params:
            ph = [p.copy() for p in st.phi]
            ph[a][g] = t
            return params(phi=ph)

        def count(tot: np.ndarray, g: int = g) -> float:
            return _group_counts(tot, layout, cells_of, G)[g]

        tol = max(1.0, 2e-3 * ng[g])
        cur, phi = cnt[g], st.phi[a][g]
        if (phi == 0 and need - tol <= cur <= allow + tol) or (
                phi > 0 and abs(cur - need) <= tol) or (phi < 0 and abs(cur - allow) <= tol):
            continue  # within tolerance; the final repair makes the ratio exact
        if st.phi[a][g] == 0:
            c0 = cnt[g]
        else:
            _, tb = ev.split(rows, mk(0.0))
            c0 = count(tb.sum(axis=0))
        new = 0.0
        p0 = abs(st.phi[a][g])
        br = (p0 * 0.9, p0 * 1.1 + v_guess * 1e-3)
        if c0 < need:
            r = _search(ev, rows, mk, lambda t, need=need, count=count: count(t) >= need, *br)
            if r is None:  # not reachable: give an offer to everyone eligible in g
                _, tb = ev.split(rows, mk(1e15))
                top = count(tb.sum(axis=0))
                r = _search(ev, rows, mk, lambda t, top=top, count=count: count(t) >= top, *br)
            new = r.hi if r is not None else st.phi[a][g]
        elif c0 > allow:
            r = _search(ev, rows, lambda t, mk=mk: mk(-t),
                        lambda t, allow=allow, count=count: count(t) <= allow, *br)
            new = -r.hi if r is not None else st.phi[a][g]
        if abs(new - st.phi[a][g]) > 1e-12 * max(1.0, abs(new)):
            st.phi[a][g] = new
            changed = True
    return changed


def _golden_band(a: int, f: FairnessGroups, bands: list[float],
                 solve_rounds: Callable[[list[float]], tuple], layout: Layout,
                 cell_groups: list[np.ndarray], n_group: list[np.ndarray], tot0: np.ndarray,
                 n_eval: int = 14) -> float:
    """Golden-section search of the band level L of guardrail ``f`` (rates kept in [rho L, L])
    that maximises total value; L ranges from min_rate/rho to max_rate of the plan without it."""
    ng = n_group[a]
    pres = ng > 0
    G = len(f.labels)
    rate0 = (_group_counts(tot0, layout, cell_groups[a], G) / np.maximum(ng, 1))[pres]
    hi = float(rate0.max())
    lo = min(float(rate0.min()) / f.min_ratio, hi)
    if lo >= hi:
        return np.inf
    memo: dict[float, float] = {}

    def val(level: float) -> float:
        if level not in memo:
            b = list(bands)
            b[a] = level
            _, tot, _ = solve_rounds(b)
            r = (_group_counts(tot, layout, cell_groups[a], G) / np.maximum(ng, 1))[pres]
            slack = 2.0 / ng[pres].min()
            feasible = r.min() >= f.min_ratio * r.max() - slack
            memo[level] = float(layout.value(tot)) if feasible else -np.inf
        return memo[level]

    gr = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - gr * (hi - lo), lo + gr * (hi - lo)
    for _ in range(n_eval):
        if val(x1) >= val(x2):
            hi, x2 = x2, x1
            x1 = hi - gr * (hi - lo)
        else:
            lo, x1 = x1, x2
            x2 = lo + gr * (hi - lo)
    return max(memo, key=lambda k: memo[k])


def _net_score(value: np.ndarray, cost: np.ndarray, choice: np.ndarray, lam_i: np.ndarray,
               mu_cnt: np.ndarray, mu_spend: np.ndarray) -> np.ndarray:
    """Lagrangian score of each customer's chosen offer (0 for none), float64 (n,)."""
    out = np.zeros(len(choice))
    on = np.flatnonzero(choice >= 0)
    k = choice[on].astype(np.int64)
    v = value[on, k].astype(np.float64)
    c = cost[on, k].astype(np.float64)
    out[on] = v - (lam_i[on] + mu_spend[k]) * c - mu_cnt[k]
    return out


def _drop_until(choice: np.ndarray, dropped: np.ndarray, rows: np.ndarray, key: np.ndarray,
                amount: np.ndarray, excess: float, code: int) -> None:
    """Drop ``rows`` in increasing ``key`` until the removed ``amount`` covers ``excess``."""
    if excess <= 0 or len(rows) == 0:
        return
    order = np.argsort(key, kind="stable")
    cum = np.cumsum(amount[order])
    m = int(np.searchsorted(cum, excess * (1 + 1e-12), side="left")) + 1
    gone = rows[order[: min(m, len(rows))]]
    choice[gone] = NONE
    dropped[gone] = code


def _repair(choice: np.ndarray, dropped: np.ndarray, value: np.ndarray, cost: np.ndarray,
            net: np.ndarray, seg: np.ndarray, budget: float, seg_max: np.ndarray,
            cap_n: np.ndarray, cap_s: np.ndarray, fairness: Sequence[FairnessGroups],
            n_group: list[np.ndarray]) -> None:
    """Enforce the hard constraints exactly (float64) by dropping the least valuable customers."""
    def chosen() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        on = np.flatnonzero(choice >= 0)
        k = choice[on].astype(np.int64)
        return on, k, value[on, k].astype(np.float64), cost[on, k].astype(np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        for k in np.flatnonzero(np.isfinite(cap_n)):
            rows = np.flatnonzero(choice == k)
            _drop_until(choice, dropped, rows, net[rows], np.ones(len(rows)),
                        len(rows) - cap_n[k], DROP_CAP)
        for k in np.flatnonzero(np.isfinite(cap_s)):
            rows = np.flatnonzero(choice == k)
            c = cost[rows, k].astype(np.float64)
            _drop_until(choice, dropped, rows, value[rows, k] / c, c, c.sum() - cap_s[k], DROP_CAP)
        for s in np.flatnonzero(np.isfinite(seg_max)):
            on, k, v, c = chosen()
            sel = seg[on] == s
            _drop_until(choice, dropped, on[sel], v[sel] / c[sel], c[sel],
                        c[sel].sum() - seg_max[s], DROP_SEGMENT)
        if np.isfinite(budget):
            on, k, v, c = chosen()
            _drop_until(choice, dropped, on, v / c, c, c.sum() - budget, DROP_BUDGET)
    for _ in range(5):  # fairness: lower the groups above min_rate / rho (never raises any rate)
        ok = True
        for a, f in enumerate(fairness):
            codes = np.asarray(f.codes)
            ng = n_group[a]
            cnt = np.bincount(codes[(choice >= 0) & (codes >= 0)], minlength=len(f.labels))
            present = ng > 0
            if not present.any():
                continue
            rate = cnt[present] / ng[present]
            rmin = rate.min()
            if rate.max() == 0 or rmin >= f.min_ratio * rate.max() - 1e-12:
                continue
            ok = False
            for h in np.flatnonzero(present):
                allow = math.floor(rmin / f.min_ratio * ng[h] + 1e-9)
                if cnt[h] > allow:
                    rows = np.flatnonzero((codes == h) & (choice >= 0))
                    _drop_until(choice, dropped, rows, net[rows], np.ones(len(rows)),
                                cnt[h] - allow, DROP_FAIRNESS)
        if ok:
            break


def _fill(choice: np.ndarray, rows: np.ndarray, target: np.ndarray, value: np.ndarray,
          cost: np.ndarray, seg: np.ndarray, budget: float, seg_max: np.ndarray,
          cap_n: np.ndarray, cap_s: np.ndarray, fairness: Sequence[FairnessGroups],
          n_group: list[np.ndarray], dropped: np.ndarray, limit: int = 50_000) -> None:
    """Greedy: move undecided customers to their other bracket choice, best value/cost first,
    while every hard constraint still holds."""
    cur = choice[rows].astype(np.int64)
    tgt = target.astype(np.int64)
    keep = (cur != tgt) & (dropped[rows] == 0)
    rows, cur, tgt = rows[keep], cur[keep], tgt[keep]
    if len(rows) == 0:
        return

    def pick(k: np.ndarray, m: np.ndarray) -> np.ndarray:
        out = np.zeros(len(k))
        on = k >= 0
        out[on] = m[rows[on], k[on]]
        return out

    dv = pick(tgt, value) - pick(cur, value)
    dc = pick(tgt, cost) - pick(cur, cost)
    good = dv > 0
    rows, cur, tgt, dv, dc = rows[good], cur[good], tgt[good], dv[good], dc[good]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dc > 0, dv / dc, np.inf)
    order = np.lexsort((-dv, -ratio))
    S = len(seg_max)
    on = np.flatnonzero(choice >= 0)
    k_on = choice[on].astype(np.int64)
    c_on = cost[on, k_on].astype(np.float64)
    spend = float(c_on.sum())
    seg_spend = np.bincount(seg[on], weights=c_on, minlength=S)
    K = value.shape[1]
    count = np.bincount(k_on, minlength=K).astype(np.float64)
    kspend = np.bincount(k_on, weights=c_on, minlength=K)
    gcnt = [np.bincount(np.asarray(f.codes)[on][np.asarray(f.codes)[on] >= 0],
                        minlength=len(f.labels)).astype(np.float64) for f in fairness]
    if not fairness:  # vectorised: take the longest prefix that keeps every constraint
        o_rows, o_cur, o_tgt, o_dc = rows[order], cur[order], tgt[order], dc[order]
        ok = np.cumsum(o_dc) + spend <= budget * (1 + 1e-12)
        for s in np.flatnonzero(np.isfinite(seg_max)):
            ok &= np.cumsum(np.where(seg[o_rows] == s, o_dc, 0.0)) + seg_spend[s] <= (
                seg_max[s] * (1 + 1e-12))
        for k in np.flatnonzero(np.isfinite(cap_n) | np.isfinite(cap_s)):
            into, out_ = o_tgt == k, o_cur == k
            cb = np.where(into, cost[o_rows, k], 0.0) - np.where(out_, cost[o_rows, k], 0.0)
            ok &= np.cumsum(into.astype(float) - out_) + count[k] <= cap_n[k]
            ok &= np.cumsum(cb) + kspend[k] <= cap_s[k] * (1 + 1e-12)
        m = len(ok) if ok.all() else int(np.argmin(ok))
        take = o_rows[:m]
        choice[take] = o_tgt[:m]
        if m:
            kk = o_cur[:m]
            spend += float(o_dc[:m].sum())
            seg_spend += np.bincount(seg[take], weights=o_dc[:m], minlength=S)
            for arr_k, w in ((kk, -1.0), (o_tgt[:m], 1.0)):
                sel = arr_k >= 0
                count += w * np.bincount(arr_k[sel], minlength=K)
                kspend += w * np.bincount(arr_k[sel], weights=cost[take[sel], arr_k[sel]],
                                          minlength=K)
        order = order[m:]
    for j in order[:limit]:
        i, a, b, d = int(rows[j]), int(cur[j]), int(tgt[j]), float(dc[j])
        if spend + d > budget * (1 + 1e-12):
            continue
        s = int(seg[i])
        if seg_spend[s] + d > seg_max[s] * (1 + 1e-12):
            continue
        cb = float(cost[i, b]) if b >= 0 else 0.0
        ca = float(cost[i, a]) if a >= 0 else 0.0
        if b >= 0 and (count[b] + 1 > cap_n[b] or kspend[b] + cb > cap_s[b] * (1 + 1e-12)):
            continue
        if (a < 0) != (b < 0) and fairness:  # treatment status changes: check the rate ratios
            step = 1.0 if b >= 0 else -1.0
            okf = True
            for fa, f in enumerate(fairness):
                g = int(f.codes[i])
                if g < 0:
                    continue
                ng = n_group[fa]
                cnt = gcnt[fa].copy()
                cnt[g] += step
                pres = ng > 0
                r = cnt[pres] / ng[pres]
                if r.max() > 0 and r.min() < f.min_ratio * r.max() - 1e-12:
                    okf = False
                    break
            if not okf:
                continue
            for fa, f in enumerate(fairness):
                g = int(f.codes[i])
                if g >= 0:
                    gcnt[fa][g] += step
        spend += d
        seg_spend[s] += d
        if a >= 0:
            count[a] -= 1
            kspend[a] -= ca
        if b >= 0:
            count[b] += 1
            kspend[b] += cb
        choice[i] = b


def _summarise(choice: np.ndarray, value: np.ndarray, cost: np.ndarray, seg: np.ndarray,
               S: int, K: int) -> dict:
    on = np.flatnonzero(choice >= 0)
    k = choice[on].astype(np.int64)
    v = value[on, k].astype(np.float64)
    c = cost[on, k].astype(np.float64)
    return {
        "value": float(v.sum()), "cost": float(c.sum()), "n_treated": int(len(on)),
        "count": np.bincount(k, minlength=K).astype(np.int64),
        "spend": np.bincount(k, weights=c, minlength=K),
        "value_k": np.bincount(k, weights=v, minlength=K),
        "seg_spend": np.bincount(seg[on], weights=c, minlength=S),
    }


def _binding(out: dict, budget: float, seg_max: np.ndarray, seg_min: np.ndarray,
             cap_n: np.ndarray, cap_s: np.ndarray, snames: list[str], onames: list[str],
             st: _State) -> list[str]:
    b = []
    if np.isfinite(budget) and st.lam > 0:
        b.append("budget")
    for s in range(len(seg_max)):
        if np.isfinite(st.lam_min[s]) and st.lam_min[s] > st.lam:
            b.append(f"segment_budget.{snames[s]}")
        if np.isfinite(st.lam_max[s]) and st.lam_max[s] < st.lam:
            b.append(f"segment_budget.{snames[s]}")
    for k in range(len(cap_n)):
        if st.mu_cnt[k] > 0 or st.mu_spend[k] > 0:
            b.append(f"caps.{onames[k]}")
    return b


def _rates(choice: np.ndarray, f: FairnessGroups, ng: np.ndarray) -> np.ndarray:
    codes = np.asarray(f.codes)
    cnt = np.bincount(codes[(choice >= 0) & (codes >= 0)], minlength=len(f.labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ng > 0, cnt / np.maximum(ng, 1), np.nan)


def _dual_bound(value: np.ndarray, cost: np.ndarray, mask: np.ndarray | None, lam: float,
                budget: float) -> float:
    """Lagrangian bound  sum_i max(0, max_k V - lam C) + lam B  >= optimum (budget only)."""
    total = 0.0
    n = value.shape[0]
    for a in range(0, n, 1 << 18):
        v = value[a : a + (1 << 18)].astype(np.float64)
        c = cost[a : a + (1 << 18)].astype(np.float64)
        s = v - lam * c
        if mask is not None:
            s = np.where(mask[a : a + (1 << 18)], s, -np.inf)
        total += float(np.maximum(s.max(axis=1), 0.0).sum())
    return total + lam * budget


# -- reference solvers -------------------------------------------------------------------------
@dataclass(frozen=True)
class LPResult:
    """Optimum of the LP relaxation (or of the integer program when ``integer``)."""

    value: float
    x: np.ndarray  # (n, K) fractional assignment
    integer: bool
    status: str


def solve_lp(value: np.ndarray, cost: np.ndarray, budget: float, mask: np.ndarray | None = None,
             *, segment: np.ndarray | None = None, segment_max_spend: np.ndarray | None = None,
             segment_min_spend: np.ndarray | None = None, max_count: np.ndarray | None = None,
             max_spend: np.ndarray | None = None, fairness: Sequence[FairnessGroups] = (),
             integer: bool = False, time_limit: float = 120.0, method: str = "milp") -> LPResult:
    """Exact optimum of the same problem with HiGHS: LP relaxation, or the MILP when ``integer``.

    Meant for small instances (tests, optimality gaps): builds a sparse model with n*K variables.
    Fairness is linearised as ``r_g >= rho * r_h`` for every ordered pair of groups.
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
    smax = _vec(segment_max_spend, len(segment_max_spend) if segment_max_spend is not None else S,
                np.inf, "segment_max_spend")
    smin = _vec(segment_min_spend, len(segment_min_spend) if segment_min_spend is not None else S,
                0.0, "segment_min_spend")
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
        member = [(codes[ii] == g).astype(float) / ng[g] if ng[g] > 0 else None for g in range(G)]
        for g in range(G):
            for h in range(G):
                if g != h and member[g] is not None and member[h] is not None:
                    add(sparse.csr_matrix((member[g] - f.min_ratio * member[h])[None, :]), 0.0,
                        np.inf)
    A = sparse.vstack(rows).tocsr()
    lb_all, ub_all = np.concatenate(lbs), np.concatenate(ubs)
    if not integer and method != "milp":
        from scipy.optimize import linprog

        up, lo = np.isfinite(ub_all), np.isfinite(lb_all)
        A_ub = sparse.vstack([A[up], -A[lo]]).tocsr()
        b_ub = np.concatenate([ub_all[up], -lb_all[lo]])
        res = linprog(-v, A_ub=A_ub, b_ub=b_ub, bounds=(0, 1), method=method,
                      options={"time_limit": time_limit, "presolve": True})
    else:
        res = milp(-v, constraints=LinearConstraint(A, lb_all, ub_all),
                   integrality=np.ones(m) if integer else np.zeros(m), bounds=Bounds(0, 1),
                   options={"time_limit": time_limit, "presolve": True})
    if res.x is None:
        raise InfeasibleError(f"LP reference: {res.message}", binding=None)
    x = np.zeros((n, K))
    x[ii, kk] = res.x
    return LPResult(float(v @ res.x), x, integer, str(res.message))


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


def bare_bisection(value: np.ndarray, cost: np.ndarray, budget: float, n_iter: int = 40,
                   threads: int = 2) -> float:
    """Baseline for benchmarks: plain compiled bisection of the budget price, ``n_iter`` full
    passes, no mask or side constraints. Returns the price. Needs numba."""
    import numba

    k = __import__("offerwise.policy._kernels", fromlist=["_numba_kernels"])._numba_kernels()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return float(k["bare_bisection"](value, cost, float(budget), _ratio_guess(value, cost), n_iter))


def kernel_name(kernel: str = "auto") -> str:
    """Which evaluation kernel ``kernel='auto'`` resolves to on this installation."""
    if kernel == "auto":
        return "numba" if numba_available() else "numpy"
    return kernel

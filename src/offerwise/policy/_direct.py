"""The direct method of :func:`offerwise.policy.solver.allocate`: one validated problem, solved by
bisection on the budget price with the side constraints' prices, fairness search and repair."""

from __future__ import annotations

import logging
import math
import time
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
from offerwise.policy._kernels import Evaluator, Layout, Params
from offerwise.policy._repair import _binding, _dual_bound, _fill, _net_score, _repair, _summarise
from offerwise.policy._search import (
    _ratio_guess,
    _sample_price,
    _Search,
    _search,
    _State,
    _value_guess,
)
from offerwise.policy._validate import _work_dtype
from offerwise.policy.allocation import Allocation, FairnessGroups

__all__: list[str] = []

_log = logging.getLogger("offerwise.policy.solver")


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

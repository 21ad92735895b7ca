"""Final steps of the direct solver: exact repair of the hard constraints, greedy fill of what is
left, totals, the list of binding constraints and the Lagrangian bound."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from offerwise.policy._search import _State
from offerwise.policy.allocation import (
    DROP_BUDGET,
    DROP_CAP,
    DROP_FAIRNESS,
    DROP_SEGMENT,
    NONE,
    FairnessGroups,
)


def _net_score(
    value: np.ndarray,
    cost: np.ndarray,
    choice: np.ndarray,
    lam_i: np.ndarray,
    mu_cnt: np.ndarray,
    mu_spend: np.ndarray,
) -> np.ndarray:
    """Lagrangian score of each customer's chosen offer (0 for none), float64 (n,)."""
    out = np.zeros(len(choice))
    on = np.flatnonzero(choice >= 0)
    k = choice[on].astype(np.int64)
    v = value[on, k].astype(np.float64)
    c = cost[on, k].astype(np.float64)
    out[on] = v - (lam_i[on] + mu_spend[k]) * c - mu_cnt[k]
    return out


def _drop_until(
    choice: np.ndarray,
    dropped: np.ndarray,
    rows: np.ndarray,
    key: np.ndarray,
    amount: np.ndarray,
    excess: float,
    code: int,
) -> None:
    """Drop ``rows`` in increasing ``key`` until the removed ``amount`` covers ``excess``."""
    if excess <= 0 or len(rows) == 0:
        return
    order = np.argsort(key, kind="stable")
    cum = np.cumsum(amount[order])
    m = int(np.searchsorted(cum, excess * (1 + 1e-12), side="left")) + 1
    gone = rows[order[: min(m, len(rows))]]
    choice[gone] = NONE
    dropped[gone] = code


def _repair(
    choice: np.ndarray,
    dropped: np.ndarray,
    value: np.ndarray,
    cost: np.ndarray,
    net: np.ndarray,
    seg: np.ndarray,
    budget: float,
    seg_max: np.ndarray,
    cap_n: np.ndarray,
    cap_s: np.ndarray,
    fairness: Sequence[FairnessGroups],
    n_group: list[np.ndarray],
) -> None:
    """Enforce the hard constraints exactly (float64) by dropping the least valuable customers."""

    def chosen() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        on = np.flatnonzero(choice >= 0)
        k = choice[on].astype(np.int64)
        return on, k, value[on, k].astype(np.float64), cost[on, k].astype(np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        for k in np.flatnonzero(np.isfinite(cap_n)):
            rows = np.flatnonzero(choice == k)
            _drop_until(
                choice, dropped, rows, net[rows], np.ones(len(rows)), len(rows) - cap_n[k], DROP_CAP
            )
        for k in np.flatnonzero(np.isfinite(cap_s)):
            rows = np.flatnonzero(choice == k)
            c = cost[rows, k].astype(np.float64)
            _drop_until(choice, dropped, rows, value[rows, k] / c, c, c.sum() - cap_s[k], DROP_CAP)
        for s in np.flatnonzero(np.isfinite(seg_max)):
            on, _, v, c = chosen()
            sel = seg[on] == s
            _drop_until(
                choice,
                dropped,
                on[sel],
                v[sel] / c[sel],
                c[sel],
                c[sel].sum() - seg_max[s],
                DROP_SEGMENT,
            )
        if np.isfinite(budget):
            on, _, v, c = chosen()
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
                    _drop_until(
                        choice,
                        dropped,
                        rows,
                        net[rows],
                        np.ones(len(rows)),
                        cnt[h] - allow,
                        DROP_FAIRNESS,
                    )
        if ok:
            break


def _fill(
    choice: np.ndarray,
    rows: np.ndarray,
    target: np.ndarray,
    value: np.ndarray,
    cost: np.ndarray,
    seg: np.ndarray,
    budget: float,
    seg_max: np.ndarray,
    cap_n: np.ndarray,
    cap_s: np.ndarray,
    fairness: Sequence[FairnessGroups],
    n_group: list[np.ndarray],
    dropped: np.ndarray,
    limit: int = 50_000,
) -> None:
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
    kspend: np.ndarray = np.bincount(k_on, weights=c_on, minlength=K)
    gcnt = [
        np.bincount(
            np.asarray(f.codes)[on][np.asarray(f.codes)[on] >= 0], minlength=len(f.labels)
        ).astype(np.float64)
        for f in fairness
    ]
    if not fairness:  # vectorised: take the longest prefix that keeps every constraint
        o_rows, o_cur, o_tgt, o_dc = rows[order], cur[order], tgt[order], dc[order]
        ok = np.cumsum(o_dc) + spend <= budget * (1 + 1e-12)
        for seg_id in np.flatnonzero(np.isfinite(seg_max)):
            ok &= np.cumsum(np.where(seg[o_rows] == seg_id, o_dc, 0.0)) + seg_spend[seg_id] <= (
                seg_max[seg_id] * (1 + 1e-12)
            )
        for k in np.flatnonzero(np.isfinite(cap_n) | np.isfinite(cap_s)):
            into, out_ = o_tgt == k, o_cur == k
            dk = np.where(into, cost[o_rows, k], 0.0) - np.where(out_, cost[o_rows, k], 0.0)
            ok &= np.cumsum(into.astype(float) - out_) + count[k] <= cap_n[k]
            ok &= np.cumsum(dk) + kspend[k] <= cap_s[k] * (1 + 1e-12)
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
                kspend += w * np.bincount(
                    arr_k[sel], weights=cost[take[sel], arr_k[sel]], minlength=K
                )
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


def _summarise(
    choice: np.ndarray, value: np.ndarray, cost: np.ndarray, seg: np.ndarray, S: int, K: int
) -> dict:
    on = np.flatnonzero(choice >= 0)
    k = choice[on].astype(np.int64)
    v = value[on, k].astype(np.float64)
    c = cost[on, k].astype(np.float64)
    return {
        "value": float(v.sum()),
        "cost": float(c.sum()),
        "n_treated": int(len(on)),
        "count": np.bincount(k, minlength=K).astype(np.int64),
        "spend": np.bincount(k, weights=c, minlength=K),
        "value_k": np.bincount(k, weights=v, minlength=K),
        "seg_spend": np.bincount(seg[on], weights=c, minlength=S),
    }


def _binding(
    out: dict,
    budget: float,
    seg_max: np.ndarray,
    seg_min: np.ndarray,
    cap_n: np.ndarray,
    cap_s: np.ndarray,
    snames: list[str],
    onames: list[str],
    st: _State,
) -> list[str]:
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


def _dual_bound(
    value: np.ndarray, cost: np.ndarray, mask: np.ndarray | None, lam: float, budget: float
) -> float:
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

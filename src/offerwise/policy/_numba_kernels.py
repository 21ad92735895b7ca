"""Compiled (numba) kernels of the allocation solver; imported only when numba is installed.

Module-level functions with ``cache=True`` so that the machine code is compiled once and loaded
from ``__pycache__`` by later processes (functions defined inside another function are not
reliably cached by numba: every process would pay seconds of compilation).
See :mod:`offerwise.policy._kernels` for the meaning of the evaluation kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from offerwise._numba import set_threads as set_threads  # the callers' entry point


@njit(inline="always", cache=True)
def _best(V, C, i, lam, mu_cnt, mu_spend, bonus):  # noqa: ANN001, ANN202
    b = 0.0
    bk = -1
    for k in range(V.shape[1]):
        v = V[i, k]
        if v != v:
            continue
        s = v - (lam + mu_spend[k]) * C[i, k] - mu_cnt[k] + bonus
        if s > b:
            b = s
            bk = k
    return bk


@njit(inline="always", cache=True)
def _add(acc, V, C, i, bk, seg, grp, S, K):  # noqa: ANN001, ANN202
    c = C[i, bk]
    acc[seg[i]] += c
    acc[S + bk] += 1.0
    acc[S + K + bk] += c
    acc[S + 2 * K] += V[i, bk]
    acc[S + 2 * K + 1] += 1.0
    acc[S + 2 * K + 2 + grp[i]] += 1.0


@njit(parallel=True, cache=True)
def eval_split(V, C, seg, grp, rows, lam_seg, mu_cnt, mu_spend, phi, ref_a, ref_b, out, T):  # noqa: ANN001, ANN202
    m = rows.shape[0] if rows.shape[0] > 0 else V.shape[0]
    use_rows = rows.shape[0] > 0
    use_ref = ref_a.shape[0] > 0
    S = lam_seg.shape[0]
    K = V.shape[1]
    nch = max(1, min(256, m // 8192))
    acc = np.zeros((nch, 3, T))
    for ch in prange(nch):
        lo = ch * m // nch
        hi = (ch + 1) * m // nch
        for j in range(lo, hi):
            i = rows[j] if use_rows else j
            bk = _best(V, C, i, lam_seg[seg[i]], mu_cnt, mu_spend, phi[grp[i]])
            out[j] = bk
            b = 2
            if use_ref:
                if bk == ref_a[j]:
                    b = 0
                elif bk == ref_b[j]:
                    b = 1
            if bk >= 0:
                _add(acc[ch, b], V, C, i, bk, seg, grp, S, K)
    return acc.sum(axis=0)


@njit(parallel=True, cache=True)
def eval_pair(V, C, seg, grp, rows, lam2, mu_cnt2, mu_spend2, phi2, out_lo, out_hi, T):  # noqa: ANN001, ANN202
    m = rows.shape[0] if rows.shape[0] > 0 else V.shape[0]
    use_rows = rows.shape[0] > 0
    S = lam2.shape[1]
    K = V.shape[1]
    nch = max(1, min(256, m // 8192))
    acc = np.zeros((nch, 3, T))
    for ch in prange(nch):
        lo = ch * m // nch
        hi = (ch + 1) * m // nch
        for j in range(lo, hi):
            i = rows[j] if use_rows else j
            s = seg[i]
            g = grp[i]
            a = _best(V, C, i, lam2[0, s], mu_cnt2[0], mu_spend2[0], phi2[0, g])
            z = _best(V, C, i, lam2[1, s], mu_cnt2[1], mu_spend2[1], phi2[1, g])
            out_lo[j] = a
            out_hi[j] = z
            if a == z:
                if a >= 0:
                    _add(acc[ch, 0], V, C, i, a, seg, grp, S, K)
            else:
                if a >= 0:
                    _add(acc[ch, 1], V, C, i, a, seg, grp, S, K)
                if z >= 0:
                    _add(acc[ch, 2], V, C, i, z, seg, grp, S, K)
    return acc.sum(axis=0)


# Serial twins of the two kernels above, for few rows: a parallel region costs a thread
# wake-up (milliseconds on a busy machine), far more than evaluating a few thousand rows.
@njit(cache=True)
def eval_split_serial(V, C, seg, grp, rows, lam_seg, mu_cnt, mu_spend, phi, ref_a, ref_b, out, T):  # noqa: ANN001, ANN202
    m = rows.shape[0] if rows.shape[0] > 0 else V.shape[0]
    use_rows = rows.shape[0] > 0
    use_ref = ref_a.shape[0] > 0
    S = lam_seg.shape[0]
    K = V.shape[1]
    nch = 1
    acc = np.zeros((nch, 3, T))
    for ch in range(nch):
        lo = ch * m // nch
        hi = (ch + 1) * m // nch
        for j in range(lo, hi):
            i = rows[j] if use_rows else j
            bk = _best(V, C, i, lam_seg[seg[i]], mu_cnt, mu_spend, phi[grp[i]])
            out[j] = bk
            b = 2
            if use_ref:
                if bk == ref_a[j]:
                    b = 0
                elif bk == ref_b[j]:
                    b = 1
            if bk >= 0:
                _add(acc[ch, b], V, C, i, bk, seg, grp, S, K)
    return acc.sum(axis=0)


@njit(cache=True)
def eval_pair_serial(V, C, seg, grp, rows, lam2, mu_cnt2, mu_spend2, phi2, out_lo, out_hi, T):  # noqa: ANN001, ANN202
    m = rows.shape[0] if rows.shape[0] > 0 else V.shape[0]
    use_rows = rows.shape[0] > 0
    S = lam2.shape[1]
    K = V.shape[1]
    nch = 1
    acc = np.zeros((nch, 3, T))
    for ch in range(nch):
        lo = ch * m // nch
        hi = (ch + 1) * m // nch
        for j in range(lo, hi):
            i = rows[j] if use_rows else j
            s = seg[i]
            g = grp[i]
            a = _best(V, C, i, lam2[0, s], mu_cnt2[0], mu_spend2[0], phi2[0, g])
            z = _best(V, C, i, lam2[1, s], mu_cnt2[1], mu_spend2[1], phi2[1, g])
            out_lo[j] = a
            out_hi[j] = z
            if a == z:
                if a >= 0:
                    _add(acc[ch, 0], V, C, i, a, seg, grp, S, K)
            else:
                if a >= 0:
                    _add(acc[ch, 1], V, C, i, a, seg, grp, S, K)
                if z >= 0:
                    _add(acc[ch, 2], V, C, i, z, seg, grp, S, K)
    return acc.sum(axis=0)


@njit(parallel=True, cache=True)
def check(V, C, M, use_mask):  # noqa: ANN001, ANN202
    """Bad entries per offer among the allowed ones (M True, or all when not use_mask), one pass.

    Returns (3, K) int64 counts: value not finite, cost not finite, cost negative.
    """
    n = V.shape[0]
    K = V.shape[1]
    nch = max(1, min(256, n // 16384))
    bad = np.zeros((nch, 3, K), dtype=np.int64)
    for ch in prange(nch):
        a = ch * n // nch
        e = (ch + 1) * n // nch
        for i in range(a, e):
            for k in range(K):
                if use_mask and not M[i, k]:
                    continue
                v = V[i, k]
                c = C[i, k]
                if not np.isfinite(v):
                    bad[ch, 0, k] += 1
                if not np.isfinite(c):
                    bad[ch, 1, k] += 1
                elif c < 0:
                    bad[ch, 2, k] += 1
    return bad.sum(axis=0)


@njit(parallel=True, cache=True)
def screen(V, C, M, use_mask, seg, lam, dlam, mu_cnt, dmu_cnt, mu_spend, dmu_spend, choice, active):  # noqa: ANN001, ANN202
    """Choice of every row at the centre multipliers and whether it stays the same over the box.

    Row i scores offer k as ``V - (lam[s] + mu_spend[k]) C - mu_cnt[k]`` (s = seg[i]) and takes the
    best positive one (ties: lowest k), else none (-1). The box lets lam[s] move by +-dlam[s],
    mu_spend[k] by +-dmu_spend[k], mu_cnt[k] by +-dmu_cnt[k]; a row is *decided* when its choice
    is strictly best over the whole box (score differences are linear in the multipliers, so the
    worst case is the centre difference minus the sum of |coefficient| x half-width).
    Writes choice (n,) int8 and active (n,) bool (= not decided); returns totals of the decided
    rows, float64 (S + 3K + 1,): spend per segment, count / spend / value per offer, treated.
    """
    n = V.shape[0]
    K = V.shape[1]
    S = lam.shape[0]
    T = S + 3 * K + 1
    nch = max(1, min(256, n // 16384))
    acc = np.zeros((nch, T))
    for ch in prange(nch):
        a = ch * n // nch
        e = (ch + 1) * n // nch
        sc = np.empty(K)
        ok = np.empty(K, dtype=np.bool_)
        for i in range(a, e):
            s = seg[i]
            lm = lam[s]
            dl = dlam[s]
            b = 0.0
            bk = -1
            for k in range(K):
                allowed = V[i, k] == V[i, k]
                if use_mask:
                    allowed = allowed and M[i, k]
                ok[k] = allowed
                if allowed:
                    x = V[i, k] - (lm + mu_spend[k]) * C[i, k] - mu_cnt[k]
                    sc[k] = x
                    if x > b:
                        b = x
                        bk = k
            choice[i] = bk
            sure = True
            if bk >= 0:
                cb = C[i, bk]
                if b - (dl + dmu_spend[bk]) * cb - dmu_cnt[bk] <= 0.0:
                    sure = False
                else:
                    for k in range(K):
                        if k == bk or not ok[k]:
                            continue
                        ck = C[i, k]
                        r = (
                            dl * abs(cb - ck)
                            + dmu_spend[bk] * cb
                            + dmu_spend[k] * ck
                            + dmu_cnt[bk]
                            + dmu_cnt[k]
                        )
                        if b - sc[k] - r <= 0.0:
                            sure = False
                            break
            else:
                for k in range(K):
                    if ok[k] and sc[k] + (dl + dmu_spend[k]) * C[i, k] + dmu_cnt[k] >= 0.0:
                        sure = False
                        break
            active[i] = not sure
            if sure and bk >= 0:
                c = C[i, bk]
                acc[ch, s] += c
                acc[ch, S + bk] += 1.0
                acc[ch, S + K + bk] += c
                acc[ch, S + 2 * K + bk] += V[i, bk]
                acc[ch, S + 3 * K] += 1.0
    return acc.sum(axis=0)

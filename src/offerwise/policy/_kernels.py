"""Evaluation kernels of the allocation solver: one pass over the (n, K) score matrices.

Given multipliers, every evaluated row ``i`` takes

    k*(i) = argmax_k  V[i,k] - (lam_seg[seg[i]] + mu_spend[k]) * C[i,k] - mu_cnt[k] + phi[grp[i]]

over the offers whose value is not NaN (NaN marks an ineligible offer), and takes no offer
(``-1``) unless that score is > 0. Ties go to the lowest offer index.

Each kernel returns the chosen offer per evaluated row and *totals* of the choices, a float64
vector laid out as :class:`Layout` describes (spend per segment, count and spend per offer, value,
number treated, number treated per fairness cell). Totals are split into buckets so that the
bisection can retire rows whose choice no longer changes (see ``solver._search``).

Two implementations with identical results: a compiled one (numba, ``parallel=True``, chunked
reductions, compiled lazily on first use and cached on disk) and a vectorised numpy fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_NUMBA: dict[str, Any] = {}
_EMPTY_ROWS = np.empty(0, dtype=np.int64)
_EMPTY_REF = np.empty(0, dtype=np.int8)


@dataclass(frozen=True, slots=True)
class Layout:
    """Positions inside a totals vector: S segments, K offers, G fairness cells."""

    S: int
    K: int
    G: int

    @property
    def size(self) -> int:
        return self.S + 2 * self.K + 2 + self.G + 1  # last cell: rows not counted

    def seg_spend(self, t: np.ndarray) -> np.ndarray:
        return t[..., : self.S]

    def count(self, t: np.ndarray) -> np.ndarray:
        return t[..., self.S : self.S + self.K]

    def offer_spend(self, t: np.ndarray) -> np.ndarray:
        return t[..., self.S + self.K : self.S + 2 * self.K]

    def value(self, t: np.ndarray) -> np.ndarray:
        return t[..., self.S + 2 * self.K]

    def treated(self, t: np.ndarray) -> np.ndarray:
        return t[..., self.S + 2 * self.K + 1]

    def cell_count(self, t: np.ndarray) -> np.ndarray:
        return t[..., self.S + 2 * self.K + 2 : self.S + 2 * self.K + 2 + self.G]

    def spend(self, t: np.ndarray) -> np.ndarray:
        return self.seg_spend(t).sum(axis=-1)


@dataclass(frozen=True, slots=True)
class Params:
    """One point in multiplier space: per-segment price, per-offer prices, per-cell bonus."""

    lam_seg: np.ndarray  # (S,) price of one currency unit of cost, per segment
    mu_cnt: np.ndarray  # (K,) price of one more customer on offer k (count caps)
    mu_spend: np.ndarray  # (K,) extra price per currency unit of cost of offer k (spend caps)
    phi: np.ndarray  # (G+1,) bonus for treating a customer of fairness cell g; last = excluded


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _numba_kernels() -> dict[str, Any]:
    """Compile (once per process, cached on disk) and return the numba kernels."""
    if _NUMBA:
        return _NUMBA
    from offerwise.errors import require

    numba = require("numba", "fast")
    njit, prange = numba.njit, numba.prange

    @njit(inline="always", cache=True)
    def best(V, C, i, lam, mu_cnt, mu_spend, bonus):  # noqa: ANN001, ANN202
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
    def add(acc, V, C, i, bk, seg, grp, S, K):  # noqa: ANN001, ANN202
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
                bk = best(V, C, i, lam_seg[seg[i]], mu_cnt, mu_spend, phi[grp[i]])
                out[j] = bk
                b = 2
                if use_ref:
                    if bk == ref_a[j]:
                        b = 0
                    elif bk == ref_b[j]:
                        b = 1
                if bk >= 0:
                    add(acc[ch, b], V, C, i, bk, seg, grp, S, K)
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
                a = best(V, C, i, lam2[0, s], mu_cnt2[0], mu_spend2[0], phi2[0, g])
                z = best(V, C, i, lam2[1, s], mu_cnt2[1], mu_spend2[1], phi2[1, g])
                out_lo[j] = a
                out_hi[j] = z
                if a == z:
                    if a >= 0:
                        add(acc[ch, 0], V, C, i, a, seg, grp, S, K)
                else:
                    if a >= 0:
                        add(acc[ch, 1], V, C, i, a, seg, grp, S, K)
                    if z >= 0:
                        add(acc[ch, 2], V, C, i, z, seg, grp, S, K)
        return acc.sum(axis=0)

    @njit(parallel=True, cache=True)
    def bare_bisection(V, C, budget, lam_hi, n_iter):  # noqa: ANN001, ANN202
        """Plain budget bisection: n_iter full passes, no side constraints (benchmark baseline)."""
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

    _NUMBA.update(eval_split=eval_split, eval_pair=eval_pair, bare_bisection=bare_bisection)
    return _NUMBA


class Evaluator:
    """Evaluate choices of many rows at given multipliers, with numba or numpy.

    ``V`` and ``C`` are C-contiguous (n, K) arrays of one float dtype (NaN in ``V`` = ineligible);
    ``seg`` (n,) segment codes in [0, S); ``grp`` (n,) fairness cell codes in [0, G], where G
    means "not counted" (e.g. holdout).
    """

    def __init__(self, V: np.ndarray, C: np.ndarray, seg: np.ndarray, grp: np.ndarray,
                 layout: Layout, kernel: str = "auto", threads: int | None = None):
        if kernel == "auto":
            kernel = "numba" if numba_available() else "numpy"
        if kernel not in ("numba", "numpy"):
            raise ValueError(f"kernel must be 'auto', 'numba' or 'numpy', not {kernel!r}")
        self.V, self.C, self.seg, self.grp, self.layout = V, C, seg, grp, layout
        self.kernel = kernel
        self.passes = 0.0  # work done, in units of full passes over the n rows
        if kernel == "numba":
            import numba

            if threads:
                numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
            self._k = _numba_kernels()

    @property
    def n(self) -> int:
        return self.V.shape[0]

    def _phi(self, p: Params) -> np.ndarray:
        return np.asarray(p.phi, dtype=np.float64)

    def split(self, rows: np.ndarray | None, p: Params, ref_a: np.ndarray | None = None,
              ref_b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Choices (m,) int8 at ``p`` and totals (3, T) bucketed by equality to ref_a / ref_b / other.

        Without refs, every row goes to bucket 2. ``rows=None`` evaluates all rows.
        """
        m = self.n if rows is None else len(rows)
        self.passes += m / max(self.n, 1)
        out = np.empty(m, dtype=np.int8)
        T = self.layout.size
        if self.kernel == "numba":
            tot = self._k["eval_split"](
                self.V, self.C, self.seg, self.grp,
                _EMPTY_ROWS if rows is None else rows,
                p.lam_seg, p.mu_cnt, p.mu_spend, self._phi(p),
                _EMPTY_REF if ref_a is None else ref_a, _EMPTY_REF if ref_b is None else ref_b,
                out, T,
            )
            if rows is not None and m == 0:
                tot = np.zeros((3, T))
            return out, tot
        tot = np.zeros((3, T))
        for a in range(0, m, _CHUNK):
            e = min(m, a + _CHUNK)
            idx = slice(a, e) if rows is None else rows[a:e]
            ch = self._choose(idx, p)
            out[a:e] = ch
            b = np.full(e - a, 2, dtype=np.int8)
            if ref_a is not None:
                b[ch == ref_b[a:e]] = 1
                b[ch == ref_a[a:e]] = 0
            for bucket in range(3):
                sel = b == bucket
                if sel.any():
                    tot[bucket] += self._totals(idx, ch, sel)
        return out, tot

    def pair(self, rows: np.ndarray | None, lo: Params, hi: Params
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Choices at ``lo`` and ``hi`` in one pass; totals (3, T): same choice / lo-only / hi-only."""
        m = self.n if rows is None else len(rows)
        self.passes += m / max(self.n, 1)
        out_lo = np.empty(m, dtype=np.int8)
        out_hi = np.empty(m, dtype=np.int8)
        T = self.layout.size
        if self.kernel == "numba":
            tot = self._k["eval_pair"](
                self.V, self.C, self.seg, self.grp, _EMPTY_ROWS if rows is None else rows,
                np.stack([lo.lam_seg, hi.lam_seg]), np.stack([lo.mu_cnt, hi.mu_cnt]),
                np.stack([lo.mu_spend, hi.mu_spend]), np.stack([self._phi(lo), self._phi(hi)]),
                out_lo, out_hi, T,
            )
            if rows is not None and m == 0:
                tot = np.zeros((3, T))
            return out_lo, out_hi, tot
        tot = np.zeros((3, T))
        for a in range(0, m, _CHUNK):
            e = min(m, a + _CHUNK)
            idx = slice(a, e) if rows is None else rows[a:e]
            cl = self._choose(idx, lo)
            chh = self._choose(idx, hi)
            out_lo[a:e], out_hi[a:e] = cl, chh
            same = cl == chh
            tot[0] += self._totals(idx, cl, same)
            tot[1] += self._totals(idx, cl, ~same)
            tot[2] += self._totals(idx, chh, ~same)
        return out_lo, out_hi, tot

    # -- numpy fallback -------------------------------------------------------------------
    def _choose(self, idx: slice | np.ndarray, p: Params) -> np.ndarray:
        V = self.V[idx].astype(np.float64)  # same arithmetic as the compiled kernel
        C = self.C[idx].astype(np.float64)
        lam = p.lam_seg[self.seg[idx]]
        score = V - (lam[:, None] + p.mu_spend) * C - p.mu_cnt
        score += self._phi(p)[self.grp[idx]][:, None]
        np.nan_to_num(score, copy=False, nan=-np.inf)
        bk = np.argmax(score, axis=1)
        take = np.take_along_axis(score, bk[:, None], axis=1)[:, 0] > 0
        return np.where(take, bk, -1).astype(np.int8)

    def _totals(self, idx: slice | np.ndarray, ch: np.ndarray, sel: np.ndarray) -> np.ndarray:
        L = self.layout
        t = np.zeros(L.size)
        if isinstance(idx, slice):
            rows = np.arange(idx.start, idx.stop)[sel]
        else:
            rows = idx[sel]
        k = ch[sel].astype(np.int64)
        on = k >= 0
        rows, k = rows[on], k[on]
        if len(rows) == 0:
            return t
        c = self.C[rows, k].astype(np.float64)
        v = self.V[rows, k].astype(np.float64)
        t[: L.S] = np.bincount(self.seg[rows], weights=c, minlength=L.S)
        t[L.S : L.S + L.K] = np.bincount(k, minlength=L.K)
        t[L.S + L.K : L.S + 2 * L.K] = np.bincount(k, weights=c, minlength=L.K)
        t[L.S + 2 * L.K] = v.sum()
        t[L.S + 2 * L.K + 1] = len(rows)
        t[L.S + 2 * L.K + 2 :] = np.bincount(self.grp[rows], minlength=L.G + 1)
        return t


_CHUNK = 1 << 16

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


def kernel_name(kernel: str = "auto") -> str:
    """Which evaluation kernel ``kernel='auto'`` resolves to on this installation."""
    if kernel == "auto":
        return "numba" if numba_available() else "numpy"
    return kernel


def _numba_kernels() -> dict[str, Any]:
    """Import (compiled lazily, cached on disk) and return the numba kernels."""
    if _NUMBA:
        return _NUMBA
    from offerwise.errors import require

    require("numba", "fast")
    from offerwise.policy import _numba_kernels as nk

    _NUMBA.update(
        eval_split=nk.eval_split,
        eval_pair=nk.eval_pair,
        eval_split_serial=nk.eval_split_serial,
        eval_pair_serial=nk.eval_pair_serial,
        check=nk.check,
        screen=nk.screen,
    )
    return _NUMBA


class Evaluator:
    """Evaluate choices of many rows at given multipliers, with numba or numpy.

    ``V`` and ``C`` are C-contiguous (n, K) arrays of one float dtype (NaN in ``V`` = ineligible);
    ``seg`` (n,) segment codes in [0, S); ``grp`` (n,) fairness cell codes in [0, G], where G
    means "not counted" (e.g. holdout).
    """

    def __init__(
        self,
        V: np.ndarray,
        C: np.ndarray,
        seg: np.ndarray,
        grp: np.ndarray,
        layout: Layout,
        kernel: str = "auto",
        threads: int | None = None,
    ):
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
                # numba.core.config sets its settings as module globals at run time: no static type
                max_threads: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
                numba.set_num_threads(max(1, min(int(threads), max_threads)))
            self._k = _numba_kernels()

    @property
    def n(self) -> int:
        return self.V.shape[0]

    def _phi(self, p: Params) -> np.ndarray:
        return np.asarray(p.phi, dtype=np.float64)

    def split(
        self,
        rows: np.ndarray | None,
        p: Params,
        ref_a: np.ndarray | None = None,
        ref_b: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Choices (m,) int8 at ``p`` and totals (3, T) bucketed by equality to ref_a / ref_b /
        other.

        Without refs, every row goes to bucket 2. ``rows=None`` evaluates all rows.
        """
        m = self.n if rows is None else len(rows)
        self.passes += m / max(self.n, 1)
        out = np.empty(m, dtype=np.int8)
        T = self.layout.size
        if self.kernel == "numba":
            name = "eval_split" if m >= _PARALLEL_MIN else "eval_split_serial"
            tot = self._k[name](
                self.V,
                self.C,
                self.seg,
                self.grp,
                _EMPTY_ROWS if rows is None else rows,
                p.lam_seg,
                p.mu_cnt,
                p.mu_spend,
                self._phi(p),
                _EMPTY_REF if ref_a is None else ref_a,
                _EMPTY_REF if ref_b is None else ref_b,
                out,
                T,
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
                assert ref_b is not None  # the references come in pairs
                b[ch == ref_b[a:e]] = 1
                b[ch == ref_a[a:e]] = 0
            for bucket in range(3):
                sel = b == bucket
                if sel.any():
                    tot[bucket] += self._totals(idx, ch, sel)
        return out, tot

    def pair(
        self, rows: np.ndarray | None, lo: Params, hi: Params
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Choices at ``lo`` and ``hi`` in one pass; totals (3, T): same choice / lo-only /
        hi-only."""
        m = self.n if rows is None else len(rows)
        self.passes += m / max(self.n, 1)
        out_lo = np.empty(m, dtype=np.int8)
        out_hi = np.empty(m, dtype=np.int8)
        T = self.layout.size
        if self.kernel == "numba":
            name = "eval_pair" if m >= _PARALLEL_MIN else "eval_pair_serial"
            tot = self._k[name](
                self.V,
                self.C,
                self.seg,
                self.grp,
                _EMPTY_ROWS if rows is None else rows,
                np.stack([lo.lam_seg, hi.lam_seg]),
                np.stack([lo.mu_cnt, hi.mu_cnt]),
                np.stack([lo.mu_spend, hi.mu_spend]),
                np.stack([self._phi(lo), self._phi(hi)]),
                out_lo,
                out_hi,
                T,
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
_PARALLEL_MIN = 1 << 16  # rows from which the parallel kernels are used


def check_inputs(
    V: np.ndarray, C: np.ndarray, M: np.ndarray | None, kernel: str, threads: int | None = None
) -> np.ndarray:
    """Bad entries per offer among the allowed ones, in one pass: (3, K) int64 counts of
    value not finite, cost not finite, cost negative. ``M`` (n, K) bool or None (all allowed)."""
    if kernel == "numba":
        k = _numba_kernels()
        from offerwise.policy._numba_kernels import set_threads

        set_threads(threads)
        return k["check"](V, C, _EMPTY_MASK if M is None else M, M is not None)
    K = V.shape[1]
    bad = np.zeros((3, K), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for a in range(0, V.shape[0], _CHUNK):
            v, c = V[a : a + _CHUNK], C[a : a + _CHUNK]
            m = np.ones(v.shape, bool) if M is None else M[a : a + _CHUNK]
            fc = np.isfinite(c)
            bad[0] += (~np.isfinite(v) & m).sum(axis=0)
            bad[1] += (~fc & m).sum(axis=0)
            bad[2] += (fc & (c < 0) & m).sum(axis=0)
    return bad


def screen_rows(
    V: np.ndarray,
    C: np.ndarray,
    M: np.ndarray | None,
    seg: np.ndarray,
    lam: np.ndarray,
    dlam: np.ndarray,
    mu_cnt: np.ndarray,
    dmu_cnt: np.ndarray,
    mu_spend: np.ndarray,
    dmu_spend: np.ndarray,
    kernel: str,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choices at the centre multipliers and the rows whose choice may change inside the box.

    See ``_numba_kernels.screen``: returns choice (n,) int8, active (n,) bool and the totals of
    the decided rows (S + 3K + 1,) float64 (spend per segment, count / spend / value per offer,
    number treated).
    """
    n, K = V.shape
    S = len(lam)
    choice = np.empty(n, dtype=np.int8)
    active = np.empty(n, dtype=np.bool_)
    args = [
        np.asarray(x, dtype=np.float64) for x in (lam, dlam, mu_cnt, dmu_cnt, mu_spend, dmu_spend)
    ]
    if kernel == "numba":
        k = _numba_kernels()
        from offerwise.policy._numba_kernels import set_threads

        set_threads(threads)
        tot = k["screen"](
            V, C, _EMPTY_MASK if M is None else M, M is not None, seg, *args, choice, active
        )
        return choice, active, tot
    lam, dlam, mu_cnt, dmu_cnt, mu_spend, dmu_spend = args
    tot = np.zeros(S + 3 * K + 1)
    ar = np.arange(min(n, _CHUNK))
    with np.errstate(invalid="ignore"):
        for a in range(0, n, _CHUNK):
            e = min(n, a + _CHUNK)
            v = V[a:e].astype(np.float64)
            c = C[a:e].astype(np.float64)
            s = seg[a:e]
            ok = ~np.isnan(v) if M is None else (~np.isnan(v) & M[a:e])
            lm, dl = lam[s][:, None], dlam[s][:, None]
            sc = np.where(ok, v - (lm + mu_spend) * c - mu_cnt, -np.inf)
            bk = np.argmax(sc, axis=1)
            r = ar[: e - a]
            b = sc[r, bk]
            take = b > 0
            ch = np.where(take, bk, -1)
            cb = c[r, bk][:, None]
            # offer kept against none and against every other allowed offer
            rad_pair = (
                dl * np.abs(cb - c)
                + (dmu_spend[bk] * cb[:, 0])[:, None]
                + dmu_spend * c
                + dmu_cnt[bk][:, None]
                + dmu_cnt
            )
            gap = b[:, None] - sc - rad_pair
            gap[r, bk] = np.inf
            gap = np.where(ok, gap, np.inf)
            sure_on = (
                take
                & (b - (dl[:, 0] + dmu_spend[bk]) * cb[:, 0] - dmu_cnt[bk] > 0)
                & (gap.min(axis=1) > 0)
            )
            up = np.where(ok, sc + (dl + dmu_spend) * c + dmu_cnt, -np.inf)
            sure_off = ~take & (up.max(axis=1) < 0)
            sure = sure_on | sure_off
            choice[a:e] = ch
            active[a:e] = ~sure
            on = sure & take
            k_on = bk[on]
            c_on = c[on, k_on]
            tot[:S] += np.bincount(s[on], weights=c_on, minlength=S)
            tot[S : S + K] += np.bincount(k_on, minlength=K)
            tot[S + K : S + 2 * K] += np.bincount(k_on, weights=c_on, minlength=K)
            tot[S + 2 * K : S + 3 * K] += np.bincount(k_on, weights=v[on, k_on], minlength=K)
            tot[S + 3 * K] += on.sum()
    return choice, active, tot


_EMPTY_MASK = np.empty((0, 0), dtype=np.bool_)

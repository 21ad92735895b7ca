"""Compiled (numba) tree-ensemble kernels of :mod:`offerwise.models.forest`; imported only when
numba is installed.

Module-level functions with ``cache=True`` so that later processes load the machine code from
``__pycache__`` instead of compiling it again. Forest layout (QuickScorer): see
:class:`~offerwise.models.forest.FlatForest`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros  # the tzcnt instruction (an intrinsic)

from offerwise._numba import set_threads as set_threads  # the callers' entry point

_BLOCK = 256  # rows per parallel block
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)  # every leaf still possible


@njit(cache=True, nogil=True, inline="always")
def _exits(X, r, p, forest, v):  # noqa: ANN001, ANN201
    """Sets ``v`` (T,) to the leaves row ``r`` of ``X`` can still reach in each tree after the
    splits on its first ``p`` columns: every bit, ANDed with the mask of each split the row sends
    right (a NaN: the splits that send NaN right)."""
    thr, tree, mask, starts, nan_tree, nan_mask, nan_starts = forest
    for t in range(v.shape[0]):
        v[t] = _ALL
    for f in range(p):
        x = X[r, f]
        if x != x:
            for k in range(nan_starts[f], nan_starts[f + 1]):
                v[nan_tree[k]] &= nan_mask[k]
        else:  # this feature's splits with threshold < x: a prefix of them
            k, end = starts[f], starts[f + 1]
            while k < end and thr[k] < x:
                v[tree[k]] &= mask[k]
                k += 1


@njit(cache=True, nogil=True, inline="always")
def _trees_block(X, forest, leaf_value, lo, hi, out):  # noqa: ANN001, ANN201
    """``out[lo:hi]``: the sums of :func:`sum_trees` for rows ``lo:hi`` of ``X``."""
    T = leaf_value.shape[0]
    v = np.empty(T, np.uint64)
    for r in range(lo, hi):
        _exits(X, r, X.shape[1], forest, v)
        s = 0.0
        for t in range(T):  # tree order, as LightGBM adds them
            s += leaf_value[t, trailing_zeros(v[t])]  # type: ignore[call-arg]
        out[r] = s


@njit(parallel=True, cache=True)
def sum_trees(X, thr, tree, mask, starts, nan_tree, nan_mask, nan_starts, leaf_value):  # noqa: ANN001, ANN201
    """(n,) sum over trees of the leaf value each row of ``X`` (n, p) reaches; blocks of
    ``_BLOCK`` rows run on numba's threads."""
    forest = (thr, tree, mask, starts, nan_tree, nan_mask, nan_starts)
    n = X.shape[0]
    out = np.zeros(n)
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        _trees_block(X, forest, leaf_value, b * _BLOCK, min(n, (b + 1) * _BLOCK), out)
    return out


@njit(cache=True, nogil=True)
def sum_trees_serial(X, thr, tree, mask, starts, nan_tree, nan_mask, nan_starts, leaf_value):  # noqa: ANN001, ANN201
    """:func:`sum_trees` on the calling thread only (no numba thread pool, the GIL released):
    several Python threads may call it at once."""
    forest = (thr, tree, mask, starts, nan_tree, nan_mask, nan_starts)
    out = np.zeros(X.shape[0])
    _trees_block(X, forest, leaf_value, 0, X.shape[0], out)
    return out


@njit(cache=True, nogil=True)
def arm_masks(p, arm_cols, thr, tree, mask, starts, n_trees):  # noqa: ANN001, ANN201
    """(A, T) uint64: for arm a, the AND of the masks of the indicator splits (columns ``p`` on)
    it sends right; indicator column c is 1 for arm a when ``arm_cols[a] == c``, else 0 (-1:
    every indicator 0)."""
    A = arm_cols.shape[0]
    out = np.full((A, n_trees), _ALL)
    for a in range(A):
        for f in range(p, starts.shape[0] - 1):
            x = 1.0 if f - p == arm_cols[a] else 0.0
            for k in range(starts[f], starts[f + 1]):
                if thr[k] < x:
                    out[a, tree[k]] &= mask[k]
    return out


@njit(cache=True, nogil=True, inline="always")
def _arms_block(X, forest, leaf_value, arm_mask, lo, hi, out):  # noqa: ANN001, ANN201
    """``out[lo:hi]``: the sums of :func:`sum_trees_arms` for rows ``lo:hi`` of ``X``."""
    T, A = leaf_value.shape[0], arm_mask.shape[0]
    v = np.empty(T, np.uint64)
    for r in range(lo, hi):
        _exits(X, r, X.shape[1], forest, v)
        for a in range(A):
            s = 0.0
            for t in range(T):
                s += leaf_value[t, trailing_zeros(v[t] & arm_mask[a, t])]  # type: ignore[call-arg]
            out[r, a] = s


@njit(parallel=True, cache=True)
def sum_trees_arms(
    X, arm_mask, thr, tree, mask, starts, nan_tree, nan_mask, nan_starts, leaf_value
):  # noqa: ANN001, ANN201
    """(n, A): the sums of :func:`sum_trees` on ``[X, onehot(arm a)]`` for every arm a.

    ``X`` is (n, p); the features from ``p`` on are the indicators, whose splits are the fixed
    masks ``arm_mask`` (:func:`arm_masks`). A row's splits on ``X`` are applied once; each arm
    then adds its masks, so the work is about one row's, not A rows'.
    """
    forest = (thr, tree, mask, starts, nan_tree, nan_mask, nan_starts)
    n = X.shape[0]
    out = np.zeros((n, arm_mask.shape[0]))
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        _arms_block(X, forest, leaf_value, arm_mask, b * _BLOCK, min(n, (b + 1) * _BLOCK), out)
    return out


@njit(cache=True, nogil=True)
def sum_trees_arms_serial(
    X, arm_mask, thr, tree, mask, starts, nan_tree, nan_mask, nan_starts, leaf_value
):  # noqa: ANN001, ANN201
    """:func:`sum_trees_arms` on the calling thread only (see :func:`sum_trees_serial`)."""
    forest = (thr, tree, mask, starts, nan_tree, nan_mask, nan_starts)
    out = np.zeros((X.shape[0], arm_mask.shape[0]))
    _arms_block(X, forest, leaf_value, arm_mask, 0, X.shape[0], out)
    return out

"""Compiled (numba) tree-ensemble kernels of :mod:`offerwise.models.forest`; imported only when
numba is installed.

Module-level functions with ``cache=True`` so that later processes load the machine code from
``__pycache__`` instead of compiling it again. Node layout: see :class:`FlatForest`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from offerwise._numba import set_threads as set_threads  # the callers' entry point

_BLOCK = (
    1024  # rows per parallel block: the block's rows stay in cache while every tree visits them
)
_LANES = 16  # rows that walk a tree together in sum_trees
_STACK = 256  # (node, offer set) pairs pending in one tree walk; a tree of 2**15 leaves fits


@njit(cache=True, nogil=True, inline="always")
def _trees_block(X, tree, lo, hi, out):  # noqa: ANN001, ANN201
    """Adds to ``out[lo:hi]`` the sums of :func:`sum_trees` for rows ``lo:hi`` of ``X`` (``tree``:
    the :class:`FlatForest` arrays and depths)."""
    feature, threshold, children, nan_right, value, roots, depths = tree
    nodes = np.empty(_LANES, np.int64)
    for t in range(roots.shape[0]):
        root = roots[t]
        for r0 in range(lo, hi, _LANES):
            m = min(_LANES, hi - r0)
            for j in range(m):
                nodes[j] = root
            for _ in range(depths[t]):
                for j in range(m):
                    nd = nodes[j]
                    x = X[r0 + j, max(feature[nd], 0)]
                    go = np.int64(x > threshold[nd]) | (np.int64(x != x) & nan_right[nd])
                    nodes[j] = children[2 * nd + go]
            for j in range(m):
                out[r0 + j] += value[nodes[j]]


@njit(parallel=True, cache=True)
def sum_trees(X, feature, threshold, children, nan_right, value, roots, depths):  # noqa: ANN001, ANN201
    """(n,) sum over trees of the leaf value each row of ``X`` (n, p) reaches.

    Rows walk a tree in lockstep, ``_LANES`` at a time, for the tree's depth (a leaf is its own
    child, so a row that reached one stays there): the lanes' walks are independent, so the
    processor overlaps them instead of waiting on each node's memory reads in turn. Blocks of
    ``_BLOCK`` rows run on numba's threads.
    """
    tree = (feature, threshold, children, nan_right, value, roots, depths)
    n = X.shape[0]
    out = np.zeros(n)
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        _trees_block(X, tree, b * _BLOCK, min(n, (b + 1) * _BLOCK), out)
    return out


@njit(cache=True, nogil=True)
def sum_trees_serial(X, feature, threshold, children, nan_right, value, roots, depths):  # noqa: ANN001, ANN201
    """:func:`sum_trees` on the calling thread only (no numba thread pool, the GIL released):
    several Python threads may call it at once."""
    tree = (feature, threshold, children, nan_right, value, roots, depths)
    n = X.shape[0]
    out = np.zeros(n)
    for lo in range(0, n, _BLOCK):  # blocks as in sum_trees: a block's rows stay in cache
        _trees_block(X, tree, lo, min(n, lo + _BLOCK), out)
    return out


@njit(cache=True, nogil=True, inline="always")
def _arms_block(X, arm_cols, tree, lo, hi, out):  # noqa: ANN001, ANN201, C901, PLR0912
    """Adds to ``out[lo:hi]`` the sums of :func:`sum_trees_arms` for rows ``lo:hi`` of ``X``."""
    feature, threshold, children, nan_right, value, roots = tree
    p = X.shape[1]
    A = arm_cols.shape[0]
    full = (1 << A) - 1
    st_node = np.empty(_STACK, np.int64)
    st_mask = np.empty(_STACK, np.int64)
    for t in range(roots.shape[0]):
        root = roots[t]
        for r in range(lo, hi):
            top = 0
            st_node[0] = root
            st_mask[0] = full
            top = 1
            while top > 0:
                top -= 1
                node = st_node[top]
                mask = st_mask[top]
                f = feature[node]
                while f >= 0:
                    if f < p:
                        x = X[r, f]
                        go = 1 if x > threshold[node] else 0
                        if x != x:
                            go = nan_right[node]
                        node = children[2 * node + go]
                    else:
                        c = f - p
                        ones = 0
                        for a in range(A):
                            if arm_cols[a] == c:
                                ones |= 1 << a
                        ones &= mask
                        zeros = mask & ~ones
                        go1 = 1 if 1.0 > threshold[node] else 0
                        go0 = 1 if 0.0 > threshold[node] else 0
                        if ones == 0 or go1 == go0:
                            node = children[2 * node + go0]
                        elif zeros == 0:
                            node = children[2 * node + go1]
                        else:  # the arms part: follow the zeros, keep the ones for later
                            st_node[top] = children[2 * node + go1]
                            st_mask[top] = ones
                            top += 1
                            mask = zeros
                            node = children[2 * node + go0]
                    f = feature[node]
                v = value[node]
                for a in range(A):
                    if (mask >> a) & 1:
                        out[r, a] += v


@njit(parallel=True, cache=True)
def sum_trees_arms(X, arm_cols, feature, threshold, children, nan_right, value, roots):  # noqa: ANN001, ANN201
    """(n, A): the sums of :func:`sum_trees` on ``[X, onehot(arm_cols[a])]`` for every arm a.

    ``X`` is (n, p); a feature index ``f >= p`` is the indicator column ``f - p``, equal to 1 for
    arm a when ``arm_cols[a] == f - p`` (``arm_cols[a] = -1``: every indicator is 0). One walk per
    row and tree carries the set of arms (a bit mask) that reach each node, so the arms part only
    where a split is on an indicator: the work is about one walk, not A walks.
    """
    tree = (feature, threshold, children, nan_right, value, roots)
    n = X.shape[0]
    out = np.zeros((n, arm_cols.shape[0]))
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        _arms_block(X, arm_cols, tree, b * _BLOCK, min(n, (b + 1) * _BLOCK), out)
    return out


@njit(cache=True, nogil=True)
def sum_trees_arms_serial(X, arm_cols, feature, threshold, children, nan_right, value, roots):  # noqa: ANN001, ANN201
    """:func:`sum_trees_arms` on the calling thread only (see :func:`sum_trees_serial`)."""
    tree = (feature, threshold, children, nan_right, value, roots)
    n = X.shape[0]
    out = np.zeros((n, arm_cols.shape[0]))
    for lo in range(0, n, _BLOCK):
        _arms_block(X, arm_cols, tree, lo, min(n, lo + _BLOCK), out)
    return out

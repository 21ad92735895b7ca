"""Fast prediction of the response model's LightGBM boosters.

A booster's trees are flattened once into QuickScorer's layout (:class:`FlatForest`: each tree's
leaves are the bits of a word, each split a mask) and summed by compiled (numba) kernels, which
take blocks of rows through the splits together (V-QuickScorer), with
LightGBM's decision rule for numerical splits (``x <= threshold`` goes left; a NaN goes to the
default side, or is read as 0 when the split has no missing-value handling). The sums are
bit-for-bit LightGBM's raw scores: the same leaf values added in the same tree order.

:func:`predict_arms` scores every arm of a pooled booster, whose last columns are the offer
indicators, in one pass per row instead of one LightGBM call per arm.

Boosters the kernels do not cover (categorical splits, zero-as-missing, linear trees, other
objectives, trees of more than 64 leaves), inputs of fewer than :data:`MIN_ROWS` rows (a served
decision: no first-call cost of loading the kernels and flattening the trees) and machines
without numba use LightGBM's own ``predict``; so does everything when
``OFFERWISE_FAST_TREES=0``.
"""

from __future__ import annotations

import importlib
import os
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb

Transform = Literal["identity", "sigmoid"]
MIN_ROWS = 4096  # smaller inputs go to LightGBM
MAX_LEAVES = 64  # a tree's leaves are the bits of one 64-bit word
_IDENTITY_OBJECTIVES = ("regression", "regression_l2", "regression_l1", "huber", "fair", "quantile")


@dataclass(frozen=True)
class FlatForest:
    """The trees of one booster in QuickScorer's layout (Lucchese et al., SIGIR 2015).

    A tree's leaves are numbered left to right (bit ``j`` of a 64-bit word: leaf ``j``). A split
    a row sends right rules out the leaves of its left subtree; the leaf a row reaches is the
    leftmost one that no split of the tree rules out, whichever path the row takes. So a row
    starts with every bit set in every tree, then, feature by feature, ANDs the ``mask`` of each
    split it sends right (``threshold < x``: a prefix of that feature's splits sorted by
    threshold), and sums ``leaf_value[t, lowest set bit]`` over the trees in order.

    ``threshold`` (s,) float64, ``tree`` (s,) int32, ``mask`` (s,) uint64: the s splits sorted by
    feature then threshold; feature f's are ``starts[f]:starts[f + 1]`` (``starts``: (p + 1,)
    int64). ``nan_tree``, ``nan_mask``, ``nan_starts``: the same for the splits that send a NaN
    right (the default side, or as 0 when the split has no missing-value handling).
    ``leaf_value`` (T, L) float64: tree t's leaf values left to right (L: the most leaves of a
    tree, at most 64). ``transform``: ``sigmoid`` (binary: ``1 / (1 + exp(-sigmoid_scale *
    raw))``) or ``identity``.
    """

    threshold: np.ndarray
    tree: np.ndarray
    mask: np.ndarray
    starts: np.ndarray
    nan_tree: np.ndarray
    nan_mask: np.ndarray
    nan_starts: np.ndarray
    leaf_value: np.ndarray
    n_features: int
    transform: Transform
    sigmoid_scale: float = 1.0

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernels' forest arguments, in order."""
        return (
            self.threshold,
            self.tree,
            self.mask,
            self.starts,
            self.nan_tree,
            self.nan_mask,
            self.nan_starts,
            self.leaf_value,
        )


class _Unsupported(Exception):
    """A booster the kernels do not cover."""


def _transform(objective: str) -> tuple[Transform, float]:
    name, *params = objective.split()
    if name == "binary":
        scale = 1.0
        for prm in params:
            if prm.startswith("sigmoid:"):
                scale = float(prm.split(":", 1)[1])
        return "sigmoid", scale
    if name in _IDENTITY_OBJECTIVES:
        return "identity", 1.0
    raise _Unsupported(objective)


def _tree_fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, val = line.partition("=")
        if sep:
            out[key] = val
    return out


def flatten(booster: lgb.Booster) -> FlatForest | None:
    """``booster``'s trees as a :class:`FlatForest`; None when the kernels do not cover it.

    Read from LightGBM's model text (``model_to_string``: per tree ``split_feature``,
    ``threshold``, ``decision_type`` — bit 1 categorical, bit 2 default left, bits 3-4 the missing
    type —, ``left_child``/``right_child`` with leaf ``j`` written ``~j``, and ``leaf_value``;
    numbers written with 17 significant digits, so they read back exactly). None also when a tree
    has more than :data:`MAX_LEAVES` leaves.
    """
    text = booster.model_to_string()
    head, sep, rest = text.partition("\nTree=")
    if not sep:
        return None
    header = _tree_fields(head)
    try:
        if header.get("num_class", "1") != "1" or header.get("num_tree_per_iteration", "1") != "1":
            raise _Unsupported("several trees per iteration")
        if "average_output" in head.split():
            raise _Unsupported("average_output")
        transform, scale = _transform(header.get("objective", ""))
        trees = [_tree_fields(b) for b in rest.split("end of trees", 1)[0].split("\nTree=")]
        if any(int(f.get("num_cat", "0")) or f.get("is_linear", "0") != "0" for f in trees):
            raise _Unsupported("categorical or linear tree")

        def column(key: str, dtype: type) -> np.ndarray:  # every tree's values of ``key``
            return np.array(" ".join(f[key] for f in trees).split(), dtype=dtype)

        n_leaves = np.array([int(f["num_leaves"]) for f in trees], dtype=np.int64)
        n_split = n_leaves - 1
        sf, thr = column("split_feature", np.int64), column("threshold", np.float64)
        dt, leaf = column("decision_type", np.int64), column("leaf_value", np.float64)
        kids = np.stack([column("left_child", np.int64), column("right_child", np.int64)], axis=1)
        if len(sf) != n_split.sum() or len(leaf) != n_leaves.sum() or len(kids) != len(sf):
            raise _Unsupported("unexpected model text")
    except (_Unsupported, KeyError, ValueError):
        return None
    missing = (dt >> 2) & 3
    if (dt & 1).any() or (missing == 1).any() or n_leaves.max(initial=1) > MAX_LEAVES:
        return None  # categorical or zero-as-missing splits, or too many leaves for a word
    T = len(trees)
    # per tree: its splits (LightGBM's index i >= 0), then its leaves (index ~j), from base[t]
    size = n_split + n_leaves
    base = np.concatenate([[0], np.cumsum(size)[:-1]])
    split_tree = np.repeat(np.arange(T), n_split)
    split_start = np.concatenate([[0], np.cumsum(n_split)[:-1]])
    split_node = base[split_tree] + np.arange(len(sf)) - split_start[split_tree]
    b = base[split_tree][:, None]
    child = np.where(kids >= 0, b + kids, b + n_split[split_tree][:, None] + ~kids)
    m = int(size.sum())
    # leaves under each node, then the left-to-right number of its first leaf: a split's children
    # come after it in its tree (LightGBM numbers a split after its parent), so repeating each
    # sweep over all splits settles one level per pass
    count = np.ones(m, np.int64)
    count[split_node] = 0
    for _ in range(int(n_leaves.max(initial=1))):
        new = count.copy()
        new[split_node] = count[child[:, 0]] + count[child[:, 1]]
        if np.array_equal(new, count):
            break
        count = new
    first = np.zeros(m, np.int64)
    for _ in range(int(n_leaves.max(initial=1))):
        new = first.copy()
        new[child[:, 0]] = first[split_node]
        new[child[:, 1]] = first[split_node] + count[child[:, 0]]
        if np.array_equal(new, first):
            break
        first = new
    leaf_tree = np.repeat(np.arange(T), n_leaves)
    leaf_start = np.concatenate([[0], np.cumsum(n_leaves)[:-1]])
    leaf_node = base[leaf_tree] + n_split[leaf_tree] + np.arange(len(leaf)) - leaf_start[leaf_tree]
    leaf_value = np.zeros((T, int(n_leaves.max(initial=1))))
    leaf_value[leaf_tree, first[leaf_node]] = leaf
    # a split sent right rules out its left subtree's leaves: bits first .. first + count - 1
    left = child[:, 0]
    width = count[left].astype(np.uint64)  # < 64: the right subtree has a leaf too
    mask = ~(((np.uint64(1) << width) - np.uint64(1)) << first[left].astype(np.uint64))
    # where a NaN goes: the default side (missing type NaN), else as 0 (LightGBM's rule)
    nan_right = np.where(missing == 2, (dt & 2) == 0, 0.0 > thr)
    p = int(booster.num_feature())
    order = np.lexsort((thr, sf))
    on_nan = order[nan_right[order]]
    return FlatForest(
        threshold=thr[order],
        tree=split_tree[order].astype(np.int32),
        mask=mask[order],
        starts=np.searchsorted(sf[order], np.arange(p + 1)).astype(np.int64),
        nan_tree=split_tree[on_nan].astype(np.int32),
        nan_mask=mask[on_nan],
        nan_starts=np.searchsorted(sf[on_nan], np.arange(p + 1)).astype(np.int64),
        leaf_value=leaf_value,
        n_features=p,
        transform=transform,
        sigmoid_scale=scale,
    )


# one parallel kernel call at a time per process: each uses all its threads, and numba's fallback
# threading layer (workqueue, where OpenMP is missing) aborts on concurrent launches; the serial
# kernels (one thread asked for) release the GIL and need no lock
_LOCK = threading.Lock()
_CACHE: weakref.WeakKeyDictionary[object, FlatForest | None] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()  # fits on several threads (cross-fitting) share the cache


def _kernels(module: str = "_forest_kernels"):  # noqa: ANN202
    """The numba kernels module ``offerwise.models.<module>``, or None (numba missing, or
    ``OFFERWISE_FAST_TREES=0``)."""
    if os.environ.get("OFFERWISE_FAST_TREES", "1").strip() in ("0", "false", "no", "off"):
        return None
    try:
        return importlib.import_module(f"offerwise.models.{module}")
    except ImportError:
        return None


def compiled_arithmetic(n_rows: int):  # noqa: ANN201
    """The compiled score arithmetic (:mod:`offerwise.models._score_kernels`) for ``n_rows``
    rows, or None where numpy computes it (as for the trees: numba missing,
    ``OFFERWISE_FAST_TREES=0``, fewer than :data:`MIN_ROWS` rows); run it with
    :func:`run_kernel`."""
    return _kernels("_score_kernels") if n_rows >= max(MIN_ROWS, 1) else None


def _flat(booster: lgb.Booster) -> FlatForest | None:
    with _CACHE_LOCK:
        if booster in _CACHE:
            return _CACHE[booster]
    flat = flatten(booster)
    with _CACHE_LOCK:
        _CACHE[booster] = flat
    return flat


def _compiled(booster: lgb.Booster, n_rows: int, n_features: int):  # noqa: ANN202
    """(kernels module, :class:`FlatForest`) when the kernels apply to ``n_rows`` rows of
    ``n_features`` inputs of ``booster``; None where LightGBM predicts instead."""
    k = _kernels() if n_rows >= max(MIN_ROWS, 1) else None
    forest = _flat(booster) if k is not None else None
    if k is None or forest is None or forest.n_features != n_features:
        return None
    return k, forest


def run_kernel(k, kernel: str, n_jobs: int, *args: object) -> np.ndarray:  # noqa: ANN001
    """Kernel ``kernel`` of module ``k`` on ``args``: its ``_serial`` twin on the calling thread
    for one thread (no pool: other threads may run kernels at the same time), else the parallel
    one on ``n_jobs`` threads, one call at a time (:data:`_LOCK`)."""
    if int(n_jobs) <= 1:
        out: np.ndarray = getattr(k, f"{kernel}_serial")(*args)
        return out
    with _LOCK:
        k.set_threads(n_jobs)
        out = getattr(k, kernel)(*args)
    return out


def _link(raw: np.ndarray, forest: FlatForest) -> np.ndarray:
    if forest.transform == "sigmoid":
        return 1.0 / (1.0 + np.exp(-forest.sigmoid_scale * raw))
    return raw


def predict(booster: lgb.Booster, X: np.ndarray, n_jobs: int = 2, raw: bool = False) -> np.ndarray:
    """Predictions (n,) of ``booster`` on ``X`` (n, p) float64 (``raw``: before the link)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    got = _compiled(booster, len(X), X.shape[1])
    if got is None:
        out = booster.predict(X, raw_score=raw, num_threads=int(n_jobs))
        return np.asarray(out, dtype=np.float64)
    k, forest = got
    s = run_kernel(k, "sum_trees", n_jobs, X, *forest.arrays())
    return s if raw else _link(s, forest)


def predict_arms(
    booster: lgb.Booster,
    X: np.ndarray,
    arm_cols: np.ndarray,
    n_columns: int,
    n_jobs: int = 2,
    raw: bool = False,
) -> np.ndarray:
    """Predictions (n, A) of a booster whose inputs are ``[X, indicators]`` (``n_columns``
    indicator columns), for every arm a: indicator ``arm_cols[a]`` set (-1: none set).

    Equal to ``predict(booster, hstack([X, onehot(arm_cols[a])]))`` column by column, in about the
    time of one such call: a row's splits on ``X`` are applied once, an arm's indicator splits
    are fixed masks per arm and tree.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    cols = np.asarray(arm_cols, dtype=np.int64)
    got = _compiled(booster, len(X), X.shape[1] + n_columns) if len(cols) else None
    if got is None:
        out = np.empty((len(X), len(cols)))
        for a, c in enumerate(cols):
            ind = np.zeros((len(X), n_columns))
            if c >= 0:
                ind[:, c] = 1.0
            out[:, a] = np.asarray(
                booster.predict(np.hstack([X, ind]), raw_score=raw, num_threads=int(n_jobs)),
                dtype=np.float64,
            )
        return out
    k, forest = got
    T = forest.leaf_value.shape[0]
    arm_mask = k.arm_masks(
        X.shape[1], cols, forest.threshold, forest.tree, forest.mask, forest.starts, T
    )
    s = run_kernel(k, "sum_trees_arms", n_jobs, X, arm_mask, *forest.arrays())
    return s if raw else _link(s, forest)

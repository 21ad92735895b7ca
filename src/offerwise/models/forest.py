"""Fast prediction of the response model's LightGBM boosters.

A booster's trees are flattened once into node arrays (:class:`FlatForest`) and summed by compiled
(numba) kernels, with LightGBM's decision rule for numerical splits (``x <= threshold`` goes left; a
NaN goes to the default side, or is read as 0 when the split has no missing-value handling). The
sums are bit-for-bit LightGBM's raw scores: the same leaf values added in the same tree order.

:func:`predict_arms` scores every arm of a pooled booster, whose last columns are the offer
indicators, in one walk per row and tree instead of one LightGBM call per arm.

Boosters the kernels do not cover (categorical splits, zero-as-missing, linear trees, other
objectives), inputs of fewer than :data:`MIN_ROWS` rows (a served decision: no first-call cost of
loading the kernels and flattening the trees) and machines without numba use LightGBM's own
``predict``; so does everything when ``OFFERWISE_FAST_TREES=0``.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb

Transform = Literal["identity", "sigmoid"]
MIN_ROWS = 4096  # smaller inputs go to LightGBM
_IDENTITY_OBJECTIVES = ("regression", "regression_l2", "regression_l1", "huber", "fair", "quantile")


@dataclass(frozen=True)
class FlatForest:
    """The trees of one booster as node arrays (m nodes over all trees, T trees).

    ``feature`` (m,) int32: the split column, -1 at a leaf; ``threshold`` (m,) float64;
    ``children`` (2m,) int32: left child at ``2i``, right at ``2i + 1``; ``nan_right`` (m,) int8:
    1 where a NaN goes right; ``value`` (m,) float64: the leaf value (0 at a split); ``roots`` (T,)
    int32; ``depths`` (T,) int32: each tree's depth (a leaf is its own child, so a walk of
    ``depth`` steps ends on the leaf). ``transform``: ``sigmoid`` (binary:
    ``1 / (1 + exp(-sigmoid_scale * raw))``) or ``identity``.
    """

    feature: np.ndarray
    threshold: np.ndarray
    children: np.ndarray
    nan_right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depths: np.ndarray
    n_features: int
    transform: Transform
    sigmoid_scale: float = 1.0

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernels' node arguments, in order."""
        return (self.feature, self.threshold, self.children, self.nan_right, self.value, self.roots)


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


def flatten(booster: lgb.Booster) -> FlatForest | None:
    """``booster``'s trees as a :class:`FlatForest`; None when the kernels do not cover it."""
    dump = booster.dump_model()
    try:
        transform, scale = _transform(str(dump.get("objective", "")))
        if dump.get("average_output"):
            raise _Unsupported("average_output")
        feature: list[int] = []
        threshold: list[float] = []
        children: list[int] = []
        nan_right: list[int] = []
        value: list[float] = []

        def add(node: dict[str, object]) -> tuple[int, int]:
            """(index of ``node``, depth of its subtree)."""
            i = len(feature)
            feature.append(-1)
            threshold.append(0.0)
            children.extend((i, i))
            nan_right.append(0)
            value.append(0.0)
            if "leaf_coeff" in node:
                raise _Unsupported("linear tree")
            if "split_index" not in node:
                value[i] = float(node["leaf_value"])  # type: ignore[arg-type]
                return i, 0
            if node.get("decision_type") != "<=" or node.get("missing_type") == "Zero":
                raise _Unsupported("categorical or zero-as-missing split")
            thr = float(node["threshold"])  # type: ignore[arg-type]
            feature[i], threshold[i] = int(node["split_feature"]), thr  # type: ignore[call-overload]
            if node.get("missing_type") == "NaN":
                nan_right[i] = 0 if node.get("default_left") else 1
            else:  # LightGBM reads the NaN as 0
                nan_right[i] = 1 if 0.0 > thr else 0
            left, d_left = add(node["left_child"])  # type: ignore[arg-type]
            right, d_right = add(node["right_child"])  # type: ignore[arg-type]
            children[2 * i], children[2 * i + 1] = left, right
            return i, 1 + max(d_left, d_right)

        roots: list[int] = []
        depths: list[int] = []
        for tree in dump["tree_info"]:
            if tree.get("num_cat", 0):
                raise _Unsupported("categorical tree")
            root, depth = add(tree["tree_structure"])
            roots.append(root)
            depths.append(depth)
    except _Unsupported:
        return None
    return FlatForest(
        feature=np.asarray(feature, dtype=np.int32),
        threshold=np.asarray(threshold, dtype=np.float64),
        children=np.asarray(children, dtype=np.int32),
        nan_right=np.asarray(nan_right, dtype=np.int8),
        value=np.asarray(value, dtype=np.float64),
        roots=np.asarray(roots, dtype=np.int32),
        depths=np.asarray(depths, dtype=np.int32),
        n_features=int(booster.num_feature()),
        transform=transform,
        sigmoid_scale=scale,
    )


_CACHE: weakref.WeakKeyDictionary[object, FlatForest | None] = weakref.WeakKeyDictionary()


def _kernels():  # noqa: ANN202
    """The numba kernels module, or None (numba missing, or ``OFFERWISE_FAST_TREES=0``)."""
    if os.environ.get("OFFERWISE_FAST_TREES", "1").strip() in ("0", "false", "no", "off"):
        return None
    try:
        from offerwise.models import _forest_kernels
    except ImportError:
        return None
    return _forest_kernels


def _flat(booster: lgb.Booster) -> FlatForest | None:
    if booster not in _CACHE:
        _CACHE[booster] = flatten(booster)
    return _CACHE[booster]


def _link(raw: np.ndarray, forest: FlatForest) -> np.ndarray:
    if forest.transform == "sigmoid":
        return 1.0 / (1.0 + np.exp(-forest.sigmoid_scale * raw))
    return raw


def predict(booster: lgb.Booster, X: np.ndarray, n_jobs: int = 2, raw: bool = False) -> np.ndarray:
    """Predictions (n,) of ``booster`` on ``X`` (n, p) float64 (``raw``: before the link)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    k = _kernels() if len(X) >= max(MIN_ROWS, 1) else None
    forest = _flat(booster) if k is not None else None
    if k is None or forest is None or X.shape[1] != forest.n_features:
        out = booster.predict(X, raw_score=raw, num_threads=int(n_jobs))
        return np.asarray(out, dtype=np.float64)
    k.set_threads(n_jobs)
    s = k.sum_trees(X, *forest.arrays(), forest.depths)
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
    time of one such call.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    cols = np.asarray(arm_cols, dtype=np.int64)
    k = _kernels() if len(X) >= max(MIN_ROWS, 1) else None
    forest = _flat(booster) if k is not None else None
    if (
        k is None
        or forest is None
        or X.shape[1] + n_columns != forest.n_features
        or not 0 < len(cols) <= 62
    ):
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
    k.set_threads(n_jobs)
    s = k.sum_trees_arms(X, cols, *forest.arrays())
    return s if raw else _link(s, forest)

"""Cold start of new items from text: items nobody has bought yet get collaborative-filtering
vectors from the items whose descriptions are most alike.

A new item's factor vector is the cosine-weighted mean of the factors of its ``m`` nearest items
with purchase history, nearness measured between unit text embeddings
(:mod:`offerwise.embed.text`): weights ``max(cos, 0)``, normalised to sum to 1; an item with no
positive neighbour gets zeros. Pure NumPy; the embeddings are inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from offerwise.recommend.cf import Factors
from offerwise.recommend.methods import (
    BlendScorer,
    BuyAgainScorer,
    FactorScorer,
    PopularScorer,
    Scorer,
)

__all__ = [
    "NEIGHBOURS",
    "Neighbours",
    "NewOnly",
    "impute_factors",
    "nearest",
    "text_neighbours",
    "with_cold_items",
]

#: Text neighbours a new item's vector is averaged from (docs/embeddings.md).
NEIGHBOURS = 10


@dataclass(frozen=True, slots=True)
class Neighbours:
    """For each of ``n_cold`` new items: ``index`` (n_cold, m) item columns of its nearest items
    with history (-1 = none) and ``weight`` (n_cold, m) float32, >= 0, each row summing to 1 or,
    with no similar item, to 0."""

    index: np.ndarray
    weight: np.ndarray

    @property
    def n_cold(self) -> int:
        return int(self.index.shape[0])


def _top(sims: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` largest entries of each row of ``sims``, largest first: (positions, values);
    equal values in column order."""
    m = min(m, sims.shape[1])
    part = (
        np.argpartition(-sims, m - 1, axis=1)[:, :m]
        if m < sims.shape[1]
        else np.argsort(-sims, axis=1, kind="stable")
    )
    vals = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def text_neighbours(
    cold_vectors: np.ndarray,
    known_vectors: np.ndarray,
    known_columns: np.ndarray | None = None,
    m: int = NEIGHBOURS,
    batch: int = 1024,
) -> Neighbours:
    """The ``m`` nearest known items of each new item by cosine of unit text vectors.

    ``cold_vectors`` (n_cold, d), ``known_vectors`` (n_known, d), both L2-normalised;
    ``known_columns`` (n_known,): the item column of each known vector (default 0..n_known-1).
    Memory: one (batch, n_known) block at a time."""
    n_cold, n_known = len(cold_vectors), len(known_vectors)
    cols = np.arange(n_known) if known_columns is None else np.asarray(known_columns, np.int64)
    mm = min(max(m, 1), n_known)
    index = np.full((n_cold, mm), -1, dtype=np.int64)
    weight = np.zeros((n_cold, mm), dtype=np.float32)
    if n_cold == 0 or n_known == 0:
        return Neighbours(index, weight)
    kv = np.asarray(known_vectors, dtype=np.float32)
    for lo in range(0, n_cold, batch):
        sims = np.asarray(cold_vectors[lo : lo + batch], dtype=np.float32) @ kv.T
        pos, val = _top(sims, mm)
        w = np.maximum(val, 0.0)
        tot = w.sum(axis=1, keepdims=True)
        index[lo : lo + batch] = np.where(w > 0, cols[pos], -1)
        weight[lo : lo + batch] = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)
    return Neighbours(index, weight)


def impute_factors(item_factors: np.ndarray, nb: Neighbours) -> np.ndarray:
    """(n_cold, f) float32: each new item's weighted mean of its neighbours' rows of
    ``item_factors`` (n_items, f); zeros for an item without neighbours."""
    f = item_factors.shape[1]
    if nb.n_cold == 0:
        return np.zeros((0, f), dtype=np.float32)
    rows = item_factors[np.maximum(nb.index, 0)]  # (n_cold, m, f); -1 has weight 0
    return np.asarray((rows * nb.weight[:, :, None]).sum(axis=1), dtype=np.float32)


def nearest(
    vectors: np.ndarray, query: np.ndarray, k: int, exclude: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``vectors`` (n, d, unit rows) nearest to ``query`` (d,) by cosine,
    best first (ties by row), without row ``exclude``: (rows, cosines)."""
    sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    if exclude is not None and 0 <= exclude < len(sims):
        sims[exclude] = -np.inf
    k = min(k, len(sims) - (exclude is not None and 0 <= exclude < len(sims)))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pos, val = _top(sims[None, :], k)
    return pos[0].astype(np.int64), val[0].astype(np.float32)


@dataclass(frozen=True, slots=True)
class NewOnly:
    """The scores of ``scorer`` on its item columns from ``start`` on (the new items): a list of
    new items only, e.g. a "new for you" shelf."""

    scorer: Scorer
    start: int

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.scorer.scores(rows)[:, self.start :])


def with_cold_items(scorer: Scorer, nb: Neighbours) -> Scorer:
    """``scorer`` over ``nb.n_cold`` more item columns (appended after the known ones).

    ALS/BPR (and the blend's CF half) score new items with :func:`impute_factors` of their own
    item factors; popularity and buy-again give them 0 (nobody bought them), so they come last
    there."""
    n = nb.n_cold
    if isinstance(scorer, PopularScorer):
        return PopularScorer(np.concatenate([scorer.pop, np.zeros(n, dtype=np.float32)]))
    if isinstance(scorer, BuyAgainScorer):
        pad = sp.csr_matrix((scorer.decayed.shape[0], n), dtype=np.float32)
        decayed = sp.hstack([scorer.decayed, pad], format="csr")
        return BuyAgainScorer(decayed, np.concatenate([scorer.pop, np.zeros(n, np.float32)]))
    if isinstance(scorer, FactorScorer):
        fac = scorer.factors
        item = np.vstack([fac.item, impute_factors(fac.item, nb)])
        return FactorScorer(Factors(fac.user, item))
    if isinstance(scorer, BlendScorer):
        ba = with_cold_items(scorer.buy_again, nb)
        cf = with_cold_items(scorer.cf, nb)
        assert isinstance(ba, BuyAgainScorer) and isinstance(cf, FactorScorer)
        return BlendScorer(ba, cf, scorer.weight)
    raise TypeError(f"cannot add new items to a {type(scorer).__name__}")

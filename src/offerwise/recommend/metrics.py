"""Ranking metrics of top-k lists against what users bought later (pure numpy).

``top``: (n_users, k) item columns, best first (-1 = empty slot); ``relevant``: (n_users,
n_items) CSR bool, the items each user bought in the held-out window; ``n_relevant``: (n_users,)
distinct items bought there, counting items the recommender could not name (unknown at fit
time), so they lower recall rather than vanish. With ``R`` a user's relevant set and
``hit_r`` = 1 when the item at rank r is in R:

* recall@k = sum_r hit_r / min(k, |R|)  (1 for a perfect list)
* NDCG@k = sum_r hit_r / log2(r + 1) / sum_{r <= min(k, |R|)} 1 / log2(r + 1)
* explore: the same with R minus the items the user bought before the cutoff; the list is not
  changed, so a repeat item in it is a miss
* coverage = distinct items in any top-k list / number of items

Averages are over the users with |R| > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["RankingScores", "coverage", "explore_relevant", "hit_matrix", "ranking_scores"]


@dataclass(frozen=True, slots=True)
class RankingScores:
    """Mean recall@k and NDCG@k over ``n_users`` users with something relevant."""

    recall: float
    ndcg: float
    n_users: int


def hit_matrix(top: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """(n_users, k) bool: the item at each rank of ``top`` is relevant to its user."""
    n_items = relevant.shape[1]
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    rel_keys = rows * n_items + relevant.indices.astype(np.int64)
    keys = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top.astype(np.int64)
    return np.isin(keys, rel_keys) & (top >= 0)


def ranking_scores(
    top: np.ndarray, relevant: sp.csr_matrix, n_relevant: np.ndarray
) -> RankingScores:
    """Mean recall@k and NDCG@k of ``top`` (formulas in the module docstring)."""
    k = top.shape[1]
    users = n_relevant > 0
    if not users.any() or k == 0:
        return RankingScores(float("nan"), float("nan"), 0)
    hits = hit_matrix(top, relevant)[users]
    n_rel = n_relevant[users]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(disc)[np.minimum(n_rel, k) - 1]
    recall = hits.sum(axis=1) / np.minimum(n_rel, k)
    ndcg = (hits * disc).sum(axis=1) / ideal
    return RankingScores(float(recall.mean()), float(ndcg.mean()), int(users.sum()))


def explore_relevant(
    relevant: sp.csr_matrix, n_relevant: np.ndarray, history: sp.csr_matrix
) -> tuple[sp.csr_matrix, np.ndarray]:
    """``relevant`` without the items each user bought before (nonzeros of ``history``, same
    shape), and the matching counts (unknown items were never bought before, so they stay)."""
    repeat = relevant.multiply(history > 0).tocsr()
    repeat.eliminate_zeros()
    explore = (relevant.astype(np.int8) - repeat.astype(np.int8)).tocsr()
    explore.eliminate_zeros()
    explore = explore.astype(bool)
    explore.sort_indices()
    return explore, n_relevant - np.diff(repeat.indptr)


def coverage(top: np.ndarray, n_items: int) -> float:
    """Share of the ``n_items`` items that appear in at least one list."""
    if n_items == 0:
        return float("nan")
    return float(len(np.unique(top[top >= 0])) / n_items)

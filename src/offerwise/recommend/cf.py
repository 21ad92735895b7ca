"""A thin wrapper around ``implicit``: confidence weighting, ALS and BPR fits, user x item scores.

``implicit`` is an optional dependency (extra ``recommend``), imported on first use. Fits run on
the CPU with ``num_threads`` threads (1 by default) and BLAS limited to one thread, seeded by
``random_state``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from offerwise.errors import InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

__all__ = ["CF_KINDS", "WEIGHTINGS", "CFParams", "Factors", "confidence", "fit_cf"]

#: Collaborative-filtering models of ``implicit`` that offerwise fits.
CF_KINDS = ("als", "bpr")
#: Confidence weightings of the purchase counts (see :func:`confidence`).
WEIGHTINGS = ("bm25", "log1p", "none")


@dataclass(frozen=True, slots=True)
class CFParams:
    """Hyperparameters of one ALS or BPR fit (``alpha`` for ALS only, ``learning_rate`` for BPR
    only; BPR samples bought items as positives and ignores the weights)."""

    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 1.0
    learning_rate: float = 0.01
    weighting: str = "bm25"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise InputError(f"weighting {self.weighting!r}: use one of {', '.join(WEIGHTINGS)}")
        if self.factors < 1 or self.iterations < 1:
            raise InputError("factors and iterations must be >= 1")


@dataclass(frozen=True, slots=True)
class Factors:
    """Latent factors: ``user`` (n_users, f) and ``item`` (n_items, f); score = user . item."""

    user: np.ndarray
    item: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_items) float32 scores of the users at ``rows``."""
        return np.asarray(self.user[rows] @ self.item.T, dtype=np.float32)


def confidence(counts: sp.csr_matrix, params: CFParams) -> sp.csr_matrix:
    """The (n_users, n_items) confidence matrix fitted on, from purchase counts ``c``.

    ``log1p``: ``alpha * log(1 + c)``; ``none``: ``alpha * c``; ``bm25`` (Okapi BM25 as in
    ``implicit.nearest_neighbours.bm25_weight`` on the items x users matrix):
    ``alpha * c (K1 + 1) / (K1 ((1 - B) + B n_i / mean(n)) + c) * (log U - log(1 + u_j))`` with
    ``n_i`` the item's total count, ``U`` the number of items and ``u_j`` the user's number of
    items.
    """
    m = counts.tocoo(copy=True).astype(np.float32)
    if params.weighting == "log1p":
        m.data = np.log1p(m.data)
    elif params.weighting == "bm25":
        n_items = float(m.shape[1])
        user_idf = np.log(n_items) - np.log1p(np.bincount(m.row, minlength=m.shape[0]))
        item_len = np.bincount(m.col, weights=m.data, minlength=m.shape[1])
        norm = (1.0 - params.bm25_b) + params.bm25_b * item_len / max(item_len.mean(), 1e-12)
        k1 = params.bm25_k1
        m.data = (m.data * (k1 + 1.0) / (k1 * norm[m.col] + m.data) * user_idf[m.row]).astype(
            np.float32
        )
        m.data = np.maximum(m.data, 0.0)  # a user who bought every item: idf <= 0
    m.data = m.data * np.float32(params.alpha)
    out = m.tocsr()
    out.eliminate_zeros()
    return out


@contextlib.contextmanager
def _blas_threads(n: int) -> Iterator[None]:
    """Limit BLAS to ``n`` threads while fitting (implicit warns otherwise)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def fit_cf(
    kind: str,
    counts: sp.csr_matrix,
    params: CFParams | None = None,
    *,
    seed: int = 42,
    threads: int = 1,
) -> Factors:
    """Fit ``implicit``'s ALS or BPR (``kind``) on the (n_users, n_items) purchase ``counts``
    weighted by :func:`confidence`; the factors, seeded by ``seed``."""
    if kind not in CF_KINDS:
        raise InputError(f"unknown collaborative-filtering model {kind!r} (use als or bpr)")
    params = params or CFParams()
    require("implicit", "recommend")
    weights = confidence(counts, params)
    with _blas_threads(1):  # implicit checks the BLAS threads when the model is built
        model = _build(kind, params, seed, threads)
        model.fit(weights, show_progress=False)
    return Factors(
        np.asarray(model.user_factors, dtype=np.float32),
        np.asarray(model.item_factors, dtype=np.float32),
    )


def _build(
    kind: str, params: CFParams, seed: int, threads: int
) -> AlternatingLeastSquares | BayesianPersonalizedRanking:
    """The unfitted ``implicit`` model of ``kind``."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model: AlternatingLeastSquares | BayesianPersonalizedRanking
    if kind == "als":
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=1.0,  # the confidence already carries alpha
            iterations=params.iterations,
            random_state=seed,
            num_threads=threads,
        )
    else:
        model = BayesianPersonalizedRanking(
            factors=params.factors,
            learning_rate=params.learning_rate,
            regularization=params.regularization,
            iterations=params.iterations,
            random_state=seed,
            num_threads=threads,
        )
    return model

"""The recommenders as user x item scorers, and top-k lists from any of them.

A scorer gives, for a batch of user rows, a dense (batch, n_items) float32 score matrix (higher is
better); :func:`top_k` walks the users in batches, so no (n_users, n_items) matrix is ever held.

* ``popular``: share of users who bought the item (the same list for everyone);
* ``buy-again``: the user's recency-weighted orders of the item (``Interactions.decayed``);
  items the user never bought follow, by popularity (scores below ``PAD``);
* ``als`` / ``bpr``: user . item factors of ``implicit``'s models (:mod:`.cf`);
* ``blend``: buy-again and ALS mixed per user (:class:`BlendScorer`); the fallback of the default
  when the history is too short for the ranker;
* ``ranker`` (the default): a LightGBM classifier of the next weeks' purchases over candidate
  items, fitted on an earlier window (:mod:`.ranker`; needs the data source,
  :class:`~.ranker.RankerSource`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from offerwise.errors import InputError
from offerwise.recommend.cf import CFParams, Factors, fit_cf
from offerwise.recommend.interactions import Interactions
from offerwise.recommend.ranker import RankerParams, RankerSource, fit_ranker

__all__ = [
    "DEFAULT_METHOD",
    "FALLBACK_METHOD",
    "METHODS",
    "PAD",
    "BlendScorer",
    "BuyAgainScorer",
    "FactorScorer",
    "Fitted",
    "MethodParams",
    "PopularScorer",
    "Scorer",
    "TopK",
    "check_method",
    "default_params",
    "fit_methods",
    "popularity",
    "top_k",
]

#: Every method, the default last.
METHODS = ("als", "bpr", "popular", "buy-again", "blend", "ranker")
#: The method used when none is given (chosen by measurement: docs/recommend.md).
DEFAULT_METHOD = "ranker"
#: What the default falls back to when the history is too short to fit the ranker.
FALLBACK_METHOD = "blend"
#: Scale of the popularity tie-break behind a user's own items (buy-again).
PAD = 1e-6


def check_method(method: str) -> None:
    """InputError for an unknown method."""
    if method not in METHODS:
        raise InputError(f"--method {method!r}: unknown method (use one of {', '.join(METHODS)})")


class Scorer(Protocol):
    """Scores of users (rows of the interaction matrix) for every item."""

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_items) float32, higher is better."""
        ...


def popularity(counts: sp.csr_matrix) -> np.ndarray:
    """(n_items,) float32: share of the users who bought each item."""
    n_users = max(counts.shape[0], 1)
    buyers = np.bincount(counts.indices, minlength=counts.shape[1])
    return (buyers / n_users).astype(np.float32)


@dataclass(frozen=True, slots=True)
class PopularScorer:
    """The popularity vector ``pop`` (n_items,) for every user."""

    pop: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.pop, (len(rows), len(self.pop))).astype(np.float32)


@dataclass(frozen=True, slots=True)
class BuyAgainScorer:
    """``decayed`` (n_users, n_items CSR) recency-weighted orders, plus ``PAD * pop / max(pop)``
    so items never bought follow by popularity."""

    decayed: sp.csr_matrix
    pop: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        pad = (PAD * self.pop / max(float(self.pop.max(initial=0.0)), 1e-12)).astype(np.float32)
        return np.asarray(self.decayed[rows].toarray(), dtype=np.float32) + pad


@dataclass(frozen=True, slots=True)
class FactorScorer:
    """ALS or BPR: user . item factors."""

    factors: Factors

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.factors.scores(rows)


def _row_scaled(s: np.ndarray) -> np.ndarray:
    """Each row divided by its largest absolute value (rows of zeros stay zero)."""
    m = np.abs(s).max(axis=1, keepdims=True)
    return s / np.where(m > 0, m, 1.0)


@dataclass(frozen=True, slots=True)
class BlendScorer:
    """Buy-again mixed with a CF model, each scaled to [-1, 1] per user:
    ``(1 - weight) * ba / max(ba) + weight * cf / max|cf|``."""

    buy_again: BuyAgainScorer
    cf: FactorScorer
    weight: float

    def scores(self, rows: np.ndarray) -> np.ndarray:
        ba = _row_scaled(self.buy_again.scores(rows))
        cf = _row_scaled(self.cf.scores(rows))
        return ((1.0 - self.weight) * ba + self.weight * cf).astype(np.float32)


@dataclass(frozen=True, slots=True)
class TopK:
    """Top-k lists: ``items`` (n_users, k) item columns best first, ``scores`` (n_users, k)."""

    items: np.ndarray
    scores: np.ndarray


def _batches(n: int, size: int) -> Iterator[np.ndarray]:
    for lo in range(0, n, size):
        yield np.arange(lo, min(lo + size, n))


def top_k(scorer: Scorer, n_users: int, n_items: int, k: int, batch: int = 256) -> TopK:
    """The ``min(k, n_items)`` best items of every user by ``scorer``, best first (equal scores
    in the list ordered by item column; deterministic)."""
    k = min(k, n_items)
    items = np.empty((n_users, k), dtype=np.int64)
    scores = np.empty((n_users, k), dtype=np.float32)
    for rows in _batches(n_users, batch):
        s = scorer.scores(rows)
        part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < n_items else np.argsort(-s, 1)
        ps = np.take_along_axis(s, part, axis=1)
        order = np.lexsort((part, -ps), axis=1)
        items[rows] = np.take_along_axis(part, order, axis=1)[:, :k]
        scores[rows] = np.take_along_axis(ps, order, axis=1)[:, :k]
    return TopK(items, scores)


@dataclass(frozen=True, slots=True)
class MethodParams:
    """Settings of every method: the buy-again half-life (days), ALS and BPR hyperparameters and
    the blend's CF weight. :func:`default_params` gives the values chosen on a validation window
    (docs/recommend.md)."""

    half_life_days: float
    als: CFParams
    bpr: CFParams
    blend_weight: float
    ranker: RankerParams = field(default_factory=RankerParams)


def default_params(level: str) -> MethodParams:
    """The settings chosen on the Complete Journey validation window for ``level``."""
    return _DEFAULTS[level]


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted method: its scorer and fit time in seconds (a blend counts its ALS fit)."""

    method: str
    scorer: Scorer
    seconds: float


def _factors_of(fitted: Fitted | None) -> Factors | None:
    """The ALS factors of a fitted ``als`` method (None when it was not fitted)."""
    return fitted.scorer.factors if fitted and isinstance(fitted.scorer, FactorScorer) else None


def fit_methods(
    inter: Interactions,
    methods: tuple[str, ...],
    params: MethodParams,
    *,
    seed: int = 42,
    threads: int = 1,
    source: RankerSource | None = None,
) -> dict[str, Fitted]:
    """Fit each of ``methods`` on ``inter`` once (a blend reuses the ALS fit); by method name.
    ``ranker`` also needs ``source``: the data and the cutoff ``inter`` was built at."""
    for m in methods:
        check_method(m)
    out: dict[str, Fitted] = {}
    t0 = time.perf_counter()
    pop = popularity(inter.counts)
    t_pop = time.perf_counter() - t0
    ba = BuyAgainScorer(inter.decayed, pop)
    factors: dict[str, Fitted] = {}
    for kind in ("als", "bpr"):
        if kind in methods or (kind == "als" and "blend" in methods):
            t0 = time.perf_counter()
            cfp = params.als if kind == "als" else params.bpr
            fac = fit_cf(kind, inter.counts, cfp, seed=seed, threads=threads)
            factors[kind] = Fitted(kind, FactorScorer(fac), time.perf_counter() - t0 + t_pop)
    for m in methods:
        if m == "ranker":
            if source is None:
                raise InputError("the ranker needs the data source and the cutoff (RankerSource)")
            t0 = time.perf_counter()
            rk = fit_ranker(
                source.ds,
                source.level,
                source.cutoff,
                inter,
                params.ranker,
                params.als,
                seed=seed,
                threads=threads,
                als=_factors_of(factors.get("als")),
            )
            out[m] = Fitted(m, rk, time.perf_counter() - t0)
        elif m == "popular":
            out[m] = Fitted(m, PopularScorer(pop), t_pop)
        elif m == "buy-again":
            out[m] = Fitted(m, ba, t_pop)
        elif m in factors:
            out[m] = factors[m]
        else:  # blend
            als = factors["als"]
            cf = als.scorer
            assert isinstance(cf, FactorScorer)
            out[m] = Fitted(m, BlendScorer(ba, cf, params.blend_weight), als.seconds)
    return out


_BPR = CFParams(factors=32, regularization=0.01, learning_rate=0.05, iterations=100)
#: Chosen on the Complete Journey window 16 to 8 weeks before the end of the data (fit on what
#: came before it); the last 8 weeks were not looked at (docs/recommend.md).
_DEFAULTS = {
    "category": MethodParams(
        half_life_days=1e6,  # no decay: plain order counts
        als=CFParams(factors=16, regularization=1.0, alpha=10.0, weighting="log1p"),
        bpr=_BPR,
        blend_weight=0.1,
    ),
    "product": MethodParams(
        half_life_days=120.0,
        als=CFParams(factors=16, regularization=1.0, alpha=10.0, weighting="log1p"),
        bpr=_BPR,
        blend_weight=0.1,
    ),
}

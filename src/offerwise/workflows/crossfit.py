"""Cross-fitting of the response model's candidate configurations (``offerwise train``).

Exposures are split into folds **by customer** (all rows of a customer in one fold, seeded). A
candidate (learner, min rows per leaf, leaves, rounds) is fitted once per fold on the other folds
and predicts its own fold: the out-of-fold (OOF) expected net profit ``q̂(x_i, a)`` (n, A) of every
arm a ∈ [none, *menu]. The (candidate, fold) fits are independent and run side by side
(:func:`fold_workers`). :mod:`offerwise.workflows.tune` scores and chooses among them.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.models.offer_attributes import OfferSpec
from offerwise.models.response import (
    POOLED,
    SCORE_COLUMNS,
    OfferResponseModel,
    ResponseScores,
    net_profit_matrix,
)
from offerwise.vocab import NO_OFFER
from offerwise.workflows._common import Progress, note

__all__ = [
    "Candidate",
    "CrossFit",
    "CrossFitRun",
    "Refit",
    "cross_fit_all",
    "customer_folds",
    "fit_model",
    "fold_workers",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One configuration of the response model."""

    learner: str
    min_child_samples: int
    num_leaves: int = 15
    n_estimators: int = 150

    @property
    def label(self) -> str:
        return (
            f"{self.learner} leaves={self.num_leaves} min_leaf={self.min_child_samples} "
            f"rounds={self.n_estimators}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "learner": self.learner,
            "min_child_samples": self.min_child_samples,
            "num_leaves": self.num_leaves,
            "n_estimators": self.n_estimators,
        }


@dataclass(slots=True)
class CrossFit:
    """Out-of-fold predictions of one candidate for the n exposures.

    ``scores``: (n, K) predictions for the offers modelled in every fold; ``q``: (n, A) expected
    net profit of ``arms`` (``none`` first; an offer a fold could not model gets the ``none``
    value, i.e. no effect); ``fold``: (n,) fold of each row.
    """

    fold: np.ndarray
    arms: list[str]
    q: np.ndarray
    scores: ResponseScores
    audit: OfferResponseModel  # the model that predicted fold 0 (fitted on the other folds)


def customer_folds(customer_id: pd.Series, k: int, seed: int) -> np.ndarray:
    """Fold (n,) in [0, k) of each row: a seeded hash of its customer id (a customer's rows share
    a fold, so no customer is both fitted and predicted)."""
    ids = customer_id.astype(str)
    uniq = pd.unique(ids)
    h = np.array(
        [int(hashlib.sha256(f"{seed}:{c}".encode()).hexdigest()[:8], 16) % k for c in uniq],
        dtype=np.int64,
    )
    out: np.ndarray = pd.Series(h, index=uniq).reindex(ids).to_numpy(dtype=np.int64)
    return out


def _stack_scores(parts: list[tuple[np.ndarray, ResponseScores]], n: int) -> ResponseScores:
    """(n, K) scores from per-fold predictions, over the offers modelled in every fold."""
    common = [o for o in parts[0][1].offers if all(o in sc.offers for _, sc in parts)]
    cols = SCORE_COLUMNS[2:]  # the ResponseScores fields, (n, K) each
    out = {c: np.zeros((n, len(common))) for c in cols}
    for rows, sc in parts:
        idx = [sc.offers.index(o) for o in common]
        for c in cols:
            out[c][rows] = getattr(sc, c)[:, idx]
    return ResponseScores(offers=common, **out)


@dataclass(slots=True)
class _FoldFit:
    """One fold of one candidate: the rows it predicted, their scores and (n_fold, A) q."""

    rows: np.ndarray
    scores: ResponseScores
    q: np.ndarray
    model: OfferResponseModel


def _fit_fold(
    cand: Candidate,
    X: np.ndarray,
    ex: pd.DataFrame,
    menu: list[str],
    fold: np.ndarray,
    f: int,
    model_kwargs: dict[str, Any],
    propensity: np.ndarray | None,
) -> _FoldFit:
    te = np.flatnonzero(fold == f)
    tr = np.flatnonzero(fold != f)
    p = None if propensity is None else propensity[tr]
    m = fit_model(cand, X[tr], ex.iloc[tr], menu, {**model_kwargs, "revenue": False}, p)
    sc, base = m._predict(X[te])
    return _FoldFit(te, sc, net_profit_matrix(sc, base, [NO_OFFER, *menu]), m)


def fold_workers(threads: int, jobs: int) -> tuple[int, int]:
    """(workers, threads per worker) for ``jobs`` independent fits on ``threads`` threads: the
    fits run side by side with one thread each rather than one after the other with all of them
    (on 2 cores, one 150-round fit on ~67k rows took 0.73 s on 2 threads and 0.97 s on 1; four
    such fits took 3.19 s one after another on 2 threads and 2.22 s two at a time on 1 thread)."""
    workers = max(1, min(int(threads), int(jobs)))
    return workers, max(1, int(threads) // workers)


@dataclass(frozen=True, slots=True)
class Refit:
    """The saved model's own inputs besides the exposures: feature names and the menu's
    structure (offers with too few exposures are extrapolated from it)."""

    feature_names: list[str] | None = None
    offer_specs: list[OfferSpec] | None = None

    def fit(
        self,
        cand: Candidate,
        X: np.ndarray,
        ex: pd.DataFrame,
        menu: list[str],
        model_kwargs: dict[str, Any],
        propensity: np.ndarray | None,
    ) -> OfferResponseModel:
        """``cand`` fitted on every exposure: the model ``train`` saves."""
        return fit_model(
            cand,
            X,
            ex,
            menu,
            model_kwargs,
            propensity,
            feature_names=self.feature_names,
            offer_specs=self.offer_specs,
        )


@dataclass(slots=True)
class CrossFitRun:
    """Every candidate's :class:`CrossFit` and fitting seconds (summed over its folds); with a
    :class:`Refit`, the default candidate (``cands[0]``) fitted on every exposure too."""

    fits: list[CrossFit]
    seconds: list[float]
    default_model: OfferResponseModel | None = None
    default_model_seconds: float = 0.0


def cross_fit_all(
    cands: list[Candidate],
    X: np.ndarray,
    ex: pd.DataFrame,
    menu: list[str],
    fold: np.ndarray,
    *,
    model_kwargs: dict[str, Any],
    propensity: np.ndarray | None,
    threads: int = 1,
    progress: Progress | None = None,
    refit: Refit | None = None,
) -> CrossFitRun:
    """Out-of-fold predictions of every candidate (see :class:`CrossFitRun`).

    The (candidate, fold) fits are independent and run on :func:`fold_workers` threads; each
    fit's result does not depend on the others or on their order (its seeds are its own), only
    on the threads each LightGBM fit uses. With ``refit``, the default's fit on every exposure
    runs in the same pool (speculatively: tuning keeps the default unless a challenger beats it
    at the 5 % level); it is then set to predict with ``model_kwargs["n_jobs"]`` threads.
    """
    folds = [int(f) for f in np.unique(fold)]
    # the longest fits start first, so the last job to finish is a short one and a worker idles
    # less at the end: the refit on every row, then the per-offer learners (a model per offer)
    order = sorted(range(len(cands)), key=lambda c: cands[c].learner == POOLED)
    jobs = ([(-1, -1)] if refit is not None else []) + [(c, f) for c in order for f in folds]
    workers, per = fold_workers(threads, len(jobs))
    kw = {**model_kwargs, "n_jobs": per}
    predict_threads = int(model_kwargs.get("n_jobs", per))  # the kept models predict with these

    def run(job: tuple[int, int]) -> tuple[_FoldFit | OfferResponseModel, float]:
        t0 = time.perf_counter()
        got: _FoldFit | OfferResponseModel
        if job[0] < 0:
            assert refit is not None
            got = refit.fit(cands[0], X, ex, menu, kw, propensity).set_threads(predict_threads)
        else:
            try:
                got = _fit_fold(cands[job[0]], X, ex, menu, fold, job[1], kw, propensity)
            except InputError as exc:  # the fold's rows, not the data's, fell short
                n_fit = int((fold != job[1]).sum())
                raise InputError(
                    f"cross-fitting fold {job[1] + 1}/{len(folds)}, fitted on {n_fit:,} of the "
                    f"{len(ex):,} exposures (the rest held out to check it): {exc}"
                ) from exc
        return got, time.perf_counter() - t0

    def what(job: tuple[int, int]) -> str:
        if job[0] < 0:
            return f"fitted {cands[0].label} on all {len(ex):,} exposures"
        return f"cross-fitted {cands[job[0]].label}, fold {job[1] + 1}/{len(folds)}"

    note(
        progress,
        f"cross-fitting {len(cands)} candidate(s) x {len(folds)} folds"
        + (" and the default on every exposure" if refit is not None else "")
        + f" ({workers} at a time, {per} thread(s) each)",
    )
    done: dict[tuple[int, int], tuple[_FoldFit | OfferResponseModel, float]] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crossfit") as pool:
        futures = {pool.submit(run, j): j for j in jobs}
        for fut in as_completed(futures):
            j = futures[fut]
            done[j] = fut.result()
            note(progress, what(j))
    arms = [NO_OFFER, *menu]
    out = CrossFitRun(fits=[], seconds=[])
    for c in range(len(cands)):
        parts = [cast(_FoldFit, done[(c, f)][0]) for f in folds]
        q = np.zeros((len(ex), len(arms)))
        for ff in parts:
            q[ff.rows] = ff.q
        out.fits.append(
            CrossFit(
                fold=fold,
                arms=arms,
                q=q,
                scores=_stack_scores([(ff.rows, ff.scores) for ff in parts], len(ex)),
                audit=parts[0].model.set_threads(predict_threads),  # saved as the audit model
            )
        )
        out.seconds.append(sum(done[(c, f)][1] for f in folds))
    if refit is not None:
        model, secs = done[(-1, -1)]
        out.default_model = cast(OfferResponseModel, model)
        out.default_model_seconds = secs
    return out


def fit_model(
    cand: Candidate,
    X: np.ndarray,
    ex: pd.DataFrame,
    menu: list[str],
    model_kwargs: dict[str, Any],
    propensity: np.ndarray | None,
    *,
    feature_names: list[str] | None = None,
    offer_specs: list[OfferSpec] | None = None,
) -> OfferResponseModel:
    """``cand``'s response model fitted on the exposures ``ex`` (features ``X``, same rows);
    ``offer_specs`` (the menu's structure): offers with too few exposures are extrapolated."""
    model = OfferResponseModel(
        learner=cand.learner,
        min_child_samples=cand.min_child_samples,
        num_leaves=cand.num_leaves,
        n_estimators=cand.n_estimators,
        **model_kwargs,
    )
    return model.fit(
        X,
        ex["offer_id"],
        ex["converted"],
        ex["revenue"],
        ex["discount_cost"],
        ex["gross_profit"],
        menu=menu,
        propensity=propensity,
        feature_names=feature_names,
        offer_specs=offer_specs,
    )

"""``offerwise recommend``: top-k categories or products per customer, and their evaluation.

``recommend``: fit one method on the transactions before ``as_of`` and list every customer's
top-k items; customers with no purchase before ``as_of`` get the popularity list
(``fallback``). ``evaluate_recommenders``: fit every method on the history before the last
``holdout_weeks`` weeks and score their lists against what each customer bought in those weeks
(:mod:`offerwise.recommend.metrics`). Both load the data once and build the matrix once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import InputError, Problem
from offerwise.recommend.interactions import (
    LEVELS,
    Interactions,
    build_interactions,
    check_level,
    item_purchases,
    relevant_matrix,
)
from offerwise.recommend.methods import (
    DEFAULT_METHOD,
    METHODS,
    PopularScorer,
    TopK,
    check_method,
    default_params,
    fit_methods,
    popularity,
    top_k,
)
from offerwise.recommend.metrics import coverage, explore_relevant, ranking_scores
from offerwise.vocab import default_as_of, parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data

__all__ = [
    "RECOMMEND_COLUMNS",
    "MethodEvaluation",
    "RecommendEvaluation",
    "RecommendResult",
    "evaluate_recommenders",
    "recommend",
]

#: Columns of a recommendations file, in order (one row per customer x rank).
RECOMMEND_COLUMNS = ("customer_id", "item", "rank", "score", "method", "fallback")


@dataclass(slots=True)
class RecommendResult:
    """Recommendations (``RECOMMEND_COLUMNS``) and how they were made."""

    recs: pd.DataFrame
    level: str
    method: str
    k: int
    as_of: pd.Timestamp
    n_customers: int
    n_fallback: int
    n_items: int
    fingerprint: str
    out: Path | None = None
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (not the rows)."""
        return {
            "out": None if self.out is None else str(self.out),
            "level": self.level,
            "method": self.method,
            "k": self.k,
            "as_of": self.as_of.isoformat(),
            "n_customers": self.n_customers,
            "n_fallback": self.n_fallback,
            "n_items": self.n_items,
            "rows": int(len(self.recs)),
            "data_fingerprint": self.fingerprint,
            "warnings": [w.to_dict() for w in self.warnings],
            "seconds": self.timings,
        }


@dataclass(frozen=True, slots=True)
class MethodEvaluation:
    """One method's held-out scores: mean recall@k and NDCG@k over ``n_users`` customers who
    bought something in the held-out weeks, the same on explore items over ``n_explore_users``,
    catalogue coverage and fit time (s)."""

    method: str
    recall: float
    ndcg: float
    explore_recall: float
    explore_ndcg: float
    coverage: float
    fit_seconds: float
    n_users: int
    n_explore_users: int

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "recall": self.recall,
            "ndcg": self.ndcg,
            "explore_recall": self.explore_recall,
            "explore_ndcg": self.explore_ndcg,
            "coverage": self.coverage,
            "fit_seconds": self.fit_seconds,
            "n_users": self.n_users,
            "n_explore_users": self.n_explore_users,
        }


@dataclass(slots=True)
class RecommendEvaluation:
    """Every method fitted before ``cutoff`` and scored on purchases in ``[cutoff, end)``."""

    level: str
    k: int
    holdout_weeks: int
    cutoff: pd.Timestamp
    end: pd.Timestamp
    n_items: int
    rows: list[MethodEvaluation]
    fingerprint: str
    default_method: str = DEFAULT_METHOD
    warnings: list[Problem] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per method (the :class:`MethodEvaluation` fields)."""
        return pd.DataFrame([r.to_dict() for r in self.rows])

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.level,
            "k": self.k,
            "holdout_weeks": self.holdout_weeks,
            "cutoff": self.cutoff.isoformat(),
            "end": self.end.isoformat(),
            "n_items": self.n_items,
            "default_method": self.default_method,
            "data_fingerprint": self.fingerprint,
            "methods": [r.to_dict() for r in self.rows],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def _check_args(level: str, k: int, methods: tuple[str, ...]) -> None:
    """Bad arguments, found before any data is read."""
    if k < 1:
        raise InputError(f"--k {k}: the list length must be at least 1")
    if level not in LEVELS:
        raise InputError(f"--level {level!r}: unknown level (use {' or '.join(LEVELS)})")
    for m in methods:
        check_method(m)


def _open(data: DataArg, settings: Settings, level: str) -> DataSet:
    ds = open_data(data, settings, ("customers", "transactions"))
    check_level(ds, level)
    return ds


def _matrix(
    ds: DataSet, level: str, end: pd.Timestamp, half_life_days: float
) -> tuple[Interactions, pd.DataFrame]:
    """Every customer's purchases before ``end`` as a matrix (and the purchases frame)."""
    users = ds.frame("customers")["customer_id"].astype(str).to_numpy(dtype=object)
    purchases = item_purchases(ds, level, None, end, half_life_days)
    return build_interactions(purchases, users), purchases


def _with_fallback(tk: TopK, inter: Interactions, pop_top: TopK) -> tuple[TopK, np.ndarray]:
    """``tk`` with the popularity list for users without history; (lists, fallback (n,))."""
    cold = ~inter.has_history()
    items, scores = tk.items.copy(), tk.scores.copy()
    items[cold], scores[cold] = pop_top.items[cold], pop_top.scores[cold]
    return TopK(items, scores), cold


def recommend(
    data: DataArg,
    *,
    out: str | Path | None = None,
    level: str = "category",
    k: int = 10,
    as_of: object = None,
    method: str = DEFAULT_METHOD,
    seed: int | None = None,
    threads: int = 1,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> RecommendResult:
    """Top-``k`` items per customer of ``data`` by ``method``, fitted on the transactions before
    ``as_of`` (default: :func:`offerwise.vocab.default_as_of`); written atomically to ``out``
    (Parquet/CSV by suffix) when given."""
    _check_args(level, k, (method,))
    settings = settings or default_settings()
    seed = settings.seed if seed is None else seed
    t0 = time.perf_counter()
    note(progress, "validating data")
    ds = _open(data, settings, level)
    ts = default_as_of(ds) if as_of is None else parse_as_of(as_of)
    params = default_params(level)
    note(progress, f"building the {level} matrix before {ts.date()}")
    inter, _ = _matrix(ds, level, ts, params.half_life_days)
    if inter.shape[1] == 0:
        raise InputError(f"{ds.root}: no purchases before {ts.date()} to recommend from")
    t1 = time.perf_counter()
    note(progress, f"fitting {method}")
    fitted = fit_methods(inter, (method,), params, seed=seed, threads=threads)[method]
    t2 = time.perf_counter()
    note(progress, f"top {k} for {inter.shape[0]:,} customers")
    n_users, n_items = inter.shape
    pop_top = top_k(PopularScorer(popularity(inter.counts)), n_users, n_items, k)
    lists, cold = _with_fallback(top_k(fitted.scorer, n_users, n_items, k), inter, pop_top)
    kk = lists.items.shape[1]
    recs = pd.DataFrame(
        {
            "customer_id": np.repeat(inter.users, kk),
            "item": inter.items[lists.items.reshape(-1)],
            "rank": np.tile(np.arange(1, kk + 1, dtype=np.int64), n_users),
            "score": lists.scores.reshape(-1).astype(np.float64),
            "method": np.where(np.repeat(cold, kk), "popular", method),
            "fallback": np.repeat(cold, kk),
        }
    )[list(RECOMMEND_COLUMNS)]
    t3 = time.perf_counter()
    if out is not None:
        write_table(recs, out)
    t4 = time.perf_counter()
    return RecommendResult(
        recs=recs,
        level=level,
        method=method,
        k=k,
        as_of=ts,
        n_customers=n_users,
        n_fallback=int(cold.sum()),
        n_items=n_items,
        fingerprint=ds.fingerprint,
        out=None if out is None else Path(out),
        warnings=list(ds.warnings),
        timings={
            "load_matrix": round(t1 - t0, 3),
            "fit": round(t2 - t1, 3),
            "top_k": round(t3 - t2, 3),
            "write": round(t4 - t3, 3),
            "total": round(t4 - t0, 3),
        },
    )


def evaluate_recommenders(
    data: DataArg,
    *,
    holdout_weeks: int,
    level: str = "category",
    k: int = 10,
    as_of: object = None,
    methods: tuple[str, ...] = METHODS,
    seed: int | None = None,
    threads: int = 1,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> RecommendEvaluation:
    """Fit ``methods`` on the transactions before ``end - holdout_weeks`` (``end``: ``as_of``,
    default the end of the data) and score their top-``k`` lists on the purchases in the held-out
    weeks; customers without history get the popularity list, as in :func:`recommend`."""
    _check_args(level, k, methods)
    if holdout_weeks < 1:
        raise InputError(f"--holdout-weeks {holdout_weeks}: hold out at least 1 week")
    settings = settings or default_settings()
    seed = settings.seed if seed is None else seed
    note(progress, "validating data")
    ds = _open(data, settings, level)
    end = default_as_of(ds) if as_of is None else parse_as_of(as_of)
    cutoff = end - pd.Timedelta(weeks=holdout_weeks)
    params = default_params(level)
    note(progress, f"building the {level} matrix before {cutoff.date()}")
    inter, _ = _matrix(ds, level, cutoff, params.half_life_days)
    held = item_purchases(ds, level, cutoff, end, params.half_life_days)
    if inter.shape[1] == 0 or not len(held):
        raise InputError(
            f"{ds.root}: --holdout-weeks {holdout_weeks} leaves no purchases "
            f"{'before' if inter.shape[1] == 0 else 'after'} the cutoff {cutoff.date()}"
        )
    relevant, n_rel = relevant_matrix(held, inter)
    explore, n_explore = explore_relevant(relevant, n_rel, inter.counts)
    n_users, n_items = inter.shape
    pop_top = top_k(PopularScorer(popularity(inter.counts)), n_users, n_items, k)
    rows: list[MethodEvaluation] = []
    note(progress, f"fitting {', '.join(methods)}")
    fitted = fit_methods(inter, methods, params, seed=seed, threads=threads)
    for m in methods:
        note(progress, f"scoring {m}")
        lists, _ = _with_fallback(top_k(fitted[m].scorer, n_users, n_items, k), inter, pop_top)
        a = ranking_scores(lists.items, relevant, n_rel)
        b = ranking_scores(lists.items, explore, n_explore)
        rows.append(
            MethodEvaluation(
                method=m,
                recall=a.recall,
                ndcg=a.ndcg,
                explore_recall=b.recall,
                explore_ndcg=b.ndcg,
                coverage=coverage(lists.items, n_items),
                fit_seconds=round(fitted[m].seconds, 3),
                n_users=a.n_users,
                n_explore_users=b.n_users,
            )
        )
    return RecommendEvaluation(
        level=level,
        k=k,
        holdout_weeks=holdout_weeks,
        cutoff=cutoff,
        end=end,
        n_items=n_items,
        rows=rows,
        fingerprint=ds.fingerprint,
        warnings=list(ds.warnings),
    )

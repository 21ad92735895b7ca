"""``offerwise recommend``: top-k categories or products per customer, and their evaluation.

``recommend``: fit one method on the transactions before ``as_of`` and list every customer's
top-k items; customers with no purchase before ``as_of`` get the popularity list
(``fallback``). ``evaluate_recommenders``: fit every method on the history before the last
``holdout_weeks`` weeks and score their lists against what each customer bought in those weeks
(:mod:`offerwise.recommend.metrics`). Both load the data once and build the matrix once.

``text_embeddings`` (product level): products nobody bought before the cutoff join the catalogue
with CF vectors from their nearest products by description (:mod:`offerwise.recommend.coldstart`,
embeddings by :mod:`offerwise.embed.text`, extra ``deep``); the evaluation then also scores each
CF method with them, and reports recall on *new* items (first bought after the cutoff).
``similar_products``: the products whose descriptions are nearest to one product's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import InputError, Problem
from offerwise.recommend.coldstart import (
    Neighbours,
    NewOnly,
    nearest,
    text_neighbours,
    with_cold_items,
)
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
    FALLBACK_METHOD,
    METHODS,
    PopularScorer,
    Scorer,
    TopK,
    check_method,
    default_params,
    fit_methods,
    popularity,
    top_k,
)
from offerwise.recommend.metrics import coverage, explore_relevant, ranking_scores
from offerwise.recommend.ranker import RankerSource, ShortHistory, boosted, check_boost
from offerwise.vocab import default_as_of, parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data

__all__ = [
    "RECOMMEND_COLUMNS",
    "MethodEvaluation",
    "RecommendEvaluation",
    "RecommendResult",
    "SimilarProducts",
    "evaluate_recommenders",
    "recommend",
    "similar_products",
]

#: Methods whose scores text embeddings change (new items get CF vectors).
TEXT_METHODS = ("als", "bpr", "blend")

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
    text_embeddings: bool = False
    n_new_items: int = 0  # products without purchases added by text embeddings
    n_new_recommended: int = 0  # list entries that are such products
    explore_boost: float = 1.0  # the ranker's factor on items a customer never bought

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
            "text_embeddings": self.text_embeddings,
            "n_new_items": self.n_new_items,
            "n_new_recommended": self.n_new_recommended,
            "explore_boost": self.explore_boost,
            "rows": int(len(self.recs)),
            "data_fingerprint": self.fingerprint,
            "warnings": [w.to_dict() for w in self.warnings],
            "seconds": self.timings,
        }


@dataclass(frozen=True, slots=True)
class MethodEvaluation:
    """One method's held-out scores: mean recall@k and NDCG@k over ``n_users`` customers who
    bought something in the held-out weeks, the same on explore items over ``n_explore_users``,
    catalogue coverage and fit time (s); ``new_recall``: recall@k of a list of new items only
    (those without purchases before the cutoff, by the method's scores) on the items first bought
    in the held-out weeks, over the ``n_new_users`` who bought one (0 without
    ``text_embeddings``: no purchase, no column, no score)."""

    method: str
    recall: float
    ndcg: float
    explore_recall: float
    explore_ndcg: float
    coverage: float
    fit_seconds: float
    n_users: int
    n_explore_users: int
    new_recall: float = float("nan")
    n_new_users: int = 0
    text_embeddings: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "text_embeddings": self.text_embeddings,
            "recall": self.recall,
            "ndcg": self.ndcg,
            "explore_recall": self.explore_recall,
            "explore_ndcg": self.explore_ndcg,
            "coverage": self.coverage,
            "fit_seconds": self.fit_seconds,
            "n_users": self.n_users,
            "n_explore_users": self.n_explore_users,
            "new_recall": self.new_recall,
            "n_new_users": self.n_new_users,
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
    n_new_items: int = 0  # products without purchases before the cutoff added by text
    explore_boost: float = 1.0  # the ranker's factor on items a customer never bought

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
            "n_new_items": self.n_new_items,
            "default_method": self.default_method,
            "explore_boost": self.explore_boost,
            "data_fingerprint": self.fingerprint,
            "methods": [r.to_dict() for r in self.rows],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def _check_args(level: str, k: int, methods: tuple[str, ...], text: bool = False) -> None:
    """Bad arguments, found before any data is read."""
    if k < 1:
        raise InputError(f"--k {k}: the list length must be at least 1")
    if level not in LEVELS:
        raise InputError(f"--level {level!r}: unknown level (use {' or '.join(LEVELS)})")
    for m in methods:
        check_method(m)
    if text and level != "product":
        raise InputError(
            "--text-embeddings works at --level product (new products, not categories)"
        )
    if text and len(methods) == 1 and methods[0] == "ranker":
        raise InputError(
            "--text-embeddings cannot add new products to --method ranker (it ranks the items "
            f"bought before): use one of {', '.join(TEXT_METHODS)}"
        )


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


@dataclass(frozen=True, slots=True)
class _NewItems:
    """Products with a description and no purchase in the matrix: ``ids`` (n,) and their text
    ``neighbours`` among the matrix's items; ``n_texts`` distinct texts encoded in ``seconds``."""

    ids: np.ndarray
    neighbours: Neighbours
    n_texts: int
    seconds: float


def _products(ds: DataSet, what: str) -> pd.DataFrame:
    if not ds.has("products"):
        raise InputError(
            f"{ds.root}: {what} needs the products table (product_id and descriptive columns "
            "such as category, product_type, brand)"
        )
    return ds.frame("products")


def _new_items(
    ds: DataSet, inter: Interactions, threads: int, progress: Progress | None
) -> _NewItems:
    """Every product of the products table that ``inter`` has no column for, with its text
    neighbours among ``inter``'s items."""
    from offerwise.embed.text import embed_products

    t0 = time.perf_counter()
    products = _products(ds, "--text-embeddings")
    note(progress, "embedding product descriptions")
    emb = embed_products(products, threads=threads)
    row = emb.rows(inter.items)  # (n_items,) embedding row of each known item, -1: no text
    known = np.flatnonzero(row >= 0)
    new = np.flatnonzero(~pd.Index(emb.product_ids).isin(pd.Index(inter.items)))
    new = new[np.argsort(emb.product_ids[new].astype(str), kind="stable")]
    note(progress, f"text neighbours of {len(new):,} products without purchases")
    nb = text_neighbours(emb.vectors[new], emb.vectors[row[known]], known)
    return _NewItems(emb.product_ids[new], nb, emb.n_unique, time.perf_counter() - t0)


def _extended(inter: Interactions, new_ids: np.ndarray) -> Interactions:
    """``inter`` with empty columns for ``new_ids`` appended (nobody bought them yet)."""
    pad = sp.csr_matrix((inter.shape[0], len(new_ids)), dtype=np.float32)
    return Interactions(
        inter.users,
        np.concatenate([inter.items, new_ids]),
        sp.hstack([inter.counts, pad], format="csr"),
        sp.hstack([inter.decayed, pad], format="csr"),
    )


def _new_only(scorer: Scorer, n_users: int, n_known: int, n_items: int, k: int) -> np.ndarray:
    """(n_users, k) top-k lists of the new item columns ``n_known..n_items-1`` only, as item
    columns; -1 (empty) when there are none."""
    if n_items <= n_known:
        return np.full((n_users, k), -1, dtype=np.int64)
    return top_k(NewOnly(scorer, n_known), n_users, n_items - n_known, k).items + n_known


def _with_fallback(tk: TopK, inter: Interactions, n_items: int) -> tuple[TopK, np.ndarray]:
    """``tk`` (lists over ``n_items`` columns, ``inter``'s first) with the popularity list for
    users without history (columns beyond ``inter``'s last); (lists, fallback (n_users,))."""
    cold = ~inter.has_history()
    pop = np.zeros(n_items, dtype=np.float32)
    pop[: inter.shape[1]] = popularity(inter.counts)
    one = top_k(PopularScorer(pop), 1, n_items, tk.items.shape[1])
    items, scores = tk.items.copy(), tk.scores.copy()
    items[cold], scores[cold] = one.items[0], one.scores[0]
    return TopK(items, scores), cold


def recommend(
    data: DataArg,
    *,
    out: str | Path | None = None,
    level: str = "category",
    k: int = 10,
    as_of: object = None,
    method: str | None = None,
    seed: int | None = None,
    threads: int = 1,
    text_embeddings: bool = False,
    explore_boost: float = 1.0,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> RecommendResult:
    """Top-``k`` items per customer of ``data`` by ``method``, fitted on the transactions before
    ``as_of`` (default: :func:`offerwise.vocab.default_as_of`); written atomically to ``out``
    (Parquet/CSV by suffix) when given. ``text_embeddings``: products without purchases can be
    recommended too (module docstring). ``method=None``: :data:`DEFAULT_METHOD`, or
    :data:`FALLBACK_METHOD` with a warning when the history is too short to fit it (and always
    with ``text_embeddings``, which adds new products through the CF factors)."""
    # products nobody bought yet come in through the CF factors: the default is then the blend
    chosen = method or (FALLBACK_METHOD if text_embeddings else DEFAULT_METHOD)
    _check_args(level, k, (chosen,), text_embeddings)
    check_boost(explore_boost, chosen if method is not None else None)
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
    note(progress, f"fitting {chosen}")
    warns = list(ds.warnings)
    source = RankerSource(ds, level, ts)
    try:
        fitted = fit_methods(inter, (chosen,), params, seed=seed, threads=threads, source=source)
    except ShortHistory as e:
        if method is not None:
            raise
        warns.append(
            Problem(
                "transactions",
                "ts",
                f"{e.reason}; the default method fell back to {FALLBACK_METHOD}"
                + ("" if explore_boost == 1.0 else " (--explore-boost applies to the ranker only)"),
                fatal=False,
            )
        )
        chosen = FALLBACK_METHOD
        note(progress, f"fitting {chosen}")
        fitted = fit_methods(inter, (chosen,), params, seed=seed, threads=threads, source=source)
    method = chosen
    scorer: Scorer = boosted(fitted[method].scorer, explore_boost, inter.counts)
    items = inter.items
    new = _new_items(ds, inter, threads, progress) if text_embeddings else None
    if new is not None:
        scorer = with_cold_items(scorer, new.neighbours)
        items = np.concatenate([inter.items, new.ids])
    t2 = time.perf_counter()
    note(progress, f"top {k} for {inter.shape[0]:,} customers")
    n_users, n_items = len(inter.users), len(items)
    lists, cold = _with_fallback(top_k(scorer, n_users, n_items, k), inter, n_items)
    kk = lists.items.shape[1]
    recs = pd.DataFrame(
        {
            "customer_id": np.repeat(inter.users, kk),
            "item": items[lists.items.reshape(-1)],
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
        warnings=warns,
        text_embeddings=text_embeddings,
        explore_boost=explore_boost if method == "ranker" else 1.0,
        n_new_items=0 if new is None else len(new.ids),
        n_new_recommended=int((lists.items >= inter.shape[1]).sum()),
        timings={
            "load_matrix": round(t1 - t0, 3),
            "fit": round(t2 - t1 - (0.0 if new is None else new.seconds), 3),
            "embed": round(0.0 if new is None else new.seconds, 3),
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
    text_embeddings: bool = False,
    explore_boost: float = 1.0,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> RecommendEvaluation:
    """Fit ``methods`` on the transactions before ``end - holdout_weeks`` (``end``: ``as_of``,
    default the end of the data) and score their top-``k`` lists on the purchases in the held-out
    weeks; customers without history get the popularity list, as in :func:`recommend`.
    ``text_embeddings``: each CF method (:data:`TEXT_METHODS`) is scored a second time with the
    products not bought before the cutoff added by text (a row with ``text_embeddings=True``)."""
    _check_args(level, k, methods, text_embeddings)
    check_boost(explore_boost, None)
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
    new = _new_items(ds, inter, threads, progress) if text_embeddings else None
    n_users, n_known = inter.shape
    ext = inter if new is None else _extended(inter, new.ids)
    relevant, n_rel = relevant_matrix(held, ext)
    explore, n_explore = explore_relevant(relevant, n_rel, ext.counts)
    # new items: first bought in the held-out weeks (no column without text embeddings)
    fresh, n_fresh = relevant_matrix(held[~held["item"].isin(pd.Index(inter.items))], ext)
    rows: list[MethodEvaluation] = []
    note(progress, f"fitting {', '.join(methods)}")
    warns = list(ds.warnings)
    source = RankerSource(ds, level, cutoff)
    try:
        fitted = fit_methods(inter, methods, params, seed=seed, threads=threads, source=source)
    except ShortHistory as e:
        if "ranker" not in methods or len(methods) == 1:
            raise
        warns.append(
            Problem("transactions", "ts", f"{e.reason}; the ranker is left out", fatal=False)
        )
        methods = tuple(m for m in methods if m != "ranker")
        fitted = fit_methods(inter, methods, params, seed=seed, threads=threads, source=source)
    runs: list[tuple[str, Scorer, bool]] = []
    for m in methods:
        runs.append((m, boosted(fitted[m].scorer, explore_boost, inter.counts), False))
        if new is not None and m in TEXT_METHODS:
            runs.append((m, with_cold_items(fitted[m].scorer, new.neighbours), True))
    for m, scorer, text in runs:
        note(progress, f"scoring {m}{' + text' if text else ''}")
        n_items = ext.shape[1] if text else n_known
        lists, _ = _with_fallback(top_k(scorer, n_users, n_items, k), inter, n_items)
        a = ranking_scores(lists.items, relevant, n_rel)
        b = ranking_scores(lists.items, explore, n_explore)
        c = ranking_scores(_new_only(scorer, n_users, n_known, n_items, k), fresh, n_fresh)
        rows.append(
            MethodEvaluation(
                method=m,
                recall=a.recall,
                ndcg=a.ndcg,
                explore_recall=b.recall,
                explore_ndcg=b.ndcg,
                coverage=coverage(lists.items, n_items),
                fit_seconds=round(
                    fitted[m].seconds + (new.seconds if new is not None and text else 0.0), 3
                ),
                n_users=a.n_users,
                n_explore_users=b.n_users,
                new_recall=c.recall,
                n_new_users=c.n_users,
                text_embeddings=text,
            )
        )
    return RecommendEvaluation(
        level=level,
        k=k,
        holdout_weeks=holdout_weeks,
        cutoff=cutoff,
        end=end,
        n_items=n_known,
        rows=rows,
        fingerprint=ds.fingerprint,
        warnings=warns,
        n_new_items=0 if new is None else len(new.ids),
        explore_boost=explore_boost,
    )


@dataclass(slots=True)
class SimilarProducts:
    """The ``k`` products whose descriptions are nearest to ``product_id``'s: ``frame`` with
    columns rank, product_id, similarity (cosine), text."""

    product_id: str
    text: str
    frame: pd.DataFrame
    n_products: int
    n_texts: int
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {
            "product_id": self.product_id,
            "text": self.text,
            "n_products": self.n_products,
            "n_texts": self.n_texts,
            "similar": self.frame.to_dict(orient="records"),
            "seconds": round(self.seconds, 3),
        }


def similar_products(
    data: DataArg,
    product_id: str,
    *,
    k: int = 10,
    threads: int = 1,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> SimilarProducts:
    """The ``k`` products of ``data``'s products table nearest to ``product_id`` by text
    embedding (:mod:`offerwise.embed.text`; every distinct description is encoded once)."""
    from offerwise.embed.text import embed_products

    if k < 1:
        raise InputError(f"--k {k}: the list length must be at least 1")
    t0 = time.perf_counter()
    settings = settings or default_settings()
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "transactions"))
    products = _products(ds, "--similar-to")
    pid = str(product_id)
    note(progress, "embedding product descriptions")
    emb = embed_products(products, threads=threads)
    row = int(emb.rows([pid])[0])
    if row < 0:
        known = products["product_id"].astype(str).isin([pid]).any()
        raise InputError(
            f"--similar-to {pid!r}: "
            + ("the product has no description" if known else "no such product_id in products")
        )
    idx, sims = nearest(emb.vectors, emb.vectors[row], k, exclude=row)
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, len(idx) + 1, dtype=np.int64),
            "product_id": emb.product_ids[idx],
            "similarity": sims.astype(np.float64),
            "text": emb.texts[idx],
        }
    )
    return SimilarProducts(
        pid,
        str(emb.texts[row]),
        frame,
        len(emb.product_ids),
        emb.n_unique,
        time.perf_counter() - t0,
    )

"""``ranker``: a learned, calibrated ranker of what each customer buys in the next weeks.

Buy-again ranks a customer's own items by how often they were bought; popularity and ALS rank
new items by other customers. Neither says whether a customer's 10th repeat item is more likely
than the best new one. The ranker does: a LightGBM classifier of ``P(the customer buys the item in
the next label_weeks weeks)`` over candidate (customer, item) pairs, fitted on an earlier window,
so repeat and new items are ranked on one calibrated scale.

* **Candidates** at a cutoff ``c``: every item the customer bought before ``c``, the
  ``n_popular`` most popular items and the customer's ``n_cf`` best ALS items.
* **Features** (:data:`FEATURES`), from purchases before ``c`` only: the customer's orders with
  the item (all history and the last 8 weeks), days since its last and first order, its share of
  the customer's orders, the customer's orders, distinct items and days since the last order, the
  item's popularity (all history, last 8 weeks), the item's repeat rate (of the customers who
  bought it before ``c − 8 weeks``, the share who bought it again in the last 8 weeks), the ALS
  score (``implicit``, ``offerwise recommend``'s settings, fitted on the purchases before ``c``)
  and its rank among the customer's items.
* **Fit**: features at ``c0 = cutoff − label_weeks``, label = bought in ``[c0, cutoff)``. **Score**:
  features at ``cutoff``. Only purchases before ``cutoff`` are used (point in time), so
  ``recommend --evaluate`` fits it on the history before the held-out weeks like every method.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from offerwise.data.contract import DataSet
from offerwise.errors import InputError
from offerwise.recommend.cf import CFParams, Factors, fit_cf
from offerwise.recommend.interactions import Interactions, item_purchases

__all__ = [
    "FEATURES",
    "ShortHistory",
    "RankerParams",
    "booster_params",
    "RankerScorer",
    "RankerSource",
    "boosted",
    "candidate_features",
    "check_boost",
    "fit_ranker",
]

#: The ranker's features (module docstring), in column order.
FEATURES = (
    "n_orders",
    "n_orders_8w",
    "days_since",
    "days_first",
    "bought",
    "order_share",
    "u_orders",
    "u_items",
    "u_days_since",
    "pop",
    "pop_8w",
    "repeat_rate",
    "als",
    "als_rank",
)


class ShortHistory(InputError):
    """The history before the cutoff is too short to fit the ranker (the default method then
    falls back to ``blend``). ``reason``: the message without the data's path."""

    def __init__(self, root: object, reason: str):
        super().__init__(f"{root}: {reason}")
        self.reason = reason


S = TypeVar("S")

_RECENT_DAYS = 56  # "the last 8 weeks" of the features
_BLOCK = 256  # customers per dense block of ALS scores (block x n_items float32)


@dataclass(frozen=True, slots=True)
class RankerSource:
    """Where the ranker reads purchases: the data, the item ``level`` and the ``cutoff`` the
    users x items matrix was built at (nothing at or after it is read)."""

    ds: DataSet
    level: str
    cutoff: pd.Timestamp


@dataclass(frozen=True, slots=True)
class RankerParams:
    """Settings of the ranker: the label window, the candidates and the LightGBM classifier
    (chosen on the Complete Journey validation window, ``benchmarks/bench_ranker_settings.py``:
    200 trees at a rate of 0.05 and 60 + 30 candidates scored within 0.0015 NDCG@10 of these, in
    20-70 % more time)."""

    label_weeks: int = 8
    n_popular: int = 30
    n_cf: int = 20
    n_estimators: int = 100
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_child_samples: int = 100
    min_positives: int = 200


def _item_stats(ds: DataSet, level: str, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per (customer, item) bought before ``cutoff``: orders ``n``, orders in the last 8 weeks
    ``n8``, days since the last and the first order with the item."""
    item = "p.category" if level == "category" else "t.product_id"
    join = "JOIN products p ON p.product_id = t.product_id" if level == "category" else ""
    sql = f"""
        WITH o AS (
            SELECT CAST(t.customer_id AS VARCHAR) AS customer_id, CAST({item} AS VARCHAR) AS item,
                   t.order_id, MIN(t.ts) AS ts
            FROM transactions t {join}
            WHERE t.ts < $c AND (t.quantity > 0 OR t.amount > 0)
            GROUP BY 1, 2, 3
        )
        SELECT customer_id, item, COUNT(*) AS n,
               SUM(CASE WHEN ts >= $c - INTERVAL {_RECENT_DAYS} DAY THEN 1 ELSE 0 END) AS n8,
               (epoch($c) - epoch(MAX(ts))) / 86400.0 AS since,
               (epoch($c) - epoch(MIN(ts))) / 86400.0 AS first
        FROM o WHERE item IS NOT NULL GROUP BY 1, 2
    """
    return ds.con.execute(sql, {"c": cutoff.to_pydatetime()}).df()


def _customer_stats(
    ds: DataSet, cutoff: pd.Timestamp, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n_users,) orders before ``cutoff`` and days since the last one (NaN: none)."""
    df = ds.con.execute(
        """
        SELECT CAST(customer_id AS VARCHAR) AS customer_id, COUNT(DISTINCT order_id) AS n,
               (epoch($c) - epoch(MAX(ts))) / 86400.0 AS since
        FROM transactions WHERE ts < $c GROUP BY 1
        """,
        {"c": cutoff.to_pydatetime()},
    ).df()
    df.index = pd.Index(df["customer_id"].astype(str))
    keys = pd.Index(users.astype(str))
    n = df["n"].astype(np.float64).reindex(keys).fillna(0.0).to_numpy()
    since = df["since"].astype(np.float64).reindex(keys).to_numpy()
    return n, since


def candidate_features(
    ds: DataSet,
    level: str,
    cutoff: pd.Timestamp,
    users: np.ndarray,
    items: np.ndarray,
    params: RankerParams,
    cf: CFParams,
    *,
    seed: int,
    threads: int,
    factors: Factors | None = None,
) -> pd.DataFrame:
    """Candidate pairs at ``cutoff`` with their :data:`FEATURES`: columns ``u`` (row of
    ``users``), ``i`` (column of ``items``) and the features. Items outside ``items`` are left
    out. ``factors``: ALS already fitted with ``cf`` and ``seed`` on these users' orders before
    ``cutoff`` (the ``als`` method's own fit), used instead of fitting again."""
    st = _item_stats(ds, level, cutoff)
    if not len(st):
        raise ShortHistory(ds.root, f"--method ranker: no purchases before {cutoff.date()}")
    nu, ni = len(users), len(items)
    u = pd.Index(users.astype(str)).get_indexer(st["customer_id"].astype(str))
    i = pd.Index(items.astype(str)).get_indexer(st["item"].astype(str))
    keep = (u >= 0) & (i >= 0)
    st, u, i = st[keep], u[keep], i[keep]
    counts = sp.csr_matrix((st["n"].to_numpy(np.float32), (u, i)), shape=(nu, ni), dtype=np.float32)
    buyers = np.bincount(i, minlength=ni)
    pop = buyers / max(nu, 1)
    recent = st["n8"].to_numpy() > 0
    pop8 = np.bincount(i[recent], minlength=ni) / max(nu, 1)
    old = st["first"].to_numpy() > _RECENT_DAYS
    n_old = np.bincount(i[old], minlength=ni)
    again = np.bincount(i[old & recent], minlength=ni)
    repeat = np.divide(again, n_old, out=np.zeros(ni), where=n_old > 0)
    if counts.nnz:
        fac = factors or fit_cf("als", counts, cf, seed=seed, threads=threads)
        user_f, item_f = fac.user, fac.item
    else:
        user_f = np.zeros((nu, 1), np.float32)
        item_f = np.zeros((ni, 1), np.float32)
    n_pop = min(params.n_popular, ni)
    n_cf = min(params.n_cf, ni)
    top_pop = np.argsort(-pop, kind="stable")[:n_pop]
    pairs = [
        np.stack([u, i], 1),
        np.stack([np.repeat(np.arange(nu), n_pop), np.tile(top_pop, nu)], 1),
    ]
    for lo in range(0, nu, _BLOCK):
        hi = min(nu, lo + _BLOCK)
        s = user_f[lo:hi] @ item_f.T
        if n_cf < ni:
            best = np.argpartition(-s, n_cf - 1, axis=1)[:, :n_cf]
        else:
            best = np.tile(np.arange(ni), (hi - lo, 1))
        pairs.append(np.stack([np.repeat(np.arange(lo, hi), best.shape[1]), best.ravel()], 1))
    cand = np.unique(np.concatenate(pairs), axis=0)  # sorted by customer, then item
    cu, ci = cand[:, 0], cand[:, 1]
    df = pd.DataFrame({"u": cu, "i": ci})
    key = pd.DataFrame(
        {
            "u": u,
            "i": i,
            "n_orders": st["n"].to_numpy(np.float64),
            "n_orders_8w": st["n8"].to_numpy(np.float64),
            "days_since": st["since"].to_numpy(np.float64),
            "days_first": st["first"].to_numpy(np.float64),
        }
    )
    df = df.merge(key, on=["u", "i"], how="left")
    df[["n_orders", "n_orders_8w"]] = df[["n_orders", "n_orders_8w"]].fillna(0.0)
    n_cust, since_cust = _customer_stats(ds, cutoff, users)
    u_items = np.diff(counts.indptr).astype(np.float64)
    df["bought"] = (df["n_orders"] > 0).astype(np.float64)
    df["order_share"] = df["n_orders"] / np.maximum(n_cust[cu], 1.0)
    df["u_orders"] = n_cust[cu]
    df["u_items"] = u_items[cu]
    df["u_days_since"] = since_cust[cu]
    df["pop"] = pop[ci]
    df["pop_8w"] = pop8[ci]
    df["repeat_rate"] = repeat[ci]
    als = np.einsum("nf,nf->n", user_f[cu], item_f[ci])
    df["als"] = als
    # rank of the item among the customer's ALS scores (0 = best), a block of customers at once
    ranks = np.empty(len(df), dtype=np.float64)
    bounds = np.searchsorted(cu, [*range(0, nu, _BLOCK), nu])
    for b, lo in enumerate(range(0, nu, _BLOCK)):
        sel = slice(bounds[b], bounds[b + 1])
        srt = np.sort(user_f[lo : min(nu, lo + _BLOCK)] @ item_f.T, axis=1)
        rows = cu[sel] - lo
        starts = np.searchsorted(rows, np.arange(srt.shape[0] + 1))
        for r in range(srt.shape[0]):  # items scored above the candidate, one customer at a time
            at = slice(bounds[b] + starts[r], bounds[b] + starts[r + 1])
            ranks[at] = ni - np.searchsorted(srt[r], als[at], side="right")
    df["als_rank"] = ranks
    return df[["u", "i", *FEATURES]]


@dataclass(frozen=True, slots=True)
class RankerScorer:
    """The ranker's probabilities ``prob`` (n_users, n_items CSR: candidates only), then by
    popularity ``pop`` below every candidate (scores under ``pad``).

    ``boost`` (with ``history``, the users' purchase counts before the cutoff, same shape):
    the probability of every item a user has not bought is multiplied by it, a business choice
    to list more new items at a cost in predicted purchases (1: the calibrated ranking)."""

    prob: sp.csr_matrix
    pop: np.ndarray
    pad: float = 1e-6
    history: sp.csr_matrix | None = None
    boost: float = 1.0

    def with_boost(self, boost: float, history: sp.csr_matrix) -> RankerScorer:
        """The same ranker with new items' probabilities times ``boost``."""
        return replace(self, boost=float(boost), history=history.tocsr())

    def scores(self, rows: np.ndarray) -> np.ndarray:
        base = (self.pad * self.pop / max(float(self.pop.max(initial=0.0)), 1e-12)).astype(
            np.float32
        )
        p = np.asarray(self.prob[rows].toarray(), dtype=np.float32)
        if self.boost != 1.0 and self.history is not None:
            new = np.asarray(self.history[rows].toarray() == 0)
            p = np.where(new, p * np.float32(self.boost), p)
        return p + base


def booster_params(params: RankerParams, n_train: int, seed: int, threads: int) -> dict[str, Any]:
    """LightGBM's core-API settings of the ranker's classifier (``params.n_estimators`` rounds):
    what ``LGBMClassifier`` with these arguments runs (its sklearn-style classes are not built in
    the lean `offerwise` process, :mod:`offerwise._lightgbm`; tests/recommend check the two give
    the same predictions)."""
    return {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_child_samples": min(params.min_child_samples, max(5, n_train // 100)),
        "seed": seed,
        "num_threads": threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def fit_ranker(
    ds: DataSet,
    level: str,
    cutoff: pd.Timestamp,
    inter: Interactions,
    params: RankerParams,
    cf: CFParams,
    *,
    seed: int = 42,
    threads: int = 1,
    tree_threads: int = 2,
    als: Factors | None = None,
) -> RankerScorer:
    """Fit on the window before ``cutoff`` (module docstring) and score ``inter``'s users x items
    at ``cutoff``. InputError when the history before ``cutoff − label_weeks`` has no purchases
    or the label window none. ``threads``: the ALS fits'; ``tree_threads``: LightGBM's
    (deterministic with any count). ``als``: ``inter``'s ALS fit with ``cf`` and ``seed``, when
    already made (the scoring-time candidates reuse it)."""
    import lightgbm as lgb

    c0 = cutoff - pd.Timedelta(weeks=params.label_weeks)
    items = np.asarray(inter.items, dtype=object)
    users = np.asarray(inter.users, dtype=object)
    train = candidate_features(ds, level, c0, users, items, params, cf, seed=seed, threads=threads)
    labels = item_purchases(ds, level, c0, cutoff)
    lu = pd.Index(users.astype(str)).get_indexer(labels["customer_id"].astype(str))
    li = pd.Index(items.astype(str)).get_indexer(labels["item"].astype(str))
    ok = (lu >= 0) & (li >= 0)
    ni = len(items)
    bought = lu[ok].astype(np.int64) * ni + li[ok]
    y = np.isin(train["u"].to_numpy(np.int64) * ni + train["i"].to_numpy(np.int64), bought)
    if y.sum() < params.min_positives or y.all():
        why = (
            f"{int(y.sum())} candidate items bought in those weeks (it needs at least "
            f"{params.min_positives})"
            if not y.all()
            else "every candidate was bought"
        )
        raise ShortHistory(
            ds.root,
            f"--method ranker learns what was bought in the {params.label_weeks} weeks before "
            f"{cutoff.date()} from the purchases before {c0.date()}: {why}; use another method or "
            "a later --as-of",
        )
    booster = lgb.train(
        booster_params(params, len(train), seed, tree_threads),
        lgb.Dataset(train[list(FEATURES)].to_numpy(np.float64), label=y.astype(np.int8)),
        num_boost_round=params.n_estimators,
    )
    now = candidate_features(
        ds, level, cutoff, users, items, params, cf, seed=seed, threads=threads, factors=als
    )
    p = np.asarray(booster.predict(now[list(FEATURES)].to_numpy(np.float64)), dtype=np.float64)
    prob = sp.csr_matrix(
        (np.maximum(p, 1e-5).astype(np.float32), (now["u"].to_numpy(), now["i"].to_numpy())),
        shape=inter.shape,
        dtype=np.float32,
    )
    pop = np.bincount(inter.counts.indices, minlength=inter.shape[1]) / max(inter.shape[0], 1)
    return RankerScorer(prob, pop.astype(np.float32))


def check_boost(boost: float, method: str | None) -> None:
    """``--explore-boost`` must be > 0 and is for the ranker (``method`` None: the default)."""
    if not boost > 0 or not np.isfinite(boost):
        raise InputError(f"--explore-boost {boost}: use a number > 0 (1 = the calibrated ranking)")
    if boost != 1.0 and method not in (None, "ranker"):
        raise InputError(f"--explore-boost works with --method ranker, not {method}")


def boosted(scorer: S, boost: float, history: sp.csr_matrix) -> S | RankerScorer:
    """The ranker with new items' probabilities times ``boost`` (``history``: the users'
    purchase counts before the cutoff); any other scorer unchanged."""
    if boost != 1.0 and isinstance(scorer, RankerScorer):
        return scorer.with_boost(boost, history)
    return scorer

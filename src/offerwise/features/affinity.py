"""Customer x category affinity from collaborative filtering: the ALS score of a category.

The past share of spend in a category (``category_share=<c>``) says how much a customer buys
there; it is 0 for every category the customer has not bought yet. The collaborative-filtering
score says how much customers who buy like this customer buy there: it separates a customer who
might start buying dairy from one who never will. Both are features of the response model for a
category-scoped offer (``train --affinity cf``; column ``category_affinity=<c>``).

* The **item factors** ``Y`` (m categories x f) are an implicit-feedback ALS (``implicit``,
  :func:`offerwise.recommend.cf.fit_cf`) fitted once at training on every customer's order counts
  per category in the feature window before the first exposure, confidence
  ``c = alpha * log(1 + orders)``. They are saved in the model (:class:`CategoryFactors`).
* At any cutoff (a logged exposure, the scoring date) a customer's **user factor** is folded in
  from the customer's own counts in the window before that cutoff, with ``Y`` fixed: the ALS user
  step (:func:`fold_in`)::

      x_u = (YᵀY + Σ_i (c_ui − 1) y_i y_iᵀ + λ I)⁻¹ Σ_i c_ui y_i      (i: categories bought)

  so a cutoff uses only history before it (point in time), and training and scoring rows are on
  the same scale. A customer without orders in the window gets ``x_u = 0`` (affinity 0).
* ``category_affinity=<c>`` = ``x_u · y_c``: ALS's predicted preference (about 0 to 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.data.contract import DataSet

__all__ = [
    "AFFINITY_PREFIX",
    "CategoryFactors",
    "affinity_features",
    "category_counts",
    "fold_in",
]

#: Column prefix of the affinity features: ``category_affinity=<category>``.
AFFINITY_PREFIX = "category_affinity="

#: Rows of the (n, f, f) normal equations solved at once (memory: rows x f² x 8 bytes).
_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class CategoryFactors:
    """ALS item factors of the product categories, as saved in a model.

    ``categories``: (m,) names in row order; ``item``: (m, f) factors; ``alpha`` and
    ``regularization``: the confidence ``alpha * log(1 + orders)`` and the ridge λ of the fit
    (the fold-in uses the same); ``fitted_before``: the cutoff of the fitting window (ISO);
    ``window_days``: its length (the fold-in's too).
    """

    categories: list[str]
    item: np.ndarray
    alpha: float
    regularization: float
    fitted_before: str
    window_days: int

    @property
    def n_factors(self) -> int:
        return int(self.item.shape[1])

    def to_dict(self) -> dict[str, object]:
        return {
            "categories": list(self.categories),
            "item": np.asarray(self.item, np.float64).round(7).tolist(),
            "alpha": self.alpha,
            "regularization": self.regularization,
            "fitted_before": self.fitted_before,
            "window_days": self.window_days,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> CategoryFactors:
        item = np.asarray(d["item"], dtype=np.float32)
        cats = [str(c) for c in d["categories"]]  # type: ignore[attr-defined]
        return cls(
            categories=cats,
            item=item.reshape(len(cats), -1),
            alpha=float(d["alpha"]),  # type: ignore[arg-type]
            regularization=float(d["regularization"]),  # type: ignore[arg-type]
            fitted_before=str(d["fitted_before"]),
            window_days=int(d["window_days"]),  # type: ignore[call-overload]
        )


def confidence(orders: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """``alpha * log(1 + orders)`` on the stored cells (CSR float32)."""
    out = orders.astype(np.float32, copy=True).tocsr()
    out.data = (np.float32(alpha) * np.log1p(out.data)).astype(np.float32)
    return out


def fold_in(conf: sp.csr_matrix, item: np.ndarray, regularization: float) -> np.ndarray:
    """(n, f) ALS user factors of the rows of ``conf`` (n, m confidences) with the item factors
    ``item`` (m, f) fixed — the formula in the module docstring (``implicit``'s user step).

    The per-row matrices ``Σ_i (c_ui − 1) y_i y_iᵀ`` are one sparse product ``(C − 1) @ (Y ⊗ Y)``
    (rows of outer products, m x f²), solved in chunks of :data:`_CHUNK` rows."""
    conf = sp.csr_matrix(conf, dtype=np.float64)
    Y = np.asarray(item, dtype=np.float64)
    n, f = conf.shape[0], Y.shape[1]
    base = Y.T @ Y + float(regularization) * np.eye(f)
    outer = (Y[:, :, None] * Y[:, None, :]).reshape(len(Y), f * f)
    cm1 = conf.copy()
    cm1.data = cm1.data - 1.0
    out = np.zeros((n, f), dtype=np.float64)
    has = np.diff(conf.indptr) > 0
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        rows = np.flatnonzero(has[lo:hi]) + lo
        if not len(rows):
            continue
        A = (cm1[rows] @ outer).reshape(len(rows), f, f) + base
        b = conf[rows] @ Y
        out[rows] = np.linalg.solve(A, b[:, :, None])[:, :, 0]
    return out


def category_counts(
    ds: DataSet, cutoffs: pd.DataFrame, categories: list[str], window_days: int
) -> sp.csr_matrix:
    """(len(cutoffs), len(categories)) orders per category of each row of ``cutoffs``
    (customer_id, as_of) in ``[as_of − window_days, as_of)``: an order counts once per category
    (lines with zero quantity and zero amount count for nothing; categories not in
    ``categories`` are left out)."""
    keys = cutoffs[["customer_id", "as_of"]].reset_index(drop=True).copy()
    keys["customer_id"] = keys["customer_id"].astype(str)
    keys["as_of"] = pd.to_datetime(keys["as_of"])
    keys["k"] = np.arange(len(keys), dtype=np.int64)
    con = ds.con
    con.register("ow_aff_cutoffs", keys)
    try:
        df = con.execute(
            f"""
            WITH o AS (
                SELECT c.k, CAST(p.category AS VARCHAR) AS category, t.order_id
                FROM ow_aff_cutoffs c
                JOIN transactions t ON CAST(t.customer_id AS VARCHAR) = c.customer_id
                     AND t.ts < c.as_of
                     AND t.ts >= c.as_of - INTERVAL '{int(window_days)} days'
                     AND (t.quantity > 0 OR t.amount > 0)
                JOIN products p ON p.product_id = t.product_id
                WHERE NULLIF(TRIM(CAST(p.category AS VARCHAR)), '') IS NOT NULL
                GROUP BY 1, 2, 3
            )
            SELECT k, category, COUNT(*) AS n FROM o GROUP BY 1, 2
            """
        ).df()
    finally:
        con.unregister("ow_aff_cutoffs")
    col = pd.Index(categories).get_indexer(df["category"].astype(str))
    keep = col >= 0
    return sp.csr_matrix(
        (
            df["n"].to_numpy(np.float32)[keep],
            (df["k"].to_numpy(np.int64)[keep], col[keep]),
        ),
        shape=(len(keys), len(categories)),
        dtype=np.float32,
    )


def affinity_features(
    ds: DataSet, cutoffs: pd.DataFrame, factors: CategoryFactors, categories: list[str]
) -> np.ndarray:
    """(len(cutoffs), len(categories)) ``category_affinity=<c>`` of each row of ``cutoffs``:
    the folded-in user factor at the row's as_of times ``c``'s item factor (0 for a category the
    factors do not know, for a customer without orders in the window, and for every row when
    the source has no transactions or products: the same as a customer without history)."""
    if not (ds.has("transactions") and ds.has("products")):
        return np.zeros((len(cutoffs), len(categories)), dtype=np.float64)
    counts = category_counts(ds, cutoffs, factors.categories, factors.window_days)
    user = fold_in(confidence(counts, factors.alpha), factors.item, factors.regularization)
    idx = pd.Index(factors.categories).get_indexer(categories)
    out = np.zeros((len(cutoffs), len(categories)), dtype=np.float64)
    known = idx >= 0
    if known.any():
        out[:, known] = user @ np.asarray(factors.item, np.float64)[idx[known]].T
    return out

"""Purchases as a users x items matrix: what every recommender of this package is fitted on.

An *item* is a product category (``level="category"``) or a product (``level="product"``). One
cell counts the **orders** in which a customer bought the item (lines with zero quantity and zero
amount count for nothing), within a half-open time window ``[start, end)``. Ids map to matrix rows
and columns here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from offerwise.data.contract import DataSet
from offerwise.errors import DataContractError, InputError, Problem

__all__ = [
    "LEVELS",
    "Interactions",
    "build_interactions",
    "check_level",
    "item_purchases",
    "relevant_matrix",
]

#: What an item is: a product category or a product.
LEVELS = ("category", "product")

#: Columns of :func:`item_purchases`.
PURCHASE_COLUMNS = ("customer_id", "item", "n_orders", "decayed")


def check_level(ds: DataSet, level: str) -> None:
    """InputError for an unknown ``level``; at category level, DataContractError when there is no
    products table or bought products have no category (file, column, rows, an example)."""
    if level not in LEVELS:
        raise InputError(f"--level {level!r}: unknown level (use {' or '.join(LEVELS)})")
    if level != "category":
        return
    if not ds.has("products"):
        raise InputError(
            f"{ds.root}: --level category needs the products table (product_id, category) to "
            "map products to categories; add products.parquet or use --level product"
        )
    row = ds.con.execute(
        """
        SELECT COUNT(*), MIN(product_id),
               (SELECT COUNT(*) FROM transactions t WHERE t.product_id IN (
                   SELECT product_id FROM products WHERE NULLIF(TRIM(category), '') IS NULL))
        FROM products
        WHERE NULLIF(TRIM(category), '') IS NULL
          AND product_id IN (SELECT DISTINCT product_id FROM transactions)
        """
    ).fetchall()  # whole: a pending result would block the connection's next register
    n, example, lines = row[0] if row else (0, None, 0)
    if n:
        raise DataContractError(
            [
                Problem(
                    "products",
                    "category",
                    f"bought products without a category ({lines} transaction lines); "
                    "--level category needs one for every bought product (or use --level product)",
                    n_rows=int(n),
                    example=f"product_id={example!r}",
                    file=str(ds.files.get("products", "products")),
                )
            ],
            header=f"{ds.root}: products cannot be mapped to categories",
        )


def item_purchases(
    ds: DataSet,
    level: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp,
    half_life_days: float = 60.0,
) -> pd.DataFrame:
    """Per (customer, item) bought in ``[start, end)``: ``n_orders`` (orders with the item) and
    ``decayed`` = sum over those orders of ``0.5 ** (age_days / half_life_days)``, age counted
    back from ``end``. ``start=None``: from the first transaction."""
    item = "p.category" if level == "category" else "t.product_id"
    join = "JOIN products p ON p.product_id = t.product_id" if level == "category" else ""
    lo = "" if start is None else "AND t.ts >= $start"
    params: dict[str, object] = {"end": end.to_pydatetime(), "hl": float(half_life_days)}
    if start is not None:
        params["start"] = start.to_pydatetime()
    sql = f"""
        WITH o AS (
            SELECT t.customer_id, {item} AS item, t.order_id, MIN(t.ts) AS ts
            FROM transactions t {join}
            WHERE t.ts < $end {lo} AND (t.quantity > 0 OR t.amount > 0)
            GROUP BY 1, 2, 3
        )
        SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(item AS VARCHAR) AS item,
               COUNT(*) AS n_orders,
               SUM(POW(0.5, (epoch($end) - epoch(ts)) / 86400.0 / $hl)) AS decayed
        FROM o GROUP BY 1, 2
    """
    return ds.con.execute(sql, params).df()[list(PURCHASE_COLUMNS)]


@dataclass(frozen=True, slots=True)
class Interactions:
    """Purchases of ``users`` (rows) x ``items`` (columns).

    ``counts``: (n_users, n_items) CSR float32, orders with the item; ``decayed``: same pattern,
    recency-weighted orders (see :func:`item_purchases`).
    """

    users: np.ndarray  # (n_users,) customer ids (str), row order
    items: np.ndarray  # (n_items,) item ids (str), column order
    counts: sp.csr_matrix
    decayed: sp.csr_matrix

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.users), len(self.items)

    def has_history(self) -> np.ndarray:
        """(n_users,) bool: the user bought something."""
        return np.diff(self.counts.indptr) > 0


def build_interactions(purchases: pd.DataFrame, users: np.ndarray) -> Interactions:
    """The matrix of ``purchases`` (:func:`item_purchases`) over ``users`` (every customer, in
    this order; those without purchases get empty rows). Items are the bought ones, sorted."""
    users = np.asarray(users, dtype=object)
    items = np.sort(purchases["item"].astype(str).unique()).astype(object)
    row_of = pd.Index(users)
    r = row_of.get_indexer(purchases["customer_id"].astype(str))
    keep = r >= 0  # purchases of customers not asked about are left out
    c = pd.Index(items).get_indexer(purchases["item"].astype(str))[keep]
    r = r[keep]
    shape = (len(users), len(items))

    def mat(col: str) -> sp.csr_matrix:
        v = purchases[col].to_numpy(dtype=np.float32)[keep]
        m = sp.csr_matrix((v, (r, c)), shape=shape, dtype=np.float32)
        m.sort_indices()
        return m

    return Interactions(users, items, mat("n_orders"), mat("decayed"))


def relevant_matrix(
    purchases: pd.DataFrame, inter: Interactions
) -> tuple[sp.csr_matrix, np.ndarray]:
    """What each user of ``inter`` bought in ``purchases`` (a later window): (n_users, n_items)
    CSR bool over ``inter``'s items, and (n_users,) the number of distinct items bought,
    counting items ``inter`` does not know (a recommender cannot name them, but they count)."""
    r = pd.Index(inter.users).get_indexer(purchases["customer_id"].astype(str))
    keep = r >= 0
    n_rel = np.bincount(r[keep], minlength=len(inter.users)).astype(np.int64)
    c = pd.Index(inter.items).get_indexer(purchases["item"].astype(str))
    known = keep & (c >= 0)
    m = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=bool), (r[known], c[known])), shape=inter.shape
    )
    m.sort_indices()
    return m, n_rel

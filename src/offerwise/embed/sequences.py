"""Each customer's orders as a sequence: what the sequence encoder (:mod:`.seq`) reads.

An *order* is one ``order_id`` of ``transactions``. Per order: the customer, the time of its first
line, four numbers (:data:`ORDER_NUMERIC`) and the distinct product categories bought in it (the
``products`` table's ``category``; none without that table), at most :data:`MAX_TOKENS` of them,
most spent first. Orders are sorted by (customer, time), so one customer's orders are a contiguous
slice, and "the orders before ``as_of``" is a searchsorted away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offerwise.data.contract import DataSet
from offerwise.vocab import exact_sum

__all__ = ["MAX_TOKENS", "ORDER_NUMERIC", "OrderTable", "load_orders", "windows_before"]

#: The per-order numbers: log1p(amount), discount / (amount + discount), log1p(days since the
#: customer's previous order; 0 for the first), log1p(lines).
ORDER_NUMERIC = ("log_amount", "discount_share", "log_gap_days", "log_lines")
#: Categories kept per order (those with the most spend).
MAX_TOKENS = 16
#: Seconds per customer slot in the (customer, time) search key (2**33 s is about 272 years).
_KEY_SPAN = np.int64(2**33)


@dataclass(frozen=True, slots=True)
class OrderTable:
    """Orders sorted by (customer, ts).

    ``customers`` (n_c,) str, sorted; ``start`` (n_c + 1,) int64: customer i's orders are rows
    ``start[i]:start[i + 1]``; ``seconds`` (n_o,) int64 epoch seconds of each order;
    ``numeric`` (n_o, 4) float32 (:data:`ORDER_NUMERIC`); ``categories`` (n_o, MAX_TOKENS) object:
    category names, ``None`` padded.
    """

    customers: np.ndarray
    start: np.ndarray
    seconds: np.ndarray
    numeric: np.ndarray
    categories: np.ndarray

    @property
    def n_orders(self) -> int:
        return int(len(self.seconds))

    def owner(self) -> np.ndarray:
        """(n_o,) int64: the customer index of each order."""
        return np.repeat(np.arange(len(self.customers), dtype=np.int64), np.diff(self.start))

    def _keys(self) -> np.ndarray:
        return self.owner() * _KEY_SPAN + (self.seconds - self.seconds.min(initial=0))

    def count_before(
        self, customer_id: np.ndarray, as_of: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each cutoff: (end, first): its customer's orders with ts < as_of are rows
        ``first:end`` (``first == end`` when there are none or the customer has no orders).

        ``customer_id`` (n,) str; ``as_of`` (n,) datetime64.
        """
        cid = np.asarray(customer_id).astype(str)
        pos = np.searchsorted(self.customers, cid)
        pos_c = np.minimum(pos, max(len(self.customers) - 1, 0))
        known = (
            (pos < len(self.customers)) & (self.customers[pos_c] == cid)
            if len(self.customers)
            else np.zeros(len(cid), bool)
        )
        secs = pd.to_datetime(pd.Series(as_of)).to_numpy("datetime64[s]").astype(np.int64)
        base = self.seconds.min(initial=0)
        keys = pos_c.astype(np.int64) * _KEY_SPAN + np.clip(secs - base, 0, _KEY_SPAN - 1)
        end = np.searchsorted(self._keys(), keys, side="left").astype(np.int64)
        first = self.start[pos_c] if len(self.customers) else np.zeros(len(cid), np.int64)
        end = np.where(known, np.maximum(end, first), 0)
        first = np.where(known, first, 0)
        return end, first


def windows_before(
    end: np.ndarray, first: np.ndarray, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned order windows: (n, max_len) int64 order rows (the last ``max_len`` of
    ``first:end``, oldest first) and a (n, max_len) bool mask of the real ones (padding left)."""
    lo = np.maximum(first, end - max_len)
    length = end - lo
    offs = np.arange(max_len, dtype=np.int64)[None, :] - (max_len - length)[:, None]
    mask = offs >= 0
    idx = np.where(mask, lo[:, None] + offs, 0)
    return idx, mask


def load_orders(ds: DataSet, customers: np.ndarray | None = None) -> OrderTable:
    """Every order of ``ds.transactions`` (see the module docstring), or only those of
    ``customers`` (ids); an empty table without transactions."""
    if not ds.has("transactions"):
        empty = np.empty(0)
        return OrderTable(
            customers=empty.astype(str),
            start=np.zeros(1, np.int64),
            seconds=empty.astype(np.int64),
            numeric=np.empty((0, len(ORDER_NUMERIC)), np.float32),
            categories=np.empty((0, MAX_TOKENS), object),
        )
    con = ds.con
    where = ""
    if customers is not None:
        con.register("ow_seq_ids", pd.DataFrame({"cid": np.asarray(customers).astype(str)}))
        where = "WHERE CAST(customer_id AS VARCHAR) IN (SELECT cid FROM ow_seq_ids)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ow_seq_orders AS
        SELECT ROW_NUMBER() OVER (ORDER BY cid, ts, oid) - 1 AS row, *
        FROM (
            SELECT CAST(customer_id AS VARCHAR) AS cid, CAST(order_id AS VARCHAR) AS oid,
                   MIN(ts) AS ts, {exact_sum("amount")} AS amount,
                   {exact_sum("discount")} AS discount,
                   COUNT(*) AS n_lines
            FROM transactions {where} GROUP BY 1, 2
        )
        """
    )
    try:
        orders = con.execute(
            "SELECT cid, ts, amount, discount, n_lines FROM ow_seq_orders ORDER BY row"
        ).df()
        cats = (
            con.execute(
                f"""
                SELECT row, rk, cat FROM (
                    SELECT o.row, c.cat, ROW_NUMBER() OVER (
                        PARTITION BY o.row ORDER BY c.spend DESC, c.cat) - 1 AS rk
                    FROM (
                        SELECT CAST(t.customer_id AS VARCHAR) AS cid,
                               CAST(t.order_id AS VARCHAR) AS oid,
                               CAST(p.category AS VARCHAR) AS cat,
                               {exact_sum("t.amount")} AS spend
                        FROM transactions t JOIN products p ON p.product_id = t.product_id
                        WHERE NULLIF(TRIM(CAST(p.category AS VARCHAR)), '') IS NOT NULL
                        GROUP BY 1, 2, 3
                    ) c JOIN ow_seq_orders o ON o.cid = c.cid AND o.oid = c.oid
                ) WHERE rk < {MAX_TOKENS}
                """
            ).df()
            if ds.has("products")
            else pd.DataFrame(columns=["row", "rk", "cat"])
        )
    finally:
        con.execute("DROP TABLE IF EXISTS ow_seq_orders")
        if customers is not None:
            con.unregister("ow_seq_ids")
    n = len(orders)
    secs = pd.to_datetime(orders["ts"]).to_numpy("datetime64[s]").astype(np.int64)
    cid = orders["cid"].to_numpy(dtype=object)
    new_cust = np.ones(n, bool)
    new_cust[1:] = cid[1:] != cid[:-1]
    gap = np.zeros(n)
    gap[1:] = (secs[1:] - secs[:-1]) / 86400.0
    gap[new_cust] = 0.0
    amount = orders["amount"].to_numpy(dtype=np.float64)
    disc = orders["discount"].fillna(0).to_numpy(dtype=np.float64)
    numeric = np.column_stack(
        [
            np.log1p(np.maximum(amount, 0.0)),
            np.where(amount + disc > 0, disc / np.maximum(amount + disc, 1e-12), 0.0),
            np.log1p(np.maximum(gap, 0.0)),
            np.log1p(orders["n_lines"].to_numpy(dtype=np.float64)),
        ]
    ).astype(np.float32)
    tokens = np.full((n, MAX_TOKENS), None, dtype=object)
    if len(cats):
        tokens[cats["row"].to_numpy(dtype=np.int64), cats["rk"].to_numpy(dtype=np.int64)] = cats[
            "cat"
        ].to_numpy(dtype=object)
    customers, first = np.unique(cid.astype(str), return_index=True)
    start = np.append(np.sort(first), n).astype(np.int64)
    return OrderTable(
        customers=customers,
        start=start,
        seconds=secs,
        numeric=numeric,
        categories=tokens,
    )

"""Per-row helpers of the plan: eligible offer sets as text, the offer a row would get."""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.vocab import ELIGIBLE_SEP

__all__ = ["customer_rows", "join_offer_sets", "would_get"]


def join_offer_sets(mask: np.ndarray, offer_ids: list[str]) -> np.ndarray:
    """(n,) object: the ids of each row's True columns of ``mask`` (n, K), joined by
    ``ELIGIBLE_SEP`` in column order; computed once per distinct row pattern."""
    n, K = mask.shape
    if K == 0:
        return np.full(n, "", dtype=object)
    packed = np.packbits(np.asarray(mask, dtype=bool), axis=1, bitorder="little")
    pats, inv = np.unique(packed, axis=0, return_inverse=True)
    bits = np.unpackbits(pats, axis=1, count=K, bitorder="little").astype(bool)
    names = np.array(
        [ELIGIBLE_SEP.join(o for o, b in zip(offer_ids, row, strict=True) if b) for row in bits],
        dtype=object,
    )
    return names[np.asarray(inv).reshape(-1)]


def would_get(elig: np.ndarray, value: np.ndarray, cost: np.ndarray, lam: float) -> np.ndarray:
    """The best eligible offer net of the budget price ``lam`` per row, -1 (none) when none pays."""
    net = np.where(elig, value - lam * cost, -np.inf)
    best = net.argmax(axis=1)
    return np.where(net[np.arange(len(best)), best] > 0, best, -1)


def customer_rows(customers_segment: pd.Series | pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The customer table (``segment`` + attributes) indexed by customer_id in the order of
    ``ids``; a Series is taken as the segment. Raises :class:`InputError` on duplicates or on a
    scored customer without a row."""
    if isinstance(customers_segment, pd.Series):
        df = customers_segment.rename("segment").rename_axis("customer_id").reset_index()
    else:
        df = customers_segment.copy()
        if "customer_id" not in df.columns:
            df = df.rename_axis("customer_id").reset_index()
    if "segment" not in df.columns:
        raise InputError("customers: column 'segment' is missing")
    df["customer_id"] = df["customer_id"].astype(str)
    dup = df["customer_id"].duplicated()
    if dup.any():
        raise InputError(
            f"customers: duplicate customer_id ({int(dup.sum())} rows); "
            f"e.g. {df['customer_id'][dup].iloc[0]}"
        )
    df = df.set_index("customer_id")
    missing = ~ids.isin(df.index)
    if missing.any():
        raise InputError(
            f"customers: {int(missing.sum())} scored customers have no row in the "
            f"customer table; e.g. {ids[missing][0]}"
        )
    out = df.reindex(ids)
    out["segment"] = out["segment"].astype("string").fillna("unknown")
    return out

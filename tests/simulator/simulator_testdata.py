"""Test helper: a plain pandas per-customer profile table from simulated transactions.

An independent, test-only re-derivation of the profile columns the simulator's bootstrap
understands (:data:`offerwise.simulator.PROFILE_COLUMNS`), to check the simulated history against
the latent traits and to bootstrap a market from a simulated one.
"""

from __future__ import annotations

import pandas as pd

from offerwise.errors import InputError


def profiles_from_transactions(
    transactions: pd.DataFrame,
    products: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Per-customer profile table (the columns :data:`PROFILE_COLUMNS`) from contract transactions.

    frequency = orders, monetary = Σ amount, avg_basket = monetary / orders, discount_share =
    Σ discount / Σ (amount + discount), recency_days = days from the last order to ``as_of``
    (default: the last ts), private_label_share / top_brand_share / top_national_brand_share =
    spend share of brand 'Private' / of the customer's top brand / of the top brand other than
    'Private' (these three need ``products`` with a brand column).
    """
    need = ["customer_id", "order_id", "ts", "amount", "discount"]
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise InputError(f"transactions: required column(s) {', '.join(missing)} missing")
    tx = transactions[
        need + (["product_id"] if "product_id" in transactions.columns else [])
    ].copy()
    tx["ts"] = pd.to_datetime(tx["ts"])
    as_of = pd.Timestamp(as_of) if as_of is not None else tx["ts"].max()
    g = tx.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "frequency": g["order_id"].nunique(),
            "monetary": g["amount"].sum(),
            "discount_total": g["discount"].sum(),
            "last_ts": g["ts"].max(),
        }
    )
    out["avg_basket"] = out["monetary"] / out["frequency"]
    out["discount_share"] = out["discount_total"] / (out["monetary"] + out["discount_total"]).where(
        lambda x: x > 0
    )
    out["recency_days"] = (as_of - out["last_ts"]).dt.total_seconds() / 86400
    if products is not None and "brand" in products.columns and "product_id" in tx.columns:
        b = tx.merge(products[["product_id", "brand"]], on="product_id", how="left")
        spend = b.groupby(["customer_id", "brand"], sort=False)["amount"].sum()
        tot = spend.groupby(level=0).sum()
        out["top_brand_share"] = (spend.groupby(level=0).max() / tot.where(tot > 0)).reindex(
            out.index
        )
        national = spend[spend.index.get_level_values("brand") != "Private"]
        top_nat = national.groupby(level=0).max().reindex(out.index).fillna(0.0)
        out["top_national_brand_share"] = top_nat / tot.where(tot > 0).reindex(out.index)
        pl = (
            spend.xs("Private", level="brand")
            if "Private" in spend.index.get_level_values(1)
            else None
        )
        out["private_label_share"] = (
            pl.reindex(out.index).fillna(0) / tot.reindex(out.index) if pl is not None else 0.0
        )
    return out.drop(columns=["discount_total", "last_ts"]).reset_index()

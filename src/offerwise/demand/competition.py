"""Per-category price index against competitors, stock cover and the plan's stock weights.

Pure functions over contract-shaped frames (``transactions`` lines with ``category``,
``competitor_prices``, ``inventory``), all as of a decision date ``as_of`` (rows with
``ts < as_of`` only).

* **Price index** of category ``c`` over the last ``window_days`` days::

      index_c = Σ_i q_i · our_i / Σ_i q_i · comp_i

  over the category's products ``i`` that have a competitor price, ``q_i`` the units we sold,
  ``our_i`` our regular (shelf) unit price ``Σ (amount + discount) / Σ quantity``, ``comp_i`` the
  median over competitors of each competitor's latest price in the window. ``paid_index`` uses
  the paid price ``Σ amount / Σ quantity`` instead. 1.10 = we are 10 % dearer than the market.
* **Stock cover**: ``weeks_of_cover_c = on_hand_c / demand_c``, ``on_hand`` the sum over the
  category's products of each product's latest snapshot, ``demand`` units per week (a forecast,
  or the mean of the last ``demand_weeks`` weeks of sales).
* **Stock weight** (:func:`stock_weight`): 1 between ``scarce_weeks`` and ``overstock_weeks`` of
  cover; below, ``cover / scarce_weeks`` (0 when out of stock: protect scarce stock); above,
  ``min(cover / overstock_weeks, max_weight)`` (push overstock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offerwise.demand.weekly import NO_CATEGORY

__all__ = [
    "OUTLOOK_COLUMNS",
    "StockPolicy",
    "category_price_index",
    "category_stock",
    "competitor_reference",
    "history_demand",
    "stock_weight",
]

#: Columns of the per-category outlook (``offerwise categories``), in order.
OUTLOOK_COLUMNS = (
    "category",
    "units_sold",
    "revenue",
    "price_index",
    "paid_index",
    "n_products_priced",
    "units_share_priced",
    "n_competitors",
    "on_hand",
    "demand_per_week",
    "weeks_of_cover",
    "stock_status",
    "weight",
)


@dataclass(frozen=True, slots=True)
class StockPolicy:
    """How stock cover (weeks) maps to a category's weight in the plan (see the module doc)."""

    scarce_weeks: float = 2.0
    overstock_weeks: float = 8.0
    max_weight: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.scarce_weeks < self.overstock_weeks:
            raise ValueError(
                f"scarce_weeks ({self.scarce_weeks:g}) must be > 0 and below overstock_weeks "
                f"({self.overstock_weeks:g})"
            )
        if self.max_weight < 1:
            raise ValueError(f"max_weight must be at least 1; got {self.max_weight:g}")


def stock_weight(cover: np.ndarray, policy: StockPolicy) -> np.ndarray:
    """(m,) weight of each category's stock cover in weeks (NaN cover: 1, unknown stock)."""
    c = np.asarray(cover, dtype=np.float64)
    w = np.ones_like(c)
    low = c < policy.scarce_weeks
    high = c > policy.overstock_weeks
    w[low] = np.clip(c[low] / policy.scarce_weeks, 0.0, 1.0)
    w[high] = np.minimum(c[high] / policy.overstock_weeks, policy.max_weight)
    w[~np.isfinite(c)] = 1.0
    w[np.isposinf(c)] = policy.max_weight  # stock but no demand at all
    return w


def stock_status(cover: np.ndarray, policy: StockPolicy) -> np.ndarray:
    """(m,) ``scarce`` | ``normal`` | ``overstock`` | ``unknown`` (no stock or demand figure)."""
    c = np.asarray(cover, dtype=np.float64)
    out = np.full(len(c), "normal", dtype=object)
    out[c < policy.scarce_weeks] = "scarce"
    out[c > policy.overstock_weeks] = "overstock"
    out[np.isnan(c)] = "unknown"
    return out


def _window(df: pd.DataFrame, as_of: pd.Timestamp, days: float | None) -> pd.DataFrame:
    ts = pd.to_datetime(df["ts"])
    keep = ts < as_of
    if days is not None:
        keep &= ts >= as_of - pd.Timedelta(days=days)
    return df.loc[keep]


def competitor_reference(
    competitor_prices: pd.DataFrame, as_of: pd.Timestamp, window_days: float = 28.0
) -> pd.DataFrame:
    """Per product: ``comp_price`` (median over competitors of each one's latest price in the
    ``window_days`` before ``as_of``) and ``n_competitors``."""
    cp = _window(competitor_prices, as_of, window_days)
    if not len(cp):
        return pd.DataFrame(
            {
                "product_id": pd.Series(dtype=object),
                "comp_price": pd.Series(dtype=np.float64),
                "n_competitors": pd.Series(dtype=np.int64),
            }
        )
    latest = cp.sort_values("ts").groupby(["product_id", "competitor"], as_index=False).last()
    return latest.groupby("product_id", as_index=False).agg(
        comp_price=("price", "median"), n_competitors=("competitor", "nunique")
    )


def category_price_index(
    lines: pd.DataFrame,
    competitor_prices: pd.DataFrame | None,
    as_of: pd.Timestamp,
    window_days: float = 28.0,
) -> pd.DataFrame:
    """Per category (``lines`` has ``product_id``, ``category``, ``ts``, ``quantity``,
    ``amount``, ``discount``): units and revenue in the window, ``price_index``,
    ``paid_index``, ``n_products_priced``, ``units_share_priced``, ``n_competitors`` (NaN
    indices where no product sold in the window has a competitor price)."""
    ln = _window(lines, as_of, window_days)
    ln = ln.loc[ln["quantity"] > 0]
    # object dtype even when empty (a merge on an empty frame's float column fails)
    cat = ln["category"].fillna(NO_CATEGORY).astype(str).astype(object)
    per = (
        ln.assign(category=cat, shelf=ln["amount"] + ln["discount"])
        .groupby(["category", "product_id"], as_index=False)
        .agg(q=("quantity", "sum"), amount=("amount", "sum"), shelf=("shelf", "sum"))
    )
    out = per.groupby("category", as_index=False).agg(
        units_sold=("q", "sum"), revenue=("amount", "sum")
    )
    if competitor_prices is None or not len(per):
        for c in ("price_index", "paid_index", "units_share_priced"):
            out[c] = np.nan
        out["n_products_priced"] = 0
        out["n_competitors"] = 0
        return out
    ref = competitor_reference(competitor_prices, as_of, window_days)
    m = per.merge(ref, on="product_id", how="inner")
    m = m.assign(qc=m["q"] * m["comp_price"])
    agg = m.groupby("category", as_index=False).agg(
        shelf=("shelf", "sum"),
        amount=("amount", "sum"),
        qc=("qc", "sum"),
        q=("q", "sum"),
        n_products_priced=("product_id", "nunique"),
        n_competitors=("n_competitors", "max"),
    )
    agg["price_index"] = agg["shelf"] / agg["qc"]
    agg["paid_index"] = agg["amount"] / agg["qc"]
    out = out.merge(
        agg[["category", "price_index", "paid_index", "n_products_priced", "n_competitors", "q"]],
        on="category",
        how="left",
    )
    out["units_share_priced"] = out.pop("q") / out["units_sold"]
    out["n_products_priced"] = out["n_products_priced"].fillna(0).astype(int)
    out["n_competitors"] = out["n_competitors"].fillna(0).astype(int)
    return out


def history_demand(lines: pd.DataFrame, as_of: pd.Timestamp, weeks: int = 4) -> pd.Series:
    """Units per week per category: the mean of the last ``weeks`` weeks before ``as_of``."""
    ln = _window(lines, as_of, 7.0 * weeks)
    cat = ln["category"].fillna(NO_CATEGORY).astype(str)
    return ln.groupby(cat)["quantity"].sum() / float(weeks)


def category_stock(
    inventory: pd.DataFrame, categories: pd.Series, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Per category: ``on_hand`` (sum of each product's latest snapshot before ``as_of``),
    ``snapshot`` (the oldest of those latest snapshots: how stale the figure may be).
    ``categories``: category by product_id."""
    inv = _window(inventory, as_of, None)
    if not len(inv):
        return pd.DataFrame(
            {
                "category": pd.Series(dtype=object),
                "on_hand": pd.Series(dtype=np.float64),
                "snapshot": pd.Series(dtype="datetime64[ns]"),
            }
        )
    last = inv.sort_values("ts").groupby("product_id", as_index=False).last()
    cat = last["product_id"].map(categories).fillna(NO_CATEGORY).astype(str)
    return (
        last.assign(category=cat)
        .groupby("category", as_index=False)
        .agg(on_hand=("on_hand", "sum"), snapshot=("ts", "min"))
    )

"""``offerwise categories``: per category, the price index against competitors, stock on hand,
demand per week, weeks of cover and the weight a plan with ``[stock] weights`` gives its offers.

Formulas: :mod:`offerwise.demand.competition`; docs: ``docs/demand.md#categories``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise._io import read_table, write_table
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.demand.competition import (
    OUTLOOK_COLUMNS,
    StockPolicy,
    category_price_index,
    category_stock,
    history_demand,
    stock_status,
    stock_weight,
)
from offerwise.errors import InputError, Problem
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.forecast import FORECAST_ATTRS_KEYS, transactions_as_of

__all__ = [
    "HISTORY_WEEKS",
    "CategoryOutlook",
    "category_outlook",
    "load_demand_forecast",
    "write_outlook",
]

#: Without a forecast, demand per week is the mean of this many last weeks of sales.
HISTORY_WEEKS = 4

#: Longest price window ``--window-days`` takes (a century: any shop's history fits).
MAX_WINDOW_DAYS = 36_500


@dataclass(slots=True)
class CategoryOutlook:
    """One row per category (:data:`~offerwise.demand.competition.OUTLOOK_COLUMNS`) and where
    its figures came from. ``demand_source``: ``forecast`` (the mean weekly units of the
    forecast file) or ``history`` (the last :data:`HISTORY_WEEKS` weeks of sales)."""

    frame: pd.DataFrame
    as_of: pd.Timestamp
    window_days: float
    demand_source: str
    policy: StockPolicy
    has_competitor_prices: bool
    has_inventory: bool
    data_fingerprint: str
    forecast: str | None = None
    warnings: list[Problem] = field(default_factory=list)

    def weights(self) -> dict[str, float]:
        """Category -> weight (categories without a stock figure weigh 1)."""
        return {str(c): float(w) for c, w in zip(self.frame["category"], self.frame["weight"])}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: settings, sources and the rows (NaN as null)."""
        rows = self.frame.astype(object).where(self.frame.notna(), None).to_dict("records")
        return {
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "demand_source": self.demand_source,
            "forecast": self.forecast,
            "has_competitor_prices": self.has_competitor_prices,
            "has_inventory": self.has_inventory,
            "stock_policy": {
                "scarce_weeks": self.policy.scarce_weeks,
                "overstock_weeks": self.policy.overstock_weeks,
                "max_weight": self.policy.max_weight,
            },
            "data_fingerprint": self.data_fingerprint,
            "categories": rows,
        }


def load_demand_forecast(path: str | Path) -> pd.Series:
    """Mean weekly units per category of an ``offerwise forecast --level category --target
    units`` file (``series``, ``week``, ``yhat``). A file whose metadata says another level or
    target is an :class:`InputError` (a CSV carries no metadata: its rows are taken as such)."""
    df = read_table(path, "forecast", required=("series", "week", "yhat"))
    attrs = df.attrs or {}
    if attrs.get("offerwise") == FORECAST_ATTRS_KEYS["offerwise"]:
        level, target = attrs.get("level"), attrs.get("target")
        if level != "category" or target != "units":
            raise InputError(
                f"{path}: a forecast of {target} per {level}; stock cover needs units per "
                "category (`offerwise forecast --level category --target units`)"
            )
    yhat = pd.to_numeric(df["yhat"], errors="coerce")
    bad = yhat.isna() | (yhat < 0)
    if bad.any():
        ex = df.loc[bad].iloc[0]
        raise InputError(
            f"{path}: column yhat: {int(bad.sum())} row(s) not a number >= 0 "
            f"(e.g. series={ex['series']!r}, yhat={ex['yhat']!r})"
        )
    return yhat.groupby(df["series"].astype(str)).mean()


def _lines(ds: DataSet, as_of: pd.Timestamp, days: float) -> pd.DataFrame:
    """Transaction lines of the last ``days`` days before ``as_of`` with their category."""
    start = as_of - pd.Timedelta(days=days)
    df = ds.con.execute(
        "SELECT t.product_id, p.category, t.ts, t.quantity, t.amount, t.discount "
        "FROM transactions t LEFT JOIN products p USING (product_id) "
        "WHERE t.ts >= ? AND t.ts < ?",
        [start.to_pydatetime(), as_of.to_pydatetime()],
    ).df()
    df["product_id"] = df["product_id"].astype(str)
    return df


def _window_rows(ds: DataSet, table: str, as_of: pd.Timestamp, days: float) -> pd.DataFrame | None:
    """The rows of ``table`` with ``as_of - days <= ts < as_of`` (None without the table)."""
    if not ds.has(table):
        return None
    df = ds.con.execute(
        f"SELECT * FROM {table} WHERE ts >= ? AND ts < ?",
        [(as_of - pd.Timedelta(days=days)).to_pydatetime(), as_of.to_pydatetime()],
    ).df()
    df["product_id"] = df["product_id"].astype(str)
    return df


def _latest_snapshots(ds: DataSet, as_of: pd.Timestamp) -> pd.DataFrame | None:
    """Each product's latest inventory row before ``as_of`` (None without the table)."""
    if not ds.has("inventory"):
        return None
    df = ds.con.execute(
        "SELECT product_id, max(ts) AS ts, arg_max(on_hand, ts) AS on_hand FROM inventory "
        "WHERE ts < ? GROUP BY product_id",
        [as_of.to_pydatetime()],
    ).df()
    df["product_id"] = df["product_id"].astype(str)
    return df


def category_outlook(
    data: DataArg,
    *,
    as_of: object = None,
    forecast: str | Path | None = None,
    window_days: float = 28.0,
    policy: StockPolicy | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> CategoryOutlook:
    """The per-category outlook of ``data`` as of ``as_of`` (default: the midnight after the
    last transaction). Needs ``transactions`` and ``products``; ``competitor_prices`` and
    ``inventory`` fill their columns when present (NaN otherwise)."""
    settings = settings or default_settings()
    policy = policy or StockPolicy()
    if not (0 < window_days <= MAX_WINDOW_DAYS):  # False for NaN too
        raise InputError(
            f"--window-days must be a number of days in (0, {MAX_WINDOW_DAYS:,}]; "
            f"got {window_days:g}"
        )
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "transactions", "products"))
    ts = transactions_as_of(ds, as_of)
    note(progress, "price index and stock cover per category")
    lines = _lines(ds, ts, max(window_days, 7.0 * HISTORY_WEEKS))
    cp = _window_rows(ds, "competitor_prices", ts, window_days)
    out = category_price_index(lines, cp, ts, window_days)
    if forecast is not None:
        demand, source = load_demand_forecast(forecast), "forecast"
    else:
        demand, source = history_demand(lines, ts, HISTORY_WEEKS), "history"
    products = ds.frame("products")
    cats = products.set_index(products["product_id"].astype(str))["category"]
    names = set(out["category"]) | set(demand.index)
    inv = _latest_snapshots(ds, ts)
    if inv is not None:
        stock = category_stock(inv, cats, ts)
        names |= set(stock["category"])
    else:
        stock = pd.DataFrame({"category": pd.Series(dtype=object), "on_hand": []})
    full = pd.DataFrame({"category": pd.Series(sorted(names), dtype=object)})
    full = full.merge(out, on="category", how="left").merge(
        stock[["category", "on_hand"]], on="category", how="left"
    )
    full["demand_per_week"] = full["category"].map(demand).astype(float)
    if source == "history":  # no sales in the last weeks: a demand of 0, not unknown
        full["demand_per_week"] = full["demand_per_week"].fillna(0.0)
    full["units_sold"] = full["units_sold"].fillna(0.0)
    full["revenue"] = full["revenue"].fillna(0.0)
    on_hand = full["on_hand"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = on_hand / full["demand_per_week"].to_numpy(float)  # NaN: unknown stock or demand
    cover = np.where(on_hand == 0, 0.0, cover)
    full["weeks_of_cover"] = cover
    full["stock_status"] = stock_status(cover, policy)
    full["weight"] = stock_weight(cover, policy)
    for c in ("n_products_priced", "n_competitors"):
        full[c] = full[c].fillna(0).astype(int)
    frame = full[list(OUTLOOK_COLUMNS)].sort_values("revenue", ascending=False, kind="stable")
    return CategoryOutlook(
        frame=frame.reset_index(drop=True),
        as_of=ts,
        window_days=float(window_days),
        demand_source=source,
        policy=policy,
        has_competitor_prices=cp is not None,
        has_inventory=ds.has("inventory"),
        data_fingerprint=ds.fingerprint,
        forecast=None if forecast is None else str(forecast),
        warnings=list(ds.warnings),
    )


def write_outlook(outlook: CategoryOutlook, out: str | Path) -> Path:
    """Write the outlook's rows atomically (Parquet or CSV by suffix), settings in the Parquet
    metadata."""
    frame = outlook.frame.copy()
    frame.attrs = {k: v for k, v in outlook.to_dict().items() if k != "categories"}
    return write_table(frame, out)

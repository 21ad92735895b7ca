"""Weekly sales series from transaction lines.

Weeks are counted back from the decision date ``as_of``: week ``k`` (0 = the last one) covers
``[as_of - 7(k+1) days, as_of - 7k days)`` and is labelled by its first instant. Only lines with
``ts < as_of`` are read, so nothing after the decision date reaches a forecast.

Every series spans the same weeks (the oldest complete week of the data to the last week before
``as_of``); a week in which a series sold nothing is a 0. The oldest week is dropped when the data
starts after its first day (a partial week would look like a sales dip). A week in which the whole
shop sold nothing lies inside the data span only when data is missing, so it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from offerwise.errors import DataContractError, InputError, Problem

__all__ = [
    "LEVELS",
    "NO_CATEGORY",
    "TARGETS",
    "WEEK",
    "Level",
    "Target",
    "WeeklySales",
    "check_level",
    "check_target",
    "week_index",
    "week_start",
    "weekly_sales",
]

Level = Literal["category", "product"]
Target = Literal["amount", "units"]
LEVELS: tuple[Level, ...] = ("category", "product")
TARGETS: tuple[Target, ...] = ("amount", "units")
#: One week.
WEEK = pd.Timedelta(days=7)
#: Series name of the lines whose product has no category.
NO_CATEGORY = "(no category)"


def check_level(level: str, allowed: tuple[str, ...] = LEVELS) -> Level:
    """``level`` if it is one of ``allowed``, else :class:`InputError` naming them."""
    if level not in allowed:
        raise InputError(f"--level {level!r}: unknown level (use {' or '.join(allowed)})")
    return cast(Level, level)


def check_target(target: str) -> Target:
    """``target`` if it is ``amount`` or ``units``, else :class:`InputError`."""
    if target == "amount":
        return "amount"
    if target == "units":
        return "units"
    raise InputError(f"--target {target!r}: unknown target (use amount or units)")


def week_index(ts: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """(n,) int64 week of each timestamp, counted back from ``as_of``: ``ceil((as_of - ts) / 7
    days) - 1`` (0 = ``[as_of - 7d, as_of)``); only meaningful for ``ts < as_of``."""
    secs: np.ndarray = (as_of - pd.to_datetime(ts)).dt.total_seconds().to_numpy(np.float64)
    out: np.ndarray = (np.ceil(secs / WEEK.total_seconds()) - 1).astype(np.int64)
    return out


def week_start(k: np.ndarray | int, as_of: pd.Timestamp) -> pd.DatetimeIndex:
    """First instant of week(s) ``k``: ``as_of - 7(k+1)`` days."""
    return pd.DatetimeIndex(as_of - (np.atleast_1d(k) + 1) * WEEK)


@dataclass(frozen=True, slots=True)
class WeeklySales:
    """Weekly sales per series on one grid of weeks.

    ``frame``: one row per (series, week): ``series`` (str: category or product id), ``week``
    (datetime64, the week's first instant, ascending), ``y`` (float: amount paid or units);
    ``weeks``: the grid, oldest first; ``zero_filled``: (series, week) cells without sales, set
    to 0.
    """

    frame: pd.DataFrame
    level: Level
    target: Target
    as_of: pd.Timestamp
    weeks: pd.DatetimeIndex
    zero_filled: int
    partial_week_dropped: bool

    @property
    def n_series(self) -> int:
        return int(self.frame["series"].nunique())

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)


def weekly_sales(
    lines: pd.DataFrame,
    *,
    level: Level,
    target: Target,
    as_of: pd.Timestamp,
    top: int | None = None,
    rank_before: pd.Timestamp | None = None,
    file: str = "transactions",
) -> WeeklySales:
    """Weekly sales of ``lines`` (columns ``ts``, ``product_id``, ``quantity``, ``amount`` and,
    for ``level="category"``, ``category``) before ``as_of``.

    ``top``: keep the ``top`` series with the largest total ``target`` before ``rank_before``
    (default ``as_of``); ``None`` keeps all. Raises :class:`DataContractError` (file, column,
    weeks, an example) when the shop sold nothing at all in some week of the span, and
    :class:`InputError` when no line lies before ``as_of``.
    """
    value = "quantity" if target == "units" else "amount"
    past = lines.loc[pd.to_datetime(lines["ts"]) < as_of]
    if past.empty:
        raise InputError(f"{file}: no transaction before --as-of {as_of} (nothing to forecast)")
    if level == "category":
        key = past["category"].astype("string").fillna(NO_CATEGORY).replace("", NO_CATEGORY)
    else:
        key = past["product_id"].astype("string")
    k = week_index(past["ts"], as_of)
    first_ts = pd.Timestamp(pd.to_datetime(past["ts"]).min())
    oldest = int(k.max())
    dropped = first_ts.normalize() > week_start(oldest, as_of)[0].normalize()
    last_k = oldest - 1 if dropped else oldest
    if last_k < 0:
        raise InputError(f"{file}: less than one complete week of data before {as_of}")
    keep = k <= last_k
    agg = (
        pd.DataFrame({"series": key[keep].to_numpy(), "k": k[keep], "y": past[value][keep]})
        .groupby(["series", "k"], sort=False)["y"]
        .sum()
    )
    _check_missing_weeks(agg.index.get_level_values("k").to_numpy(), last_k, as_of, file)
    if top is not None:
        cut = as_of if rank_before is None else rank_before
        min_k = int(np.floor((as_of - cut) / WEEK))
        before = agg[agg.index.get_level_values("k") >= min_k]
        totals = before.groupby(level="series").sum().sort_values(ascending=False, kind="stable")
        chosen = totals.index[:top]
        agg = agg[agg.index.get_level_values("series").isin(chosen)]
    series = np.sort(agg.index.get_level_values("series").unique().to_numpy().astype(str))
    ks = np.arange(last_k, -1, -1)  # oldest first
    full = pd.MultiIndex.from_product([series, ks], names=["series", "k"])
    y = agg.reindex(full)
    filled = int(y.isna().sum())
    weeks = week_start(ks, as_of)
    frame = pd.DataFrame(
        {
            "series": np.repeat(series, len(ks)),
            "week": np.tile(weeks.to_numpy(), len(series)),
            "y": y.fillna(0.0).to_numpy(dtype=np.float64),
        }
    )
    return WeeklySales(frame, level, target, as_of, weeks, filled, bool(dropped))


def _check_missing_weeks(ks: np.ndarray, last_k: int, as_of: pd.Timestamp, file: str) -> None:
    """Refuse weeks of the span in which no line at all was sold (missing data, not demand)."""
    empty = np.setdiff1d(np.arange(last_k + 1), np.unique(ks))
    if empty.size == 0:
        return
    starts = week_start(empty, as_of)
    raise DataContractError(
        [
            Problem(
                table="transactions",
                column="ts",
                file=file,
                message=(
                    f"no sales at all in {empty.size} of {last_k + 1} weeks (a gap in the data, "
                    "not zero demand; use --as-of before the gap or complete the data)"
                ),
                example=f"the week of {starts.min().date()}",
            )
        ],
        header=f"{file}: weeks missing from the transactions",
    )

"""Weekly series: week boundaries counted back from --as-of, no sale after it, zeros filled,
partial first week dropped, missing weeks refused, top products."""

from __future__ import annotations

import pandas as pd
import pytest
from demand_testdata import lines

from offerwise.demand.weekly import week_index, weekly_sales
from offerwise.errors import DataContractError, InputError

AS_OF = pd.Timestamp("2024-01-29")  # a Monday: weeks run Monday..Sunday


def test_week_boundaries_are_half_open_and_counted_back_from_as_of() -> None:
    ts = pd.Series(pd.to_datetime(["2024-01-28 23:59:59", "2024-01-22 00:00:00", "2024-01-21 23:59:59"]))
    assert week_index(ts, AS_OF).tolist() == [0, 0, 1]


def test_lines_at_or_after_as_of_never_count_and_weeks_are_filled_with_zero() -> None:
    df = lines([
        ("p1", "A", "2024-01-15 09:00", 1, 10.0, 0.0),   # week of 01-15 (first, starts on its first day)
        ("p1", "A", "2024-01-22 09:00", 2, 20.0, 0.0),   # week of 01-22
        ("p2", "B", "2024-01-16 09:00", 5, 50.0, 0.0),   # B sells in week 1 only -> 0 in week 0
        ("p1", "A", "2024-01-29 00:00", 9, 999.0, 0.0),  # at as_of: excluded
        ("p1", "A", "2024-02-03 12:00", 9, 999.0, 0.0),  # after: excluded
    ])
    s = weekly_sales(df, level="category", target="amount", as_of=AS_OF)
    assert list(s.weeks) == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-22")]
    got = s.frame.set_index(["series", "week"])["y"]
    assert got[("A", pd.Timestamp("2024-01-15"))] == 10.0 and got[("A", pd.Timestamp("2024-01-22"))] == 20.0
    assert got[("B", pd.Timestamp("2024-01-22"))] == 0.0 and s.zero_filled == 1
    units = weekly_sales(df, level="product", target="units", as_of=AS_OF).frame
    assert units.loc[units["series"] == "p1", "y"].tolist() == [1.0, 2.0]


def test_partial_first_week_is_dropped() -> None:
    df = lines([("p1", "A", "2024-01-17 09:00", 1, 10.0, 0.0), ("p1", "A", "2024-01-23 09:00", 1, 10.0, 0.0)])
    s = weekly_sales(df, level="category", target="amount", as_of=AS_OF)
    assert s.partial_week_dropped and list(s.weeks) == [pd.Timestamp("2024-01-22")]


def test_a_week_without_any_sale_is_refused_with_the_week_named() -> None:
    df = lines([("p1", "A", "2024-01-08 09:00", 1, 10.0, 0.0), ("p1", "A", "2024-01-22 09:00", 1, 10.0, 0.0)])
    with pytest.raises(DataContractError) as e:
        weekly_sales(df, level="category", target="amount", as_of=AS_OF, file="tx.parquet")
    msg = str(e.value)
    assert "tx.parquet, column 'ts'" in msg and "no sales at all in 1 of 3 weeks" in msg
    assert "the week of 2024-01-15" in msg
    with pytest.raises(InputError, match="no transaction before"):
        weekly_sales(df, level="category", target="amount", as_of=pd.Timestamp("2020-01-01"))


def test_top_products_are_ranked_on_the_weeks_before_rank_before() -> None:
    df = lines([
        ("p1", "A", "2024-01-15 09:00", 1, 10.0, 0.0),
        ("p2", "A", "2024-01-15 09:00", 1, 5.0, 0.0),
        ("p2", "A", "2024-01-22 09:00", 1, 100.0, 0.0),  # p2 best overall, but only after the cut
    ])
    assert weekly_sales(df, level="product", target="amount", as_of=AS_OF, top=1).frame["series"].unique().tolist() == ["p2"]
    early = weekly_sales(df, level="product", target="amount", as_of=AS_OF, top=1, rank_before=pd.Timestamp("2024-01-22"))
    assert early.frame["series"].unique().tolist() == ["p1"]

"""Offer templates scoped by recommendation: parsing, depth check, instantiation."""

from __future__ import annotations

import pandas as pd
import pytest

from offerwise.data.templates import (
    RecScope,
    check_depth,
    fixed_category,
    instantiate,
    parse_scope,
    template_scopes,
)
from offerwise.errors import InputError


def test_parse_scope() -> None:
    assert parse_scope("rec:1") == RecScope(1, 1) and str(RecScope(2, 3)) == "rec:2..3"
    assert parse_scope("rec:2..3") == RecScope(2, 3)
    assert parse_scope(None) is None and parse_scope("DAIRY") is None and parse_scope("") is None
    for bad in ("rec:0", "rec:3..2", "rec:top", "rec:1..x"):
        with pytest.raises(InputError, match="offer 'o1' has template"):
            parse_scope(bad, "o1")
    assert fixed_category("DAIRY") == "DAIRY" and fixed_category("rec:1") is None
    assert fixed_category(float("nan")) is None and fixed_category("") is None


def test_check_depth_names_the_offer_and_the_ranks() -> None:
    scopes = template_scopes(pd.DataFrame({"offer_id": ["a", "b", "c"],
                                           "category": [None, "rec:1", "rec:2..12"]}))
    assert scopes == {"b": RecScope(1, 1), "c": RecScope(2, 12)}
    check_depth(scopes, 12, "recs.parquet")
    with pytest.raises(InputError, match=r"offer 'c' is scoped to rec:2\.\.12, beyond the 10 ranks"):
        check_depth(scopes, 10, "recs.parquet")


def test_instantiate_picks_the_best_rank_in_range_and_marks_missing() -> None:
    recs = pd.DataFrame({
        "customer_id": ["c1", "c1", "c1", "c2", "c3", "c3"],
        "item": ["DAIRY", "SNACKS", "FROZEN", "BEER", "TEA", "SOAP"],
        "rank": [1, 2, 3, 1, 3, 1],  # c3's rows out of order; c2 has one rank only
    })
    scopes = {"top": RecScope(1, 1), "mid": RecScope(2, 3)}
    got = instantiate(recs, scopes, ["c1", "c2", "c3", "c4"])
    wide = got.pivot(index="customer_id", columns="offer_id", values="category")
    assert wide.loc["c1", "top"] == "DAIRY" and wide.loc["c1", "mid"] == "SNACKS"
    assert wide.loc["c2", "top"] == "BEER" and pd.isna(wide.loc["c2", "mid"])
    assert wide.loc["c3", "top"] == "SOAP" and wide.loc["c3", "mid"] == "TEA"
    assert wide.loc["c4"].isna().all()  # no recommendations: not eligible
    assert list(got.columns) == ["customer_id", "offer_id", "category"] and len(got) == 8

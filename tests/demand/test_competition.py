"""Price index, stock cover and stock weights: hand-computed cases and the synthetic shop's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.demand.competition import (
    StockPolicy,
    category_price_index,
    category_stock,
    competitor_reference,
    history_demand,
    stock_weight,
)
from offerwise.demand.elasticity import add_competitor_prices, category_elasticities, price_panel
from offerwise.demand.synthetic import DemandConfig, simulate_demand

AS_OF = pd.Timestamp("2024-03-01")


def _lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["a", "a", "b", "c", "a"],
            "category": ["X", "X", "X", "Y", "X"],
            "ts": pd.to_datetime(["2024-02-20", "2024-02-25", "2024-02-26", "2024-02-27", "2023-12-01"]),
            "quantity": [2.0, 1.0, 4.0, 1.0, 9.0],
            "amount": [4.0, 1.5, 8.0, 5.0, 18.0],  # a: shelf 2.0, one line paid 1.5 of 2.0
            "discount": [0.0, 0.5, 0.0, 0.0, 0.0],
        }
    )


def _comp() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["a", "a", "a", "b", "b", "a"],
            "ts": pd.to_datetime(["2024-02-10", "2024-02-24", "2024-02-24", "2024-02-20", "2024-03-02", "2023-11-01"]),
            "competitor": ["r1", "r1", "r2", "r1", "r1", "r3"],
            "price": [9.0, 2.5, 1.5, 2.0, 99.0, 50.0],  # r1's latest for a: 2.5; after as_of / too old: unused
        }
    )


def test_competitor_reference_takes_each_rivals_latest_price_in_the_window() -> None:
    ref = competitor_reference(_comp(), AS_OF, window_days=28).set_index("product_id")
    assert ref.loc["a", "comp_price"] == pytest.approx(2.0)  # median(2.5, 1.5); r3 too old
    assert ref.loc["a", "n_competitors"] == 2 and ref.loc["b", "comp_price"] == pytest.approx(2.0)


def test_price_index_is_units_weighted_shelf_over_competitor_price() -> None:
    t = category_price_index(_lines(), _comp(), AS_OF, window_days=28).set_index("category")
    # X: a sold 3 units at shelf 2.0 (comp 2.0), b 4 units at 2.0 (comp 2.0) -> 14 / 14
    assert t.loc["X", "price_index"] == pytest.approx(1.0)
    assert t.loc["X", "paid_index"] == pytest.approx(13.5 / 14.0)
    assert t.loc["X", "units_sold"] == 7 and t.loc["X", "units_share_priced"] == pytest.approx(1.0)
    assert np.isnan(t.loc["Y", "price_index"]) and t.loc["Y", "n_products_priced"] == 0
    assert np.isnan(category_price_index(_lines(), None, AS_OF).set_index("category").loc["X", "price_index"])


def test_stock_weight_protects_scarce_and_pushes_overstock() -> None:
    pol = StockPolicy(scarce_weeks=2, overstock_weeks=8, max_weight=2)
    w = stock_weight(np.array([0.0, 1.0, 2.0, 5.0, 8.0, 12.0, 40.0, np.nan, np.inf]), pol)
    assert w.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="scarce_weeks"):
        StockPolicy(scarce_weeks=9, overstock_weeks=8)


def test_stock_is_each_products_latest_snapshot_before_the_decision() -> None:
    inv = pd.DataFrame(
        {
            "product_id": ["a", "a", "b", "c"],
            "ts": pd.to_datetime(["2024-02-01", "2024-02-20", "2024-02-25", "2024-03-05"]),
            "on_hand": [100.0, 7.0, 3.0, 50.0],  # c's snapshot is after as_of
        }
    )
    cats = pd.Series({"a": "X", "b": "X", "c": "Y"})
    st = category_stock(inv, cats, AS_OF).set_index("category")
    assert st.loc["X", "on_hand"] == 10.0 and "Y" not in st.index
    assert history_demand(_lines(), AS_OF, weeks=4).to_dict() == {"X": 7 / 4, "Y": 1 / 4}


def test_synthetic_shop_truth_price_index_and_competitor_effect() -> None:
    m = simulate_demand(DemandConfig(competitors=3, seed=11))
    lines = m.transactions.merge(m.products[["product_id", "category"]], on="product_id")
    pi = category_price_index(lines, m.competitor_prices, m.as_of).merge(m.truth, on="category")
    assert (pi["price_index_x"] - pi["price_index_y"]).abs().max() < 1e-9
    panel = add_competitor_prices(price_panel(lines, m.as_of), m.competitor_prices, m.as_of)
    est = category_elasticities(panel).merge(m.truth, on="category")
    # the 90 % intervals cover the known cross-price elasticity for most categories, and the
    # estimate is far from a wrong sign where the truth is strong
    covered = (est["competitor_ci_low"] <= est["competitor_effect_y"]) & (
        est["competitor_effect_y"] <= est["competitor_ci_high"]
    )
    assert covered.sum() >= 4, est[["category", "competitor_effect_x", "competitor_effect_y"]]
    strong = est[est["competitor_effect_y"] >= 0.8]
    assert (strong["competitor_effect_x"] > 0.2).all()
    stock = m.inventory.assign(product_id=m.inventory["product_id"].astype(str))
    cats = m.products.set_index("product_id")["category"]
    st = category_stock(stock, cats, m.as_of).merge(m.truth, on="category")
    cover = st["on_hand"] / st["demand_per_week"]
    assert np.allclose(cover, st["weeks_of_cover"])

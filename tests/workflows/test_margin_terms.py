"""The margin row counts an offer's terms where they fix its cost per unit of revenue (issue #15):
``percent_off`` of depth d on the share s of the order it applies to costs R·d·s / (1 − d·s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offerwise.config import default_settings
from offerwise.policy.margin import terms_cost
from offerwise.policy.plan import scores_to_arrays
from offerwise.workflows._common import open_data
from offerwise.workflows.margin import offer_terms, with_terms


def test_terms_cost_is_the_offers_discount_per_unit_of_revenue() -> None:
    R = np.array([[80.0, 90.0, 50.0, 40.0]])
    C = np.array([[1.0, 2.0, 3.0, 4.0]])
    depth = np.array([0.2, 0.2, np.nan, 0.1])
    share = np.array([[1.0, 0.5, 1.0, np.nan]])
    got = terms_cost(R, C, depth, share)
    # 20 % off the whole order: revenue 80 is 80 % of gross 100, the discount 20
    assert got[0, 0] == pytest.approx(20.0)
    # 20 % off half the order: gross G with 0.9 G = 90, discount 0.1 G = 10
    assert got[0, 1] == pytest.approx(10.0)
    # not a percent_off (depth NaN) or no share known: the model's cost
    assert got[0, 2] == 3.0 and got[0, 3] == 4.0


def _shop(d: Path) -> Path:
    d.mkdir()
    pd.DataFrame({"customer_id": ["a", "b", "c"]}).to_csv(d / "customers.csv", index=False)
    pd.DataFrame({"product_id": ["f1", "f2", "p1"], "category": ["fresh", "fresh", "pantry"]}).to_csv(
        d / "products.csv", index=False)
    pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"], "order_id": ["o1", "o1", "o2", "o3"],
        "product_id": ["f1", "p1", "f2", "p1"],
        "ts": ["2024-03-01", "2024-03-01", "2024-03-05", "2024-03-02"],
        "quantity": [1, 1, 1, 1], "amount": [30.0, 50.0, 20.0, 10.0], "discount": [0.0] * 4,
    }).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame({
        "offer_id": ["all20", "fresh20", "amt5", "rec20"],
        "kind": ["percent_off", "percent_off", "amount_off", "percent_off"],
        "value": [0.2, 0.2, 5.0, 0.2], "category": ["", "fresh", "", "rec:1"],
    }).to_csv(d / "offers.csv", index=False)
    return d


def test_offer_terms_use_each_customers_share_of_spend_in_the_scoped_category(tmp_path: Path) -> None:
    settings = default_settings()
    ds = open_data(_shop(tmp_path / "shop"), settings, ("customers",))
    offers = ds.frame("offers")
    rows = [(c, o) for c in ("a", "b", "c") for o in ("all20", "fresh20", "amt5", "rec20")]
    scores = pd.DataFrame({
        "customer_id": [c for c, _ in rows], "offer_id": [o for _, o in rows],
        "incremental_profit": 1.0, "expected_cost": 2.0, "expected_revenue": 90.0,
        "p_convert": 0.5,
    })
    arr = scores_to_arrays(scores)
    terms = offer_terms(ds, offers, arr, pd.Timestamp("2024-04-01"), settings)
    assert terms is not None
    got = with_terms(arr, terms)
    assert got.margin_cost is not None
    m = pd.DataFrame(got.margin_cost, index=list(got.customer_ids), columns=got.offer_ids)
    # site-wide 20 %: 90 / 0.8 * 0.2 for everyone, history or not
    assert m["all20"].tolist() == pytest.approx([22.5, 22.5, 22.5])
    # a spent 50 of 100 on fresh: 20 % of half the order -> 90 * 0.1 / 0.9
    assert m.at["a", "fresh20"] == pytest.approx(10.0)
    # b bought no fresh: the offer takes nothing off b's orders
    assert m.at["b", "fresh20"] == pytest.approx(0.0)
    # c has no history, amount_off has no fixed ratio, a template's category is the customer's:
    # the model's cost
    assert m.at["c", "fresh20"] == 2.0
    assert m["amt5"].tolist() == [2.0, 2.0, 2.0] and m["rec20"].tolist() == [2.0, 2.0, 2.0]
    # the value, profit and budget cost are the model's
    assert np.array_equal(got.cost, arr.cost) and np.array_equal(got.value, arr.value)
    # another frame of the same customers in another order (the audit model's) is matched by id
    other = scores_to_arrays(scores.iloc[::-1].reset_index(drop=True))
    again = with_terms(other, terms)
    assert again.margin_cost is not None
    o = pd.DataFrame(again.margin_cost, index=list(other.customer_ids), columns=other.offer_ids)
    assert o.loc[m.index, m.columns].to_numpy() == pytest.approx(m.to_numpy())


def test_other_offers_count_their_realised_cost_per_unit_of_revenue(tmp_path: Path) -> None:
    """An amount_off offer's margin cost is its logged discount cost per unit of revenue (1 /
    propensity weighted) times the customer's expected revenue."""
    settings = default_settings()
    d = _shop(tmp_path / "shop")
    n = 40
    pd.DataFrame({
        "customer_id": ["a", "b"] * (n // 2) + ["a"] * 5,
        "offer_id": ["amt5"] * n + ["all20"] * 5,
        "ts": ["2024-03-10"] * (n + 5),
        "converted": [1] * (n + 5),
        # half the exposures logged at propensity 0.5 with a 10 % cost ratio, half at 1 with 20 %
        "revenue": [50.0] * (n + 5), "discount_cost": [5.0, 10.0] * (n // 2) + [1.0] * 5,
        "propensity": [0.5, 1.0] * (n // 2) + [1.0] * 5,
    }).to_csv(d / "exposures.csv", index=False)
    ds = open_data(d, settings, ("customers",))
    scores = pd.DataFrame({"customer_id": ["a", "a", "c"], "offer_id": ["amt5", "fresh20", "amt5"],
                           "incremental_profit": 1.0, "expected_cost": 2.0, "expected_revenue": 90.0})
    arr = scores_to_arrays(scores)
    terms = offer_terms(ds, ds.frame("offers"), arr, pd.Timestamp("2024-04-01"), settings)
    assert terms is not None
    got = with_terms(arr, terms).margin_cost
    assert got is not None
    ratio = (2 * 5 + 1 * 10) / (2 * 50 + 1 * 50)  # Σ w·cost / Σ w·revenue, w = 1 / propensity
    j = arr.offer_ids.index("amt5")
    assert got[:, j] == pytest.approx(90.0 * ratio)  # with or without history: the offer's ratio
    # all20 had 5 logged exposures only, but its terms fix it; fresh20 for a: the terms
    assert got[0, arr.offer_ids.index("fresh20")] == pytest.approx(10.0)

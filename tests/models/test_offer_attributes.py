"""Offers as attributes: the attribute rows, the menu's specs, and the attribute model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from offerwise.models.metalearners import lgb_params
from offerwise.models.offer_attributes import (
    ATTRIBUTE_NAMES,
    OfferSpec,
    attribute_matrix,
    fit_attribute_model,
    offer_specs,
    predict_attribute_model,
)

COLS = ["avg_basket", "category_share=fresh", "frequency"]


def _col(A: np.ndarray, name: str) -> np.ndarray:
    return A[:, ATTRIBUTE_NAMES.index(name)]


def test_attribute_rows_read_the_customers_basket_and_category_share() -> None:
    X = np.array([[50.0, 0.2, 4.0], [0.0, 0.0, 0.0]])
    fresh = attribute_matrix(X, COLS, OfferSpec("fresh20", "percent_off", 0.2, category="fresh"))
    assert _col(fresh, "offer_kind=percent_off").tolist() == [1.0, 1.0]
    assert np.allclose(_col(fresh, "offer_depth_share"), [0.04, 0.0])
    assert np.allclose(_col(fresh, "offer_scope_share"), [0.2, 0.0])
    assert _col(fresh, "offer_scoped").tolist() == [1.0, 1.0]
    save = attribute_matrix(X, COLS, OfferSpec("s", "spend_threshold", 10.0, min_spend=50.0))
    assert np.allclose(_col(save, "offer_depth_share")[0], 0.2)
    assert np.allclose(_col(save, "offer_threshold_ratio")[0], 1.0)
    assert np.isnan(_col(save, "offer_depth_share")[1])  # no basket: unknown, not infinite
    assert _col(save, "offer_amount").tolist() == [10.0, 10.0]
    assert _col(save, "offer_scope_share").tolist() == [1.0, 1.0]
    assert not attribute_matrix(X, COLS, None).any()  # the control
    tpl = attribute_matrix(X, COLS, OfferSpec("t", "percent_off", 0.1, category="rec:1"))
    assert np.isnan(_col(tpl, "offer_scope_share")).all()


def test_offer_specs_from_the_menu() -> None:
    menu = pd.DataFrame({
        "offer_id": ["none", "pct10", "fresh20"],
        "kind": ["percent_off", "percent_off", "percent_off"],
        "value": [0.0, 0.1, 0.2],
        "min_spend": [0.0, None, 5.0],
        "category": [None, "", "fresh"],
        "starts": [None, "2026-01-01", None],
        "ends": [None, "2026-01-15", None],
    })
    specs = offer_specs(menu)
    assert [s.offer_id for s in specs] == ["pct10", "fresh20"]
    assert specs[0].category is None and specs[0].duration_days == 14.0
    assert specs[0].min_spend == 0.0 and specs[1].category == "fresh"
    assert math.isnan(specs[1].duration_days)
    assert OfferSpec.from_dict(specs[1].to_dict()).category == "fresh"
    assert specs[1].to_dict()["duration_days"] is None


def test_a_deeper_percent_off_converts_and_costs_at_least_as_much() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    X = np.column_stack([rng.lognormal(3.5, 0.3, n), rng.uniform(0, 0.5, n), rng.poisson(5, n)])
    specs = [None, OfferSpec("p10", "percent_off", 0.1), OfferSpec("p20", "percent_off", 0.2)]
    action = rng.integers(0, 3, n)
    depth = np.array([0.0, 0.1, 0.2])[action]
    conv = (rng.random(n) < 0.2 + depth).astype(float)
    gross = conv * X[:, 0] * rng.lognormal(0, 0.1, n)
    boosters = fit_attribute_model(
        X, action, specs, conv, gross, 0.3 * gross, gross * depth,
        feature_names=COLS, params=lgb_params("binary", min_child_samples=50, n_jobs=1, seed=1),
        n_estimators=60,
    )
    deeper = [OfferSpec("p15", "percent_off", 0.15), OfferSpec("p40", "percent_off", 0.4)]
    a15, a40 = predict_attribute_model(boosters, X[:500], COLS, deeper, n_jobs=1)
    assert (a40.dconv >= a15.dconv - 1e-12).all() and a15.dconv.mean() > 0.05
    # a percent-off's cost is its depth times the basket: 0.4 costs 0.4 of gross sales
    gross40 = a40.revenue + a40.cost
    assert np.allclose(a40.cost, 0.4 * gross40)
    assert (a40.value < a15.value).mean() > 0.95  # at a 30 % margin, 40 % off loses money

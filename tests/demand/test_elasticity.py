"""Elasticity: the known truth of a synthetic draw recovered within its interval, the same number
as EconML's LinearDML, NaN and a reason when prices do not move, bad prices refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from demand_testdata import lines

from offerwise.demand.elasticity import (
    ELASTICITY_COLUMNS,
    ElasticitySpec,
    category_elasticities,
    dml_elasticity,
    price_panel,
)
from offerwise.demand.synthetic import DemandConfig, simulate_demand
from offerwise.errors import DataContractError


@pytest.fixture(scope="module")
def draw() -> tuple[pd.DataFrame, pd.DataFrame]:
    m = simulate_demand(DemandConfig(elasticities=(-0.8, -2.0, -3.0), seed=7))
    tx = m.transactions.merge(m.products[["product_id", "category"]], on="product_id")
    return category_elasticities(price_panel(tx, m.as_of)), m.truth


def test_known_elasticities_are_recovered_within_their_intervals(draw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    est, truth = draw
    assert list(est.columns) == list(ELASTICITY_COLUMNS)
    m = est.merge(truth, on="category", suffixes=("", "_true"))
    assert ((m["ci95_low"] <= m["elasticity_true"]) & (m["elasticity_true"] <= m["ci95_high"])).all(), m
    assert (m["elasticity"] - m["elasticity_true"]).abs().max() < 0.2
    assert ((m["ci_high"] - m["ci_low"]) < (m["ci95_high"] - m["ci95_low"])).all()
    assert (m["reason"] == "").all() and (m["n_products"] == 20).all()


def test_confounded_prices_fool_a_plain_regression_but_not_the_estimator() -> None:
    m = simulate_demand(DemandConfig(elasticities=(-2.0,), seed=3))
    tx = m.transactions.merge(m.products[["product_id", "category"]], on="product_id")
    f = price_panel(tx, m.as_of).frame
    ly, lp = np.log(f["units"]), np.log(f["paid"] / f["units"])
    within = lp - lp.groupby(f["product_id"]).transform("mean")
    plain = float(np.polyfit(within, ly - ly.groupby(f["product_id"]).transform("mean"), 1)[0])
    est = dml_elasticity(ly.to_numpy(), lp.to_numpy(), f["product_id"].to_numpy(), f["week"].to_numpy())
    assert plain < -2.3  # price cuts in busy weeks exaggerate the response
    assert est.ci95[0] <= -2.0 <= est.ci95[1]


def test_matches_econml_linear_dml_with_the_same_folds_and_models() -> None:
    econml = pytest.importorskip("econml.dml")
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    n, n_p, n_w = 600, 10, 30
    prod, week = rng.integers(0, n_p, n), rng.integers(0, n_w, n)
    lp = 0.3 * rng.normal(size=n) + 0.1 * week / n_w + prod / n_p
    ly = -1.5 * lp + prod / 5 + np.sin(week) + 0.2 * rng.normal(size=n)
    spec = ElasticitySpec(folds=5, alpha=1.0, seed=0)
    ours = dml_elasticity(ly, lp, prod, week, spec)
    folds = np.random.default_rng(0).permutation(np.arange(n) % 5)
    W = np.hstack([np.eye(n_p)[prod], np.eye(n_w)[week]])
    cv = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(5)]
    ref = econml.LinearDML(model_y=Ridge(alpha=1.0), model_t=Ridge(alpha=1.0), cv=cv, random_state=0)
    ref.fit(ly, lp, W=W)
    assert ours.estimate == pytest.approx(float(np.ravel(ref.intercept_)[0]), abs=1e-4)


def test_flat_prices_and_thin_data_give_nan_and_a_reason() -> None:
    rng = np.random.default_rng(0)
    n = 300
    prod, week = rng.integers(0, 10, n), rng.integers(0, 30, n)
    flat = dml_elasticity(rng.normal(size=n), np.log(2.0 + prod), prod, week)
    assert np.isnan(flat.estimate) and np.isnan(flat.ci90[0]) and "too little price variation" in flat.reason
    thin = dml_elasticity(rng.normal(size=50), rng.normal(size=50), prod[:50], week[:50])
    assert np.isnan(thin.estimate) and thin.reason == "too few observations (50 < 100)"
    one_week = dml_elasticity(rng.normal(size=n), rng.normal(size=n), prod, np.zeros(n))
    assert one_week.reason == "sales in a single week only"


def test_zero_quantity_lines_are_dropped_and_counted_zero_prices_refused() -> None:
    as_of = pd.Timestamp("2024-01-29")
    ok = lines([
        ("p1", "A", "2024-01-22 09:00", 2, 4.0, 1.0),
        ("p1", "A", "2024-01-23 09:00", 0, 0.0, 0.0),   # quantity 0: dropped, counted
        ("p2", "A", "2024-01-23 09:00", 1, 0.0, 3.0),   # free with a coupon: product-week dropped
    ])
    panel = price_panel(ok, as_of)
    assert panel.dropped_zero_quantity == {"A": 1} and panel.free_product_weeks == 1
    row = panel.frame.iloc[0]
    assert (row["units"], row["paid"], row["shelf"], row["week"]) == (2.0, 4.0, 5.0, 0)
    bad = lines([("p1", "A", "2024-01-22 09:00", 2, 0.0, 0.0), ("p1", "A", "2024-01-23 09:00", 1, 0.0, 0.0)])
    with pytest.raises(DataContractError) as e:
        price_panel(bad, as_of, file="tx.parquet")
    msg = str(e.value)
    assert "tx.parquet, column 'amount, discount'" in msg and "(2 rows)" in msg and "product_id=p1" in msg

"""Stock weights in the allocation and the plan's per-category figures (issue #15 item 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import ConfigError
from offerwise.policy.margin import plan_margin
from offerwise.policy.plan import scores_to_arrays, solve_plan
from offerwise.policy.rules import parse_rules
from offerwise.policy.stock import SITE_WIDE, category_summary, stock_weight_matrix, weighted


def _scores(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Two category offers (dairy, snacks) and one site-wide offer, similar values."""
    rng = np.random.default_rng(seed)
    offers = ["dairy10", "snacks10", "site5"]
    V = rng.normal(3, 1, size=(n, 3))
    C = rng.uniform(1, 2, size=(n, 3))
    R = rng.uniform(20, 40, size=(n, 3))
    ids = [f"c{i}" for i in range(n)]
    return pd.DataFrame({"customer_id": np.repeat(ids, 3), "offer_id": np.tile(offers, n),
                         "expected_cost": C.ravel(), "incremental_profit": V.ravel(),
                         "expected_revenue": R.ravel()})


def _categories(arr) -> np.ndarray:  # noqa: ANN001
    cats = np.full(arr.shape, None, dtype=object)
    for j, o in enumerate(arr.offer_ids):
        cats[:, j] = {"dairy10": "dairy", "snacks10": "snacks"}.get(o)
    return cats


def test_weights_follow_each_offers_category_and_only_steer_the_choice() -> None:
    sc = _scores()
    seg = pd.Series("all", index=sc["customer_id"].unique())
    arr = scores_to_arrays(sc, "profit", 0.0)
    cats = _categories(arr)
    w = stock_weight_matrix(cats, {"dairy": 0.0, "snacks": 2.0})
    j = {o: k for k, o in enumerate(arr.offer_ids)}
    assert (w[:, j["dairy10"]] == 0).all() and (w[:, j["snacks10"]] == 2).all() and (w[:, j["site5"]] == 1).all()
    free = solve_plan(arr, seg, budget=300, holdout=0.0)
    res = solve_plan(weighted(arr, w), seg, budget=300, holdout=0.0)
    names = np.array(arr.offer_ids)
    got = pd.Series(names[res.assignment[res.assignment >= 0]]).value_counts()
    before = pd.Series(names[free.assignment[free.assignment >= 0]]).value_counts()
    assert got.get("dairy10", 0) == 0 < before.get("dairy10", 0)
    assert got.get("snacks10", 0) > before.get("snacks10", 0)
    # stated figures are the model's, not the weights'
    rows = np.flatnonzero(res.assignment >= 0)
    assert res.incremental_profit.sum() == pytest.approx(arr.profit[rows, res.assignment[rows]].sum())
    assert weighted(arr, np.ones((1, 1))) is arr  # a shape mismatch leaves the arrays alone


def test_category_summary_adds_up_to_the_plan() -> None:
    sc = _scores(seed=1)
    seg = pd.Series("all", index=sc["customer_id"].unique())
    res = solve_plan(sc, seg, budget=250, holdout=0.1)
    res.categories = _categories(res.arrays)
    t = category_summary(res, rate=0.3).set_index("category")
    assert set(t.index) <= {"dairy", "snacks", SITE_WIDE}
    assert t["customers"].sum() == (res.assignment >= 0).sum()
    assert t["expected_cost"].sum() == pytest.approx(res.total_cost)
    assert t["incremental_profit"].sum() == pytest.approx(res.total_incremental_profit)
    cat = t.index[0]
    names = np.array(res.offer_ids)
    on = res.assignment >= 0
    ch = np.where(on & (res.assigned_categories() == (None if cat == SITE_WIDE else cat)), res.assignment, -1)
    if cat == SITE_WIDE:
        ch = np.where(on & np.array([c is None for c in res.assigned_categories()]), res.assignment, -1)
    assert t.loc[cat, "expected_margin"] == pytest.approx(plan_margin(ch, res.arrays.revenue, res.arrays.cost, 0.3))
    assert len(names) == 3


def test_stock_rules_are_validated() -> None:
    r = parse_rules({"stock": {}})
    assert r.stock is not None and r.stock.scarce_weeks == 2 and r.stock.overstock_weeks == 8
    with pytest.raises(ConfigError, match="scarce_weeks"):
        parse_rules({"stock": {"scarce_weeks": 10, "overstock_weeks": 8}})
    with pytest.raises(ConfigError, match="stock.max_weight"):
        parse_rules({"stock": {"max_weight": 0.5}})

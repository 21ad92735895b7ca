"""The allocation with its screening pass on Spark gives the single-node solver's plan."""

from __future__ import annotations

import numpy as np
import pytest

from offerwise.policy import allocate
from offerwise.spark.allocate import allocate_on_spark


def _instance(n: int, K: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = rng.gamma(2.0, 2.0, size=(n, K))
    value = cost * rng.normal(0.8, 0.6, size=(n, K)) + rng.normal(0, 1, size=(n, K))
    mask = rng.random((n, K)) > 0.1
    return value, cost, mask


def _check_same(got, ref, budget: float) -> None:
    np.testing.assert_array_equal(got.choice, ref.choice)
    res = got.allocation
    assert res.cost <= budget * (1 + 1e-12) and res.n_treated == ref.n_treated
    assert abs(res.value - ref.value) <= 1e-9 * max(1.0, abs(ref.value))
    np.testing.assert_array_equal(res.count_by_offer, ref.count_by_offer)
    np.testing.assert_allclose(res.spend_by_segment, ref.spend_by_segment, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("share", [0.1, 0.6])
def test_same_assignment_as_single_node(spark, share: float) -> None:
    value, cost, mask = _instance(20_000, 4, seed=11)
    full = allocate(value, cost, np.inf, mask, threads=1)
    budget = share * full.cost
    ref = allocate(value, cost, budget, mask, threads=1)
    got = allocate_on_spark(spark, value, cost, budget, mask, partitions=3, threads=1)
    assert got.passes >= 1 and got.allocation.kernel.startswith("spark")
    assert 0 < got.undecided < 20_000 // 4  # the driver solved only the undecided rows
    _check_same(got, ref, budget)


def test_side_constraints_are_distributed_too(spark) -> None:
    """Per-offer caps (count and spend) and segment budgets (max and min) with the budget."""
    value, cost, mask = _instance(30_000, 5, seed=4)
    full = allocate(value, cost, np.inf, mask, threads=1)
    seg = np.arange(30_000) % 3
    kw = dict(
        max_count=np.array([800.0, np.inf, np.inf, np.inf, np.inf]),
        max_spend=np.array([np.inf, 0.05 * full.cost, np.inf, np.inf, np.inf]),
        segment=seg,
        segment_names=["a", "b", "c"],
        segment_max_spend=np.array([np.inf, 0.05 * full.cost, np.inf]),
        segment_min_spend=np.array([0.0, 0.0, 0.1 * full.cost]),
        threads=1,
    )
    budget = 0.4 * full.cost
    ref = allocate(value, cost, budget, mask, **kw)
    assert {"max_count.0", "max_spend.1"} <= set(ref.binding) or ref.count_by_offer[0] == 800
    got = allocate_on_spark(spark, value, cost, budget, mask, partitions=4, **kw)
    assert got.passes >= 1 and got.allocation.kernel.startswith("spark")
    _check_same(got, ref, budget)
    res = got.allocation
    assert res.count_by_offer[0] <= 800 and res.spend_by_offer[1] <= 0.05 * full.cost * (1 + 1e-9)
    assert res.spend_by_segment[2] >= 0.1 * full.cost * (1 - 1e-9)


def test_driver_solves_what_does_not_distribute(spark) -> None:
    """Budget 0 or inf, fewer than 1,024 customers, a fairness guardrail: allocate on the driver."""
    from offerwise.policy import FairnessGroups
    from offerwise.spark.allocate import spark_allocator

    value, cost, mask = _instance(2_000, 3, seed=4)
    run = spark_allocator(spark)
    groups = FairnessGroups("g", np.arange(2_000) % 2, ("x", "y"), 0.8)
    for budget, kw in [(0.0, {}), (np.inf, {}), (500.0, {"fairness": [groups]})]:
        a = run(value, cost, budget, mask, threads=1, **kw)
        b = allocate(value, cost, budget, mask, threads=1, **kw)
        np.testing.assert_array_equal(a.choice, b.choice)
        assert a.kernel == b.kernel  # solved on the driver
    small = allocate_on_spark(spark, value[:500], cost[:500], 100.0, mask[:500], threads=1)
    assert small.passes == 0 and small.undecided == 500


def test_plan_workflow_engine_spark(spark, shop, model_dir, tmp_path) -> None:
    """``make_plan(engine="spark")``: Spark features and scores; the same plan (300 customers:
    allocated on the driver; tests/spark/test_scale.py plans 100k customers on Spark)."""
    import pandas as pd

    from offerwise.workflows.plan import make_plan

    a = make_plan(model_dir, shop, 300.0, tmp_path / "duck.parquet", frontier=False)
    b = make_plan(model_dir, shop, 300.0, tmp_path / "spark.parquet", frontier=False,
                  engine="spark")
    assert b.result.allocation.kernel == a.result.allocation.kernel
    x, y = pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "spark.parquet")
    pd.testing.assert_frame_equal(x[["customer_id", "offer_id"]], y[["customer_id", "offer_id"]])
    assert (x["offer_id"] != "none").sum() > 0
    assert abs(a.planning_budget - b.planning_budget) <= 1e-9 * a.planning_budget

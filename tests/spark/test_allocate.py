"""The budget price found by distributed bisection gives the single-node solver's assignment."""

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


@pytest.mark.parametrize("share, max_undecided", [(0.3, 200), (10.0, 500)])
def test_same_assignment_as_single_node(spark, share: float, max_undecided: int) -> None:
    value, cost, mask = _instance(20_000, 4, seed=11)
    ref = allocate(value, cost, 0.0, mask, threads=1)  # nothing: budget 0
    assert (ref.choice == -1).all()
    full = allocate(value, cost, np.inf, mask, threads=1)
    budget = share * full.cost  # share > 1: the budget does not bind
    ref = allocate(value, cost, budget, mask, threads=1)
    got = allocate_on_spark(spark, value, cost, budget, mask, partitions=3,
                            max_undecided=max_undecided, threads=1)
    assert got.inside  # the driver's price lies in Spark's bracket
    np.testing.assert_array_equal(got.choice, ref.choice)
    res = got.allocation
    assert res.cost <= budget * (1 + 1e-12) and res.n_treated == ref.n_treated
    assert abs(res.value - ref.value) <= 1e-9 * max(1.0, abs(ref.value))
    np.testing.assert_array_equal(res.count_by_offer, ref.count_by_offer)
    if share < 1:
        assert got.bracket[0] <= ref.lam <= got.bracket[1] and got.passes > 2
        assert got.undecided <= max_undecided and abs(res.lam - ref.lam) <= 1e-9 * ref.lam


def test_spark_allocator_falls_back_with_side_constraints(spark) -> None:
    from offerwise.spark.allocate import spark_allocator

    value, cost, mask = _instance(2_000, 3, seed=4)
    run = spark_allocator(spark, max_undecided=100)
    caps = np.array([50.0, np.inf, np.inf])
    a = run(value, cost, 500.0, mask, max_count=caps, threads=1)
    b = allocate(value, cost, 500.0, mask, max_count=caps, threads=1)
    np.testing.assert_array_equal(a.choice, b.choice)
    assert a.kernel == b.kernel  # solved on the driver
    seg = np.arange(2_000) % 2
    c = run(value, cost, 500.0, mask, segment=seg, segment_names=["x", "y"], threads=1)
    d = allocate(value, cost, 500.0, mask, segment=seg, segment_names=["x", "y"], threads=1)
    np.testing.assert_array_equal(c.choice, d.choice)
    assert c.kernel.startswith("spark") and np.allclose(c.spend_by_segment, d.spend_by_segment)


def test_plan_workflow_engine_spark(spark, shop, model_dir, tmp_path) -> None:
    """``make_plan(engine="spark")``: Spark features, scores and budget price; the same plan."""
    import pandas as pd

    from offerwise.workflows.plan import make_plan

    a = make_plan(model_dir, shop, 300.0, tmp_path / "duck.parquet", frontier=False)
    b = make_plan(model_dir, shop, 300.0, tmp_path / "spark.parquet", frontier=False,
                  engine="spark")
    assert b.result.allocation.kernel.startswith("spark")
    x, y = pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "spark.parquet")
    pd.testing.assert_frame_equal(x[["customer_id", "offer_id"]], y[["customer_id", "offer_id"]])
    assert (x["offer_id"] != "none").sum() > 0
    assert abs(a.planning_budget - b.planning_budget) <= 1e-9 * a.planning_budget

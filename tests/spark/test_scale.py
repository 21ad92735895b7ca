"""Equivalence at 100k customers: Spark scores equal single-node scores, and the plan made with
Spark features, scores and allocation assigns every customer the single-node plan's offer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offerwise.vocab import SCORE_COLUMNS

N = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A simulated shop of 100k customers and a small model of it (T-learner, 10 trees)."""
    from offerwise.simulator import simulate
    from offerwise.simulator.market import write_market
    from offerwise.workflows.train import train

    root = tmp_path_factory.mktemp("spark_scale")
    write_market(simulate(n_customers=N, n_exposures=20_000, seed=5), root / "shop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(root / "shop", root / "model", learner="t", seed=5, tune_mode="off",
              n_estimators=10, min_treated=30)
    return root / "shop", root / "model"


def test_scores_and_plan_at_100k_customers(spark, big: tuple[Path, Path], tmp_path: Path) -> None:
    from offerwise.workflows.plan import make_plan

    shop, model = big
    a = make_plan(model, shop, 4000.0, tmp_path / "duck.parquet", frontier=False, seed=5)
    b = make_plan(model, shop, 4000.0, tmp_path / "spark.parquet", frontier=False, seed=5,
                  engine="spark")
    sa, sb = a.scores.scores, b.scores.scores
    assert sa["customer_id"].nunique() == N and len(sa) == len(sb)
    pd.testing.assert_frame_equal(sa[["customer_id", "offer_id"]].reset_index(drop=True),
                                  sb[["customer_id", "offer_id"]].reset_index(drop=True))
    num = list(SCORE_COLUMNS[2:])
    diff = (sa[num].reset_index(drop=True) - sb[num].reset_index(drop=True)).abs().max()
    assert (diff.fillna(0) <= 1e-9).all(), diff
    # the allocation ran on Spark (screening pass on partitions) and gave the same plan
    assert b.result.allocation.kernel.startswith("spark")
    assert b.result.allocation.screened < 0.5
    x, y = pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "spark.parquet")
    assert len(x) == N and (x["offer_id"] != "none").sum() > 100
    pd.testing.assert_frame_equal(x[["customer_id", "offer_id", "group"]],
                                  y[["customer_id", "offer_id", "group"]])
    va, vb = a.result.allocation.value, b.result.allocation.value
    assert abs(va - vb) <= 1e-9 * abs(va)
    assert np.isclose(a.planning_budget, b.planning_budget, rtol=1e-9)

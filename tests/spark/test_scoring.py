"""Scores computed on Spark (model strings broadcast, ``mapInPandas``) equal single-node scores."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offerwise.models.response import OfferResponseModel
from offerwise.spark.scoring import ModelText, score_on_spark
from offerwise.vocab import SCORE_COLUMNS


def _fit(learner: str, profit: str, n_bags: int) -> tuple[OfferResponseModel, np.ndarray]:
    rng = np.random.default_rng(5)
    n, p = 1200, 4
    X = rng.normal(size=(n, p))
    offer = rng.choice(["none", "a", "b"], size=n)
    lift = np.where(offer == "none", 0.0, 0.1 + 0.1 * (X[:, 0] > 0))
    conv = (rng.random(n) < 0.2 + lift).astype(float)
    revenue = conv * (30 + 5 * X[:, 1])
    cost = conv * np.where(offer == "a", 3.0, np.where(offer == "b", 5.0, 0.0))
    m = OfferResponseModel(learner=learner, profit=profit, n_estimators=15, n_bags=n_bags,
                           min_treated=20, min_child_samples=20, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, offer, conv, revenue, cost, 0.3 * revenue - cost, menu=["none", "a", "b"],
              propensity=np.full(n, 1 / 3))
    return m, rng.normal(size=(250, p))


@pytest.mark.parametrize("learner, profit, n_bags", [("ptb", "hurdle", 2), ("t", "composed", 1)])
def test_spark_scores_equal_single_node(spark, learner: str, profit: str, n_bags: int) -> None:
    model, X = _fit(learner, profit, n_bags)
    ids = pd.Series([f"c{i}" for i in range(len(X))])
    local = model.predict_frame(X, ids)
    text = ModelText.from_state(*model.to_state())
    got = score_on_spark(spark, ids, X, text, OfferResponseModel.from_state, partitions=3)
    assert list(got.columns) == list(SCORE_COLUMNS) and len(got) == len(local) == 250 * 2
    pd.testing.assert_frame_equal(got[["customer_id", "offer_id"]], local[["customer_id", "offer_id"]])
    num = list(SCORE_COLUMNS[2:])
    diff = (got[num] - local[num]).abs().max()
    assert (diff.fillna(0) <= 1e-9).all(), diff
    assert got[num].isna().equals(local[num].isna())


def test_model_text_is_plain_text(spark) -> None:
    model, _ = _fit("t", "composed", 1)
    text = ModelText.from_state(*model.to_state())
    assert isinstance(text.meta, str) and all(s.startswith("tree") for s in text.boosters.values())


def test_score_workflow_engine_spark(spark, shop: Path, model_dir: Path, tmp_path: Path) -> None:
    """``score(engine="spark")``: Spark features, scored on Spark; the same file as DuckDB's."""
    from offerwise.workflows.score import score

    a = score(model_dir, shop, out=tmp_path / "duck.parquet")
    b = score(model_dir, shop, out=tmp_path / "spark.parquet", engine="spark")
    assert a.as_of == b.as_of and len(a.scores) == len(b.scores) > 0
    x, y = pd.read_parquet(tmp_path / "duck.parquet"), pd.read_parquet(tmp_path / "spark.parquet")
    assert x.dtypes.to_dict() == y.dtypes.to_dict()
    pd.testing.assert_frame_equal(x[["customer_id", "offer_id"]], y[["customer_id", "offer_id"]])
    num = list(SCORE_COLUMNS[2:])
    assert ((x[num] - y[num]).abs().max().fillna(0) <= 1e-9).all()

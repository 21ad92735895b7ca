"""The collaborative-filtering category affinity feature (issue #14 item 4): ALS fold-in maths
checked against ``implicit`` itself, point-in-time order counts, and the column in the model's
feature matrix rebuilt from a saved spec."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from offerwise.config import Settings
from offerwise.data.contract import load_data
from offerwise.features.affinity import (
    CategoryFactors,
    affinity_features,
    category_counts,
    confidence,
    fold_in,
)
from offerwise.features.model_inputs import FeatureSpec, build_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_contract import make_valid  # noqa: E402


def test_fold_in_is_implicits_own_user_step() -> None:
    implicit = pytest.importorskip("implicit.cpu.als")
    rng = np.random.default_rng(3)
    counts = sp.csr_matrix(rng.poisson(0.6, (120, 25)).astype(np.float32))
    conf = confidence(counts, 10.0)
    als = implicit.AlternatingLeastSquares(
        factors=6, regularization=1.0, alpha=1.0, iterations=4, random_state=0, num_threads=1
    )
    als.fit(conf, show_progress=False)
    rows = np.arange(40)
    theirs = als.recalculate_user(rows, conf[rows])
    mine = fold_in(conf[rows], als.item_factors, 1.0)
    assert np.abs(mine - theirs).max() < 1e-4 * max(1.0, np.abs(theirs).max())
    # a customer without orders folds in to zero (affinity 0), not to NaN
    empty = sp.csr_matrix((3, 25), dtype=np.float32)
    assert np.array_equal(fold_in(empty, als.item_factors, 1.0), np.zeros((3, 6)))


def _shop(tmp_path: Path) -> Path:
    d = make_valid(tmp_path / "d")
    pd.DataFrame(
        {
            "product_id": ["p1", "p2", "p3"],
            "category": ["DAIRY", "SNACKS", "BAKERY"],
            "brand": ["Private", "National", "Private"],
            "price": [2.0, 3.5, 1.0],
        }
    ).to_csv(d / "products.csv", index=False)
    pd.DataFrame(
        {
            "customer_id": ["1", "1", "1", "2", "2", "2"],
            "order_id": ["o1", "o1", "o3", "o2", "o4", "o5"],
            "product_id": ["p1", "p2", "p1", "p1", "p3", "p3"],
            "ts": ["2024-03-01 10:00", "2024-03-01 10:00", "2024-03-05 09:00",
                   "2024-03-02 11:00", "2024-03-09 12:00", "2024-03-20 12:00"],
            "quantity": [1, 2, 1, 1, 1, 1],
            "amount": [2.0, 6.0, 2.0, 1.5, 1.0, 1.0],
            "discount": [0.0] * 6,
        }
    ).to_csv(d / "transactions.csv", index=False)
    offers = pd.read_csv(d / "offers.csv")
    offers["category"] = [None, "DAIRY"]
    offers.to_csv(d / "offers.csv", index=False)
    return d


def test_counts_are_orders_per_category_before_each_cutoff_only(tmp_path: Path) -> None:
    ds = load_data(_shop(tmp_path))
    cats = ["BAKERY", "DAIRY", "SNACKS"]
    cut = pd.DataFrame(
        {
            "customer_id": ["1", "1", "2", "3"],
            "as_of": pd.to_datetime(["2024-03-05 09:00", "2024-03-06 00:00", "2024-03-10 00:00", "2024-03-10 00:00"]),
        }
    )
    m = category_counts(ds, cut, cats, window_days=365).toarray()
    # customer 1 before 03-05 09:00: one order with dairy and snacks (o3 is at the cutoff: not
    # before it); by 03-06 a second dairy order; customer 2 by 03-10: o2 dairy, o4 bakery (o5 is
    # later); customer 3 bought nothing
    assert m.tolist() == [[0, 1, 1], [0, 2, 1], [1, 1, 0], [0, 0, 0]]
    # the window: 5 days before 03-10 sees only customer 2's bakery order of 03-09
    m5 = category_counts(ds, cut.iloc[[2]], cats, window_days=5).toarray()
    assert m5.tolist() == [[1, 0, 0]]


def test_affinity_column_is_built_and_rebuilt_from_a_saved_spec(tmp_path: Path) -> None:
    ds = load_data(_shop(tmp_path))
    cats = ["BAKERY", "DAIRY", "SNACKS"]
    item = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    fac = CategoryFactors(cats, item, alpha=10.0, regularization=1.0,
                          fitted_before="2024-03-01T00:00:00", window_days=365)
    cut = pd.DataFrame({"customer_id": ["1", "2", "3"], "as_of": pd.Timestamp("2024-03-10")})
    X, spec = build_features(ds, cut, Settings(), affinity=fac)
    assert spec.affinity_categories() == ["DAIRY"]
    col = X[:, spec.columns.index("category_affinity=DAIRY")]
    expect = affinity_features(ds, cut, fac, ["DAIRY"])[:, 0]
    assert col == pytest.approx(expect, abs=1e-6)
    # by hand for customer 2 (one dairy order, one bakery order: c = 10 log 2 each)
    c = 10 * np.log(2)
    A = item.T @ item + np.eye(2) + (c - 1) * (np.outer(item[0], item[0]) + np.outer(item[1], item[1]))
    x = np.linalg.solve(A, c * (item[0] + item[1]))
    assert col[1] == pytest.approx(float(x @ item[1]), rel=1e-5)
    assert col[2] == 0.0  # no orders: no affinity
    spec2 = FeatureSpec.from_dict(spec.to_dict())
    assert spec2.affinity is not None and spec2.affinity.categories == cats
    X2, _ = build_features(ds, cut, Settings(), spec=spec2)
    assert np.array_equal(X2, X)
    # without factors the spec has the past share only
    _, spec3 = build_features(ds, cut, Settings())
    assert spec3.affinity is None and "category_affinity=DAIRY" not in spec3.columns
    assert "category_share=DAIRY" in spec3.columns

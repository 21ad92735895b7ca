"""The customer's basket price against competitors as a model feature (issue #15 item 3)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from offerwise.config import Settings
from offerwise.data.contract import load_data
from offerwise.features.model_inputs import FeatureSpec, build_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_contract_v2 import make_v2  # noqa: E402


def test_price_index_feature_is_point_in_time_and_hand_computable(tmp_path: Path) -> None:
    d = make_v2(tmp_path / "d")
    cp = pd.read_csv(d / "competitor_prices.csv")
    # seen on the decision day itself: must not count (the index uses earlier days only)
    cp.loc[len(cp)] = ["p1", "2024-03-10 08:00:00", "rivalC", 100.0]
    cp.to_csv(d / "competitor_prices.csv", index=False)
    ds = load_data(d)
    cutoffs = pd.DataFrame({"customer_id": ["1", "2", "3"], "as_of": pd.Timestamp("2024-03-10 20:00")})
    X, spec = build_features(ds, cutoffs, Settings())
    assert spec.price_index and "price_index" in spec.columns
    col = X[:, spec.columns.index("price_index")]
    # p1: median(1.8, 2.1) = 1.95; p2: rivalA's latest 4.0. Customer 1 paid shelf 2 + 7 for 1 x p1
    # and 2 x p2; customer 2 shelf 2.0 for 1 x p1; customer 3 bought nothing
    assert col[0] == pytest.approx(9.0 / (1.95 + 2 * 4.0))
    assert col[1] == pytest.approx(2.0 / 1.95)
    assert math.isnan(col[2])
    # a saved spec rebuilds the column; on data without rival prices it is missing (NaN), not an error
    spec2 = FeatureSpec.from_dict(spec.to_dict())
    assert spec2.price_index
    (d / "competitor_prices.csv").unlink()
    X2, _ = build_features(load_data(d), cutoffs, Settings(), spec=spec2)
    assert X2.shape == X.shape and all(math.isnan(v) for v in X2[:, spec.columns.index("price_index")])
    _, spec3 = build_features(load_data(d), cutoffs, Settings())
    assert not spec3.price_index and "price_index" not in spec3.columns

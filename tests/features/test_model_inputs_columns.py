"""A saved model's customer attributes must be in the data it scores: a dropped column is an
error naming it, not a silent 'unknown' for every customer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from offerwise.config import default_settings
from offerwise.data.contract import load_data
from offerwise.errors import ModelError
from offerwise.features.model_inputs import build_features
from tests.data.test_contract import make_valid


@pytest.mark.parametrize("dropped", ["city", "visits"])
def test_an_attribute_the_model_reads_but_the_data_lacks_is_named(tmp_path: Path, dropped: str) -> None:
    d = make_valid(tmp_path / "d")
    cust = pd.read_parquet(d / "customers.parquet").assign(visits=[3.0, 1.0, 7.0], city=["Paris", "Paris", "Lyon"])
    cust.to_parquet(d / "customers.parquet", index=False)
    cutoffs = pd.DataFrame({"customer_id": ["1", "2", "3"], "as_of": pd.Timestamp("2024-04-01")})
    settings = default_settings()
    _, spec = build_features(load_data(d), cutoffs, settings)
    assert "visits" in spec.numeric and "city" in spec.categorical  # numeric and text attributes
    cust.drop(columns=[dropped]).to_parquet(d / "customers.parquet", index=False)
    with pytest.raises(ModelError) as e:
        build_features(load_data(d), cutoffs, settings, spec=spec)
    msg = str(e.value)
    assert f"customers: column(s) '{dropped}' used by the model are missing from the data" in msg
    assert "retrain the model on this data" in msg

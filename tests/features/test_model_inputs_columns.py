"""A saved model's customer attributes must be in the data it scores: a dropped column is an
error naming it, not a silent 'unknown' for every customer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_a_csv_file_and_a_parquet_file_of_the_same_customers_give_the_same_features(
    tmp_path: Path,
) -> None:
    """A CSV file is read as text: a numeric attribute was one-hot encoded as 'categories'
    ('3', '1', '7') where the same column in Parquet is a number."""
    d = make_valid(tmp_path / "d")
    cust = pd.read_parquet(d / "customers.parquet").assign(
        visits=[3.0, 1.5, 3.0], city=["Paris", "Paris", "Lyon"], zone=["1", "1", "A"]
    )
    cust.to_parquet(d / "customers.parquet", index=False)
    cutoffs = pd.DataFrame({"customer_id": ["1", "2", "3"], "as_of": pd.Timestamp("2024-04-01")})
    settings = default_settings()
    X_pq, spec_pq = build_features(load_data(d), cutoffs, settings)
    (d / "customers.parquet").unlink()
    cust.to_csv(d / "customers.csv", index=False)
    ds = load_data(d)
    assert ds.frame("customers")["visits"].tolist() == [3.0, 1.5, 3.0]
    X_csv, spec_csv = build_features(ds, cutoffs, settings)
    assert spec_csv.numeric == spec_pq.numeric == ["visits"]
    assert spec_csv.categorical == spec_pq.categorical == {"city": ["Paris"], "zone": ["1"]}
    assert spec_csv.columns == spec_pq.columns
    assert np.array_equal(X_csv, X_pq, equal_nan=True)
    # again from the validation cache: the same types
    ds2 = load_data(d)
    assert ds2.frame("customers")["visits"].tolist() == [3.0, 1.5, 3.0]
    # a Parquet (or database) column's type is the user's: text digits (zip codes) stay text
    (d / "customers.csv").unlink()
    cust.assign(zip=["01234", "75001", "01234"]).to_parquet(d / "customers.parquet", index=False)
    assert load_data(d).frame("customers")["zip"].tolist() == ["01234", "75001", "01234"]

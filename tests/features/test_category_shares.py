"""The menu categories' shares of spend come with the other transaction features (one query);
they equal the separate query's (``category_share_features``), which templates and features
computed elsewhere (a profile, Spark) still use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.data.contract import load_data
from offerwise.features.model_inputs import (
    build_features,
    category_share_features,
    menu_categories,
)
from offerwise.simulator import simulate, write_market
from offerwise.vocab import default_as_of


def test_fused_shares_equal_the_separate_query(tmp_path: Path) -> None:
    ds = load_data(
        write_market(simulate(n_customers=600, n_exposures=1500, seed=4), tmp_path / "shop")
    )
    cats = menu_categories(ds)
    assert cats  # the menu scopes offers to categories
    ids = ds.frame("customers")["customer_id"].astype(str)
    cut = pd.DataFrame({"customer_id": ids, "as_of": default_as_of(ds)})
    X, spec = build_features(ds, cut, ds.settings)
    assert spec.category_shares == cats
    sep = category_share_features(ds, cut, cats, ds.settings.feature_window_days)
    sep = cut.merge(sep, on=["customer_id", "as_of"], how="left")
    for c in cats:
        got = X[:, spec.columns.index(f"category_share={c}")]
        want = np.nan_to_num(sep[f"category_share={c}"].to_numpy(dtype=np.float64), nan=0.0)
        assert np.allclose(got, want, rtol=1e-6, atol=0), c
        assert (got > 0).any()
    # a saved spec rebuilds the same matrix (the features' own path, not deriving)
    X2, _ = build_features(ds, cut, ds.settings, spec=spec)
    assert np.array_equal(X, X2, equal_nan=True)


def test_the_separate_query_takes_any_category_name(tmp_path: Path) -> None:
    ds = load_data(write_market(simulate(n_customers=300, n_exposures=600, seed=5), tmp_path / "s"))
    cut = pd.DataFrame({"customer_id": ["nobody"], "as_of": default_as_of(ds)})
    names = ['a "quoted" name', "it's"]
    got = category_share_features(ds, cut, names, 365)  # right after default_as_of on ds.con
    assert [c for c in got.columns if c.startswith("category_share=")] == [
        f"category_share={c}" for c in names
    ]

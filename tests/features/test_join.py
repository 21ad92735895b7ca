"""``join_unique``: the one-column lookup (a single decision date) gives pandas' left merge
exactly, and duplicated right keys still fail loudly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import ModelError
from offerwise.features._join import join_unique

AS_OF = pd.Timestamp("2026-03-01")


def _frames(rng: np.random.Generator, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.array([f"c{i}" for i in range(n)])
    left = pd.DataFrame({"customer_id": ids, "as_of": AS_OF})
    keep = rng.random(n) < 0.8  # some customers have no row on the right
    right = pd.DataFrame(
        {
            "customer_id": pd.Series(ids[keep], dtype="string"),
            "as_of": AS_OF,
            "count": rng.integers(0, 9, keep.sum()),
            "value": rng.normal(size=keep.sum()),
            "flag": rng.random(keep.sum()) < 0.5,
            "label": rng.choice(["a", "b", None], keep.sum()),
            "level": pd.Categorical(rng.choice(["x", "y"], keep.sum())),
            "when": AS_OF - pd.to_timedelta(rng.integers(0, 90, keep.sum()), unit="D"),
        }
    )
    return left, right.sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_lookup_equals_a_left_merge(seed: int) -> None:
    left, right = _frames(np.random.default_rng(seed))
    want = left.merge(right, on=["customer_id", "as_of"], how="left")
    got = join_unique(left, right, ["customer_id", "as_of"], "features")
    pd.testing.assert_frame_equal(got, want)
    # one key column (the customers table)
    attrs = right.drop(columns=["as_of"])
    pd.testing.assert_frame_equal(
        join_unique(left, attrs, ["customer_id"], "customers"),
        left.merge(attrs, on=["customer_id"], how="left"),
    )


def test_several_dates_use_the_merge() -> None:
    left, right = _frames(np.random.default_rng(2))
    left.loc[::2, "as_of"] = AS_OF - pd.Timedelta(days=7)  # training rows: one date per exposure
    got = join_unique(left, right, ["customer_id", "as_of"], "features")
    pd.testing.assert_frame_equal(got, left.merge(right, on=["customer_id", "as_of"], how="left"))
    assert got.loc[::2, "value"].isna().all()  # no features at the other date


def test_a_repeated_key_on_the_right_fails() -> None:
    left, right = _frames(np.random.default_rng(3))
    twice = pd.concat([right, right.iloc[:1]], ignore_index=True)
    with pytest.raises(ModelError, match="features: 1 extra rows from keys that are not unique"):
        join_unique(left, twice, ["customer_id", "as_of"], "features")
    # a repeated key no left row asks for adds no row (as the merge)
    nobody = right.iloc[:1].assign(customer_id="nobody")
    extra = pd.concat([right, nobody, nobody], ignore_index=True)
    assert len(join_unique(left, extra, ["customer_id", "as_of"], "features")) == len(left)

"""Feature values do not depend on the order DuckDB happened to sum in (issue: reproducibility)."""

from __future__ import annotations

import numpy as np

from offerwise.features.model_inputs import stable_values


def test_last_bit_differences_of_a_sum_do_not_reach_the_features() -> None:
    rng = np.random.default_rng(0)
    parts = rng.gamma(2.0, 30.0, size=(2000, 50))
    forward = parts.sum(axis=1) / parts[:, :10].sum(axis=1)  # e.g. a spend share's inverse
    backward = parts[:, ::-1].sum(axis=1) / parts[:, 9::-1].sum(axis=1)
    assert (forward != backward).any()  # summed in another order, the last bits differ ...
    X1, X2 = stable_values(forward[:, None]), stable_values(backward[:, None])
    assert np.array_equal(X1, X2)  # ... and not after rounding
    assert np.allclose(X1[:, 0], forward, rtol=1e-6)  # about 7 significant digits kept


def test_missing_infinite_and_huge_values_pass_through() -> None:
    X = np.array([[np.nan, np.inf, -np.inf, 1e300, 0.1]])
    got = stable_values(X)
    assert np.isnan(got[0, 0]) and got[0, 1] == np.inf and got[0, 2] == -np.inf
    assert got[0, 3] == 1e300 and got[0, 4] == np.float64(np.float32(0.1))

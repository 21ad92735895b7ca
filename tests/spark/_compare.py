"""Compare two feature frames the way the Spark acceptance states it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def max_abs_diff(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    """Per numeric column, the largest |a - b| (NaN must sit in the same rows: else inf)."""
    out = {}
    for c in a.columns:
        if a[c].dtype.kind != "f":
            continue
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            out[c] = float("inf")
            continue
        d = np.abs(x - y)[~np.isnan(x)]
        out[c] = float(d.max()) if len(d) else 0.0
    return out


def assert_same_features(a: pd.DataFrame, b: pd.DataFrame, tol: float = 1e-9) -> None:
    """Same columns, dtypes and rows; strings and timestamps equal; numbers within ``tol``."""
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.to_dict() == b.dtypes.to_dict()
    assert len(a) == len(b)
    for c in a.columns:
        if a[c].dtype.kind != "f":
            pd.testing.assert_series_equal(a[c], b[c], check_names=True)
    worst = {c: d for c, d in max_abs_diff(a, b).items() if not d <= tol}
    assert not worst, f"columns differ by more than {tol}: {worst}"

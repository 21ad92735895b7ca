"""The compiled pooled hurdle arithmetic on hand-made inputs that reach every branch: clipped
probabilities, negative and missing costs, one bag and several; against the formulas in numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

pytest.importorskip("numba")
from offerwise.models import _score_kernels as sk  # noqa: E402


def reference(p0, rb, q0b, r1b, values, costs, arms):
    """(6, n, len(arms)): p_convert, p_convert_none, incremental_conversion, expected_cost,
    incremental_profit, incremental_profit_sd, as numpy computes them."""
    out = []
    for a in arms:
        per_bag = [expit(rb[b] + r1b[b][:, a]) - q0b[b] for b in range(len(rb))]
        pk = np.clip(p0 + sum(per_bag) / len(per_bag), 0.0, 1.0)
        value = values[:, 1 + a]
        sd = np.abs(value) * np.std(per_bag, axis=0, ddof=1) if len(rb) > 1 else np.zeros(len(p0))
        out.append([pk, p0, pk - p0, pk * np.maximum(costs[:, a], 0.0),
                    pk * value - p0 * values[:, 0], sd])
    return np.array(out).transpose(1, 2, 0)


@pytest.mark.parametrize("bags", [1, 2, 5])
@pytest.mark.parametrize("serial", [True, False])
def test_pooled_hurdle_matches_the_formulas(bags, serial):
    rng = np.random.default_rng(bags)
    n, A = 3000, 4
    p0 = np.clip(rng.uniform(-0.1, 1.1, n), 0, 1)  # some exactly 0 or 1
    rb = tuple(rng.normal(0, 3, n) for _ in range(bags))
    q0b = tuple(rng.uniform(0, 1, n) for _ in range(bags))
    r1b = tuple(rng.normal(0, 4, (n, A)) for _ in range(bags))
    values = rng.normal(5, 10, (n, A + 1))
    costs = rng.normal(1, 2, (n, A))  # negative costs count as 0
    costs[::11, 2] = np.nan
    arms = np.array([3, 0, 2], dtype=np.int64)  # block column t holds arm arms[t]
    cols = np.array([0, 1, 2], dtype=np.int64)
    out = np.full((9, n, 3), -7.0)
    planes = np.array([0, 1, 2, 5, 6, 7], dtype=np.int64)
    kernel = sk.pooled_hurdle_serial if serial else sk.pooled_hurdle
    got = kernel(p0, rb, q0b, r1b, values, costs, cols, arms, out, planes)
    assert got is out
    want = reference(p0, rb, q0b, r1b, values, costs, arms)
    for i, plane in enumerate(planes):
        np.testing.assert_array_equal(out[plane], want[i])
    assert (out[[3, 4, 8]] == -7.0).all()  # planes it does not own are untouched
    pk = out[0]
    assert (pk == 0).any() and (pk == 1).any() and np.isnan(out[5]).any()

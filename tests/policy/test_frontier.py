"""Budget frontier: monotone, matches the LP and the solver at sampled budgets; PNG output."""

from __future__ import annotations

import numpy as np
import pytest

from offerwise.policy import allocate, solve_lp
from offerwise.policy.frontier import budget_frontier, write_frontier


def _inst(n=2000, K=4, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.gamma(2.0, 1.0, (n, K))
    V = C * rng.normal(1.2, 0.5, (n, K)) + rng.normal(0, 0.5, (n, K))
    return V, C


def test_frontier_monotone_and_matches_solver_and_lp():
    V, C = _inst()
    fr = budget_frontier(V, C)
    tab = fr.table(n_points=30)
    assert list(tab.columns) == ["budget", "value", "cost", "n_treated", "lambda"]
    assert (np.diff(tab["value"]) >= -1e-9).all()
    assert (np.diff(tab["lambda"]) <= 1e-12).all()
    assert tab["value"].iloc[-1] == pytest.approx(np.maximum(V.max(axis=1), 0).sum())
    for b in (50.0, 300.0, 900.0):
        row = fr.at(b).iloc[0]
        lp = solve_lp(V, C, b)
        assert row["value"] == pytest.approx(lp.value, rel=1e-7)
        a = allocate(V, C, b, kernel="numpy")
        assert a.value <= row["value"] + 1e-7
        assert row["value"] - a.value <= V.max()  # integrality: at most one customer
        assert row["lambda"] == pytest.approx(a.lam, rel=0.05)
        assert abs(row["n_treated"] - a.n_treated) <= 3


def test_frontier_respects_mask_and_writes(tmp_path):
    V, C = _inst(300, 3, 1)
    mask = np.zeros_like(V, bool)
    mask[:, 0] = True
    fr = budget_frontier(V, C, mask)
    top = fr.table(5)["value"].iloc[-1]
    assert top == pytest.approx(np.maximum(V[:, 0], 0).sum())
    tab, png = write_frontier(fr.table(10), tmp_path / "frontier")
    assert tab.exists() and png.read_bytes()[:4] == b"\x89PNG"

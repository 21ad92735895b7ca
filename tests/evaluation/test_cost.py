"""Cost calibration on out-of-fold rows and the interval of a plan's true cost."""

from __future__ import annotations

import numpy as np
import pytest

from offerwise.evaluation.cost import UNCALIBRATED, CostCalibration, calibrate_cost, cost_interval


def test_calibration_recovers_the_ratio_of_true_to_predicted_cost():
    rng = np.random.default_rng(0)
    n = 5000
    pred = rng.uniform(1, 5, n)
    true = 1.2 * pred * rng.binomial(1, 0.5, n) * 2  # mean 1.2 x predicted, noisy per row
    cal = calibrate_cost(np.arange(n).astype(str), true, pred, np.ones(n), scope="s", seed=1)
    assert cal.ratio == pytest.approx(1.2, abs=0.05)
    assert 0 < cal.se < 0.05 and cal.n_rows == n and cal.scope == "s"
    assert CostCalibration.from_dict(cal.to_dict()) == cal


def test_too_few_rows_leave_the_costs_uncalibrated():
    assert calibrate_cost(np.array(["a"] * 5), np.ones(5), np.ones(5), np.ones(5), scope="s") \
        == UNCALIBRATED


def test_interval_covers_simulated_plan_costs_at_its_level():
    rng = np.random.default_rng(2)
    n = 2000
    p = rng.uniform(0.05, 0.5, n)
    d = rng.uniform(2, 10, n)  # the discount paid if the customer buys
    c = p * d
    ci = cost_interval(c, p, budget=float(c.sum()), cal=UNCALIBRATED, level=0.9)
    assert ci.expected == pytest.approx(c.sum()) and 0.45 < ci.p_over_budget < 0.55
    totals = (rng.random((2000, n)) < p).astype(float) @ d
    inside = np.mean((totals >= ci.ci_low) & (totals <= ci.ci_high))
    assert 0.86 < inside < 0.94
    # a calibration ratio scales the expectation; its uncertainty widens the interval
    wide = cost_interval(c, p, float(c.sum()), CostCalibration(1.1, 0.05, 500, "s"))
    assert wide.expected == pytest.approx(1.1 * c.sum())
    assert wide.sd > 1.1 * ci.sd and wide.p_over_budget > 0.9


def test_a_certain_cost_has_no_spread():
    ci = cost_interval(np.array([2.0, 3.0]), np.array([1.0, 1.0]), 4.0, UNCALIBRATED)
    assert ci.sd == 0 and ci.expected == 5.0 and ci.p_over_budget == 1.0

"""Identification diagnostics, the plan's DR value and the power arithmetic, on data with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offerwise.evaluation.identification import (
    Identification,
    PlaceboResult,
    arm_propensities,
    balance,
    cross_fitted_propensity,
    e_value,
    fill_propensities,
    logged_or_estimated,
    logged_rows,
    logging_kind,
    overlap,
    placebo_aipw,
    verdict,
)
from offerwise.evaluation.plan_value import incremental_value_dr
from offerwise.evaluation.power import holdout_to_detect, minimum_detectable_effect


def test_logging_kind() -> None:
    offer = np.array(["none", "a", "none", "a"])
    assert logging_kind(None, offer)[0] == "observational"
    assert logging_kind(np.array([0.5, 0.5, 0.5, 0.5]), offer)[0] == "randomized"
    kind, why = logging_kind(np.array([0.5, 0.2, 0.7, 0.5]), offer)
    assert kind == "logged_propensities" and "0.30" in why
    kind, why = logging_kind(np.array([np.nan, 0.2, np.nan, 0.5]), offer)
    assert kind == "mixed" and why.startswith("2 of 4 exposures")


def test_mixed_logs_keep_the_logged_values_and_value_on_them() -> None:
    """Mixed logs: the logged propensities stay, the missing ones are estimated (targeting on
    x[:, 0] shows), and the value rows are the logged ones once there are enough of them."""
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    arm = (rng.random(n) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(np.int64)
    logged = np.where(np.arange(n) < 1000, 0.5, np.nan)  # a randomized test, then targeting
    p, filled = fill_propensities(logged, X, arm, 2, seed=0)
    assert filled == 2000 and np.all(p[:1000] == 0.5) and np.isfinite(p).all()
    own = np.where(arm == 1, 1 / (1 + np.exp(-2 * X[:, 0])), 1 / (1 + np.exp(2 * X[:, 0])))
    assert np.corrcoef(p[1000:], own[1000:])[0, 1] > 0.8
    rows = logged_rows(logged)
    assert rows is not None and rows.sum() == 1000 and not rows[1000:].any()
    assert logged_rows(np.where(np.arange(n) < 50, 0.5, np.nan)) is None  # too few to value on
    assert logged_rows(np.full(n, 0.5)) is None and logged_rows(None) is None
    assert fill_propensities(None, X, arm, 2, seed=0) == (None, 0)
    # the checks' variant: observational logs (None) get an estimate on every row
    est, n_est = logged_or_estimated(None, X, arm, 2, seed=0)
    assert n_est == n and np.allclose(est[1000:], p[1000:])
    assert logged_or_estimated(np.full(n, 0.5), X, arm, 2, seed=0)[1] == 0


def test_e_value() -> None:
    assert e_value(2.0) == pytest.approx(2 + math.sqrt(2))
    assert e_value(0.5) == pytest.approx(2 + math.sqrt(2))  # inverted
    assert e_value(1.0) == pytest.approx(1.0)


def _logs(n: int, hidden: float, seed: int):  # noqa: ANN202
    """x observed, u hidden; P(offer) rises with x (and with u when hidden > 0); the pre-period
    outcome y rises with x and u."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    u = rng.normal(size=n)
    logit = 0.8 * x[:, 0] + hidden * u
    p1 = 1 / (1 + np.exp(-logit))
    t = rng.random(n) < p1
    y = 2 * x[:, 0] + x[:, 1] + 1.5 * u + rng.normal(size=n)
    return x, t.astype(int), y, np.where(t, p1, 1 - p1)


def test_placebo_passes_with_the_true_propensities_and_fails_with_a_hidden_confounder() -> None:
    x, arm, y, p = _logs(6000, 0.0, 1)
    est, lo, hi, pv = placebo_aipw(y, arm, p, x, seed=1)
    assert lo <= 0 <= hi and pv > 0.01
    # estimated propensities (nothing logged) on the same data: still passes
    e = arm_propensities(x, arm, 2, seed=1)
    assert placebo_aipw(y, arm, e, x, seed=1)[3] > 0.01
    # a hidden trait drives both the offer and the outcome: the estimated propensities miss it
    x, arm, y, _ = _logs(6000, 1.5, 2)
    e = arm_propensities(x, arm, 2, seed=2)
    est, lo, hi, pv = placebo_aipw(y, arm, e, x, seed=2)
    assert pv < 0.01 and lo > 0


def test_overlap_and_balance() -> None:
    x, arm, _, p = _logs(4000, 0.0, 3)
    t = arm == 1
    e = np.where(t, p, 1 - p)  # P(t=1 | x)
    ov = overlap("a", e, t)
    assert ov.n_offer == t.sum() and 0 <= ov.share_outside <= 1 and not ov.poor
    assert 0 < ov.ess_offer <= ov.n_offer
    rows = balance("a", x, ["x0", "x1", "x2"], t, e)
    top = next(r for r in rows if r.feature == "x0")
    assert abs(top.smd_before) > 0.3 and abs(top.smd_after) < abs(top.smd_before) / 3


def test_verdict_levels_and_round_trip() -> None:
    ok = PlaceboResult("net_profit", 30, 0.1, -0.5, 0.7, 0.6, 1000)
    bad = PlaceboResult("net_profit", 30, 3.0, 2.0, 4.0, 1e-9, 1000)
    assert verdict("randomized", [], [], ok)[0] == "ok"
    assert verdict("observational", [], [], ok)[0] == "warning"
    level, reasons = verdict("observational", [], [], bad)
    assert level == "unreliable" and any("placebo failed" in r for r in reasons)
    # an A/B test logged without its probabilities is told how to say so
    assert any("give each exposure its probability in the column 'propensity'" in r for r in reasons)
    assert verdict("logged_propensities", [], [], bad)[0] == "warning"
    mixed, why = verdict("mixed", [], [], ok)
    assert mixed == "warning" and any("logged rows alone" in r for r in why)
    assert verdict("mixed", [], [], bad)[0] == "unreliable"
    ident = Identification("observational", "why", placebo=bad, verdict=level, reasons=reasons)
    back = Identification.from_dict(ident.to_dict())
    assert back.placebo == bad and back.verdict == "unreliable"


def test_power_and_holdout_to_detect() -> None:
    f = holdout_to_detect(1.0, 10.0, 20_000)
    assert f is not None and 0 < f < 0.5
    n_h = f * 20_000
    assert minimum_detectable_effect(10.0, int(20_000 - n_h), int(n_h)) == pytest.approx(1.0, rel=1e-3)
    assert holdout_to_detect(0.05, 10.0, 20_000) is None  # not even 50/50 detects it


def test_dr_plan_value_covers_the_truth() -> None:
    """Randomized logs (2 arms + none), a plan, a deliberately biased reward model: the DR total
    and its 90% interval cover the true incremental profit in most seeds."""
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n_cust, n = 3000, 9000
        tau = np.c_[np.zeros(n_cust), rng.normal(1.0, 1.0, n_cust), rng.normal(-0.5, 1.0, n_cust)]
        plan = np.where(tau[:, 1] > 0.5, 1, 0)  # the plan's arm per customer
        truth = tau[np.arange(n_cust), plan].sum()
        cust = rng.integers(0, n_cust, n)
        action = rng.integers(0, 3, n)
        reward = 5 + tau[cust, action] + rng.normal(0, 3, n)
        q = 5 + 0.5 * tau[cust] + 0.7  # a reward model that is off
        est = incremental_value_dr(cust, reward, action, np.full(n, 1 / 3), plan[cust], q, n_cust,
                                   level=0.9, seed=seed, n_bootstrap=300)
        hits += est.ci_low <= truth <= est.ci_high
    assert hits >= 15


def test_randomized_logs_without_propensities_get_flat_estimates() -> None:
    """Nothing in x predicts the arm: the estimates are the arm shares (the classifier alone put
    them anywhere from 0.1 to 0.5), for the placebo's multiclass and for the overlap's binary
    propensity; a real targeting still shows."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2400, 8))
    arm = rng.integers(0, 4, 2400)
    p = arm_propensities(x, arm, 4, seed=4)
    share = np.bincount(arm, minlength=4)[arm] / len(arm)
    assert np.abs(p - share).max() < 0.05
    t = (arm == 1).astype(int)
    e = cross_fitted_propensity(x, t, seed=4, folds=3)
    assert np.abs(e - t.mean()).max() < 0.05
    assert not overlap("a", e, t == 1).poor
    x, t, _, _ = _logs(2400, 0.0, 5)
    e = cross_fitted_propensity(x, t, seed=5, folds=3)
    assert np.corrcoef(e, x[:, 0])[0, 1] > 0.8


def test_propensity_fits_predict_with_their_own_thread_count(monkeypatch) -> None:
    """LightGBM keeps one process-wide default thread count that every call sets (a predict
    without num_threads resets it); fits that run side by side (identification's offers) crashed
    with a segfault when one predicted with the default while another trained with 1 thread. Every
    prediction of the cross-fitted propensities passes the fits' thread count."""
    import lightgbm as lgb

    from offerwise.evaluation.identification import arm_propensities, cross_fitted_propensity

    seen: list[object] = []
    real = lgb.Booster.predict

    def spy(self, data, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(kwargs.get("num_threads"))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(lgb.Booster, "predict", spy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    t = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    cross_fitted_propensity(X, t, seed=0, threads=1, folds=3)
    arm_propensities(X, rng.integers(0, 3, 600), 3, seed=0, threads=1)
    assert len(seen) == 6 and all(n == 1 for n in seen), seen

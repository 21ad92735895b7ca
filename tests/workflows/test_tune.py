"""Cross-fitting and selection by out-of-fold plan value (``train --tune``)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.evaluation.plan_value import dr_increments, top_share_policy
from offerwise.workflows.crossfit import Candidate, customer_folds
from offerwise.workflows.train import train
from offerwise.workflows.tune import (
    CandidateScore,
    candidates,
    choose,
    min_gain,
    switch_z,
)


def test_customer_folds_keep_a_customer_together_and_are_seeded():
    ids = pd.Series([f"c{i % 40}" for i in range(400)])
    f = customer_folds(ids, 3, seed=1)
    assert set(f) == {0, 1, 2}
    assert pd.DataFrame({"c": ids, "f": f}).groupby("c")["f"].nunique().max() == 1
    assert (customer_folds(ids, 3, seed=1) == f).all()
    assert not (customer_folds(ids, 3, seed=2) == f).all()


def test_top_share_policy_reaches_the_share_with_positive_gain_only():
    q = np.array([[0.0, 1.0, 2.0], [0.0, -1.0, -2.0], [0.0, 3.0, 0.5], [0.0, 0.2, 0.1]])
    pol = top_share_policy(q, (0.25, 0.5, 1.0))
    assert pol[:, 0].tolist() == [0, 0, 1, 0]  # the top quarter: row 2 (gain 3) with its best arm
    assert pol[:, 1].tolist() == [2, 0, 1, 0]
    assert pol[:, 2].tolist() == [2, 0, 1, 1]  # everyone with a positive gain; row 1 never


def test_dr_increments_are_unbiased_under_random_logging():
    rng = np.random.default_rng(0)
    n = 200_000
    tau = rng.normal(0.5, 1.0, n)  # the true effect of arm 1
    action = rng.integers(0, 2, n)
    reward = rng.normal(0, 1, n) + tau * action
    q = np.zeros((n, 2))  # a useless reward model: DR must still be right with the propensities
    plan = (tau > 0).astype(np.int64)
    d = dr_increments(reward, action, np.full(n, 0.5), plan, q)
    assert d.mean() == pytest.approx((tau * plan).mean(), abs=0.02)
    both = dr_increments(reward, action, np.full(n, 0.5), np.stack([plan, plan], axis=1), q)
    assert both.shape == (n, 2) and np.allclose(both[:, 0], d)


def _score(label: str, value: float, diff: float, se: float) -> CandidateScore:
    return CandidateScore(Candidate(label, 20), value, {}, diff, se, 0.0)


def test_choose_keeps_the_default_unless_the_win_is_significant():
    assert switch_z(2) == pytest.approx(1.645, abs=1e-3)  # one challenger: one-sided 5 %
    assert switch_z(3) == pytest.approx(1.960, abs=1e-3)  # fast: two challengers, Bonferroni
    d = _score("ptb", 1.0, 0, 0)
    assert choose([d, _score("t", 1.15, 0.15, 0.1)]) == 0  # 1.5 s.e.: noise could explain it
    assert choose([d, _score("t", 1.2, 0.2, 0.1)]) == 1
    # 1.9 s.e. passes against one challenger, not against two (Bonferroni)
    assert choose([d, _score("t", 1.19, 0.19, 0.1)]) == 1
    assert choose([d, _score("t", 1.19, 0.19, 0.1), _score("x", 1.1, 0.1, 0.01)]) == 0
    assert choose([d, _score("t", 0.5, -0.5, 0.1)]) == 0
    # a rule given explicitly (bench_tuner_rule.py): z = 0 takes the best point estimate
    assert choose([d, _score("t", 1.15, 0.15, 0.1)], z=1.0) == 1
    assert choose([d, _score("t", 1.15, 0.15, 0.1)], z=2.0) == 0
    assert choose([d, _score("t", 1.01, 0.01, 0.1)], z=0.0) == 1
    assert choose([d, _score("t", 0.99, -0.01, 0.1)], z=0.0) == 0


def test_candidates_by_mode_and_pins():
    assert len(candidates("off", 10_000)) == 1
    fast = candidates("fast", 10_000)
    assert fast[0] == Candidate("ptb", 100) and len(fast) == 3
    assert {c.learner for c in fast} == {"ptb", "tb"} and fast[1].min_child_samples == 50
    assert {c.learner for c in candidates("full", 10_000)} == {"ptb", "tb", "t", "x", "dr"}
    assert candidates("fast", 100_000)[0].min_child_samples == 1_000  # 1 %, no cap
    assert candidates("fast", 100_000)[1].min_child_samples == 500  # the smaller leaves
    assert candidates("fast", 1_000)[0].min_child_samples == 20  # floor
    assert all(c.learner == "x" for c in candidates("full", 10_000, learner="x"))
    assert all(c.n_estimators == 40 for c in candidates("full", 10_000, pin={"n_estimators": 40}))
    with pytest.raises(InputError, match="--tune must be one of"):
        candidates("fastest", 10)


def test_min_gain_stops_where_the_predicted_gains_stop_paying():
    """The top 20 % of predicted gains truly gain +2, the rest (still predicted positive) lose 1:
    the DR value by reach peaks at 20 % and the threshold is the smallest gain of that reach."""
    rng = np.random.default_rng(0)
    n = 20_000
    pred = np.linspace(1.0, 0.01, n)  # predicted gain, best first
    true_gain = np.where(np.arange(n) < 0.2 * n, 2.0, -1.0)
    action = rng.integers(0, 2, n)  # random logging, p = 0.5
    reward = 5.0 + action * true_gain + rng.normal(0, 1, n)
    q = np.column_stack([np.full(n, 5.0), 5.0 + pred])
    mg = min_gain(np.arange(n).astype(str), reward, action, np.full(n, 0.5), q)
    assert mg.share == 0.2 and mg.value_by_share["20%"] > mg.value_by_share["100%"]
    assert mg.share_best == 0.2 and mg.z_best_vs_share == 0.0  # the next reach is clearly worse
    assert mg.threshold == pytest.approx(pred[int(0.2 * n) - 1]) == mg.threshold_best
    assert mg.significant and mg.z_vs_full > 1.645
    # predicted gains that say nothing about the truth: the z says so (the card shows it)
    flat = 5.0 + rng.normal(0, 3, n)  # no offer changes anything
    noise = min_gain(np.arange(n).astype(str), flat, action, np.full(n, 0.5), q)
    assert not noise.significant and noise.z_vs_full < 1.645
    # everybody gains: full reach, no threshold beyond a positive gain
    everyone = min_gain(
        np.arange(n).astype(str),
        5.0 + action * 2.0 + rng.normal(0, 1, n),
        action,
        np.full(n, 0.5),
        q,
    )
    assert everyone.share == 1.0 and everyone.threshold == 0.0 and everyone.pays
    # every offer loses: each reach's value is negative and the least loss is the smallest
    # reach; that is no evidence for a cut, so no threshold (and the card says why)
    losing = min_gain(
        np.arange(n).astype(str),
        5.0 - action * 1.0 + rng.normal(0, 1, n),
        action,
        np.full(n, 0.5),
        q,
    )
    assert max(losing.value_by_share.values()) < 0
    assert max(losing.value_by_share, key=losing.value_by_share.__getitem__) == "2%"
    assert not losing.pays and losing.share == 1.0 and losing.threshold == 0.0
    assert losing.share_best == 1.0 and losing.threshold_best == 0.0
    assert losing.to_dict()["pays"] is False and mg.to_dict()["pays"] is True


def test_min_gain_takes_the_largest_reach_within_one_paired_standard_error():
    """The top 2 % truly gain +4, the next 18 % +0.1, past 20 % customers lose 1. With this
    noise the best out-of-fold value falls at 2 % (the rule before: a plan cut to 2 % of the
    customers); the reaches up to 20 % are within one paired standard error of it, so the rule
    takes 20 %, and stops before the losing customers."""
    rng = np.random.default_rng(3)
    n = 20_000
    pred = np.linspace(1.0, 0.01, n)
    k2, k20 = int(0.02 * n), int(0.2 * n)
    true_gain = np.where(np.arange(n) < k2, 4.0, np.where(np.arange(n) < k20, 0.1, -1.0))
    action = rng.integers(0, 2, n)
    reward = 5.0 + action * true_gain + rng.normal(0, 6, n)
    q = np.column_stack([np.full(n, 5.0), 5.0 + pred])
    mg = min_gain(np.arange(n).astype(str), reward, action, np.full(n, 0.5), q)
    assert mg.pays and mg.share_best == 0.02 and mg.share == 0.2
    assert 0 < mg.z_best_vs_share < 1.0
    assert mg.threshold == pytest.approx(pred[k20 - 1]) and mg.threshold_best > mg.threshold
    assert mg.to_dict()["share_best"] == 0.02 and "1 standard error" in mg.to_dict()["rule"]


def test_train_cross_fits_saves_oof_and_records_the_choice(data_dir, logs, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(data_dir, tmp_path / "m", seed=3, n_estimators=40, tune_mode="fast")
    card = json.loads((res.model_dir / "model_card.json").read_text())
    t = card["tuning"]
    assert t["mode"] == "fast" and len(t["candidates"]) == 3 and t["n_folds"] == 3
    values = [c["value_per_customer"] for c in t["candidates"]]
    assert all(np.isfinite(values))
    chosen = next(c for c in t["candidates"] if c["label"] == res.tuning.chosen.label)
    if res.tuning.chosen != res.tuning.default:  # a switch needs a significant win
        assert chosen["diff_vs_default"] > switch_z(3) * chosen["se_vs_default"]
    assert card["learner"] == res.tuning.chosen.learner
    assert card["n_train"] == card["n_holdout"] == len(logs.exposures)  # refit on all, OOF on all
    oof = pd.read_parquet(res.model_dir / "oof.parquet")
    assert len(oof) == len(logs.exposures) and {"q:none", "q:p10", "q:p20"} <= set(oof.columns)
    assert oof.groupby("customer_id")["fold"].nunique().max() == 1
    md = (res.model_dir / "model_card.md").read_text()
    assert "## Model selection (`--tune fast`)" in md and "(chosen)" in md
    assert "Out-of-fold metrics" in md
    assert set(card["min_gain"]["value_by_share"]) >= {"10%", "100%"}
    assert card["min_gain"]["threshold"] >= 0


def _exposures(n: int = 2400, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    offer = rng.choice(["none", "a", "b"], n)
    p = 1 / (1 + np.exp(-(X[:, 0] - 1 + 0.8 * (offer == "a") * (X[:, 1] > 0) + 0.4 * (offer == "b"))))
    conv = (rng.random(n) < p).astype(float)
    rev = conv * rng.gamma(4.0, 10.0, n)
    cost = conv * np.where(offer == "a", 5.0, np.where(offer == "b", 2.0, 0.0))
    ex = pd.DataFrame({
        "customer_id": [f"c{i // 2}" for i in range(n)], "offer_id": offer, "converted": conv,
        "revenue": rev, "discount_cost": cost, "gross_profit": 0.3 * rev,
    })
    return X, ex


def test_parallel_cross_fitting_equals_one_fit_after_another(monkeypatch):
    """The (candidate, fold) fits and the default's refit on 2 workers of 1 thread give what they
    give one after the other on 1 thread (each fit depends only on its own rows and seeds), and
    the refit predicts with the model's threads again."""
    from offerwise.models import forest
    from offerwise.workflows.crossfit import Refit, cross_fit_all, fold_workers

    monkeypatch.setattr(forest, "MIN_ROWS", 0)  # the serial kernels run on both threads at once
    assert fold_workers(2, 10) == (2, 1) and fold_workers(1, 10) == (1, 1)
    assert fold_workers(8, 3) == (3, 2) and fold_workers(2, 1) == (1, 2)
    X, ex = _exposures()
    fold = customer_folds(ex["customer_id"], 3, seed=1)
    cands = [Candidate("ptb", 40, n_estimators=30), Candidate("tb", 40, n_estimators=30)]
    kw = {"profit": "hurdle", "min_treated": 50, "n_bags": 2, "random_state": 4}
    runs = {
        threads: cross_fit_all(
            cands, X, ex, ["a", "b"], fold, model_kwargs={**kw, "n_jobs": threads},
            propensity=None, threads=threads, refit=Refit(),
        )
        for threads in (1, 2)
    }
    one, two = runs[1], runs[2]
    for a, b in zip(one.fits, two.fits, strict=True):
        np.testing.assert_array_equal(a.q, b.q)
        np.testing.assert_array_equal(a.scores.expected_cost, b.scores.expected_cost)
    assert one.default_model is not None and two.default_model is not None
    np.testing.assert_array_equal(
        one.default_model.predict_net_profit(X), two.default_model.predict_net_profit(X)
    )
    assert two.default_model.n_jobs == 2  # fitted on 1 thread, predicts on the model's 2
    assert all(cf.audit.n_jobs == 2 for cf in two.fits)  # the audit models too
    assert len(two.seconds) == 2 and min(two.seconds) > 0 and two.default_model_seconds > 0

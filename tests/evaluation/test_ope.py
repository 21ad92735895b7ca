"""Off-policy estimators on simulated logs whose true policy value is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.evaluation.ope import (
    ALL_ESTIMATORS,
    DM,
    DR,
    IPW,
    SNIPW,
    bootstrap_ratio,
    build_ope_arrays,
    check_ope_inputs,
    evaluate_decisions,
)

# four customer types, three actions (0 = none); q[x, a] = expected reward
P_X = np.array([0.4, 0.3, 0.2, 0.1])
Q = np.array([[1.0, 1.5, 0.5], [2.0, 1.0, 3.0], [0.0, 2.0, 1.0], [5.0, 4.0, 6.0]])
LOG = np.array([[0.6, 0.2, 0.2], [0.3, 0.5, 0.2], [0.5, 0.25, 0.25], [0.2, 0.4, 0.4]])  # logging policy
PI = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.1, 0.1, 0.8]])  # evaluated policy
TRUE_VALUE = float((P_X * (PI * Q).sum(axis=1)).sum())
N_SEEDS = 30


def simulate(seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    x = rng.choice(4, size=n, p=P_X)
    u = rng.uniform(size=n)
    a = (u[:, None] > np.cumsum(LOG[x], axis=1)).sum(axis=1)
    r = Q[x, a] + rng.normal(scale=1.0, size=n)
    return dict(reward=r, action=a, pscore=LOG[x, a], action_dist=PI[x], estimated_rewards=Q[x]), x


@pytest.fixture(scope="module")
def runs():
    out = {e.estimator_name: [] for e in ALL_ESTIMATORS}
    for seed in range(N_SEEDS):
        data, _ = simulate(seed)
        for est in ALL_ESTIMATORS:
            out[est.estimator_name].append(est.estimate(**data, n_bootstrap=500, random_state=seed))
    return out


@pytest.mark.parametrize("name", [e.estimator_name for e in ALL_ESTIMATORS])
def test_unbiased_with_nominal_coverage(runs, name):
    res = runs[name]
    values = np.array([r.value for r in res])
    covered = sum(r.ci_low <= TRUE_VALUE <= r.ci_high for r in res)
    assert covered >= 25, f"{name}: CI covered the truth in {covered}/{N_SEEDS} runs"
    sd = values.std(ddof=1)
    assert abs(values.mean() - TRUE_VALUE) < 3 * sd / np.sqrt(N_SEEDS)
    assert abs(values.mean() - TRUE_VALUE) < 0.05 * abs(TRUE_VALUE)
    # CI width is consistent with the sampling spread across seeds
    width = np.median([r.ci_high - r.ci_low for r in res])
    assert 0.6 < width / (2 * 1.96 * sd) < 1.6
    assert all(r.n == 1500 and r.estimator == name for r in res)


def test_dr_has_lower_variance_than_ipw(runs):
    sd = {k: np.std([r.value for r in v], ddof=1) for k, v in runs.items()}
    assert sd["dr"] < 0.7 * sd["ipw"]
    width = {k: np.median([r.ci_high - r.ci_low for r in v]) for k, v in runs.items()}
    assert width["dr"] < 0.7 * width["ipw"]
    assert sd["snipw"] < sd["ipw"] * 1.05


def test_dr_stays_unbiased_with_a_wrong_reward_model():
    dm_vals, dr_vals = [], []
    for seed in range(N_SEEDS):
        data, x = simulate(seed)
        data["estimated_rewards"] = Q[x] + 1.0  # biased reward model
        dm_vals.append(DM().estimate_policy_value(**data))
        dr_vals.append(DR().estimate_policy_value(**data))
    assert abs(np.mean(dm_vals) - TRUE_VALUE) == pytest.approx(1.0, abs=0.05)
    assert abs(np.mean(dr_vals) - TRUE_VALUE) < 3 * np.std(dr_vals, ddof=1) / np.sqrt(N_SEEDS)


def test_point_estimates_match_formulas_and_diagnostics():
    data, _ = simulate(0, n=400)
    r, a, p, pi, q = (data[k] for k in ("reward", "action", "pscore", "action_dist", "estimated_rewards"))
    w = pi[np.arange(400), a] / p
    assert IPW().estimate_policy_value(**data) == pytest.approx(np.mean(w * r))
    assert SNIPW().estimate_policy_value(**data) == pytest.approx(np.sum(w * r) / np.sum(w))
    dm = (pi * q).sum(axis=1)
    assert DM().estimate_policy_value(**data) == pytest.approx(dm.mean())
    assert DR().estimate_policy_value(**data) == pytest.approx(np.mean(dm + w * (r - q[np.arange(400), a])))
    res = IPW().estimate(**data, n_bootstrap=200)
    assert res.ess == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert res.max_weight == pytest.approx(w.max())
    assert res.match_share == pytest.approx(pi[np.arange(400), a].mean())
    assert res.ci_low < res.value < res.ci_high
    assert res.to_dict()["estimator"] == "ipw"
    # same seed, same interval
    assert IPW().estimate(**data, n_bootstrap=200) == res


def test_bootstrap_matches_loop_reference_and_chunks():
    rng = np.random.default_rng(0)
    c = rng.exponential(size=300)
    d = rng.uniform(0.5, 1.5, size=300)
    lo, hi = bootstrap_ratio(c, d, n_bootstrap=2000, random_state=1)
    ref = []
    g = np.random.default_rng(99)
    for _ in range(2000):
        i = g.integers(0, 300, 300)
        ref.append(c[i].sum() / d[i].sum())
    rlo, rhi = np.quantile(ref, [0.025, 0.975])
    assert lo == pytest.approx(rlo, rel=0.03) and hi == pytest.approx(rhi, rel=0.03)
    import offerwise.evaluation.ope as ope

    old = ope._BOOT_CHUNK_ELEMS
    try:
        ope._BOOT_CHUNK_ELEMS = 1000  # force many small chunks: same draws in the same order
        assert bootstrap_ratio(c, d, n_bootstrap=2000, random_state=1) == (lo, hi)
    finally:
        ope._BOOT_CHUNK_ELEMS = old


def test_bad_array_inputs():
    data, _ = simulate(0, n=50)
    with pytest.raises(InputError, match=r"reward must have shape \(50,\)"):
        IPW().estimate_policy_value(**{**data, "reward": data["reward"][:5]})
    with pytest.raises(InputError, match=r"action_dist must be a 2-d array"):
        IPW().estimate_policy_value(**{**data, "action_dist": data["action_dist"][:, 0]})
    with pytest.raises(InputError, match=r"pscore must lie in \(0, 1\]"):
        IPW().estimate_policy_value(**{**data, "pscore": np.zeros(50)})
    with pytest.raises(InputError, match=r"action must lie in \[0, 3\)"):
        IPW().estimate_policy_value(**{**data, "action": data["action"] + 3})
    with pytest.raises(InputError, match="rows must sum to 1"):
        IPW().estimate_policy_value(**{**data, "action_dist": data["action_dist"] * 2})
    with pytest.raises(InputError, match=r"estimated_rewards of shape \(50, 3\) is required"):
        DR().estimate_policy_value(**{**data, "estimated_rewards": None})
    with pytest.raises(InputError, match=r"estimated_rewards must have shape \(50, 3\)"):
        DM().estimate_policy_value(**{**data, "estimated_rewards": data["estimated_rewards"][:, :2]})
    with pytest.raises(InputError, match="integer action"):
        check_ope_inputs(data["reward"], data["action"] + 0.5, data["pscore"], data["action_dist"])


# --------------------------------------------------------------------------------------------
# evaluate_decisions: plan + exposures tables
# --------------------------------------------------------------------------------------------

ACTIONS = ["none", "a", "b"]


def _tables(seed: int = 0, n: int = 1500):
    data, x = simulate(seed, n)
    ids = np.array([f"c{i}" for i in range(n)])
    exposures = pd.DataFrame({
        "customer_id": ids,
        "offer_id": np.array(ACTIONS)[data["action"]],
        "propensity": data["pscore"],
        "reward": data["reward"],
    })
    # deterministic plan: argmax of the evaluation policy per type; type-0 customers left out
    plan_action = PI.argmax(axis=1)[x]
    keep = x != 0
    decisions = pd.DataFrame({"customer_id": ids[keep], "offer_id": np.array(ACTIONS)[plan_action[keep]]})
    est = pd.DataFrame({
        "customer_id": np.repeat(ids, 3),
        "offer_id": np.tile(ACTIONS, n),
        "expected_net_profit": Q[x].ravel(),
    })
    return decisions, exposures, est, x


def test_evaluate_decisions_matches_array_api():
    decisions, exposures, est, x = _tables()
    res = evaluate_decisions(decisions, exposures, est, ["a", "b"], seed=3, n_bootstrap=300)
    assert [r.estimator for r in res] == ["ipw", "snipw", "dm", "dr"]
    # customers missing from the decisions get 'none'
    plan_idx = np.where(x == 0, 0, PI.argmax(axis=1)[x])
    onehot = np.eye(3)[plan_idx]
    arr = dict(reward=exposures["reward"].to_numpy(), action=np.array([ACTIONS.index(o) for o in exposures["offer_id"]]),
               pscore=exposures["propensity"].to_numpy(), action_dist=onehot, estimated_rewards=Q[x])
    for r, est_ in zip(res, ALL_ESTIMATORS, strict=True):
        ref = est_.estimate(**arr, n_bootstrap=300, random_state=3)
        assert r.value == pytest.approx(ref.value)
        assert (r.ci_low, r.ci_high) == pytest.approx((ref.ci_low, ref.ci_high))
    match = (arr["action"] == plan_idx).mean()
    assert res[0].match_share == pytest.approx(match)
    true_plan = float((P_X * Q[np.arange(4), np.where(np.arange(4) == 0, 0, PI.argmax(axis=1))]).sum())
    assert res[-1].ci_low - 0.3 < true_plan < res[-1].ci_high + 0.3

    only_ipw = evaluate_decisions(decisions, exposures, None, ["a", "b"], seed=3, n_bootstrap=100)
    assert [r.estimator for r in only_ipw] == ["ipw", "snipw"]


def test_evaluate_decisions_reward_from_profit_columns():
    decisions, exposures, _, _ = _tables(n=200)
    ex = exposures.drop(columns="reward").assign(revenue=10.0, discount_cost=2.0)
    arr = build_ope_arrays(decisions, ex, None, ["a", "b"], margin_rate=0.5)
    np.testing.assert_allclose(arr["reward"], 0.5 * 12.0 - 2.0)
    ex["gross_profit"] = 7.0
    arr = build_ope_arrays(decisions, ex, None, ["a", "b"], margin_rate=0.5)
    np.testing.assert_allclose(arr["reward"], 5.0)
    assert arr["actions"] == ACTIONS


def test_evaluate_decisions_errors():
    decisions, exposures, est, _ = _tables(n=100)
    with pytest.raises(InputError, match="column 'propensity' is missing; .*propensities estimated from the features, labelled unverified"):
        evaluate_decisions(decisions, exposures.drop(columns="propensity"), None, ["a", "b"])
    ex = exposures.copy()
    ex.loc[[3, 7], "propensity"] = np.nan
    with pytest.raises(InputError, match=r"2 of 100 row\(s\).*customer_id='c3'"):
        evaluate_decisions(decisions, ex, None, ["a", "b"])
    ex = exposures.copy()
    ex.loc[5, "propensity"] = 0.0
    ex.loc[9, "propensity"] = 1.5
    with pytest.raises(InputError, match=r"\(0, 1\]; 2 row\(s\).*customer_id='c5', propensity=0.0"):
        evaluate_decisions(decisions, ex, None, ["a", "b"])
    ex = exposures.copy()
    ex.loc[0, "offer_id"] = "zzz"
    with pytest.raises(InputError, match="offer_id not in the menu.*zzz"):
        evaluate_decisions(decisions, ex, None, ["a", "b"])
    with pytest.raises(InputError, match="decisions: 1 duplicate customer_id"):
        evaluate_decisions(pd.concat([decisions, decisions.iloc[:1]]), exposures, None, ["a", "b"])
    with pytest.raises(InputError, match=r"estimated_rewards: 1 \(customer, offer\) value\(s\) missing"):
        evaluate_decisions(decisions, exposures, est.iloc[1:], ["a", "b"])
    with pytest.raises(InputError, match="'expected_net_profit' missing"):
        evaluate_decisions(decisions, exposures, est.rename(columns={"expected_net_profit": "v"}), ["a", "b"])

"""``solve_plan(explore=...)`` / ``offerwise plan --explore``: a random share of the customers gets a
uniformly random eligible arm, the budget and the rules still hold, and every row's propensity is
the probability of its offer under the plan's randomization."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.policy.explore import draw_explore, plan_propensity
from offerwise.policy.plan import solve_plan
from offerwise.policy.rules import parse_rules
from offerwise.vocab import PLAN_COLUMNS

OFFERS = ["amt5", "pct10", "pct30"]
PCT = {"amt5": None, "pct10": 0.10, "pct30": 0.30}
SEGS = ["dormant", "loyal", "new"]


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    cust = pd.DataFrame(
        {"customer_id": ids, "segment": rng.choice(SEGS, n), "member": rng.random(n) < 0.5}
    )
    rows = []
    for k, o in enumerate(OFFERS):
        c = rng.gamma(2.0, 1.0 + k, n)
        p = c * rng.normal(1.1, 0.6, n) + rng.normal(0, 0.5, n)
        keep = rng.random(n) < 0.9  # some pairs are not scored: never eligible
        rows.append(
            pd.DataFrame(
                {"customer_id": ids, "offer_id": o, "expected_cost": c, "incremental_profit": p}
            )[keep]
        )
    menu = pd.DataFrame(
        {"offer_id": OFFERS, "kind": ["amount_off", "percent_off", "percent_off"],
         "value": [5.0, 0.10, 0.30]}
    )  # fmt: skip
    return pd.concat(rows, ignore_index=True), cust, menu


def _random_rules(rng: np.random.Generator) -> dict:
    offers: dict = {}
    for o in OFFERS:
        r: dict = {}
        if rng.random() < 0.5:
            r["segments"] = sorted(rng.choice(SEGS, rng.integers(1, 3), replace=False).tolist())
        if rng.random() < 0.3:
            r["members_only"] = True
        if rng.random() < 0.3:
            r["max_count"] = int(rng.integers(400, 1500))
        if r:
            offers[o] = r
    segments = {}
    if rng.random() < 0.5:
        segments[str(rng.choice(SEGS))] = {"max_percent_off": 0.2}
    return {"offers": offers, "segments": segments}


def _allowed(rules: dict, cust: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """(customer, offer) pairs the rules allow, re-derived from the rules' plain meaning."""
    s = scores.merge(cust, on="customer_id")
    ok = pd.Series(True, index=s.index)
    for o, r in rules["offers"].items():
        is_o = s["offer_id"] == o
        if "segments" in r:
            ok &= ~is_o | s["segment"].isin(r["segments"])
        if r.get("members_only"):
            ok &= ~is_o | s["member"]
    for seg, r in rules["segments"].items():
        deep = s["offer_id"].map(lambda o: (PCT[o] or 0) > r["max_percent_off"])
        ok &= ~((s["segment"] == seg) & deep)
    return s.loc[ok, ["customer_id", "offer_id"]]


def test_explore_zero_is_the_plan_without_exploration():
    scores, cust, menu = _data(2000)
    a = solve_plan(scores, cust, 800.0, holdout=0.1, seed=3, offers=menu, kernel="numpy")
    b = solve_plan(scores, cust, 800.0, holdout=0.1, seed=3, offers=menu, kernel="numpy", explore=0)
    fa, fb = a.to_frame(), b.to_frame()
    assert list(fb.columns) == list(PLAN_COLUMNS)
    pd.testing.assert_frame_equal(fa, fb)
    assert (fb["propensity"] == 1.0).all()
    assert b.summary()["explore"] == 0.0 and b.summary()["n_explore"] == 0


@pytest.mark.parametrize("case", range(12))
def test_budget_and_rules_hold_and_no_ineligible_offer_is_explored(case):
    rng = np.random.default_rng(100 + case)
    scores, cust, menu = _data(2500, seed=case)
    spec = _random_rules(rng)
    rules = parse_rules(spec)
    explore = [0.05, 0.3, 1.0][case % 3]
    budget = float(rng.choice([2000.0, 20000.0, np.inf]))
    try:
        res = solve_plan(
            scores, cust, budget, rules, holdout=0.1, seed=case, offers=menu, kernel="numpy",
            explore=explore,
        )  # fmt: skip
    except InputError as exc:  # the draw alone breaks the budget or a cap: said, nothing planned
        assert "explore" in str(exc) and "lower --explore" in str(exc)
        assert explore > 0.05 and budget < np.inf or "max_count" in str(exc)
        return
    df = res.to_frame()
    ex = df[df["reason"] == "explore"]
    assert (df["group"].isin(["treatment", "holdout"])).all()
    assert (ex["group"] == "treatment").all()
    n_treat = (df["group"] == "treatment").sum()
    assert abs(len(ex) / n_treat - explore) < 4 * np.sqrt(explore * (1 - explore) / n_treat) + 1e-9
    assert df["expected_cost"].sum() <= budget + 1e-6
    offered = df.loc[df["offer_id"] != "none", ["customer_id", "offer_id"]]
    allowed = _allowed(spec, cust, scores)
    bad = offered.merge(allowed, how="left", indicator=True)["_merge"] == "left_only"
    assert not bad.any(), offered[bad.to_numpy()].head()
    for o, r in spec["offers"].items():
        if "max_count" in r:
            assert (df["offer_id"] == o).sum() <= r["max_count"]
    assert (df.loc[df["group"] == "holdout", "offer_id"] == "none").all()
    assert (df.loc[df["group"] == "holdout", "propensity"] == 1.0).all()
    assert df["propensity"].between(0, 1).all() and (df["propensity"] > 0).all()
    # the explored arms include none and every offer
    assert set(ex["offer_id"]) == {"none", *OFFERS} or len(ex) < 50
    summ = res.summary()
    assert summ["explore"] == explore and summ["n_explore"] == len(ex)


def _arm_frequencies(budget: float, n_seeds: int, explore: float = 0.4):
    scores, cust, menu = _data(60, seed=5)
    rules = parse_rules({"offers": {"pct30": {"segments": ["loyal", "new"]}}})
    picks, props = [], []
    for s in range(n_seeds):
        res = solve_plan(
            scores, cust, budget, rules, holdout=0.0, seed=s, offers=menu, kernel="numpy",
            explore=explore,
        )  # fmt: skip
        df = res.to_frame()
        picks.append(df["offer_id"].to_numpy())
        props.append(df["propensity"].to_numpy())
    return np.array(picks), np.array(props), res


def test_arm_frequencies_over_seeds_match_the_logged_propensity():
    n_seeds = 300
    picks, props, _ = _arm_frequencies(np.inf, n_seeds)
    checked = 0
    for i in range(picks.shape[1]):
        for arm in np.unique(picks[:, i]):
            sel = picks[:, i] == arm
            p = props[sel, i]
            assert np.ptp(p) < 1e-12  # the same arm always has the same probability
            freq = sel.mean()
            assert abs(freq - p[0]) < 4 * np.sqrt(p[0] * (1 - p[0]) / n_seeds) + 1e-9, (i, arm)
            checked += 1
        # the logged probabilities of the arms seen cover (almost) all the mass
        seen = {a: props[picks[:, i] == a, i][0] for a in np.unique(picks[:, i])}
        assert sum(seen.values()) <= 1 + 1e-9
    assert checked > 100
    # customers differ in their number of eligible arms (scores missing, pct30 by segment)
    assert len(np.unique(np.round(props.min(axis=0), 9))) >= 2


def test_inverse_propensity_weights_are_unbiased_under_a_binding_budget():
    n_seeds = 300
    picks, props, _ = _arm_frequencies(120.0, n_seeds, explore=0.2)
    # E[1{a = k} / p(a)] = 1 for every arm k with support: check per customer and arm on average
    ratios = []
    for i in range(picks.shape[1]):
        for arm in ("none", *OFFERS):
            sel = picks[:, i] == arm
            if sel.sum() >= 5:
                ratios.append((sel / np.where(sel, props[:, i], 1)).mean())
    assert abs(np.mean(ratios) - 1) < 0.05


def test_draw_explore_and_propensity_units():
    mask = np.array([[True, False, True], [False, False, False], [True, True, True]])
    cand = np.array([True, True, False])
    explored, arm = draw_explore(mask, cand, 1.0, seed=1)
    assert explored.tolist() == [True, True, False]
    assert arm[1] == -1 and arm[2] == -1 and arm[0] in (-1, 0, 2)
    p = plan_propensity(
        np.array([0, -1, 1]), np.array([0, -1, 1]), mask, np.array([True, False, False]),
        np.array([False, False, False]), 0.25,
    )  # fmt: skip
    np.testing.assert_allclose(p, [0.25 / 3 + 0.75, 0.75 + 0.25, 0.75 + 0.25 / 4])
    p = plan_propensity(
        np.array([2, -1, 1]), np.array([0, -1, 1]), mask, np.array([True, True, False]),
        np.array([False, False, True]), 0.25,
    )  # fmt: skip
    np.testing.assert_allclose(p, [0.25 / 3, 1.0, 1.0])
    with pytest.raises(InputError, match="explore"):
        draw_explore(mask, cand, 1.5, seed=1)
    scores, cust, menu = _data(200)
    with pytest.raises(InputError, match="explore"):
        solve_plan(scores, cust, 100.0, explore=-0.1, offers=menu)
    with pytest.raises(InputError, match="budget"):
        solve_plan(scores, cust, 10.0, explore=1.0, offers=menu)


def _ow(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offerwise.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_cli_plan_explore(tmp_path):
    bad = _ow("plan", "--model", tmp_path / "m", "--data", tmp_path / "d", "--budget", "10",
              "--out", tmp_path / "p.parquet", "--explore", "1.5")  # fmt: skip
    assert bad.returncode == 2 and "--explore" in bad.stderr
    assert list(tmp_path.iterdir()) == []
    data, model, plan = tmp_path / "shop", tmp_path / "model", tmp_path / "plan.parquet"
    for cmd in (
        ("simulate", "--customers", "1200", "--exposures", "4000", "--seed", "2", "--out", data),
        ("train", "--data", data, "--out", model, "--seed", "2"),
    ):
        r = _ow(*cmd)
        assert r.returncode == 0, r.stderr
    r = _ow("plan", "--model", model, "--data", data, "--budget", "100000", "--out", plan,
            "--explore", "0.2", "--no-frontier", "--seed", "2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(plan)
    assert list(df.columns) == list(PLAN_COLUMNS)
    ex = df[df["reason"] == "explore"]
    assert 0.1 < len(ex) / (df["group"] == "treatment").sum() < 0.3
    assert set(df["group"]) == {"treatment", "holdout"}
    assert (df.loc[df["group"] == "holdout", "propensity"] == 1.0).all()
    exploit = df[(df["group"] == "treatment") & (df["reason"] != "explore")]
    assert exploit["propensity"].between(0.8, 1.0).all()  # 0.8 + 0.2 / arms
    assert ex["propensity"].between(0, 1, inclusive="right").all()
    summary = json.loads(plan.with_suffix(".summary.json").read_text())
    assert summary["explore"] == 0.2
    # what this round of exploration can detect, in the summary and said to the user
    sizing = summary["claims"]["explore"]
    assert sizing["customers"] == pytest.approx(len(ex), rel=0.25)  # expected vs drawn
    assert sizing["per_offer"] * sizing["n_offers"] + sizing["none"] == pytest.approx(
        sizing["customers"], rel=0.3)  # the median offer: roughly an even split
    out = " ".join(r.stdout.split())
    assert f"exploration: about {sizing['customers']:,.0f} customers drawn at random" in out
    assert f"detectable from {sizing['mde_per_customer']:,.2f} net profit per customer" in out
    assert summary["claims"]["explore_note"] in out
    r = _ow("plan", "--model", model, "--data", data, "--budget", "5", "--out", tmp_path / "q.parquet",
            "--explore", "0.5", "--no-frontier")  # fmt: skip
    assert r.returncode == 2 and "lower --explore" in r.stderr
    assert not (tmp_path / "q.parquet").exists()

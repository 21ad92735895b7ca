"""Rules file parsing, every rule type binding, holdout, solve_plan and the plan frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import ConfigError, InfeasibleError, InputError
from offerwise.policy.holdout import assign_holdout
from offerwise.policy.plan import solve_plan, write_plan
from offerwise.policy.rules import load_rules, parse_rules
from offerwise.vocab import PLAN_COLUMNS

OFFERS = ["amt5", "pct10", "pct30"]


def _data(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    seg = rng.choice(["dormant", "loyal", "new"], n)
    cust = pd.DataFrame({
        "customer_id": ids, "segment": seg,
        "member": rng.random(n) < 0.5,
        "age": rng.choice(["18-34", "35-54", "55+"], n),
        "last_offer_ts": pd.Timestamp("2026-01-01", tz="UTC")
        - pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
    })
    rows = []
    for k, o in enumerate(OFFERS):
        c = rng.gamma(2.0, 1.0 + k, n)
        p = c * rng.normal(1.3, 0.5, n) + rng.normal(0, 0.5, n)
        rows.append(pd.DataFrame({"customer_id": ids, "offer_id": o, "expected_cost": c,
                                  "incremental_profit": p, "incremental_revenue": p + 2.0 * c * (k == 2)}))
    scores = pd.concat(rows, ignore_index=True)
    menu = pd.DataFrame({"offer_id": OFFERS, "kind": ["amount_off", "percent_off", "percent_off"],
                         "value": [5.0, 0.10, 0.30]})
    return scores, cust, menu


def _plan(rules=None, budget=1500.0, **kw):
    scores, cust, menu = _data()
    kw.setdefault("holdout", 0.0)
    return solve_plan(scores, cust, budget, rules, seed=1, offers=menu, kernel="numpy",
                      as_of=pd.Timestamp("2026-01-01", tz="UTC"), **kw)


def test_plan_frame_and_summary(tmp_path):
    res = _plan(holdout=0.1)
    df = res.to_frame()
    assert list(df.columns) == list(PLAN_COLUMNS)
    assert len(df) == 3000
    assert set(df["group"]) == {"treatment", "holdout"}
    hold = df[df["group"] == "holdout"]
    assert (hold["offer_id"] == "none").all() and (hold["reason"] == "holdout").all()
    assert df["expected_cost"].sum() <= 1500.0 + 1e-9
    treated = df[df["offer_id"] != "none"]
    assert (treated["reason"] == "best_net_of_budget_price").all()
    assert set(df["reason"]) >= {"budget_exhausted", "holdout", "best_net_of_budget_price"}
    p, side = write_plan(res, tmp_path / "plan.parquet", campaign_id="x")
    assert side.name == "plan.summary.json"
    back = pd.read_parquet(p)
    assert len(back) == 3000
    summ = res.summary()
    assert summ["n_holdout"] == int(res.holdout.sum()) and summ["n_treatment"] == 3000 - summ["n_holdout"]


def test_revenue_objective_changes_value():
    prof = _plan()
    rev = _plan(objective="revenue")
    assert rev.total_cost <= 1500 + 1e-9
    assert (prof.assignment != rev.assignment).any()
    assert prof.total_incremental_profit >= rev.total_incremental_profit
    assert (rev.assignment == 2).sum() > (prof.assignment == 2).sum()


def _rate(res, col_values, group):
    df = res.to_frame()
    sel = col_values == group
    return (df["offer_id"][sel] != "none").mean()


@pytest.mark.parametrize("member", [
    [True, False, False],  # a Parquet boolean
    [1.0, 0.0, float("nan")],  # a CSV's 1/0 column, read as numbers
    ["yes", "no", None],  # text
])
def test_members_only_reads_the_member_column_in_any_type(member):
    from offerwise.policy.rules import _truthy

    assert _truthy(pd.Series(member)).tolist() == [True, False, False]


def test_offer_count_and_spend_caps_bind():
    free = _plan()
    n30 = int((free.assignment == 2).sum())
    res = _plan(parse_rules({"offers": {"pct30": {"max_count": n30 // 2},
                                        "pct10": {"max_spend": 100.0}}}))
    assert (res.assignment == 2).sum() <= n30 // 2
    assert res.expected_cost[res.assignment == 1].sum() <= 100.0 + 1e-9
    assert "cap_reached" in set(res.reason) or res.allocation.mu_count[2] > 0
    assert res.total_incremental_profit < free.total_incremental_profit


def test_eligibility_rules_bind():
    scores, cust, menu = _data()
    free = _plan()
    res = _plan(parse_rules({"offers": {"pct30": {"segments": ["dormant"], "members_only": True},
                                        "amt5": {"new_customers_only": True}}}))
    seg = res.segments
    assert ((free.assignment == 2) & (seg != "dormant")).any()
    got30 = res.assignment == 2
    assert (seg[got30] == "dormant").all() and cust["member"].to_numpy()[got30].all()
    assert (seg[res.assignment == 0] == "new").all()


def test_depth_rule_binds():
    free = _plan()
    res = _plan(parse_rules({"segments": {"loyal": {"max_percent_off": 0.2}}}))
    assert ((free.assignment == 2) & (free.segments == "loyal")).any()
    assert not ((res.assignment == 2) & (res.segments == "loyal")).any()


def test_roi_rule_binds():
    res0 = _plan(budget=1e9)
    on = res0.assignment >= 0
    roi0 = res0.incremental_profit[on] / res0.expected_cost[on]
    assert roi0.min() < 1.5
    res = _plan(parse_rules({"roi": {"min": 1.5}}), budget=1e9)
    assert res.total_incremental_profit < res0.total_incremental_profit
    on = res.assignment >= 0
    assert (res.incremental_profit[on] / res.expected_cost[on] >= 1.5 - 1e-12).all()


def test_cooldown_rule_binds():
    scores, cust, menu = _data()
    res = _plan(parse_rules({"contact": {"cooldown_days": 14}}), budget=1e9)
    recent = (pd.Timestamp("2026-01-01", tz="UTC") - cust["last_offer_ts"]).dt.days < 14
    assert (res.assignment[recent.to_numpy()] == -1).all()
    assert (res.reason[recent.to_numpy()] == "cooldown").all()
    assert (res.assignment[~recent.to_numpy()] >= 0).any()


def test_segment_budget_share_binds():
    free = _plan()
    d0 = free.expected_cost[free.segments == "dormant"].sum()
    share = 0.5 * d0 / 1500.0
    res = _plan(parse_rules({"segments": {"dormant": {"max_share": share}}}))
    assert res.expected_cost[res.segments == "dormant"].sum() <= share * 1500 + 1e-9


def test_fairness_rule_binds_and_holds():
    scores, cust, menu = _data()
    young = cust["age"].to_numpy() == "18-34"
    scores.loc[np.tile(young, 3), "incremental_profit"] -= 1.5
    res0 = solve_plan(scores, cust, 1500.0, None, 0.0, 1, kernel="numpy")
    df0 = res0.to_frame()
    rates0 = (df0["offer_id"] != "none").groupby(cust["age"].to_numpy()).mean()
    assert rates0.min() / rates0.max() < 0.8
    res = solve_plan(scores, cust, 1500.0, parse_rules({"fairness": [{"attribute": "age"}]}),
                     0.1, 1, kernel="numpy")
    df = res.to_frame()
    treat = df["group"] == "treatment"
    rates = (df["offer_id"][treat] != "none").groupby(cust["age"].to_numpy()[treat]).mean()
    assert rates.min() / rates.max() >= 0.8 - 1e-12
    assert df["expected_cost"].sum() <= 1500 + 1e-9


def test_infeasible_segment_floor():
    rules = parse_rules({"segments": {"dormant": {"min_share": 0.3}},
                         "offers": {k: {"segments": ["loyal", "new"]} for k in OFFERS}})
    with pytest.raises(InfeasibleError) as e:
        _plan(rules)
    assert e.value.binding == "segment_budget.dormant"


def test_rules_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"offers\.pct10\.max_count"):
        parse_rules({"offers": {"pct10": {"max_count": -1}}})
    with pytest.raises(ConfigError, match=r"segments\.x\.max_sharee"):
        parse_rules({"segments": {"x": {"max_sharee": 0.1}}})
    # an unknown key lists the keys allowed there and the closest one
    with pytest.raises(ConfigError) as e:
        parse_rules({"segments": {"x": {"max_sharee": 0.1}}, "limits": {"max": 1},
                     "fairness": [{"attribute": "age", "min_ration": 0.5}]})
    text = str(e.value)
    assert ("segments.x.max_sharee: unknown key (allowed here: max_share, min_share, "
            "max_percent_off, max_amount_off); did you mean 'max_share'?") in text
    assert "limits: unknown key (allowed here: offers, segments, roi," in text
    assert "limits: unknown key" in text and "did you mean" not in text.split("limits:")[1].split("\n")[0]
    assert "fairness.0.min_ration: unknown key (allowed here: attribute," in text
    assert "did you mean 'min_ratio'?" in text
    with pytest.raises(ConfigError, match=r"fairness\.0\.min_ratio"):
        parse_rules({"fairness": [{"attribute": "age", "min_ratio": 2}]})
    f = tmp_path / "r.toml"
    f.write_text("[roi]\nmin = 'abc'\n")
    with pytest.raises(ConfigError, match=r"roi\.min"):
        load_rules(f)
    f.write_text("[roi\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_rules(f)
    with pytest.raises(ConfigError, match="offers.ghost"):
        _plan(parse_rules({"offers": {"ghost": {"max_count": 1}}}))
    # TOML spells NaN and infinity (nan, inf): a bound no comparison obeys is refused, by name
    f.write_text("[roi]\nmin = nan\n[offers.pct10]\nmax_spend = inf\n")
    with pytest.raises(ConfigError) as e:
        load_rules(f)
    assert "roi.min: Input should be a finite number" in str(e.value)
    assert "offers.pct10.max_spend: Input should be a finite number" in str(e.value)


def test_settings_refuse_nan_and_infinity(monkeypatch):
    from offerwise.config import load_settings

    monkeypatch.setenv("OFFERWISE_MARGIN_RATE", "nan")  # ge/le let NaN through no comparison
    with pytest.raises(ConfigError, match="margin_rate: Input should be a finite number"):
        load_settings()


@pytest.mark.parametrize("name", ["rules-simulated.toml", "rules-completejourney.toml"])
def test_example_rules_files_parse(name):  # applied end to end in tests/cli/test_human_output.py
    from pathlib import Path

    r = load_rules(Path(__file__).parents[2] / "examples" / name)
    assert r.fairness and r.offers and r.segments


def test_rules_name_segments_by_offerwise_names():
    with pytest.raises(ConfigError, match="unknown segment 'loyal high-value'.*loyal-high-value"):
        _plan(parse_rules({"segments": {"loyal high-value": {"max_share": 0.5}}}))
    # a known segment with no customer today is not an error: the rule limits nobody
    res = _plan(parse_rules({"segments": {"brand-loyal": {"max_share": 0.1}},
                             "offers": {"amt5": {"new_customers_only": True}}}))
    assert res is not None


def test_scores_errors():
    scores, cust, menu = _data(200)
    bad = scores.copy()
    bad.loc[bad.index[:7], "incremental_profit"] = np.nan
    with pytest.raises(InputError, match=r"offer 'amt5' \(7 rows\)"):
        solve_plan(bad, cust, 10.0, None, 0.0, 1)
    neg = scores.copy()
    neg.loc[neg.index[-1], "expected_cost"] = -2
    with pytest.raises(InputError, match="negative"):
        solve_plan(neg, cust, 10.0, None, 0.0, 1)
    with pytest.raises(InputError, match="no row in the customer table"):
        solve_plan(scores, cust.iloc[5:], 10.0, None, 0.0, 1)


def test_zero_budget_and_negative_scores():
    res = _plan(budget=0.0)
    assert (res.assignment == -1).all()
    scores, cust, menu = _data(300)
    scores["incremental_profit"] = -np.abs(scores["incremental_profit"]) - 0.01
    res = solve_plan(scores, cust, 100.0, None, 0.0, 1, kernel="numpy")
    assert (res.assignment == -1).all() and set(res.reason) == {"no_positive_offer"}


def test_holdout_stratified_seeded():
    seg = np.repeat(["a", "b", "c"], [1000, 300, 50])
    h1 = assign_holdout(seg, fraction=0.1, seed=3)
    h2 = assign_holdout(seg, fraction=0.1, seed=3)
    h3 = assign_holdout(seg, fraction=0.1, seed=4)
    assert (h1 == h2).all() and (h1 != h3).any()
    assert [h1[seg == s].sum() for s in "abc"] == [100, 30, 5]
    assert not assign_holdout(seg, fraction=0.0, seed=3).any()
    # random: positions are spread, not the first rows of each segment
    assert 200 < np.flatnonzero(h1[seg == "a"]).mean() < 800
    with pytest.raises(InputError):
        assign_holdout(seg, fraction=1.0)


def test_risk_plans_on_the_lower_bound():
    scores, cust, menu = _data()
    # pct30's gains are the most uncertain: a large spread over the bags
    scores["incremental_profit_sd"] = np.where(scores["offer_id"] == "pct30", 2.0, 0.1)

    def plan(**kw):
        return solve_plan(scores, cust, 1500.0, None, seed=1, offers=menu, kernel="numpy",
                          holdout=0.0, **kw)

    base, safe = plan(), plan(risk=3.0)
    assert (safe.assignment == 2).sum() < (base.assignment == 2).sum()
    assert safe.total_cost <= 1500 + 1e-9 and safe.summary()["risk"] == 3.0
    # the plan reports the estimate itself, not the lower bound
    ch = safe.assignment >= 0
    assert safe.incremental_profit[ch].sum() == pytest.approx(safe.total_incremental_profit)
    # risk 0 ignores the column
    np.testing.assert_array_equal(plan(risk=0.0).assignment, base.assignment)
    with pytest.raises(InputError, match="profit objective only"):
        plan(risk=1.0, objective="revenue")
    with pytest.raises(InputError, match=">= 0"):
        plan(risk=-1.0)
    with pytest.raises(InputError, match="missing column.*incremental_profit_sd"):
        solve_plan(scores.drop(columns="incremental_profit_sd"), cust, 1500.0, None, holdout=0.0, risk=1.0)
    with pytest.raises(InputError, match="0 for every row"):
        solve_plan(scores.assign(incremental_profit_sd=0.0), cust, 1500.0, None, holdout=0.0, risk=1.0)

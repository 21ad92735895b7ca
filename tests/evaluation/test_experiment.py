"""Campaign A/B analysis: summary statistics, Welch/delta/CUPED intervals, SRM, degenerate slices."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from offerwise.errors import InputError
from offerwise.evaluation.experiment import (
    RegressionStats,
    SampleStats,
    analyze_campaign,
    campaign_outcomes,
    compare,
    srm_check,
)

ints = st.lists(st.integers(-1000, 1000), min_size=0, max_size=20)


@settings(max_examples=50, deadline=None)
@given(ints, ints, ints)
def test_summary_stats_addition_is_associative_and_matches_pooling(a, b, c):
    sa, sb, sc = (SampleStats.from_array(np.array(v, dtype=float)) for v in (a, b, c))
    assert (sa + sb) + sc == sa + (sb + sc)
    assert sa + SampleStats() == sa
    pooled = SampleStats.from_array(np.array(a + b + c, dtype=float))
    assert (sa + sb) + sc == pooled
    if pooled.n >= 2:
        assert pooled.variance == pytest.approx(np.var(a + b + c, ddof=1), abs=1e-9)
    ra, rb, rc = (RegressionStats.from_arrays(np.array(v, dtype=float), np.array(v, dtype=float) * 2 + 1)
                  for v in (a, b, c))
    assert (ra + rb) + rc == ra + (rb + rc)
    if pooled.n >= 2:
        assert ((ra + rb) + rc).covariance == pytest.approx(2 * np.var(a + b + c, ddof=1), abs=1e-6)


def test_welch_matches_scipy():
    rng = np.random.default_rng(0)
    t, h = rng.exponential(2.0, 300), rng.exponential(1.5, 120)
    r = compare(SampleStats.from_array(t), SampleStats.from_array(h), alpha=0.1)
    ref = stats.ttest_ind(t, h, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert r.p_value == pytest.approx(ref.pvalue)
    assert (r.abs_ci_low, r.abs_ci_high) == pytest.approx((ci.low, ci.high))
    assert r.rel_lift == pytest.approx(t.mean() / h.mean() - 1)
    assert r.ok and not r.has_cuped


def _ab(seed: int, n: int, rho_cov: bool = True):
    """Treatment/holdout samples with known mean lift 0.5 (revenue-like, skewed) and a covariate."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 10.0, 2 * n)  # pre-period spend
    base = 0.8 * x + rng.gamma(2.0, 5.0, 2 * n) if rho_cov else rng.gamma(2.0, 5.0, 2 * n) + 16.0
    g = np.arange(2 * n) < n
    y = base + g * rng.exponential(0.5, 2 * n)  # E[effect] = 0.5
    return y[g], x[g], y[~g], x[~g]


def test_coverage_of_absolute_and_relative_lift():
    cov = {"abs": 0, "cuped": 0, "rel": 0}
    true_rel = 0.5 / (0.8 * 20 + 10)
    n_runs = 200
    for seed in range(n_runs):
        yt, xt, yh, xh = _ab(seed, 400)
        r = compare(RegressionStats.from_arrays(yt, xt), RegressionStats.from_arrays(yh, xh))
        cov["abs"] += r.abs_ci_low <= 0.5 <= r.abs_ci_high
        cov["cuped"] += r.cuped_ci_low <= 0.5 <= r.cuped_ci_high
        cov["rel"] += r.cuped_rel_ci_low <= true_rel <= r.cuped_rel_ci_high
    for k, v in cov.items():
        assert 0.91 <= v / n_runs <= 0.99, f"{k} coverage {v / n_runs:.3f}"


def test_cuped_narrows_ci_only_with_a_correlated_covariate():
    yt, xt, yh, xh = _ab(1, 2000)
    r = compare(RegressionStats.from_arrays(yt, xt), RegressionStats.from_arrays(yh, xh))
    corr = np.corrcoef(np.r_[yt, yh], np.r_[xt, xh])[0, 1]
    assert r.variance_reduction == pytest.approx(corr**2, abs=0.05)
    assert r.variance_reduction > 0.5
    assert (r.cuped_ci_high - r.cuped_ci_low) < 0.75 * (r.abs_ci_high - r.abs_ci_low)
    assert r.theta == pytest.approx(0.8, abs=0.1)
    yt, xt, yh, xh = _ab(1, 2000, rho_cov=False)
    r0 = compare(RegressionStats.from_arrays(yt, xt), RegressionStats.from_arrays(yh, xh))
    assert abs(r0.variance_reduction) < 0.01
    # constant covariate: CUPED skipped with a note, plain result still there
    c = np.ones_like(yt)
    rc = compare(RegressionStats.from_arrays(yt, c), RegressionStats.from_arrays(yh, np.ones_like(yh)))
    assert rc.ok and not rc.has_cuped and any("CUPED skipped" in s for s in rc.notes)


def test_srm():
    assert srm_check(5500, 4500, 0.5).mismatch
    assert srm_check(5500, 4500, 0.5).p_value < 1e-20
    fair = srm_check(5030, 4970, 0.5)
    assert not fair.mismatch and fair.p_value > 0.5
    assert not srm_check(9010, 990, 0.1).mismatch
    ref = stats.chisquare([5500, 4500], [5000, 5000])
    assert srm_check(5500, 4500, 0.5).chi2 == pytest.approx(ref.statistic)
    with pytest.raises(InputError, match="expected_holdout_fraction"):
        srm_check(10, 10, 1.0)


def test_degenerate_comparisons_return_reasons():
    one = SampleStats.from_array(np.array([1.0]))
    some = SampleStats.from_array(np.array([1.0, 2.0, 3.0]))
    assert compare(some, SampleStats()).reason.startswith("empty_group")
    assert compare(one, some).reason.startswith("too_few_units")
    const = SampleStats.from_array(np.zeros(10))
    r = compare(const, const)
    assert r.reason.startswith("zero_variance") and r.abs_lift == 0.0
    z = compare(some, SampleStats.from_array(np.array([0.0, 0.0, 0.0, 1.0, -1.0])))
    assert z.ok and np.isnan(z.rel_lift) and "holdout mean is 0" in z.notes[0]


def _campaign(seed: int, n: int = 4000, holdout: float = 0.2, lift: float = 2.0):
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 30.0, n)
    group = np.where(rng.uniform(size=n) < holdout, "holdout", "treatment")
    treated = group == "treatment"
    offer = rng.choice(["pct10", "amt5"], n)
    segment = rng.choice(["new", "loyal", "dormant"], n)
    conv = (rng.uniform(size=n) < 0.1 + 0.7 * (1 - np.exp(-pre / 40)) + 0.1 * treated).astype(int)
    revenue = conv * (0.5 * pre + rng.gamma(2.0, 10.0, n)) + treated * conv * lift * 5
    disc = treated * conv * 3.0
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "group": group, "offer_id": offer,
                         "segment": segment, "converted": conv, "revenue": revenue, "discount_cost": disc,
                         "gross_profit": 0.3 * (revenue + disc), "pre_spend": pre})


def test_analyze_campaign_end_to_end():
    df = _campaign(0)
    # a tiny segment with only treated customers must not sink the report
    df.loc[df.index[:3], "segment"] = "vip"
    df.loc[df.index[:3], "group"] = "treatment"
    a = analyze_campaign(df, expected_holdout_fraction=0.2)
    assert not a.srm.mismatch
    assert a.n_customers == 4000 and a.n_treatment + a.n_holdout == 4000
    conv = a.get("converted")
    assert conv.ok and conv.abs_ci_low < 0.1 < conv.abs_ci_high
    rev = a.get("revenue")
    t, h = df[df.group == "treatment"], df[df.group == "holdout"]
    assert rev.abs_lift == pytest.approx(t.revenue.mean() - h.revenue.mean())
    assert rev.variance_reduction > 0.1
    vip = a.get("revenue", "segment", "vip")
    assert vip.reason.startswith("empty_group")
    assert any("not estimable" in w for w in a.warnings)
    levels = {(r.dimension, r.level) for r in a.results}
    assert {("offer", "pct10"), ("offer", "amt5"), ("segment", "loyal"), ("overall", "all")} <= levels
    # per-offer stats come from the same groupby: check one directly
    sub = df[df.offer_id == "amt5"]
    r = a.get("net_profit", "offer", "amt5")
    npf = sub.gross_profit - sub.discount_cost
    assert r.abs_lift == pytest.approx(npf[sub.group == "treatment"].mean() - npf[sub.group == "holdout"].mean())
    # ROI = incremental net profit / incremental discount cost
    npl, _, _ = a.get("net_profit").best()
    dcl, _, _ = a.get("discount_cost").best()
    assert a.roi.roi == pytest.approx(npl / dcl)
    assert a.roi.incremental_net_profit == pytest.approx(npl * a.n_treatment)
    assert a.roi.discount_cost_treatment == pytest.approx(t.discount_cost.sum())
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["srm"]["mismatch"] is False
    frame = a.to_frame()
    assert len(frame) == len(a.results) and {"metric", "abs_lift", "reason"} <= set(frame.columns)


def test_analyze_campaign_flags_srm_and_bad_inputs():
    df = _campaign(1, n=10_000, holdout=0.45)
    a = analyze_campaign(df, expected_holdout_fraction=0.5)
    assert a.srm.mismatch and any("sample ratio mismatch" in w for w in a.warnings)
    with pytest.raises(InputError, match="'group' must be 'treatment' or 'holdout'.*'control'"):
        analyze_campaign(df.assign(group=np.where(df.index == 5, "control", df.group)), 0.5)
    with pytest.raises(InputError, match="'revenue'"):
        analyze_campaign(df.drop(columns="revenue"), 0.5)
    bad = df.copy()
    bad.loc[2, "revenue"] = np.nan
    with pytest.raises(InputError, match=r"'revenue' has 1 missing.*customer_id='c2'"):
        analyze_campaign(bad, 0.5)
    a2 = analyze_campaign(df.drop(columns=["pre_spend", "segment"]), 0.45)
    assert not a2.get("revenue").has_cuped and any("pre_spend" in w for w in a2.warnings)
    assert not any(r.dimension == "segment" for r in a2.results)


def test_campaign_outcomes():
    start = pd.Timestamp("2024-03-01")
    plan = pd.DataFrame({"customer_id": ["a", "b", "c"], "group": ["treatment", "holdout", "treatment"],
                         "offer_id": ["o1", "o1", "none"], "segment": ["s", "s", "t"]})
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "z", "c"],
        "product_id": ["p1", "p2", "p1", "p2", "p1", "p1", "p1"],
        "ts": pd.to_datetime(["2024-03-02", "2024-03-05", "2024-02-20", "2024-01-01", "2024-04-02",
                              "2024-03-03", "2024-03-31"]),
        "quantity": [1, 2, 1, 1, 1, 1, 1],
        "amount": [9.0, 20.0, 5.0, 7.0, 100.0, 3.0, 4.0],
        "discount": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0],
    })
    out = campaign_outcomes(plan, tx, start, pd.Timestamp("2024-04-01"), pre_period_days=30, margin_rate=0.25)
    out = out.set_index("customer_id")
    assert list(out.index) == ["a", "b", "c"]
    assert out.loc["a", "converted"] == 1 and out.loc["a", "revenue"] == 29.0
    assert out.loc["a", "discount_cost"] == 1.0
    assert out.loc["a", "gross_profit"] == pytest.approx(0.25 * 30.0)
    assert out.loc["a", "net_profit"] == pytest.approx(0.25 * 30.0 - 1.0)
    assert out.loc["a", "pre_spend"] == 5.0  # 2024-02-20 is within 30 days before the start
    assert out.loc["b", "converted"] == 0 and out.loc["b", "revenue"] == 0.0  # April is after the end
    assert out.loc["b", "pre_spend"] == 0.0  # January is before the pre-period
    assert out.loc["c", "revenue"] == 4.0
    products = pd.DataFrame({"product_id": ["p1"], "unit_cost": [3.0]})
    o2 = campaign_outcomes(plan, tx, start, None, 30, 0.25, products=products).set_index("customer_id")
    assert o2.loc["a", "gross_profit"] == pytest.approx((9 + 1 - 3) + 0.25 * 20)  # p2 has no cost: margin rule
    assert o2.loc["b", "revenue"] == 100.0 and o2.loc["b", "gross_profit"] == pytest.approx(97.0)
    a = analyze_campaign(out.reset_index(), 0.34)
    assert a.get("revenue").reason.startswith("too_few_units")
    with pytest.raises(InputError, match="transactions: required column"):
        campaign_outcomes(plan, tx.drop(columns="amount"), start, None, 30, 0.25)
    with pytest.raises(InputError, match="is not after its start"):
        campaign_outcomes(plan, tx, start, start, 30, 0.25)
    tz = tx.assign(ts=tx.ts.dt.tz_localize("UTC"))
    o3 = campaign_outcomes(plan, tz, start, pd.Timestamp("2024-04-01"), 30, 0.25).set_index("customer_id")
    pd.testing.assert_frame_equal(o3, out)

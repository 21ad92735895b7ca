"""Segment rules: each one hit by a crafted customer, precedence, reasons, thresholds, summary, clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.config import load_settings
from offerwise.errors import InputError
from offerwise.features.segments import (
    SEGMENT_ORDER,
    assign_segments,
    cluster_customers,
    segment_summary,
)

BASE = {"tenure_days": 400.0, "recency_days": 5.0, "churn_risk": 0.1, "frequency": 5.0, "monetary": 100.0,
        "discount_share": 0.05, "top_brand_share": 0.3, "top_brand": "B1", "clv_expected": 50.0}


def crafted() -> pd.DataFrame:
    """One customer per rule (defaults: thresholds of SegmentThresholds)."""
    rows = {
        "new": {"tenure_days": 20.0},
        "dormant": {"recency_days": 143.0, "churn_risk": 0.9},  # also at-risk: dormant wins
        "at-risk": {"churn_risk": 0.72},
        "loyal-high-value": {"frequency": 12.0, "monetary": 5000.0, "discount_share": 0.5},  # also deal-seeker
        "deal-seeker": {"discount_share": 0.31, "top_brand_share": 0.9},  # also brand-loyal: deal wins
        "brand-loyal": {"top_brand_share": 0.72, "top_brand": "Private"},
        "regular": {},
    }
    df = pd.DataFrame([{**BASE, **v, "customer_id": k} for k, v in rows.items()])
    # spread spend so that the p75 threshold sits below the loyal customer's 5,000
    extra = pd.DataFrame([{**BASE, "customer_id": f"x{i}", "monetary": 50.0 + i} for i in range(8)])
    return pd.concat([df, extra], ignore_index=True)


def test_each_rule_hit_with_precedence():
    out = assign_segments(crafted(), load_settings()).set_index("customer_id")
    for name in SEGMENT_ORDER:
        assert out.loc[name, "segment"] == name, name


def test_reasons_name_the_numbers():
    out = assign_segments(crafted(), load_settings()).set_index("customer_id")["segment_reason"]
    assert out["new"] == "tenure 20d < 60d"
    assert out["dormant"] == "recency 143d ≥ 90d"
    assert out["at-risk"] == "churn risk 0.72 ≥ 0.50"
    assert out["loyal-high-value"].startswith("12 orders ≥ 8 and spend 5,000 ≥ p75 ")
    assert out["deal-seeker"] == "discount share 0.31 ≥ 0.20"
    assert out["brand-loyal"] == "top brand Private share 0.72 ≥ 0.60"
    assert out["regular"] == "no rule matched"


def test_thresholds_come_from_settings():
    df = crafted()
    s = load_settings(segments={"dormant_days": 200, "new_tenure_days": 10, "at_risk_churn": 0.95})
    out = assign_segments(df, s).set_index("customer_id")
    assert out.loc["new", "segment"] != "new"  # 20 d is no longer new
    assert out.loc["dormant", "segment"] == "regular"  # 143 d < 200 d and churn 0.9 < 0.95
    assert out.loc["at-risk", "segment"] == "regular"


def test_no_orders_is_dormant_and_quantile_ignores_non_buyers():
    df = pd.DataFrame([
        {**BASE, "customer_id": "none", "frequency": 0.0, "monetary": 0.0, "recency_days": 365.0, "churn_risk": 1.0},
        {**BASE, "customer_id": "big", "frequency": 10.0, "monetary": 100.0},
        {**BASE, "customer_id": "small", "frequency": 10.0, "monetary": 10.0},
    ])
    out = assign_segments(df, load_settings(segments={"high_value_quantile": 0.5})).set_index("customer_id")
    assert out.loc["none", "segment"] == "dormant"
    assert out.loc["none", "segment_reason"] == "no order in the look-back window"
    # median over the two buyers = 55: big qualifies, small not
    assert out.loc["big", "segment"] == "loyal-high-value"
    assert out.loc["small", "segment"] == "regular"


def test_unknown_brand_is_not_brand_loyal():
    df = pd.DataFrame([{**BASE, "customer_id": "u", "top_brand": None, "top_brand_share": 0.95}])
    assert assign_segments(df, load_settings())["segment"].iloc[0] == "regular"


def test_missing_columns_raise():
    with pytest.raises(InputError, match="churn_risk"):
        assign_segments(crafted().drop(columns=["churn_risk"]), load_settings())


def test_segment_summary():
    out = assign_segments(crafted(), load_settings())
    summ = segment_summary(out)
    assert list(summ["segment"]) == list(SEGMENT_ORDER)  # precedence order
    assert summ["customers"].sum() == len(out)
    assert summ["share"].sum() == pytest.approx(1.0)
    reg = summ.set_index("segment").loc["regular"]
    members = out[out["segment"] == "regular"]
    assert reg["customers"] == len(members)
    assert reg["avg_spend"] == pytest.approx(members["monetary"].mean())
    assert {"avg_frequency", "avg_discount_share", "avg_churn_risk", "avg_clv"} <= set(summ.columns)


def test_clusters_seeded_and_separate_groups():
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"frequency": rng.normal(2, 0.1, 30), "monetary": rng.normal(50, 1, 30)})
    b = pd.DataFrame({"frequency": rng.normal(40, 0.1, 30), "monetary": rng.normal(3000, 1, 30)})
    df = pd.concat([a, b], ignore_index=True)
    lab1 = cluster_customers(df, k=2, seed=1)
    lab2 = cluster_customers(df, k=2, seed=1)
    np.testing.assert_array_equal(lab1, lab2)
    assert len(set(lab1[:30])) == 1 and len(set(lab1[30:])) == 1 and lab1[0] != lab1[-1]
    with pytest.raises(InputError):
        cluster_customers(df, k=0)

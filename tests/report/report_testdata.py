"""Small synthetic report inputs in the formats the other commands write (no pytest)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

OFFERS = ["pct10", "pct20", "ship_free"]
SEGMENTS = ["loyal high-value", "at-risk", "deal-seeker", "new", "dormant"]


def make_profiles(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "segment": rng.choice(SEGMENTS, size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
            "recency_days": rng.integers(1, 300, n).astype(float),
            "frequency": rng.poisson(6, n).astype(float),
            "monetary": rng.gamma(2.0, 150.0, n),
            "avg_basket": rng.gamma(3.0, 12.0, n),
            "discount_share": rng.beta(2, 8, n),
            "churn_risk": rng.beta(2, 5, n),
            "clv_expected": rng.gamma(2.0, 200.0, n),
            "age": rng.choice(["19-24", "25-34", "35-44", "45-54", "65+"], size=n),
            "income": rng.integers(15, 200, n) * 1000.0,
            "top_category": rng.choice(["dairy", "bakery", "produce", "drinks"], size=n,
                                       p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def make_plan(profiles: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(profiles)
    offer = rng.choice(["none", *OFFERS], size=n, p=[0.4, 0.25, 0.2, 0.15])
    # older customers get fewer offers, so the audit has something to flag
    old = profiles["age"].to_numpy() == "65+"
    offer = np.where(old & (rng.random(n) < 0.7), "none", offer)
    group = np.where(rng.random(n) < 0.1, "holdout", "treatment")
    cost = np.where(offer == "none", 0.0, rng.gamma(2.0, 3.0, n))
    profit = np.where(offer == "none", 0.0, cost * rng.uniform(0.5, 3.0, n))
    reason = np.where(offer == "none", "no offer pays off", "highest incremental profit")
    # a template's concrete category on some offered rows (site-wide elsewhere)
    category = np.where((offer != "none") & (rng.random(n) < 0.3), "dairy", None)
    return pd.DataFrame(
        {
            "customer_id": profiles["customer_id"],
            "offer_id": offer,
            "expected_cost": cost,
            "incremental_profit": profit,
            "group": group,
            "segment": profiles["segment"],
            "reason": reason,
            "category": category,
        }
    )


def make_summary(plan: pd.DataFrame) -> dict[str, Any]:
    t = plan[(plan["group"] == "treatment") & (plan["offer_id"] != "none")]
    return {
        "campaign_id": "spring-2026",
        "budget": 1500.0,
        "objective": "profit",
        "lambda": 0.42,
        "n_customers": len(plan),
        "n_treatment": int((plan["group"] == "treatment").sum()),
        "n_holdout": int((plan["group"] == "holdout").sum()),
        "expected_cost": float(t["expected_cost"].sum()),
        "expected_incremental_profit": float(t["incremental_profit"].sum()),
        "version": "0.1.0",
        "data_fingerprint": "abcdef0123456789",
        "created_at": "2026-11-23T12:00:00Z",
        "seed": 42,
        "margin": {
            "target": 0.22,
            "rate": 0.3,
            "expected": 0.2231,
            "unconstrained": 0.2105,
            "value": 880.0,
            "unconstrained_value": 912.5,
            "value_given_up": 32.5,
            "mu": 0.8,
        },
        "categories": {
            "demand_source": "history",
            "forecast": None,
            "stock_weights": True,
            "rows": [
                {"category": "dairy", "customers": 41, "expected_cost": 120.0,
                 "incremental_profit": 95.5, "expected_revenue": 900.0, "expected_margin": 0.1934,
                 "demand_per_week": 310.0, "on_hand": 4650.0, "weeks_of_cover": 15.0,
                 "weight": 1.875, "stock_status": "overstock", "price_index": 1.04},
                {"category": "(site-wide)", "customers": 120, "expected_cost": 700.0,
                 "incremental_profit": 410.0, "expected_revenue": 5200.0,
                 "expected_margin": 0.2277, "demand_per_week": None, "on_hand": None,
                 "weeks_of_cover": None, "weight": None, "stock_status": None,
                 "price_index": None},
            ],
        },
    }


def make_frontier() -> pd.DataFrame:
    b = np.linspace(0, 3000, 13)
    return pd.DataFrame(
        {
            "budget": b,
            "value": 2000 * (1 - np.exp(-b / 1200)),
            "cost": np.minimum(b, 2200.0),
            "n_treated": (b / 6).astype(int),
        }
    )


def make_curves() -> pd.DataFrame:
    x = np.linspace(0, 1, 21)
    rows = []
    for k, o in enumerate(OFFERS):
        y = (300 + 100 * k) * np.sqrt(x) - 50 * x
        rows.append(pd.DataFrame({"offer_id": o, "fraction": x, "value": y, "random": x * y[-1]}))
    return pd.concat(rows, ignore_index=True)


def make_importance() -> pd.DataFrame:
    feats = [
        "recency_days",
        "frequency",
        "monetary",
        "avg_basket",
        "discount_share",
        "churn_risk",
        "tenure_days",
        "category_share_dairy",
    ]
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        [
            {"offer_id": o, "feature": f, "importance": float(rng.gamma(2.0, 10.0))}
            for o in OFFERS
            for f in feats
        ]
    )


def make_card() -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "data_fingerprint": "abcdef0123456789",
        "learner": "t-learner",
        "n_exposures": 12000,
        "n_holdout": 3000,
        "holdout": {
            "per_offer": {
                o: {
                    "n_treatment": 900,
                    "n_control": 1100,
                    "qini": 120.5 + i,
                    "qini_normalized": 0.31 + 0.1 * i,
                    "auuc_normalized": 0.2,
                    "uplift_at_10": 1.5,
                }
                for i, o in enumerate(OFFERS)
            }
        },
        "warnings": ["offer ship_free: few exposures <b>(escaped?)</b>"],
        "identification": {
            "logging": "observational",
            "logging_reason": "the exposures carry no propensities",
            "overlap": [{"offer": OFFERS[0], "n_offer": 900, "n_none": 1100,
                         "quantiles": {"p05": 0.01, "p25": 0.2, "p50": 0.45, "p75": 0.7,
                                       "p95": 0.99},
                         "share_outside": 0.3, "share_extreme": 0.12, "ess_offer": 310.0,
                         "ess_none": 800.0}],
            "balance": [],
            "placebo": {"outcome": "net_profit", "window_days": 30, "estimate": 4.25,
                        "ci_low": 3.1, "ci_high": 5.4, "p_value": 1e-6, "n": 12000},
            "sensitivity": None,
            "verdict": "unreliable",
            "reasons": ["placebo failed: offered customers differed already before the offer"],
        },
    }


def _lift(
    metric: str,
    dimension: str,
    level: str,
    lift: float,
    half: float,
    base: float,
    cuped: bool = False,
) -> dict[str, Any]:
    """One result in the shape of ``LiftResult.to_dict()``."""
    return {
        "metric": metric,
        "dimension": dimension,
        "level": level,
        "n_treatment": 900,
        "n_holdout": 100,
        "mean_treatment": base + lift,
        "mean_holdout": base,
        "abs_lift": lift,
        "abs_se": half / 1.96,
        "abs_ci_low": lift - half,
        "abs_ci_high": lift + half,
        "p_value": 0.03,
        "rel_lift": lift / base,
        "rel_ci_low": (lift - half) / base,
        "rel_ci_high": (lift + half) / base,
        "cuped_abs_lift": lift if cuped else None,
        "cuped_se": half / 2 / 1.96 if cuped else None,
        "cuped_ci_low": lift - half / 2 if cuped else None,
        "cuped_ci_high": lift + half / 2 if cuped else None,
        "variance_reduction": 0.6 if cuped else None,
        "reason": None,
        "notes": [],
    }


def make_analysis() -> dict[str, Any]:
    """A campaign analysis in the shape of ``CampaignAnalysis.to_dict()``."""
    results = [
        _lift("converted", "overall", "all", 0.012, 0.01, 0.11),
        _lift("revenue", "overall", "all", 3.5, 2.0, 40.0, cuped=True),
        _lift("discount_cost", "overall", "all", 2.0, 0.3, 0.5),
        _lift("net_profit", "overall", "all", 2.1, 1.7, 10.0, cuped=True),
    ]
    results += [_lift("net_profit", "offer", o, 1.0 + i, 1.5, 10.0) for i, o in enumerate(OFFERS)]
    results += [
        _lift("net_profit", "segment", s, 0.5 * i - 0.5, 1.5, 10.0) for i, s in enumerate(SEGMENTS)
    ]
    results.append(
        {
            **_lift("net_profit", "segment", "tiny", 0.0, 0.0, 10.0),
            "abs_lift": None,
            "abs_ci_low": None,
            "abs_ci_high": None,
            "reason": "too_few_units",
        }
    )
    return {
        "n_customers": 1000,
        "n_treatment": 921,
        "n_holdout": 79,
        "alpha": 0.05,
        "srm": {
            "n_treatment": 921,
            "n_holdout": 79,
            "expected_holdout_fraction": 0.1,
            "observed_holdout_fraction": 0.079,
            "chi2": 4.9,
            "p_value": 0.0004,
            "mismatch": True,
        },
        "roi": {
            "n_treatment": 921,
            "discount_cost_treatment": 2300.0,
            "incremental_discount_cost": 1842.0,
            "incremental_revenue": 3223.5,
            "incremental_net_profit": 1934.1,
            "incremental_net_profit_ci_low": 368.0,
            "incremental_net_profit_ci_high": 3500.0,
            "roi": 1.05,
            "roi_ci_low": 0.2,
            "roi_ci_high": 1.9,
            "cuped": True,
            "reason": None,
        },
        "results": results,
        "warnings": ["sample ratio mismatch: 79 of 1000 customers in holdout <script>x</script>"],
    }

"""Test data of the assistant tests: a tiny shop (offers with every kind of term) and a plan with
its summary sidecar (the profit UNVERIFIED)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

OFFERS = pd.DataFrame(
    {
        "offer_id": ["pct10", "pct20", "amt5", "spend50save10", "freeship", "fresh20"],
        "kind": [
            "percent_off",
            "percent_off",
            "amount_off",
            "spend_threshold",
            "free_shipping",
            "percent_off",
        ],
        "value": [0.10, 0.20, 5.0, 10.0, 4.95, 0.20],
        "min_spend": [0.0, 0.0, 20.0, 50.0, 0.0, 0.0],
        "category": [None, None, None, None, None, "fresh"],
    }
)

SUMMARY = {
    "campaign_id": "p",
    "budget": 5000.0,
    "objective": "profit",
    "n_customers": 40,
    "n_treatment": 36,
    "n_holdout": 4,
    "expected_cost": 1234.5,
    "expected_incremental_profit": 987.25,
    "holdout_fraction": 0.1,
    "as_of": "2026-02-26T00:00:00",
    "explore": 0.0,
    "n_explore": 0,
    "cost": {
        "expected": 1500.0,
        "ci_low": 1200.0,
        "ci_high": 1800.0,
        "level": 0.9,
        "p_over_budget": 0.0,
        "planning_budget": 5000.0,
    },
    "claims": {
        "verdict": "unidentified",
        "verified": False,
        "reasons": ["no propensities were logged and the placebo failed"],
        "estimate": None,
        "estimate_note": "",
        "experiment": "a holdout of 30% detects the expected effect",
    },
}


def write_shop(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "signup_ts": pd.Timestamp("2025-01-01"),
            "age": ["18-34", "35-54", "55+", "35-54"] * 10,
        }
    )
    customers.to_parquet(path / "customers.parquet", index=False)
    OFFERS.to_parquet(path / "offers.parquet", index=False)
    return path


def write_plan(path: Path, summary: dict[str, object] | None = None) -> Path:
    """A plan of 40 customers over four (offer, segment) pairs, with its summary sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    offers = ["pct10", "amt5", "fresh20", "spend50save10", "none"] * 8
    segs = ["dormant", "regular", "loyal-high-value", "dormant", "regular"] * 8
    plan = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(40)],
            "offer_id": offers,
            "expected_cost": 1.0,
            "incremental_profit": 2.0,
            "group": ["treatment"] * 36 + ["holdout"] * 4,
            "segment": segs,
        }
    )
    plan.to_parquet(path, index=False)
    path.with_name(path.stem + ".summary.json").write_text(json.dumps(summary or SUMMARY))
    return path

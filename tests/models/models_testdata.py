"""Small simulated offer logs with known effects, for the model tests (imported by conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MARGIN = 0.3
OFFERS = {"p10": 0.10, "p20": 0.20}


@dataclass
class Logs:
    customers: pd.DataFrame
    offers: pd.DataFrame
    exposures: pd.DataFrame
    truth: pd.DataFrame  # customer_id, offer_id, incremental_profit, incremental_conversion


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def true_effects(cust: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per action: (p_convert, basket, discount rate) for each customer row."""
    x1, x2, x3 = (cust[c].to_numpy() for c in ("x1", "x2", "x3"))
    base = _sigmoid(-1.0 + 0.8 * x1)
    basket = 50.0 * np.exp(0.3 * x1)
    lift = {"p10": 0.25 * (x2 > 0), "p20": 0.35 * _sigmoid(2 * x3)}
    out = {"none": (base, basket, np.zeros(len(cust)))}
    for o, v in OFFERS.items():
        out[o] = (np.clip(base + lift[o], 0, 1), basket, np.full(len(cust), v))
    return out


def make_logs(n_customers: int = 2000, n_exposures: int = 6000, seed: int = 0,
              logging: str = "random") -> Logs:
    rng = np.random.default_rng(seed)
    cust = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n_customers)],
        "x1": rng.normal(size=n_customers),
        "x2": rng.normal(size=n_customers),
        "x3": rng.normal(size=n_customers),
        "region": rng.choice(["north", "south", "east"], size=n_customers),
        "age": rng.integers(18, 80, size=n_customers),  # protected: never a feature by default
    })
    eff = true_effects(cust)
    idx = rng.integers(0, n_customers, size=n_exposures)
    actions = ["none", *OFFERS]
    if logging == "random":
        P = np.full((n_exposures, 3), 1 / 3)
    else:  # targeted: high x1 customers get more offers
        z = cust["x1"].to_numpy()[idx]
        w = np.column_stack([np.ones_like(z), np.exp(0.8 * z), np.exp(0.4 * z)])
        P = w / w.sum(1, keepdims=True)
    a = (rng.random(n_exposures)[:, None] > P.cumsum(1)).sum(1)
    offer = np.array(actions, dtype=object)[a]
    conv = np.zeros(n_exposures)
    basket = np.zeros(n_exposures)
    rate = np.zeros(n_exposures)
    for j, o in enumerate(actions):
        m = a == j
        p, b, r = (v[idx[m]] for v in eff[o])
        conv[m] = rng.random(m.sum()) < p
        basket[m] = b * rng.lognormal(0, 0.2, m.sum())
        rate[m] = r
    spend = conv * basket
    exposures = pd.DataFrame({
        "customer_id": cust["customer_id"].to_numpy()[idx],
        "offer_id": offer,
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n_exposures), unit="D"),
        "propensity": P[np.arange(n_exposures), a],
        "converted": conv.astype(int),
        "revenue": spend * (1 - rate),
        "discount_cost": spend * rate,
        "gross_profit": MARGIN * spend,
    })
    rows = []
    p0, b0, _ = eff["none"]
    for o in OFFERS:
        p, b, r = eff[o]
        rows.append(pd.DataFrame({
            "customer_id": cust["customer_id"],
            "offer_id": o,
            "incremental_conversion": p - p0,
            "incremental_profit": p * b * (MARGIN - r) - p0 * b0 * MARGIN,
        }))
    offers = pd.DataFrame({"offer_id": list(OFFERS), "kind": "percent_off",
                           "value": list(OFFERS.values()), "min_spend": 0.0})
    return Logs(cust, offers, exposures, pd.concat(rows, ignore_index=True))


def write_dir(logs: Logs, path: Path, *, exposures: pd.DataFrame | None = None,
              offers: pd.DataFrame | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    logs.customers.to_parquet(path / "customers.parquet", index=False)
    (logs.offers if offers is None else offers).to_parquet(path / "offers.parquet", index=False)
    (logs.exposures if exposures is None else exposures).to_parquet(
        path / "exposures.parquet", index=False)
    return path



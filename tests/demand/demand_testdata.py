"""Small contract-shaped shops for the demand tests (built in the test, seeded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def lines(rows: list[tuple[str, str, str, float, float, float]]) -> pd.DataFrame:
    """Transaction lines from (product_id, category, ts, quantity, amount, discount)."""
    df = pd.DataFrame(rows, columns=["product_id", "category", "ts", "quantity", "amount", "discount"])
    df["ts"] = pd.to_datetime(df["ts"])
    return df


def weekly_shop(root: Path, n_weeks: int = 30, seed: int = 0, start: str = "2024-01-01") -> Path:
    """A shop with two categories (``A``: period-4 pattern, ``B``: level + noise), four products,
    one line per product per day, ``n_weeks`` weeks from ``start`` (a Monday)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, periods=7 * n_weeks, freq="D")
    prods = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    rows = []
    for d_i, day in enumerate(days):
        w = d_i // 7
        for p, c in prods.items():
            q = (1 + w % 4) if c == "A" else int(rng.integers(3, 8))
            rows.append(("c1", f"o{d_i}", p, day + pd.Timedelta(hours=10), float(q), float(q) * 2.0, 0.0))
    tx = pd.DataFrame(rows, columns=["customer_id", "order_id", "product_id", "ts", "quantity", "amount", "discount"])
    return write_shop(root, tx, pd.DataFrame({"product_id": list(prods), "category": list(prods.values())}))


def write_shop(root: Path, tx: pd.DataFrame | None, products: pd.DataFrame) -> Path:
    """Write customers, offers, products and (if given) transactions as Parquet into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    ids = sorted(set(tx["customer_id"])) if tx is not None else ["c1"]
    pd.DataFrame({"customer_id": ids}).to_parquet(root / "customers.parquet", index=False)
    pd.DataFrame({"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1]}).to_parquet(
        root / "offers.parquet", index=False)
    products.to_parquet(root / "products.parquet", index=False)
    if tx is not None:
        tx.to_parquet(root / "transactions.parquet", index=False)
    return root

"""The placebo's pre-period net profit and the power text's outcome sd: hand-worked values, and
the same numbers whatever the order of the transaction lines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from offerwise.data.contract import dataset_from_frames
from offerwise.workflows.claims import outcome_sd
from offerwise.workflows.identify import pre_period_net_profit

MARGIN = 0.3
AS_OF = pd.Timestamp("2024-03-31")


def _lines(n_lines: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.choice(["c1", "c2", "c3", "c4"], n_lines),
            "order_id": [f"o{i}" for i in range(n_lines)],
            "product_id": "p1",
            "ts": AS_OF - pd.to_timedelta(rng.integers(1, 60, n_lines), unit="D"),
            "quantity": 1.0,
            # cents-like values whose double sums depend on the order they are added in
            "amount": rng.choice([0.1, 0.2, 0.3, 0.7, 1234.56], n_lines),
            "discount": rng.choice([0.0, 0.1, 0.05], n_lines),
        }
    )


def _dataset(tx: pd.DataFrame):  # noqa: ANN202 - DataSet
    return dataset_from_frames(
        {
            "customers": pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4", "c5"]}),
            "products": pd.DataFrame({"product_id": ["p1"], "category": ["A"]}),
            "transactions": tx,
            "offers": pd.DataFrame({"offer_id": ["o10"], "kind": ["percent_off"], "value": [0.1]}),
        }
    )


def _by_hand(tx: pd.DataFrame, customer: str, start: pd.Timestamp, end: pd.Timestamp) -> float:
    w = tx[(tx.customer_id == customer) & (tx.ts >= start) & (tx.ts < end)]
    return MARGIN * math.fsum(w.amount + w.discount) - math.fsum(w.discount)


def test_pre_period_net_profit_is_the_windows_margin_less_discount() -> None:
    tx = _lines(400, seed=1)
    keys = pd.DataFrame(
        {"customer_id": ["c1", "c2", "c5", "c3"], "ts": [AS_OF, AS_OF - pd.Timedelta(days=20)] * 2}
    )
    got = pre_period_net_profit(_dataset(tx), keys, 30, MARGIN)
    want = [
        _by_hand(tx, c, t - pd.Timedelta(days=30), t) for c, t in zip(keys.customer_id, keys.ts)
    ]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)
    assert got[2] == 0.0  # c5 bought nothing


def test_outcome_sd_is_the_sample_sd_over_every_customer() -> None:
    tx = _lines(400, seed=2)
    y = [
        _by_hand(tx, c, AS_OF - pd.Timedelta(days=30), AS_OF)
        for c in ["c1", "c2", "c3", "c4", "c5"]
    ]
    assert outcome_sd(_dataset(tx), AS_OF, 30, MARGIN) == pytest.approx(
        np.std(y, ddof=1), rel=1e-12
    )


def test_net_profit_does_not_depend_on_the_order_of_the_lines() -> None:
    tx = _lines(5000, seed=3)
    keys = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "ts": AS_OF})
    sds, pres = set(), set()
    for seed in range(4):
        shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        ds = _dataset(shuffled)
        ds.con.execute("SET threads = 2")
        sds.add(outcome_sd(ds, AS_OF, 45, MARGIN))
        pres.add(tuple(pre_period_net_profit(ds, keys, 45, MARGIN)))
    assert len(sds) == 1
    assert len(pres) == 1

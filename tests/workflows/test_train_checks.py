"""Too few logged exposures to learn from: `train` says so before any work, with each offer's
count, and a cross-fitting fold that falls short says it is a fold (its counts are not the data's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.workflows.train import check_enough_treated, train


def test_check_enough_treated_names_every_offers_count() -> None:
    logged = pd.Series(["t3"] * 14 + ["t2"] * 9 + ["t1"] * 8 + ["none"] * 10)
    with pytest.raises(InputError) as ei:
        check_enough_treated(logged, ["t1", "t2", "t3", "t4"], 50)
    msg = str(ei.value)
    assert "at least 50 logged exposures (75 with cross-fitting" in msg
    assert "the most logged has 14 (t3 14, t2 9, t1 8, t4 0; 10 with no offer)" in msg
    check_enough_treated(pd.Series(["t1"] * 50), ["t1", "t2"], 50)  # one offer is enough


def _shop(d: Path, n_by_offer: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    offer = np.concatenate([[o] * k for o, k in n_by_offer.items()])
    n = len(offer)
    ids = [f"c{i}" for i in range(n)]
    d.mkdir()
    pd.DataFrame({"customer_id": ids, "x1": rng.normal(size=n)}).to_parquet(
        d / "customers.parquet", index=False)
    pd.DataFrame({"offer_id": ["t1", "t2"], "kind": ["percent_off"] * 2,
                  "value": [0.05, 0.1]}).to_parquet(d / "offers.parquet", index=False)
    y = (rng.random(n) < 0.4).astype(float)
    pd.DataFrame({"customer_id": ids, "offer_id": offer, "ts": pd.Timestamp("2024-01-01"),
                  "converted": y, "revenue": 10 * y, "discount_cost": 0.0,
                  "gross_profit": 3 * y}).to_parquet(d / "exposures.parquet", index=False)
    return d


def test_train_on_too_few_exposures_fails_before_any_work(tmp_path: Path) -> None:
    d = _shop(tmp_path / "tiny", {"t1": 20, "t2": 12, "none": 30})
    with pytest.raises(InputError, match=r"the most logged has 20 \(t1 20, t2 12; 30 with no offer\)"):
        train(d, tmp_path / "m", tune_mode="off")
    assert not (tmp_path / "m").exists()


def test_a_fold_that_falls_short_says_it_is_a_fold(tmp_path: Path) -> None:
    # 60 exposures of t1: enough for the data, not for a fold that learns from two thirds of them
    d = _shop(tmp_path / "thin", {"t1": 60, "none": 150})
    with pytest.raises(InputError, match=r"cross-fitting fold \d/3, fitted on \d+ of the 210 exposures"):
        train(d, tmp_path / "m", tune_mode="off")
    assert not (tmp_path / "m").exists()

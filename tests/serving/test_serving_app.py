"""In-process API tests (TestClient): decisions, coupons, ledger, errors, export, plan loading."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_testlib import DRIVERS, make_inputs

from offerwise.errors import ConfigError, DataContractError
from offerwise.serving import ServeSettings, create_api_key, create_app, export_exposures
from offerwise.serving.storage import load_plan, make_engine, migrate


def _client(tmp_path: Path, **kw) -> tuple[TestClient, str, dict[str, str]]:
    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/ow.db"
    s = ServeSettings(plan=plan, model_dir=model, db_url=db, **kw)
    app = create_app(s)
    client = TestClient(app)
    client.__enter__()
    admin = create_api_key(db, "admin", ["admin"])
    decide = create_api_key(db, "checkout", ["decide"])
    return client, db, {"admin": admin, "decide": decide}


@pytest.fixture()
def api(tmp_path: Path):
    client, db, keys = _client(tmp_path)
    yield client, db, keys
    client.__exit__(None, None, None)


def H(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, **extra}


CART = {"total": 40.0, "lines": [{"product_id": "p1", "category": "DAIRY", "quantity": 2, "unit_price": 20.0}]}


def test_offer_is_stable_and_coupon_issued_once(api) -> None:
    client, db, keys = api
    r1 = client.get("/v1/customers/c2/offer", headers=H(keys["decide"]))
    r2 = client.get("/v1/customers/c2/offer", headers=H(keys["decide"]))
    assert r1.status_code == 200 and r1.json() == r2.json()
    body = r1.json()
    assert body["offer"]["offer_id"] == "save10" and body["coupon"]["code"] and body["propensity"] == 1.0
    assert body["reason"] == "test"  # the plan row's reason code
    assert body["drivers"] == json.loads(DRIVERS)  # the plan row's value drivers
    # holdout (c0), plan 'none' (c1) and unknown customers: 200 with offer null
    for cid, grp, why in (("c0", "holdout", "holdout"), ("c1", "treatment", "test"),
                          ("zz-new", "cold_start", "cold_start")):
        b = client.get(f"/v1/customers/{cid}/offer", headers=H(keys["decide"])).json()
        assert b["offer"] is None and b["coupon"] is None and b["group"] == grp and b["reason"] == why
        assert b["drivers"] is None
    # first asks are recorded behind the answer (write-behind, 20 ms linger): wait for the records
    import time

    deadline = time.monotonic() + 5
    while True:
        camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
        if (camp["offers_issued"], camp["exposures"]) == (1, 4) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert camp["offers_issued"] == 1 and camp["exposures"] == 4 and camp["budget"] == 1000.0


def test_answer_stands_while_its_record_lingers_and_the_campaign_is_reread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second ask that comes while the first ask's write-behind record has not landed, and the
    active campaign is due a re-read, gets the same answer (not a second decision)."""
    from offerwise.serving.service import OfferService

    monkeypatch.setattr(OfferService, "RECORD_LINGER_S", 1.0)  # the record lands a second later
    client, db, keys = _client(tmp_path)
    try:
        service = client.app.state.service
        first = client.get("/v1/customers/c2/offer", headers=H(keys["decide"])).json()
        service._refreshed -= 10 * OfferService.CAMPAIGN_TTL_S  # the campaign is due a re-read
        assert client.get("/v1/customers/c2/offer", headers=H(keys["decide"])).json() == first
    finally:
        client.__exit__(None, None, None)


def test_expired_coupon_is_renewed_on_the_next_ask(tmp_path: Path) -> None:
    """After its expiry an unused coupon is replaced by a fresh one (new code, new expiry) for the
    same offer; the old one stays and validates as expired; the decision (exposure) is unchanged."""
    import time

    client, db, keys = _client(tmp_path, coupon_ttl_days=1.5 / 86400)  # 1.5 s
    try:
        first = client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()
        assert client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json() == first
        old = first["coupon"]["code"]
        time.sleep(max(0.0, pd.Timestamp(first["coupon"]["expires_at"]).timestamp() - time.time()) + 0.1)
        second = client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()
        assert second["coupon"]["code"] != old
        assert second["coupon"]["expires_at"] > first["coupon"]["expires_at"]
        assert pd.Timestamp(second["coupon"]["expires_at"]).timestamp() > time.time()
        assert {k: second[k] for k in ("offer", "propensity", "decided_at", "group")} == \
            {k: first[k] for k in ("offer", "propensity", "decided_at", "group")}
        assert client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json() == second
        v = client.post(f"/v1/coupons/{old}/validate", json=CART, headers=H(keys["decide"])).json()
        assert not v["valid"] and v["reason"] == "expired"
        r = client.post(f"/v1/coupons/{old}/redeem", json=CART,
                        headers=H(keys["decide"], **{"Idempotency-Key": "old"}))
        assert r.status_code == 409 and r.json()["reason"] == "expired"
        new = second["coupon"]["code"]
        v = client.post(f"/v1/coupons/{new}/validate", json=CART, headers=H(keys["decide"])).json()
        assert v["valid"] and v["discount"] == 10.0
        camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
        assert camp["offers_issued"] == 2 and camp["exposures"] == 1
    finally:
        client.__exit__(None, None, None)


def test_used_up_coupon_is_not_renewed(tmp_path: Path) -> None:
    import time

    client, db, keys = _client(tmp_path, coupon_ttl_days=1.5 / 86400)
    try:
        first = client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()
        code = first["coupon"]["code"]
        r = client.post(f"/v1/coupons/{code}/redeem", json=CART, headers=H(keys["decide"], **{"Idempotency-Key": "u"}))
        assert r.status_code == 200
        time.sleep(max(0.0, pd.Timestamp(first["coupon"]["expires_at"]).timestamp() - time.time()) + 0.1)
        assert client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()["coupon"]["code"] == code
    finally:
        client.__exit__(None, None, None)


def test_validate_redeem_rollback_ledger(api) -> None:
    client, db, keys = api
    code = client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()["coupon"]["code"]
    v = client.post(f"/v1/coupons/{code}/validate", json=CART, headers=H(keys["decide"])).json()
    assert v["valid"] and v["discount"] == 10.0
    r = client.post(f"/v1/coupons/{code}/redeem", json=CART, headers=H(keys["decide"], **{"Idempotency-Key": "k1"}))
    assert r.status_code == 200 and r.json()["discount"] == 10.0
    again = client.post(f"/v1/coupons/{code}/redeem", json=CART,
                        headers=H(keys["decide"], **{"Idempotency-Key": "k1"}))
    assert again.json() == r.json() and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(f"/v1/coupons/{code}/redeem", json={**CART, "total": 41.0},
                        headers=H(keys["decide"], **{"Idempotency-Key": "k1"}))
    assert other.status_code == 409 and other.json()["type"].endswith("idempotency-key-reused")
    second = client.post(f"/v1/coupons/{code}/redeem", json=CART,
                         headers=H(keys["decide"], **{"Idempotency-Key": "k2"}))
    assert second.status_code == 409 and second.json()["reason"] == "already_redeemed"
    assert second.headers["content-type"].startswith("application/problem+json")
    v = client.post(f"/v1/coupons/{code}/validate", json=CART, headers=H(keys["decide"])).json()
    assert not v["valid"] and v["reason"] == "already_redeemed"
    camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
    assert camp["spent"] == 10.0 and camp["redemptions"] == 1
    rb = client.post(f"/v1/coupons/{code}/rollback", json={}, headers=H(keys["decide"]))
    assert rb.status_code == 200 and rb.json()["refunded"] == 10.0
    rb2 = client.post(f"/v1/coupons/{code}/rollback", json={"redemption_id": r.json()["redemption_id"]},
                      headers=H(keys["decide"]))
    assert rb2.json()["already_rolled_back"] and rb2.json()["refunded"] == 0.0
    assert client.post(f"/v1/coupons/{code}/rollback", headers=H(keys["decide"])).status_code == 409
    camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
    assert camp["spent"] == 0.0 and camp["redemptions"] == 0


def test_validate_reasons(api) -> None:
    client, db, keys = api
    code = client.get("/v1/customers/c3/offer", headers=H(keys["decide"])).json()["coupon"]["code"]
    v = client.post(f"/v1/coupons/{code}/validate", json={"total": 0.0, "lines": []},
                    headers=H(keys["decide"])).json()
    assert not v["valid"] and v["reason"] == "nothing_to_discount"
    r = client.post("/v1/coupons/NOPE-NOPE/validate", json=CART, headers=H(keys["decide"]))
    assert r.status_code == 404 and r.json()["status"] == 404 and r.json()["instance"]


def test_auth_and_validation_errors(tmp_path: Path) -> None:
    client, db, keys = _client(tmp_path)
    try:
        assert client.get("/health").status_code == 200
        r = client.get("/v1/customers/c2/offer")
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/customers/c2/offer", headers=H("ow_0123456789abcdef_wrong")).status_code == 401
        # the same key as a bearer token; a wrong one, or another scheme, is still refused
        bearer = {"Authorization": f"Bearer {keys['decide']}"}
        assert client.get("/v1/customers/c2/offer", headers=bearer).status_code == 200
        assert client.get("/v1/campaigns/camp-1", headers=bearer).status_code == 403
        r = client.get("/v1/customers/c2/offer", headers={"Authorization": "Bearer ow_0123456789abcdef_wrong"})
        assert r.status_code == 401 and r.json()["type"].endswith("invalid-api-key")
        r = client.get("/v1/customers/c2/offer", headers={"Authorization": f"Basic {keys['decide']}"})
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
        assert client.get("/v1/campaigns/camp-1", headers=H(keys["decide"])).status_code == 403
        r = client.post("/v1/coupons/X/validate", json={"total": -1}, headers=H(keys["decide"]))
        assert r.status_code == 422 and r.json()["errors"]
        r = client.post("/v1/coupons/X/redeem", json=CART, headers=H(keys["decide"]))  # no Idempotency-Key
        assert r.status_code == 422
        assert client.get("/v1/campaigns/nope", headers=H(keys["admin"])).status_code == 404
        slow = create_api_key(db, "slow", ["decide"], rate_per_s=0.01, burst=2)
        codes = [client.get("/v1/customers/c2/offer", headers=H(slow)).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
    finally:
        client.__exit__(None, None, None)


def test_events_and_export(tmp_path: Path) -> None:
    client, db, keys = _client(tmp_path, epsilon=0.5)
    try:
        decisions = {c: client.get(f"/v1/customers/{c}/offer", headers=H(keys["decide"])).json()
                     for c in [f"c{i}" for i in range(20)]}
        explored = [d for d in decisions.values() if d["explored"]]
        assert explored, "with epsilon=0.5 some of 16 treatment customers are explored"
        d = decisions["c3"]
        ts = (pd.Timestamp(d["decided_at"]) + pd.Timedelta(minutes=5)).isoformat()
        ev = {"events": [
            {"order_id": "o1", "customer_id": "c3", "ts": ts, "revenue": 30.0, "discount": 0},
            {"order_id": "o2", "customer_id": "c4", "ts": "2000-01-01T00:00:00Z", "revenue": 99.0},
        ]}
        assert client.post("/v1/events", json=ev, headers=H(keys["admin"])).json() == {"accepted": 2, "duplicates": 0}
        assert client.post("/v1/events", json=ev, headers=H(keys["admin"])).json() == {"accepted": 0, "duplicates": 2}
        assert client.post("/v1/events", json=ev, headers=H(keys["decide"])).status_code == 403
        if d["coupon"]:
            client.post(f"/v1/coupons/{d['coupon']['code']}/redeem", json=CART,
                        headers=H(keys["decide"], **{"Idempotency-Key": "e1"}))
        for _ in range(50):  # decisions are recorded behind the answer (write-behind): wait for them
            exported = export_exposures(db, tmp_path / "export")
            df = pd.read_parquet(exported.path)
            if len(df) == 20:
                break
            time.sleep(0.1)
        assert len(df) == 20 and set(df["customer_id"]) == set(decisions)
        # the frame handed back (what `cycle` merges) is the file's, values and types
        pd.testing.assert_frame_equal(exported.frame, df)
        assert (exported.rows, exported.converted) == (20, int(df["converted"].sum()))
        row = df.set_index("customer_id").loc["c3"]
        assert row["converted"] == 1 and row["revenue"] == 30.0
        assert df.set_index("customer_id").loc["c4", "converted"] == 0  # order before the decision
        for cid, dec in decisions.items():
            r = df.set_index("customer_id").loc[cid]
            assert r["propensity"] == pytest.approx(dec["propensity"])
            assert r["offer_id"] == (dec["offer"]["offer_id"] if dec["offer"] else "none")
        assert ((df["propensity"] > 0) & (df["propensity"] <= 1)).all()
    finally:
        client.__exit__(None, None, None)


def test_plan_load_idempotent_and_checked(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    eng = make_engine(f"sqlite:///{tmp_path}/p.db")
    migrate(eng)
    a = load_plan(eng, plan, model)
    b = load_plan(eng, plan, model, budget=500.0)
    assert a.created and not b.created and b.budget_cents == 50_000
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM assignments").scalar() == 50
    df = pd.read_parquet(plan)
    df.loc[2, "offer_id"] = "ghost"
    df.to_parquet(tmp_path / "bad.parquet")
    (tmp_path / "bad.summary.json").write_text(json.dumps({"campaign_id": "x", "budget": 1}))
    with pytest.raises(DataContractError, match="ghost"):
        load_plan(eng, tmp_path / "bad.parquet", model)
    df.loc[2, "offer_id"] = "pct10"
    df.to_parquet(tmp_path / "other.parquet")
    (tmp_path / "other.summary.json").write_text(json.dumps({"campaign_id": "camp-1", "budget": 1}))
    with pytest.raises(ConfigError, match="different plan"):
        load_plan(eng, tmp_path / "other.parquet", model)
    # malformed value drivers: refused, naming the column, the rows and an example; nothing loaded
    df.loc[2, "offer_id"] = "save10"
    df["drivers"] = df["drivers"].astype(object)
    df.loc[[3, 4], "drivers"] = '{"feature": "x"}'
    df.to_parquet(tmp_path / "drv.parquet")
    (tmp_path / "drv.summary.json").write_text(json.dumps({"campaign_id": "drv", "budget": 1}))
    with pytest.raises(DataContractError, match=r"drivers.*2 row") as err:
        load_plan(eng, tmp_path / "drv.parquet", model)
    assert "feature" in str(err.value)
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM campaigns WHERE campaign_id = 'drv'").scalar() == 0


def test_a_worker_starting_after_a_swap_does_not_undo_it(tmp_path: Path, caplog) -> None:
    """Every worker loads its configured plan at startup; one that starts late (or that uvicorn
    restarts) after ``POST /v1/admin/plan`` must keep the swapped-in campaign active."""
    p1, model = make_inputs(tmp_path / "one", campaign_id="camp-1")
    p2, _ = make_inputs(tmp_path / "two", campaign_id="camp-2")
    p3, _ = make_inputs(tmp_path / "three", campaign_id="camp-3")
    db = f"sqlite:///{tmp_path}/ow.db"

    def served(client: TestClient, key: str, who: str) -> str:
        r = client.get(f"/v1/customers/{who}/offer", headers=H(key))
        assert r.status_code == 200, r.text
        return r.json()["campaign_id"]

    first = TestClient(create_app(ServeSettings(plan=p1, model_dir=model, db_url=db)))
    with first:
        admin = create_api_key(db, "admin", ["admin"])
        decide = create_api_key(db, "checkout", ["decide"])
        assert served(first, decide, "c3") == "camp-1"
        r = first.post("/v1/admin/plan", headers=H(admin), json={"plan": str(p2), "model_dir": str(model)})
        assert r.status_code == 200 and r.json()["campaign_id"] == "camp-2", r.text
        late = TestClient(create_app(ServeSettings(plan=p1, model_dir=model, db_url=db)))
        with caplog.at_level("WARNING", logger="offerwise.serving"), late:
            assert served(late, decide, "c4") == "camp-2"
        assert "is not made active again: campaign 'camp-2' was swapped in since" in caplog.text
        first.app.state.service.refresh()
        assert served(first, decide, "c5") == "camp-2"
    # a new plan at a worker's startup is made active; so is any plan loaded explicitly
    with TestClient(create_app(ServeSettings(plan=p3, model_dir=model, db_url=db))) as third:
        assert served(third, decide, "c6") == "camp-3"
    eng = make_engine(db)
    got = load_plan(eng, p1, model)
    assert got.active and not got.created and got.previous_campaign_id == "camp-3"
    got = load_plan(eng, p2, model, take_over=False)
    assert not got.active and got.previous_campaign_id == "camp-1"
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT campaign_id FROM campaigns WHERE active = 1").scalar() == "camp-1"
    eng.dispose()


def test_plan_propensities_are_served_logged_and_exported(tmp_path: Path) -> None:
    """A plan made with `offerwise plan --explore` carries each row's probability; with the
    service's own ε = 0 the logged propensity is exactly the plan's, and export returns it."""
    plan, model = make_inputs(tmp_path)
    df = pd.read_parquet(plan)
    df["propensity"] = np.where(df["group"] == "holdout", 1.0, 0.25 + 0.5 * (np.arange(len(df)) % 2))
    df.to_parquet(plan, index=False)
    db = f"sqlite:///{tmp_path}/ow.db"
    client = TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db, epsilon=0.0)))
    client.__enter__()
    try:
        key = create_api_key(db, "checkout", ["decide"])
        ids = [f"c{i}" for i in range(20)]
        got = {c: client.get(f"/v1/customers/{c}/offer", headers=H(key)).json() for c in ids}
        want = df.set_index("customer_id")["propensity"]
        for c, d in got.items():
            expected = 1.0 if want.index.get_loc(c) % 5 == 0 else want[c]
            assert d["propensity"] == pytest.approx(expected), c
        for _ in range(50):  # decisions are recorded behind the answer (write-behind)
            out = pd.read_parquet(export_exposures(db, tmp_path / "export").path).set_index("customer_id")
            if len(out) == len(ids):
                break
            time.sleep(0.1)
        for c, d in got.items():
            assert out.loc[c, "propensity"] == pytest.approx(d["propensity"])
    finally:
        client.__exit__(None, None, None)
    # a propensity outside (0, 1] is refused at plan load, naming the column
    df.loc[3, "propensity"] = 0.0
    df.to_parquet(plan, index=False)
    eng = make_engine(f"sqlite:///{tmp_path}/bad.db")
    migrate(eng)
    with pytest.raises(DataContractError, match="propensit"):
        load_plan(eng, plan, model)


def _newcomer_client(tmp_path: Path, **kw) -> tuple[TestClient, dict[str, str]]:
    plan, model = make_inputs(tmp_path)
    side = tmp_path / "plan.summary.json"
    summary = json.loads(side.read_text())
    summary["newcomer"] = {"offer_id": "pct10", "eligible": ["pct10", "save10"], "value": 3.0,
                           "expected_cost": 1.0, "lambda": 0.5, "reason": "best_net_of_budget_price"}
    side.write_text(json.dumps(summary))
    db = f"sqlite:///{tmp_path}/ow.db"
    client = TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db, **kw)))
    client.__enter__()
    return client, {"decide": create_api_key(db, "checkout", ["decide"])}


def test_customers_without_a_plan_row_get_the_plans_newcomer_decision(tmp_path: Path) -> None:
    client, keys = _newcomer_client(tmp_path)
    try:
        b = client.get("/v1/customers/signed-up-today/offer", headers=H(keys["decide"])).json()
        assert b["group"] == "cold_start" and b["reason"] == "cold_start"
        assert b["offer"]["offer_id"] == "pct10" and b["coupon"]["code"] and b["propensity"] == 1.0
        # a plan customer still gets the plan's own offer
        assert client.get("/v1/customers/c2/offer", headers=H(keys["decide"])).json()["offer"]["offer_id"] == "save10"
    finally:
        client.__exit__(None, None, None)


def test_newcomer_exploration_stays_inside_the_newcomers_eligible_offers(tmp_path: Path) -> None:
    """ε = 0.6: newcomers are drawn among none + their eligible offers only, propensities exact."""
    eps = 0.6
    client, keys = _newcomer_client(tmp_path, epsilon=eps, rate_per_s=1e6, rate_burst=1_000_000)
    try:
        seen: dict[str, list[float]] = {}
        for i in range(300):
            b = client.get(f"/v1/customers/new-{i}/offer", headers=H(keys["decide"])).json()
            oid = b["offer"]["offer_id"] if b["offer"] else "none"
            seen.setdefault(oid, []).append(b["propensity"])
        assert set(seen) <= {"pct10", "save10", "none"} and set(seen) >= {"pct10", "save10", "none"}
        k = 3  # none + 2 eligible
        assert all(abs(p - ((1 - eps) + eps / k)) < 1e-9 for p in seen["pct10"])
        assert all(abs(p - eps / k) < 1e-9 for p in seen["save10"] + seen["none"])
        assert abs(len(seen["pct10"]) / 300 - ((1 - eps) + eps / k)) < 0.1
    finally:
        client.__exit__(None, None, None)


def test_cold_start_offer_none_overrides_the_plan(tmp_path: Path) -> None:
    client, keys = _newcomer_client(tmp_path, cold_start_offer="none")
    try:
        b = client.get("/v1/customers/signed-up-today/offer", headers=H(keys["decide"])).json()
        assert b["group"] == "cold_start" and b["offer"] is None
    finally:
        client.__exit__(None, None, None)


def _ledger_rows(db_url: str) -> dict[str, object]:
    from sqlalchemy import create_engine

    eng = create_engine(db_url)
    with eng.connect() as c:
        out = {
            "uses": dict(c.exec_driver_sql("SELECT customer_id, SUM(uses) FROM coupons GROUP BY customer_id").fetchall()),
            "customer_uses": dict(c.exec_driver_sql("SELECT customer_id, uses FROM customer_usage").fetchall()),
            "spent": c.exec_driver_sql("SELECT spent_cents, redemptions FROM campaigns").fetchone(),
            "redeemed": c.exec_driver_sql("SELECT COUNT(*), SUM(discount_cents) FROM redemptions").fetchone(),
        }
    eng.dispose()
    return out


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_refusal_leaves_the_ledger_as_it_was(tmp_path: Path, backend: str, request) -> None:
    """The ledger's steps (coupon use, customer use, budget, redemption row) are all or nothing:
    a refusal at any step (PostgreSQL books them in one statement) leaves no trace."""
    from serving_testlib import pg_fresh_db

    def url(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path}/{name}.db"
        return pg_fresh_db(request.getfixturevalue("postgres_url"), name)

    plan, model = make_inputs(tmp_path, budget=15.0, holdout_every=0)
    # coupons with 2 uses, customers with 1: the second use of a coupon is the customer's limit
    db = url("limits")
    client = TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db,
                                                 max_uses_per_coupon=2, max_uses_per_customer=1)))
    client.__enter__()
    try:
        key = create_api_key(db, "k", ["decide"])
        codes = {c: client.get(f"/v1/customers/{c}/offer", headers=H(key)).json()["coupon"]["code"]
                 for c in ("c2", "c3")}
        ok = client.post(f"/v1/coupons/{codes['c2']}/redeem", json=CART, headers=H(key, **{"Idempotency-Key": "1"}))
        assert ok.status_code == 200 and ok.json()["remaining_budget"] == 5.0
        before = _ledger_rows(db)
        lim = client.post(f"/v1/coupons/{codes['c2']}/redeem", json=CART, headers=H(key, **{"Idempotency-Key": "2"}))
        assert lim.status_code == 409 and lim.json()["reason"] == "customer_limit_reached"
        broke = client.post(f"/v1/coupons/{codes['c3']}/redeem", json=CART, headers=H(key, **{"Idempotency-Key": "3"}))
        assert broke.status_code == 409 and broke.json()["reason"] == "budget_exhausted"
        assert broke.json()["remaining_budget"] == 5.0
        after = _ledger_rows(db)  # the coupon uses of both refusals were rolled back
        assert after["spent"] == before["spent"] == (1000, 1)
        assert after["redeemed"] == before["redeemed"] == (1, 1000)
        assert after["uses"]["c2"] == after["customer_uses"]["c2"] == 1
        assert after["uses"].get("c3", 0) == after["customer_uses"].get("c3", 0) == 0
    finally:
        client.__exit__(None, None, None)
    # coupons with 1 use, customers with 2: the second use is the coupon's
    db = url("coupon")
    client = TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db,
                                                 max_uses_per_customer=2)))
    client.__enter__()
    try:
        key = create_api_key(db, "k", ["decide"])
        code = client.get("/v1/customers/c2/offer", headers=H(key)).json()["coupon"]["code"]
        assert client.post(f"/v1/coupons/{code}/redeem", json=CART, headers=H(key, **{"Idempotency-Key": "1"})).status_code == 200
        before = _ledger_rows(db)
        used = client.post(f"/v1/coupons/{code}/redeem", json=CART, headers=H(key, **{"Idempotency-Key": "2"}))
        assert used.status_code == 409 and used.json()["reason"] == "already_redeemed"
        assert _ledger_rows(db) == before
    finally:
        client.__exit__(None, None, None)


@pytest.mark.postgres
@pytest.mark.parametrize("other", ["coupon", "customer", "budget"])
def test_a_redemption_waits_for_a_concurrent_writer_and_checks_what_it_committed(
    tmp_path: Path, postgres_url: str, other: str
) -> None:
    """PostgreSQL books a redemption in one statement that locks the coupon's, the customer's and
    the campaign's rows before it checks them. Another transaction holds a write on one of them:
    the redemption waits, then checks the committed values (not the ones of its snapshot) and,
    refused, writes nothing (the customer's limit: the default of one use per campaign). A check read without the lock would pass on the stale values and
    write a use or a spend the database refuses (or overspend)."""
    import threading

    from serving_testlib import pg_fresh_db
    from sqlalchemy import create_engine, text

    plan, model = make_inputs(tmp_path, budget=15.0, holdout_every=0)
    db = pg_fresh_db(postgres_url, f"ow_wait_{other}")
    client = TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db)))
    client.__enter__()
    eng = create_engine(db)
    try:
        key = create_api_key(db, "k", ["decide"])
        code = client.get("/v1/customers/c2/offer", headers=H(key)).json()["coupon"]["code"]
        deadline = time.monotonic() + 20
        with eng.connect() as c:  # the first ask's coupon and usage rows are written behind
            while not c.execute(text("SELECT COUNT(*) FROM coupons k JOIN customer_usage u ON "
                                     "u.customer_id = k.customer_id WHERE k.code = :c"),
                                {"c": code}).scalar():
                assert time.monotonic() < deadline, "the coupon was never recorded"
                time.sleep(0.05)
                c.rollback()
        before = _ledger_rows(db)
        answer: dict[str, object] = {}

        def redeem() -> None:
            try:
                r = client.post(f"/v1/coupons/{code}/redeem", json=CART,
                                headers=H(key, **{"Idempotency-Key": "w1"}))
                answer.update(status=r.status_code, body=r.json())
            except Exception as exc:  # noqa: BLE001 - the server's error, shown by the assert
                answer.update(status=None, body=repr(exc))

        with eng.connect() as other_tx:  # the other writer: a use of the coupon, or a spend
            if other == "coupon":
                other_tx.execute(text("UPDATE coupons SET uses = max_uses WHERE code = :c"), {"c": code})
            elif other == "customer":  # the customer's one use, taken by another coupon of theirs
                other_tx.execute(text("UPDATE customer_usage SET uses = uses + 1 WHERE customer_id = 'c2'"))
            else:
                other_tx.execute(text("UPDATE campaigns SET spent_cents = budget_cents - 100"))
            t = threading.Thread(target=redeem)
            t.start()
            t.join(1.5)
            assert t.is_alive(), f"the redemption did not wait for the other writer: {answer}"
            other_tx.commit()
        t.join(30)
        assert not t.is_alive()
        body = answer["body"]
        assert answer["status"] == 409, body
        after = _ledger_rows(db)
        assert after["redeemed"] == before["redeemed"] == (0, None)
        if other == "customer":
            assert body["reason"] == "customer_limit_reached"
            assert after["customer_uses"] == {"c2": 1}  # the other writer's use, not ours
            assert after["uses"] == before["uses"] == {"c2": 0}
            assert after["spent"] == before["spent"]
            return
        assert after["customer_uses"] == before["customer_uses"] == {"c2": 0}
        if other == "coupon":
            assert body["reason"] == "already_redeemed"
            assert after["spent"] == before["spent"]
        else:
            assert body["reason"] == "budget_exhausted"
            assert body["remaining_budget"] == 1.0  # the budget left as the other writer left it
            assert after["uses"] == before["uses"] == {"c2": 0}
    finally:
        eng.dispose()
        client.__exit__(None, None, None)

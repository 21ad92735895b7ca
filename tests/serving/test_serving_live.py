"""A real uvicorn server: concurrency of redemptions (SQLite and PostgreSQL), kill -9, errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from serving_testlib import LiveServer, make_inputs, pg_fresh_db, serve_env

from offerwise.serving import create_api_key

CART = {"total": 50.0, "lines": [{"product_id": "p", "category": "X", "quantity": 1, "unit_price": 50.0}]}
N_CUSTOMERS, N_OK = 500, 100


def _ledger(db_url: str) -> dict[str, int]:
    from offerwise.serving.storage import make_engine

    eng = make_engine(db_url, pool_size=1)
    with eng.connect() as c:
        q = lambda s: c.exec_driver_sql(s).scalar()  # noqa: E731
        out = {"spent": q("SELECT spent_cents FROM campaigns WHERE campaign_id = 'camp-1'"),
               "budget": q("SELECT budget_cents FROM campaigns WHERE campaign_id = 'camp-1'"),
               "counter": q("SELECT redemptions FROM campaigns WHERE campaign_id = 'camp-1'"),
               "sum_redeemed": q("SELECT COALESCE(SUM(discount_cents), 0) FROM redemptions WHERE status = 'redeemed'"),
               "n_redeemed": q("SELECT COUNT(*) FROM redemptions WHERE status = 'redeemed'"),
               "coupon_uses": q("SELECT COALESCE(SUM(uses), 0) FROM coupons"),
               "coupons": q("SELECT COUNT(*) FROM coupons")}
    eng.dispose()
    return out


async def _issue(url: str, key: str, n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with sem:
                r = await c.get(f"/v1/customers/c{i}/offer")
                r.raise_for_status()
                return r.json()["coupon"]["code"]

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _post_retrying(c: httpx.AsyncClient, path: str, idem: str) -> httpx.Response:
    """POST as a real client does: a dropped connection (a keep-alive socket the loaded server closed)
    is re-sent with the same Idempotency-Key, so the ledger assertions below still hold exactly."""
    for attempt in range(4):
        try:
            return await c.post(path, json=CART, headers={"Idempotency-Key": idem})
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
            if attempt == 3:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def _redeem_all(url: str, key: str, codes: list[str], tag: str, retries: int = 0) -> list[int]:
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120, limits=limits) as c:
        async def one(i: int, code: str) -> int:
            status = 0
            for _ in range(retries + 1):  # retries re-send the same Idempotency-Key
                r = await _post_retrying(c, f"/v1/coupons/{code}/redeem", f"{tag}-{i}")
                status = r.status_code
            return status

        return list(await asyncio.gather(*(one(i, code) for i, code in enumerate(codes))))


def _race(tmp_path: Path, db_url: str, workers: str) -> None:
    plan, model = make_inputs(tmp_path, n_customers=N_CUSTOMERS, budget=N_OK * 10.0, holdout_every=0)
    # every customer gets 'save10' (10.00 off); c1 has 'none' in the plan, so give it the offer too
    import pandas as pd

    df = pd.read_parquet(plan)
    df["offer_id"] = "save10"
    df.to_parquet(plan, index=False)
    key = create_api_key(db_url, "race", ["decide"])
    srv = LiveServer(db_url, serve_env(plan, model, TEST_WORKERS=workers)).start()
    try:
        codes = asyncio.run(_issue(srv.url, key, N_CUSTOMERS))
        assert len(set(codes)) == N_CUSTOMERS
        statuses = asyncio.run(_redeem_all(srv.url, key, codes, "a", retries=1))
        assert statuses.count(200) == N_OK, statuses
        assert statuses.count(409) == N_CUSTOMERS - N_OK
        # retries of all 500 with the same keys: the same answers, no extra spend
        again = asyncio.run(_redeem_all(srv.url, key, codes, "a"))
        assert again == statuses
    finally:
        srv.stop()
    led = _ledger(db_url)
    assert led["spent"] == led["budget"] == N_OK * 1000
    assert led["sum_redeemed"] == led["spent"] and led["n_redeemed"] == led["counter"] == N_OK
    assert led["coupon_uses"] == N_OK


@pytest.mark.slow
def test_500_concurrent_redeems_sqlite(tmp_path: Path) -> None:
    _race(tmp_path, f"sqlite:///{tmp_path}/race.db", workers="2")


@pytest.mark.slow
@pytest.mark.postgres
def test_500_concurrent_redeems_postgres(tmp_path: Path, postgres_url: str) -> None:
    _race(tmp_path, pg_fresh_db(postgres_url, "race"), workers="2")


@pytest.mark.slow
def test_kill9_during_load_keeps_ledger_balanced(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/kill.db"
    plan, model = make_inputs(tmp_path, n_customers=300, budget=1e6, holdout_every=0)
    import pandas as pd

    df = pd.read_parquet(plan)
    df["offer_id"] = "save10"
    df.to_parquet(plan, index=False)
    key = create_api_key(db_url, "k", ["decide"])
    srv = LiveServer(db_url, serve_env(plan, model)).start()
    codes = asyncio.run(_issue(srv.url, key, 300))
    acked: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=5) as c:
            for i, code in enumerate(codes):
                if stop.is_set():
                    return
                try:
                    r = c.post(f"/v1/coupons/{code}/redeem", json=CART, headers={"Idempotency-Key": f"k{i}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(r.json()["redemption_id"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    import time

    deadline = time.monotonic() + 20
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) >= 40
    srv2 = LiveServer(db_url, serve_env(plan, model)).start()
    try:
        with httpx.Client(base_url=srv2.url, headers={"X-API-Key": key}) as c:
            assert c.get("/v1/customers/c5/offer").json()["coupon"]["code"] == codes[5]  # coupon kept
    finally:
        srv2.stop()
    led = _ledger(db_url)
    assert led["coupons"] == 300
    assert led["sum_redeemed"] == led["spent"] and led["n_redeemed"] == led["counter"] == led["coupon_uses"]
    from offerwise.serving.storage import make_engine

    eng = make_engine(db_url, pool_size=1)
    with eng.connect() as c:
        stored = set(c.execute(sa.text("SELECT redemption_id FROM redemptions")).scalars())
    eng.dispose()
    assert set(acked) <= stored  # every acknowledged redemption survived the kill


def test_live_error_paths(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/err.db"
    plan, model = make_inputs(tmp_path)
    decide = create_api_key(db_url, "d", ["decide"])
    admin = create_api_key(db_url, "a", ["admin"])
    slow = create_api_key(db_url, "s", ["decide"], rate_per_s=0.01, burst=1)
    srv = LiveServer(db_url, serve_env(plan, model)).start()
    try:
        with httpx.Client(base_url=srv.url) as c:
            assert c.get("/health").json()["campaign_id"] == "camp-1"
            assert c.get("/openapi.json").json()["paths"]
            r = c.get("/v1/customers/c2/offer")
            assert r.status_code == 401 and r.json()["type"].startswith("urn:offerwise:problem:")
            assert c.get("/v1/campaigns/camp-1", headers={"X-API-Key": decide}).status_code == 403
            assert c.get("/v1/campaigns/camp-1", headers={"X-API-Key": admin}).json()["budget"] == 1000.0
            assert c.post("/v1/coupons/NOPE/validate", json=CART, headers={"X-API-Key": decide}).status_code == 404
            r = c.post("/v1/coupons/NOPE/validate", content=b"{not json", headers={"X-API-Key": decide,
                                                                                   "content-type": "application/json"})
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
            code = c.get("/v1/customers/c2/offer", headers={"X-API-Key": decide}).json()["coupon"]["code"]
            h = {"X-API-Key": decide, "Idempotency-Key": "same"}
            assert c.post(f"/v1/coupons/{code}/redeem", json=CART, headers=h).status_code == 200
            r = c.post(f"/v1/coupons/{code}/redeem", json={**CART, "order_id": "o9"}, headers=h)
            assert r.status_code == 409 and r.json()["reason"] == "idempotency_key_reused"
            s = [c.get("/v1/customers/c2/offer", headers={"X-API-Key": slow}).status_code for _ in range(2)]
            assert s == [200, 429]
    finally:
        srv.stop()

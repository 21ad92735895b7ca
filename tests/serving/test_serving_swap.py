"""Swapping the live plan under load (issue #16 item 4): a real uvicorn server with 2 workers
serves offers and redemptions while ``POST /v1/admin/plan`` makes a second plan the active
campaign. No 5xx, no lost redemption, no campaign over its budget, and both workers serve the new
campaign within seconds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serving_testlib import LiveServer, make_inputs, pg_fresh_db, serve_env

from offerwise.serving import create_api_key

CART = {"total": 50.0, "lines": [{"product_id": "p", "category": "X", "quantity": 1, "unit_price": 50.0}]}
N = 300  # customers per plan; each plan's budget pays 60 redemptions of 10.00


def _plans(tmp_path: Path) -> tuple[Path, Path, Path]:
    p1, model = make_inputs(tmp_path / "one", n_customers=N, budget=600.0, campaign_id="camp-1",
                            holdout_every=0)
    p2, _ = make_inputs(tmp_path / "two", n_customers=N, budget=600.0, campaign_id="camp-2",
                        holdout_every=0)
    for p in (p1, p2):
        df = pd.read_parquet(p)
        df["offer_id"] = "save10"
        df.to_parquet(p, index=False)
    return p1, p2, model


def _ledger(db_url: str) -> dict[str, dict[str, int]]:
    from offerwise.serving.storage import make_engine

    eng = make_engine(db_url, pool_size=1)
    out: dict[str, dict[str, int]] = {}
    with eng.connect() as c:
        for cid, spent, budget, n in c.exec_driver_sql(
                "SELECT campaign_id, spent_cents, budget_cents, redemptions FROM campaigns"):
            red = c.exec_driver_sql(
                "SELECT COUNT(*), COALESCE(SUM(discount_cents), 0) FROM redemptions "
                f"WHERE status = 'redeemed' AND campaign_id = '{cid}'").one()
            out[cid] = {"spent": int(spent), "budget": int(budget), "counter": int(n),
                        "n_redeemed": int(red[0]), "sum_redeemed": int(red[1])}
    eng.dispose()
    return out


async def _traffic(url: str, key: str, start: int, stop: int, tag: str) -> tuple[list[int], dict[str, int]]:
    """Ask for offers of customers c{start}..c{stop-1} and redeem each coupon once; returns every
    status code and the number of 200 redemptions per campaign."""
    statuses: list[int] = []
    ok: dict[str, int] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60,
                                 limits=limits) as c:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                r = await c.get(f"/v1/customers/c{i % N}/offer")
                statuses.append(r.status_code)
                body = r.json()
                if r.status_code != 200 or body["coupon"] is None:
                    return
                for attempt in range(4):  # a dropped connection is re-sent with the same key
                    try:
                        rr = await c.post(f"/v1/coupons/{body['coupon']['code']}/redeem", json=CART,
                                          headers={"Idempotency-Key": f"{tag}-{i}"})
                        break
                    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
                        if attempt == 3:
                            raise
                        await asyncio.sleep(0.05)
                statuses.append(rr.status_code)
                if rr.status_code == 200:
                    ok[body["campaign_id"]] = ok.get(body["campaign_id"], 0) + 1

        await asyncio.gather(*(one(i) for i in range(start, stop)))
    return statuses, ok


def _swap_under_load(tmp_path: Path, db_url: str) -> None:
    p1, p2, model = _plans(tmp_path)
    decide = create_api_key(db_url, "pos", ["decide"])
    admin = create_api_key(db_url, "ops", ["admin"])
    srv = LiveServer(db_url, serve_env(p1, model, TEST_WORKERS="2")).start()
    try:
        async def run() -> tuple[list[int], dict[str, int], dict]:
            before = asyncio.create_task(_traffic(srv.url, decide, 0, 150, "a"))
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
                r = await c.post("/v1/admin/plan", headers={"X-API-Key": admin},
                                 json={"plan": str(p2), "model_dir": str(model)})
            after = asyncio.create_task(_traffic(srv.url, decide, 150, 300, "b"))
            (s1, ok1), (s2, ok2) = await before, await after
            ok = {k: ok1.get(k, 0) + ok2.get(k, 0) for k in set(ok1) | set(ok2)}
            return s1 + s2, ok, {"status": r.status_code, "body": r.json()}

        statuses, ok, swap = asyncio.run(run())
        assert swap["status"] == 200, (swap, srv.log_tail())
        assert swap["body"]["campaign_id"] == "camp-2" and swap["body"]["created"]
        assert swap["body"]["previous_campaign_id"] == "camp-1"
        assert not [s for s in statuses if s >= 500], (statuses, srv.log_tail())
        assert set(statuses) <= {200, 409}, (sorted(set(statuses)), srv.log_tail())
        # every worker serves the new campaign within a few seconds (fresh customers)
        deadline, seen = time.monotonic() + 10, set()
        with httpx.Client(base_url=srv.url, headers={"X-API-Key": decide}) as c:
            i = 0
            while time.monotonic() < deadline and len(seen) < 20:
                body = c.get(f"/v1/customers/fresh{i}/offer").json()
                i += 1
                if body["campaign_id"] == "camp-2":
                    seen.add(i)
                else:
                    seen.clear()
            assert len(seen) >= 20, f"a worker still serves the old campaign:\n{srv.log_tail()}"
            # swapping to the same plan again is idempotent; a bad plan is a 422, nothing changes
            r = c.post("/v1/admin/plan", headers={"X-API-Key": admin},
                       json={"plan": str(p2), "model_dir": str(model)})
            assert r.status_code == 200 and not r.json()["created"]
            r = c.post("/v1/admin/plan", headers={"X-API-Key": admin},
                       json={"plan": str(tmp_path / "nope.parquet"), "model_dir": str(model)})
            assert r.status_code == 422 and "nope.parquet" in r.json()["detail"]
            r = c.post("/v1/admin/plan", headers={"X-API-Key": decide},
                       json={"plan": str(p2), "model_dir": str(model)})
            assert r.status_code == 403
    finally:
        srv.stop()
    led = _ledger(db_url)
    assert set(led) == {"camp-1", "camp-2"}
    for cid, row in led.items():
        assert row["spent"] <= row["budget"], (cid, row)  # never over budget
        assert row["sum_redeemed"] == row["spent"] and row["n_redeemed"] == row["counter"]
        assert row["n_redeemed"] == ok.get(cid, 0), (cid, row, ok)  # no redemption lost
    assert ok.get("camp-1", 0) > 0 and ok.get("camp-2", 0) > 0


def test_plan_swap_under_load_sqlite(tmp_path: Path) -> None:
    _swap_under_load(tmp_path, f"sqlite:///{tmp_path}/ow.db")


@pytest.mark.postgres
def test_plan_swap_under_load_postgres(tmp_path: Path, postgres_url: str) -> None:
    _swap_under_load(tmp_path, pg_fresh_db(postgres_url, "ow_swap"))

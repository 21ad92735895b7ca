"""First asks answered from a read (reserved coupon codes, write-behind records): the answer never
waits for the write lock, every worker gives the same coupon, and no answered coupon is lost."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from serving_testlib import LiveServer, make_inputs, serve_env

from offerwise.serving import ServeSettings, create_api_key
from offerwise.serving.problems import ApiProblem
from offerwise.serving.schemas import Cart, RedeemRequest
from offerwise.serving.service import OfferService
from offerwise.serving.storage import load_plan, make_engine, migrate, read_tx, write_tx

CART = {"total": 50.0, "lines": [{"product_id": "p", "category": "X", "quantity": 1, "unit_price": 50.0}]}


def _db(tmp_path: Path) -> tuple[str, ServeSettings]:
    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/wb.db"
    eng = make_engine(db)
    migrate(eng)
    load_plan(eng, plan, model)
    eng.dispose()
    return db, ServeSettings(plan=plan, model_dir=model, db_url=db, load_plan=False)


def _worker(settings: ServeSettings) -> OfferService:
    """One 'worker': its own engine (own writer lock fd, own pool) and service."""
    return OfferService(make_engine(settings.db_url, pool_size=2), settings)


def _ask(svc: OfferService, customer: str, timeout: float = 5.0) -> dict[str, Any]:
    async def go() -> bytes:
        return await asyncio.wait_for(svc.offer_json(customer), timeout)

    return json.loads(asyncio.run(go()))


def _rows(db: str, sql: str) -> list[tuple]:
    eng = make_engine(db, pool_size=1)
    with read_tx(eng) as c:  # BEGIN DEFERRED: does not wait for a held write lock
        out = [tuple(r) for r in c.execute(sa.text(sql))]
    eng.dispose()
    return out


class _HeldWriteLock:
    """Holds the database's write lock (flock + BEGIN IMMEDIATE) from another engine, as another
    process's writer would."""

    def __init__(self, db: str):
        self.engine = make_engine(db, pool_size=1)
        self.release = threading.Event()
        self.held = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        with write_tx(self.engine):
            self.held.set()
            self.release.wait(30)

    def __enter__(self) -> _HeldWriteLock:
        self.thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)
        self.engine.dispose()


def test_first_ask_does_not_wait_for_the_write_lock_and_is_recorded_as_answered(tmp_path: Path) -> None:
    db, settings = _db(tmp_path)
    reserved = dict(_rows(db, "SELECT customer_id, coupon_code FROM assignments"))
    a = _worker(settings)
    try:
        with _HeldWriteLock(db):  # a writer holds the lock: the first ask is answered anyway
            ans = _ask(a, "c2", timeout=2.0)
            assert ans["coupon"]["code"] == reserved["c2"]
            assert _rows(db, "SELECT COUNT(*) FROM decisions") == [(0,)]  # not recorded yet
    finally:
        a.close()  # flushes the write-behind queue
    (dec,) = _rows(db, "SELECT customer_id, offer_id, coupon_code, ts FROM decisions")
    assert dec[:3] == ("c2", ans["offer"]["offer_id"], reserved["c2"])
    assert abs(dec[3] - pd_ts(ans["decided_at"])) < 1e-3
    (cp,) = _rows(db, "SELECT code, customer_id, expires_ts, uses FROM coupons")
    assert cp[:2] == (reserved["c2"], "c2") and cp[3] == 0
    assert abs(cp[2] - pd_ts(ans["coupon"]["expires_at"])) < 1e-3


def pd_ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_two_workers_give_the_same_coupon_and_record_one_decision(tmp_path: Path) -> None:
    db, settings = _db(tmp_path)
    a, b = _worker(settings), _worker(settings)
    try:
        with _HeldWriteLock(db):  # neither worker's record can land: both answer from a read
            ra, rb = _ask(a, "c3"), _ask(b, "c3")
        assert ra["coupon"]["code"] == rb["coupon"]["code"]
        assert ra["offer"] == rb["offer"] and ra["group"] == rb["group"]
        ha = _ask(a, "c4")  # recorded by a (lock free now) ...
        a._record_writer.submit(lambda c: None).result()  # ... wait until a's queue is through
        hb = _ask(b, "c4")  # ... then b reads a's stored decision: identical answer
        assert ha == hb
    finally:
        a.close()
        b.close()
    assert _rows(db, "SELECT customer_id, COUNT(*) FROM decisions GROUP BY customer_id ORDER BY 1") == \
        [("c3", 1), ("c4", 1)]
    assert _rows(db, "SELECT COUNT(*) FROM coupons") == [(2,)]
    # once the records landed, both workers answer what is stored (the first record won)
    stored_ts = _rows(db, "SELECT ts FROM decisions WHERE customer_id = 'c3'")[0][0]
    for svc in (a, b):
        cached = json.loads(svc.cached_offer_json("c3"))
        assert abs(pd_ts(cached["decided_at"]) - stored_ts) < 1e-3


def test_reserved_codes_survive_restart_and_reload(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/r.db"
    eng = make_engine(db)
    migrate(eng)
    load_plan(eng, plan, model)
    eng.dispose()
    before = _rows(db, "SELECT customer_id, coupon_code FROM assignments ORDER BY customer_id")
    codes = [c for _, c in before]
    assert all(codes) and len(set(codes)) == len(codes)
    eng = make_engine(db)
    load_plan(eng, plan, model)  # same plan again: nothing changes
    eng.dispose()
    assert _rows(db, "SELECT customer_id, coupon_code FROM assignments ORDER BY customer_id") == before
    svc = _worker(ServeSettings(plan=plan, model_dir=model, db_url=db, load_plan=False))
    try:
        assert _ask(svc, "c7")["coupon"]["code"] == dict(before)["c7"]
    finally:
        svc.close()


def test_plan_loaded_before_migration_3_gets_codes(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/old.db"
    eng = make_engine(db)
    migrate(eng)
    load_plan(eng, plan, model)
    with eng.begin() as c:
        c.exec_driver_sql("UPDATE assignments SET coupon_code = NULL WHERE customer_id IN ('c2', 'c3')")
    load_plan(eng, plan, model)
    eng.dispose()
    codes = _rows(db, "SELECT coupon_code FROM assignments")
    assert all(c for (c,) in codes) and len(set(codes)) == len(codes)


def test_answered_but_unrecorded_coupon_is_not_lost(tmp_path: Path) -> None:
    """A reserved code whose record never landed (the process died after answering) still
    validates and redeems: the decision and coupon are recorded first, exactly once."""
    db, settings = _db(tmp_path)
    reserved = dict(_rows(db, "SELECT customer_id, coupon_code FROM assignments"))
    svc = _worker(settings)
    try:
        code = reserved["c2"]  # never asked on this database: as if the record was lost
        v = svc.validate(code.lower(), Cart(**CART))
        assert v.valid and v.customer_id == "c2" and v.discount > 0
        out = svc.redeem(code, RedeemRequest(**CART), "k", "i1")
        assert out.status == 200 and out.body["customer_id"] == "c2"
        assert svc.redeem(code, RedeemRequest(**CART), "k", "i1").replayed
        assert _ask(svc, "c2")["coupon"]["code"] == code
        # holdout (c0) and plan 'none' (c1) customers have a reserved code but no coupon
        for cust in ("c0", "c1"):
            with pytest.raises(ApiProblem) as err:
                svc.redeem(reserved[cust], RedeemRequest(**CART), "k", f"x-{cust}")
            assert err.value.status == 404
    finally:
        svc.close()
    assert _rows(db, "SELECT COUNT(*) FROM decisions WHERE customer_id = 'c2'") == [(1,)]
    assert _rows(db, "SELECT spent_cents, redemptions FROM campaigns") == [(1000, 1)]


@pytest.mark.slow
def test_kill9_right_after_answers_loses_no_coupon(tmp_path: Path) -> None:
    """2 workers; 200 customers each asked twice at once (two connections, so often two workers),
    kill -9 right after the answers: after a restart every answered code is the customer's coupon
    and redeems."""
    db_url = f"sqlite:///{tmp_path}/k.db"
    plan, model = make_inputs(tmp_path, n_customers=200, budget=1e6, holdout_every=0)
    import pandas as pd

    df = pd.read_parquet(plan)
    df["offer_id"] = "save10"
    df.to_parquet(plan, index=False)
    key = create_api_key(db_url, "k", ["decide"])
    srv = LiveServer(db_url, serve_env(plan, model, TEST_WORKERS="2")).start()

    async def ask_twice() -> list[tuple[str, str]]:
        limits = httpx.Limits(max_connections=64)
        # 400 requests over 64 connections: on a loaded machine a request can wait longer than
        # httpx's 5 s default for a free connection; what is tested is what survives the kill
        async with httpx.AsyncClient(base_url=srv.url, headers={"X-API-Key": key}, limits=limits,
                                     timeout=60) as c:
            async def one(i: int) -> tuple[str, str]:
                r1, r2 = await asyncio.gather(c.get(f"/v1/customers/c{i}/offer"),
                                              c.get(f"/v1/customers/c{i}/offer"))
                return r1.json()["coupon"]["code"], r2.json()["coupon"]["code"]

            return list(await asyncio.gather(*(one(i) for i in range(200))))

    try:
        pairs = asyncio.run(ask_twice())
    finally:
        srv.kill9()
    assert all(a == b for a, b in pairs)
    srv2 = LiveServer(db_url, serve_env(plan, model, TEST_WORKERS="2")).start()
    try:
        with httpx.Client(base_url=srv2.url, headers={"X-API-Key": key}) as c:
            for i in range(0, 200, 7):
                assert c.get(f"/v1/customers/c{i}/offer").json()["coupon"]["code"] == pairs[i][0]
            for i in range(1, 200, 10):
                r = c.post(f"/v1/coupons/{pairs[i][0]}/redeem", json=CART,
                           headers={"Idempotency-Key": f"r{i}"})
                assert r.status_code == 200, r.text
    finally:
        srv2.stop()
    reserved = dict(_rows(db_url, "SELECT customer_id, coupon_code FROM assignments"))
    stored = dict(_rows(db_url, "SELECT customer_id, coupon_code FROM decisions"))
    assert all(reserved[f"c{i}"] == pairs[i][0] for i in range(200))  # every answer is redeemable
    assert all(stored[c] == reserved[c] for c in stored)


def test_batch_without_savepoints_retries_jobs_alone_after_a_failure(tmp_path: Path) -> None:
    from offerwise.serving.batching import GroupCommitter

    db = f"sqlite:///{tmp_path}/g.db"
    eng = make_engine(db)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    gc = GroupCommitter(eng, "t", linger_s=0.05, savepoints=False)
    try:
        def insert(k: int) -> Any:
            return lambda conn: conn.exec_driver_sql(f"INSERT INTO t VALUES ({k})").rowcount

        futs = [gc.submit(insert(k)) for k in (1, 2, 2, 3)]  # the second 2 fails (primary key)
        assert [f.exception() is None for f in futs] == [True, True, False, True]
    finally:
        gc.close()
    assert _rows(db, "SELECT k FROM t ORDER BY k") == [(1,), (2,), (3,)]
    eng.dispose()


def test_the_service_checkpoints_the_wal_in_its_own_thread_not_in_commits(tmp_path: Path) -> None:
    """The app's engine leaves checkpoints to the service's thread (a COMMIT that checkpoints
    makes every request behind it wait); the thread backfills the whole WAL."""
    import time

    db, settings = _db(tmp_path)
    engine = make_engine(db, pool_size=2, background_checkpoints=True)
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    plain = make_engine(db, pool_size=1)
    with plain.connect() as c:  # other programs' engines keep SQLite's default
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    plain.dispose()
    svc = OfferService(engine, settings)
    try:
        assert svc.checkpointer is not None and svc.checkpointer.interval_s == OfferService.CHECKPOINT_S
        for i in range(30):
            svc.get_offer(f"c{i}")  # recorded before it returns
        runs = svc.checkpointer.runs
        deadline = time.monotonic() + 10
        while svc.checkpointer.runs < runs + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert svc.checkpointer.runs >= runs + 2
        busy, frames, done = svc.checkpointer.last
        assert busy == 0 and frames > 0 and done == frames  # everything written is in the file
    finally:
        svc.close()
    assert len(_rows(db, "SELECT customer_id FROM decisions")) == 30

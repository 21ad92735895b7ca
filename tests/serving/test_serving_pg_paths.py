"""PostgreSQL-only paths of the offer service: GET offer's async reads (storage.AsyncPgReaders) and
redemption batches without savepoints."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from serving_testlib import make_inputs, pg_fresh_db

from offerwise.serving import ServeSettings
from offerwise.serving.service import OfferService
from offerwise.serving.storage import AsyncPgReaders, load_plan, make_engine, migrate

pytestmark = pytest.mark.postgres


def test_readers_bound_to_size_survive_cancellation_and_a_new_loop(postgres_url: str) -> None:
    engine = make_engine(pg_fresh_db(postgres_url, "ow_reads"), pool_size=1)
    readers = AsyncPgReaders(engine, size=2)
    try:

        async def many() -> list[tuple]:
            rows = await asyncio.gather(
                *(readers.fetchone("SELECT %(i)s::int * 2, pg_sleep(0.01)", {"i": i}) for i in range(10))
            )
            return [r[:1] for r in rows]

        assert asyncio.run(many()) == [(2 * i,) for i in range(10)]
        assert readers.open_count == 2  # ten concurrent reads, never more than size connections

        async def cancelled() -> None:
            task = asyncio.ensure_future(readers.fetchone("SELECT pg_sleep(5)", {}))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancelled())  # another loop: the pool started afresh, then lost its reader
        assert readers.open_count == 0  # a read cut short is not reused
        assert asyncio.run(readers.fetchone("SELECT 41 + 1", {})) == (42,)
        assert readers.open_count == 1
        with pytest.raises(Exception, match="division by zero"):
            asyncio.run(readers.fetchone("SELECT 1 / 0", {}))
        assert readers.open_count == 0

        async def failures_free_their_slot() -> list:
            # both slots' reads fail while eight more wait: the waiters open fresh connections
            bad = [readers.fetchone("SELECT pg_sleep(0.1), 1 / 0", {}) for _ in range(2)]
            good = [readers.fetchone("SELECT %(i)s::int", {"i": i}) for i in range(8)]
            return await asyncio.wait_for(asyncio.gather(*bad, *good, return_exceptions=True), 10)

        got = asyncio.run(failures_free_their_slot())
        assert all(isinstance(g, Exception) for g in got[:2]) and got[2:] == [(i,) for i in range(8)]
        assert readers.open_count <= 2
    finally:
        readers.close()
        engine.dispose()
    assert readers.open_count == 0


def test_offer_answers_on_postgresql_read_the_stored_decision(tmp_path: Path, postgres_url: str) -> None:
    plan, model = make_inputs(tmp_path)
    db = pg_fresh_db(postgres_url, "ow_offer_reads")
    engine = make_engine(db, pool_size=2)
    migrate(engine)
    load_plan(engine, plan, model)
    with engine.connect() as c:
        reserved = dict(c.execute(sa.text("SELECT customer_id, coupon_code FROM assignments")).all())
    settings = ServeSettings(plan=plan, model_dir=model, db_url=db, load_plan=False)
    a, b = OfferService(engine, settings), OfferService(make_engine(db, pool_size=2), settings)
    try:
        first = json.loads(asyncio.run(a.offer_json("c3")))
        assert first["coupon"] is None or first["coupon"]["code"] == reserved["c3"]
        a.close()  # its write-behind record lands
        again = json.loads(asyncio.run(b.offer_json("c3")))  # another worker reads it
        assert again == first
    finally:
        a.close()
        b.close()


def test_a_failing_redemption_fails_only_itself_in_a_batch_without_savepoints(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redemption batches on PostgreSQL run without a savepoint per job: an unknown code (a 404
    raised inside the batch) makes the batch's jobs retry one by one; every other redemption is
    booked exactly once and the 404 leaves no idempotency key behind."""
    from offerwise.serving.problems import ApiProblem
    from offerwise.serving.schemas import RedeemRequest

    plan, model = make_inputs(tmp_path, holdout_every=0)
    db = pg_fresh_db(postgres_url, "ow_redeem_batch")
    engine = make_engine(db, pool_size=2)
    migrate(engine)
    load_plan(engine, plan, model)
    settings = ServeSettings(plan=plan, model_dir=model, db_url=db, load_plan=False)
    svc = OfferService(engine, settings)
    caplog.set_level("WARNING", logger="offerwise.serving")
    cart = {"total": 80.0, "lines": [{"product_id": "p", "category": "X", "quantity": 1, "unit_price": 80.0}]}
    try:
        codes = [svc.get_offer(f"c{i}").coupon.code for i in range(2, 8)]  # c1: the plan says none
        blocker = make_engine(db, pool_size=1)
        with blocker.begin() as held:  # hold the campaign row: the jobs queue into one batch
            held.execute(sa.text("SELECT 1 FROM campaigns WHERE active = 1 FOR NO KEY UPDATE"))
            futs = [svc.submit_redeem(c, RedeemRequest(**cart), "k", f"idem-{i}") for i, c in enumerate(codes[:3])]
            futs.append(svc.submit_redeem("NO-SUCH-CODE", RedeemRequest(**cart), "k", "idem-x"))
            futs += [svc.submit_redeem(c, RedeemRequest(**cart), "k", f"idem-{i + 3}") for i, c in enumerate(codes[3:])]
        blocker.dispose()
        outcomes = []
        for f in futs:
            try:
                outcomes.append(f.result(30).status)
            except ApiProblem as p:
                outcomes.append(p.status)
        assert outcomes == [200, 200, 200, 404, 200, 200, 200]
        assert any("redeem: batch of" in r.getMessage() for r in caplog.records)  # it did batch
        with engine.connect() as c:
            booked = c.execute(sa.text("SELECT coupon_code FROM redemptions ORDER BY coupon_code")).scalars().all()
            keys = c.execute(sa.text("SELECT idem_key FROM idempotency_keys ORDER BY idem_key")).scalars().all()
        assert booked == sorted(codes)
        assert keys == [f"idem-{i}" for i in range(6)]
    finally:
        svc.close()

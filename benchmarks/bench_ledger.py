"""Benchmark (issue #16 item 7): database round trips and throughput of a redemption, in process.

The offer service's own code (``OfferService.redeem``, group commit included) against a
throwaway PostgreSQL cluster (``bench_serving.start_postgres``), with no HTTP in the way: the
ledger's cost alone. Setup: ``bench_serving.make_inputs``' plan, coupons allowed any number of
uses (so the run is not limited by coupons), ``--coupons`` of them issued through ``GET offer``
and recorded before the clock starts.

Rows, per backend and number of calling threads (1: one redemption per transaction; 16: the
group commit's batches):

* ``redemptions/s``: as many redemptions as the threads make in ``--seconds``;
* ``statements``: PostgreSQL only: every statement PostgreSQL's log shows (``log_statement =
  all``, switched on for a second pass of ``--count`` redemptions) divided by the redemptions:
  the round trips one costs, ``BEGIN``/``COMMIT`` and the batch's campaign lock included.

SQLite (a file in WAL mode, in process) is the baseline in the same run: the machine's speed.

    .venv/bin/python benchmarks/bench_ledger.py [--seconds 5] [--count 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import _CLEANUPS, _cleanup_all, make_inputs, start_postgres  # noqa: E402

CART = {"total": 40.0, "lines": [{"product_id": "p1", "category": "DAIRY", "quantity": 2,
                                  "unit_price": 20.0}]}


def _service(db: str, folder: Path, coupons: int):  # noqa: ANN202 - (client, service, codes)
    from fastapi.testclient import TestClient

    from offerwise.serving import ServeSettings, create_api_key, create_app

    plan, model = make_inputs(folder, coupons)
    app = create_app(ServeSettings(plan=plan, model_dir=model, db_url=db,
                                   max_uses_per_coupon=10**9, max_uses_per_customer=10**9,
                                   rate_per_s=1e9, rate_burst=10**9))
    client = TestClient(app)
    client.__enter__()
    _CLEANUPS.append(lambda: client.__exit__(None, None, None))
    key = create_api_key(db, "bench", ["decide"])
    codes = [client.get(f"/v1/customers/c{i}/offer", headers={"X-API-Key": key}).json()["coupon"]["code"]
             for i in range(coupons)]
    svc = app.state.service
    deadline = time.monotonic() + 30  # first asks are recorded behind the answer: wait for them
    from sqlalchemy import text

    while True:
        with svc.engine.connect() as c:
            if c.execute(text("SELECT COUNT(*) FROM coupons")).scalar() >= coupons:
                break
        if time.monotonic() > deadline:
            raise SystemExit("the issued coupons were not recorded within 30 s")
        time.sleep(0.05)
    return svc, codes


def _redeem(svc, codes: list[str], threads: int, tag: str, *, seconds: float | None = None,  # noqa: ANN001
            count: int | None = None) -> tuple[int, float]:
    """(redemptions made, seconds) by ``threads`` threads, for ``seconds`` or ``count`` in all."""
    from offerwise.serving.schemas import RedeemRequest

    req = RedeemRequest.model_validate(CART)
    lock, seq, done = threading.Lock(), [0], [0]
    stop = time.perf_counter() + (seconds or 1e9)

    def work() -> None:
        while time.perf_counter() < stop:
            with lock:
                if count is not None and seq[0] >= count:
                    return
                seq[0] += 1
                k = seq[0]
            out = svc.redeem(codes[k % len(codes)], req, "bench", f"{tag}-{k}")
            if out.status != 200:
                raise SystemExit(f"redemption {k} answered {out.status}: {out.body}")
            with lock:
                done[0] += 1

    t0 = time.perf_counter()
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0], time.perf_counter() - t0


def _statements(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if "LOG:  statement:" in line or "LOG:  execute " in line)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    ap.add_argument("--count", type=int, default=400, help="redemptions of each counting pass")
    ap.add_argument("--coupons", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import atexit

    atexit.register(_cleanup_all)
    tmp = Path(tempfile.mkdtemp(prefix="ow-ledger-"))
    _CLEANUPS.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    rows: list[dict] = []
    try:
        backends = [("SQLite (baseline)", f"sqlite:///{tmp}/ledger.db", None)]
        pg_root = Path(tempfile.mkdtemp(prefix="ow-ledger-pg-"))
        _CLEANUPS.append(lambda: shutil.rmtree(pg_root, ignore_errors=True))
        url = start_postgres(pg_root)
        if url is not None:
            backends.append(("PostgreSQL", url, pg_root / "log"))
        for name, db, log in backends:
            svc, codes = _service(db, tmp / name.split()[0], args.coupons)
            for threads in (1, 16):
                n, s = _redeem(svc, codes, threads, f"t{threads}", seconds=args.seconds)
                per = None
                if log is not None:
                    import psycopg

                    with psycopg.connect(url, autocommit=True) as c:
                        c.execute("ALTER SYSTEM SET log_statement = 'all'")
                        c.execute("SELECT pg_reload_conf()")
                    time.sleep(0.5)
                    before = _statements(log)
                    made, _ = _redeem(svc, codes, threads, f"c{threads}",
                                      count=args.count if threads > 1 else args.count // 4)
                    time.sleep(0.5)
                    per = (_statements(log) - before) / made
                    with psycopg.connect(url, autocommit=True) as c:
                        c.execute("ALTER SYSTEM RESET log_statement")
                        c.execute("SELECT pg_reload_conf()")
                rows.append({"backend": name, "threads": threads, "redemptions": n,
                             "per_s": n / s, "statements": per})
    finally:
        _cleanup_all()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"redemptions in process (OfferService.redeem), {args.seconds:g} s per row; statements: "
          "PostgreSQL's log over a second pass, per redemption")
    print(f"{'backend':20s} {'threads':>7s} {'redemptions':>11s} {'per s':>8s} {'statements':>10s}")
    for r in rows:
        st = "" if r["statements"] is None else f"{r['statements']:10.2f}"
        print(f"{r['backend']:20s} {r['threads']:7d} {r['redemptions']:11d} {r['per_s']:8.0f} {st:>10s}")
    if url is None:
        print("note: PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL rows skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

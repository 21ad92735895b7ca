"""Load benchmark of the offer service (loopback only, bounded time, stops by itself).

Starts uvicorn (2 workers) on 127.0.0.1 and drives it with a minimal asyncio HTTP/1.1 keep-alive
client (less client overhead than httpx, so the 2 shared cores go mostly to the server):

* baseline   GET /health                      (no auth, no database)
* offer      GET /v1/customers/{id}/offer     (SQLite WAL; first asks decide + write, then cached)
* redeem     POST /v1/coupons/{code}/redeem   (PostgreSQL when initdb is found, each a new coupon)

Each phase runs ``--runs`` times for ``--seconds``; the table shows medians of req/s, p50, p95,
p99 latency and error counts. Targets: offer ≥ 1000 req/s with p99 < 20 ms; redeem ≥ 300 req/s.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 4] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    model = folder / "model"
    model.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"offer_id": ["save5", "pct10"], "kind": ["amount_off", "percent_off"],
                  "value": [5.0, 0.10], "min_spend": [0.0, 0.0]}).to_parquet(model / "offers.parquet")
    plan = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "offer_id": "save5",
                         "group": "treatment", "segment": "all"})
    plan.to_parquet(folder / "plan.parquet", index=False)
    (folder / "plan.summary.json").write_text(json.dumps({"campaign_id": "bench", "budget": 1e9}))
    return folder / "plan.parquet", model


class Server:
    def __init__(self, db_url: str, plan: Path, model: Path, workers: int = 2):
        from offerwise.serving import ServeSettings
        from offerwise.serving.app import bootstrap
        from offerwise.serving.server import settings_env

        self.port = free_port()
        s = ServeSettings(plan=plan, model_dir=model, db_url=db_url, rate_per_s=1e9, rate_burst=10**9,
                          pool_size=8)
        bootstrap(s).dispose()
        env = {**os.environ, **settings_env(s.model_copy(update={"load_plan": False}))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "offerwise.serving.app:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
             "--no-access-log"], env=env, start_new_session=True)
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    await reader.readexactly(length)
    return status_line


async def _conn_loop(port: int, make_req: Callable[[int], bytes], deadline: float, counter: list[int],
                     lat: list[float], errors: list[int], limit: int | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            i = counter[0]
            if limit is not None and i >= limit:
                return
            counter[0] += 1
            t0 = time.perf_counter()
            writer.write(make_req(i))
            try:
                status_line = await asyncio.wait_for(_read_response(reader), timeout=10)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                errors.append(0)
                return
            lat.append(time.perf_counter() - t0)
            if not status_line.startswith(b"HTTP/1.1 2"):
                errors.append(int(status_line.split()[1]))
    finally:
        writer.close()


def load(port: int, make_req: Callable[[int], bytes], seconds: float, concurrency: int = 32,
         limit: int | None = None) -> dict[str, float]:
    counter, lat, errors = [0], [], []

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(_conn_loop(port, make_req, t0 + seconds, counter, lat, errors, limit)
                               for _ in range(concurrency)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    a = np.array(lat) * 1000
    return {"req_s": len(lat) / elapsed, "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "p99_ms": float(np.percentile(a, 99)),
            "errors": len(errors), "n": len(lat)}


def get(path: str, key: str | None = None) -> bytes:
    h = f"X-API-Key: {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{h}\r\n".encode()


def post(path: str, body: dict, key: str, extra: str = "") -> bytes:
    b = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b


def start_postgres(root: Path) -> tuple[str, Callable[[], None]] | None:
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    bindir = next((c for c in cands if (c / "initdb").exists()), None)
    if bindir is None:
        return None
    as_pg = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(as_pg + [str(bindir / "initdb"), "-D", str(root / "d"), "-U", "postgres", "-A", "trust"],
                   check=True, capture_output=True)
    subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(root / "d"), "-l", str(root / "log"), "-w", "-o",
                            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
                            " -c max_connections=100", "start"], check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(root / "d"), "-m", "fast", "stop"],
                       capture_output=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def median_row(name: str, runs: list[dict[str, float]]) -> dict[str, float | str]:
    return {"phase": name, **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-redeem", action="store_true", help="only the baseline and GET offer phases")
    args = ap.parse_args()
    from offerwise.serving import create_api_key

    tmp = Path(tempfile.mkdtemp(prefix="ow-bench-"))
    rows = []
    try:
        plan, model = make_inputs(tmp, args.customers)
        db = f"sqlite:///{tmp}/bench.db"
        key = create_api_key(db, "bench", ["decide"])
        srv = Server(db, plan, model)
        try:
            rng = np.random.default_rng(0)
            ids = rng.integers(0, args.customers, size=10**6)
            rows.append(median_row("baseline GET /health", [load(srv.port, lambda i: get("/health"), args.seconds)
                                                           for _ in range(args.runs)]))
            rows.append(median_row("GET offer (sqlite)", [
                load(srv.port, lambda i: get(f"/v1/customers/c{ids[i]}/offer", key), args.seconds)
                for _ in range(args.runs)]))
        finally:
            srv.stop()
        pg_root = Path(tempfile.mkdtemp(prefix="ow-bench-pg-"))  # owned by postgres below
        pg = None if args.no_redeem else start_postgres(pg_root)
        backends = [("postgresql", pg[0])] if pg else []
        backends.append(("sqlite", f"sqlite:///{tmp}/redeem.db"))
        if args.no_redeem:
            backends = []
        try:
            for name, url in backends:
                n_coupons = 6000
                key = create_api_key(url, "bench", ["decide"])
                srv = Server(url, plan, model)
                try:
                    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", headers={"X-API-Key": key}) as c:
                        codes = [c.get(f"/v1/customers/c{i}/offer").json()["coupon"]["code"]
                                 for i in range(n_coupons)]
                    runs, start = [], 0
                    per_run = n_coupons // args.runs
                    for r in range(args.runs):
                        chunk = codes[start:start + per_run]
                        start += per_run
                        runs.append(load(srv.port, lambda i, ch=chunk, r=r: post(
                            f"/v1/coupons/{ch[i]}/redeem", {"total": 20.0}, key,
                            f"Idempotency-Key: b{r}-{i}\r\n"), args.seconds, limit=len(chunk)))
                    rows.append(median_row(f"POST redeem ({name})", runs))
                finally:
                    srv.stop()
        finally:
            if pg:
                pg[1]()
            shutil.rmtree(pg_root, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]["req_s"]
    for r in rows:
        r["vs_baseline"] = r["req_s"] / base
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'phase':28s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'x base':>7s}")
    for r in rows:
        print(f"{r['phase']:28s} {r['req_s']:8.0f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{int(r['errors']):7d} {r['vs_baseline']:7.2f}")
    print("targets: GET offer >= 1000 req/s with p99 < 20 ms (2 workers); redeem >= 300 req/s on PostgreSQL")


if __name__ == "__main__":
    main()

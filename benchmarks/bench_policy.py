"""Benchmark of the allocation solver (offerwise.policy).

Rows (one table, one run):
  * bare kernel: compiled plain bisection of the budget price (numba, 40 full passes, float32),
    the baseline; full solves are reported as a ratio to it;
  * solve, budget only / budget + 2 side constraints (segment budget share on one segment and a
    count cap on one offer), median of ``--repeat`` runs, numba and the numpy fallback;
  * peak RSS of each solve (ru_maxrss of a fresh subprocess, minus its RSS before the solve);
  * optimality gap to the LP optimum (HiGHS) at 100k customers.

Targets: 10M x 8 with two side constraints < 5 s and < 4 GB on 2 cores; 1M < 0.5 s; gap <= 0.1%.

    .venv/bin/python benchmarks/bench_policy.py [--quick] [--json] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

K = 8


def make(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    C = rng.gamma(2.0, 1.0, (n, K))
    V = C * rng.normal(1.2, 0.5, (n, K)) + rng.normal(0, 0.5, (n, K))
    seg = rng.integers(0, 5, n).astype(np.int32)
    return V, C, seg, 0.05 * n


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(case: str, n: int, repeat: int, kernel: str) -> dict:
    from offerwise.policy.solver import allocate, bare_bisection

    V, C, seg, B = make(n)
    if case == "bare":
        V32, C32 = V.astype(np.float32), C.astype(np.float32)
        bare_bisection(V32[:1000], C32[:1000], B / n * 1000)  # compile / load the cache
        before = rss_mb()
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            bare_bisection(V32, C32, B, n_iter=40, threads=2)
            ts.append(time.perf_counter() - t)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"seconds": statistics.median(ts), "peak_mb": peak - before, "kernel": "numba"}
    kw = {}
    if case == "side":
        kw = dict(segment=seg, segment_max_spend=[0.10 * B, np.inf, np.inf, np.inf, np.inf],
                  max_count=[np.inf] * (K - 1) + [0.01 * n])
    allocate(V[:2000], C[:2000], B / n * 2000, kernel=kernel)  # compile / load the cache
    before = rss_mb()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        a = allocate(V, C, B, kernel=kernel, threads=2, **kw)
        ts.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"seconds": statistics.median(ts), "peak_mb": peak - before, "peak_abs_mb": peak,
           "kernel": a.kernel, "passes": round(a.passes, 2), "rounds": a.rounds,
           "value": a.value, "binding": a.binding}
    if case == "gap":
        from offerwise.policy.solver import solve_lp

        t = time.perf_counter()
        lp = solve_lp(V, C, B)
        out.update(lp_value=lp.value, lp_seconds=time.perf_counter() - t,
                   gap=(lp.value - a.value) / lp.value,
                   dual_gap=(a.upper_bound - a.value) / a.upper_bound)
    return out


def run_child(case: str, n: int, repeat: int, kernel: str = "auto") -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2")
    cmd = [sys.executable, __file__, "--child", case, str(n), str(repeat), kernel]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (100k, 1M)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        case, n, rep, kern = args.child
        print(json.dumps(child(case, int(n), int(rep), kern), default=float))
        return
    sizes = [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000]
    rows = []
    for n in sizes:
        bare = run_child("bare", n, args.repeat)
        rows.append({"case": "bare kernel (40 passes)", "n": n, **bare, "ratio": 1.0})
        for case in ("budget", "side"):
            r = run_child(case, n, args.repeat)
            r["ratio"] = r.get("seconds", np.nan) / bare.get("seconds", np.nan)
            rows.append({"case": f"solve {case}", "n": n, **r})
        if n <= 1_000_000:
            r = run_child("side", n, 1, "numpy")
            r["ratio"] = r.get("seconds", np.nan) / bare.get("seconds", np.nan)
            rows.append({"case": "solve side (numpy fallback)", "n": n, **r})
    gap = run_child("gap", 100_000, 1)
    rows.append({"case": "gap vs LP (HiGHS)", "n": 100_000, **gap})
    if args.json:
        print(json.dumps(rows, indent=2, default=float))
        return
    print(f"{'case':34s} {'n':>10s} {'kernel':>6s} {'sec':>8s} {'x bare':>7s} {'peakMB':>8s} "
          f"{'passes':>7s} {'rounds':>6s}  extra")
    for r in rows:
        extra = ""
        if "gap" in r:
            extra = f"gap={r['gap']:.2e} dual_gap={r['dual_gap']:.2e} lp_sec={r['lp_seconds']:.1f}"
        if "error" in r:
            extra = "ERROR " + r["error"]
        print(f"{r['case']:34s} {r['n']:>10d} {r.get('kernel', ''):>6s} "
              f"{r.get('seconds', float('nan')):8.3f} {r.get('ratio', float('nan')):7.2f} "
              f"{r.get('peak_mb', float('nan')):8.0f} {r.get('passes', ''):>7} "
              f"{r.get('rounds', ''):>6}  {extra}")


if __name__ == "__main__":
    main()

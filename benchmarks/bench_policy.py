"""Benchmark of the allocation solver (offerwise.policy).

Rows (one table, one run; every row runs in its own subprocess with a time limit and is printed
as "timed out" rather than hanging the script):
  * bare kernel: compiled plain bisection of the budget price (numba, 40 full passes over float32
    copies, 2 threads), the baseline; every solve is reported as a ratio to it;
  * solve, budget only / budget + 2 side constraints (spend cap on one of 5 segments at 10% of the
    budget, count cap on one offer at 1% of the customers), median of ``--repeat`` runs, with the
    default method (screening), the direct method (``screen=False``) and the numpy fallback;
  * peak memory of each solve (peak RSS of the fresh subprocess during the timed solves, VmHWM
    reset just before them, minus its RSS then, i.e. on top of the caller's float64 inputs);
  * optimality gap to the LP optimum (HiGHS) at ``--gap-n`` customers, budget only, and the
    Lagrangian (dual) gap of the same plan.

Wall seconds depend on what else runs on the machine; ``cpu s`` (process CPU time of the solve,
all threads) is printed next to them.

Targets: 10M x 8 with two side constraints < 5 s and < 4 GB on 2 cores; 1M < 0.5 s; gap <= 0.1%.

    .venv/bin/python benchmarks/bench_policy.py            # 1M and 10M, gap at 100k
    .venv/bin/python benchmarks/bench_policy.py --quick    # 100k and 1M, gap at 20k
    .venv/bin/python benchmarks/bench_policy.py --json
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
    """(n, K) value and cost (float64), 5 segments, budget 0.05 per customer."""
    rng = np.random.default_rng(seed)
    C = rng.gamma(2.0, 1.0, (n, K))
    V = C * rng.normal(1.2, 0.5, (n, K)) + rng.normal(0, 0.5, (n, K))
    seg = rng.integers(0, 5, n).astype(np.int32)
    return V, C, seg, 0.05 * n


def side_rules(n: int, B: float, seg: np.ndarray) -> dict:
    return dict(segment=seg, segment_max_spend=[0.10 * B, np.inf, np.inf, np.inf, np.inf],
                max_count=[np.inf] * (K - 1) + [0.01 * n])


def rss_mb() -> float:
    """Current RSS; also resets the kernel's peak-RSS mark (VmHWM) so that :func:`peak_mb`
    measures from here (Linux >= 4.0; elsewhere the lifetime peak ru_maxrss is used)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, repeat: int) -> tuple[float, float, object]:  # noqa: ANN001
    ts, cs, out = [], [], None
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    return statistics.median(ts), statistics.median(cs), out


def child(case: str, n: int, repeat: int, kernel: str, screen: str) -> dict:
    from _baselines import bare_bisection

    from offerwise.policy import allocate, solve_lp

    V, C, seg, B = make(n)
    if case == "bare":
        V32, C32 = V.astype(np.float32), C.astype(np.float32)
        bare_bisection(V32[:1000], C32[:1000], B / n * 1000)  # compile / load the cache
        before = rss_mb()
        sec, cpu, _ = _timed(lambda: bare_bisection(V32, C32, B, n_iter=40, threads=2), repeat)
        peak = peak_mb()
        return {"seconds": sec, "cpu": cpu, "peak_mb": peak - before, "kernel": "numba"}
    scr = {"auto": "auto", "on": True, "off": False}[screen]
    kw = side_rules(n, B, seg) if case == "side" else {}
    m = 3000  # compile / load the numba cache and warm both methods on a small instance
    for s in ("auto", False):
        allocate(V[:m], C[:m], B / n * m, kernel=kernel, screen=s,
                 **(side_rules(m, B / n * m, seg[:m]) if case == "side" else {}))
    before = rss_mb()
    sec, cpu, a = _timed(lambda: allocate(V, C, B, kernel=kernel, threads=2, screen=scr, **kw),
                         repeat)
    peak = peak_mb()
    out = {"seconds": sec, "cpu": cpu, "peak_mb": peak - before, "kernel": a.kernel,
           "passes": round(a.passes, 2), "rounds": a.rounds, "value": a.value,
           "screened": a.screened, "binding": a.binding}
    if case == "gap":
        t = time.perf_counter()
        lp = solve_lp(V, C, B, method="highs-ipm", time_limit=600)
        out.update(lp_value=lp.value, lp_seconds=time.perf_counter() - t,
                   gap=(lp.value - a.value) / lp.value,
                   dual_gap=(a.upper_bound - a.value) / a.upper_bound)
    return out


def run_child(case: str, n: int, repeat: int, kernel: str = "auto", screen: str = "auto",
              timeout: float = 300.0) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2")
    cmd = [sys.executable, __file__, "--child", case, str(n), str(repeat), kernel, screen]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (100k, 1M; gap at 20k)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per row")
    ap.add_argument("--gap-n", type=int, default=None, help="customers of the LP gap row")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        case, n, rep, kern, scr = args.child
        print(json.dumps(child(case, int(n), int(rep), kern, scr), default=float))
        return
    sizes = [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000]
    gap_n = args.gap_n or (20_000 if args.quick else 100_000)
    rows = []

    def add(label: str, n: int, bare: dict | None, **kw: object) -> None:
        r = run_child(n=n, repeat=kw.pop("repeat", args.repeat), timeout=args.timeout, **kw)
        if bare is not None and "seconds" in r and "seconds" in bare:
            r["ratio"] = r["seconds"] / bare["seconds"]
        rows.append({"case": label, "n": n, **r})

    for n in sizes:
        bare = run_child("bare", n, args.repeat, timeout=args.timeout)
        rows.append({"case": "bare kernel (40 passes)", "n": n, **bare, "ratio": 1.0})
        add("solve budget", n, bare, case="budget")
        add("solve budget + 2 side", n, bare, case="side")
        add("solve budget + 2 side, direct", n, bare, case="side", screen="off",
            repeat=1 if n > 1_000_000 else args.repeat)
        if n <= 1_000_000:
            add("solve budget + 2 side, numpy", n, bare, case="side", kernel="numpy", repeat=1)
    add("gap vs LP (HiGHS), direct", gap_n, None, case="gap", screen="off", repeat=1)
    add("gap vs LP (HiGHS), screened", gap_n, None, case="gap", screen="on", repeat=1)
    if args.json:
        print(json.dumps(rows, indent=2, default=float))
        return
    print(f"{'case':32s} {'n':>10s} {'kernel':>6s} {'sec':>7s} {'cpu s':>7s} {'x bare':>7s} "
          f"{'peakMB':>7s} {'passes':>6s} {'rounds':>6s} {'solved':>7s}  extra")
    for r in rows:
        extra = ""
        if "gap" in r:
            extra = (f"gap={r['gap']:.2e} dual_gap={r['dual_gap']:.2e} "
                     f"lp_sec={r['lp_seconds']:.1f}")
        if "error" in r:
            extra = "ERROR " + r["error"]
        solved = f"{100 * r['screened']:.2f}%" if "screened" in r else ""
        print(f"{r['case']:32s} {r['n']:>10d} {r.get('kernel', ''):>6s} "
              f"{r.get('seconds', float('nan')):7.3f} {r.get('cpu', float('nan')):7.3f} "
              f"{r.get('ratio', float('nan')):7.2f} {r.get('peak_mb', float('nan')):7.0f} "
              f"{r.get('passes', ''):>6} {r.get('rounds', ''):>6} {solved:>7s}  {extra}")
    print("solved = share of rows solved exactly after the screen (100% = direct method); "
          "passes = work in full passes over the n rows")


if __name__ == "__main__":
    main()

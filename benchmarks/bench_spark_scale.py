"""Spark at scale on this machine, beside the single-node engine in the same run.

Cases
  plan     the allocation ``offerwise plan`` runs, on synthetic scores of ``--customers`` (default
           10M) x ``--offers`` (default 8) with a budget (30 % of what every customer's best offer
           costs) and two side constraints: a count cap on offer 0 and a spend cap on segment 1
           (of 4). Single node: ``offerwise.policy.allocate`` (numba, 2 threads). Spark:
           ``offerwise.spark.allocate.allocate_on_spark`` (the screening pass over all rows on
           ``--master`` partitions, the sample and the undecided rows on the driver). Target:
           < 10 min, objective within 1e-6 relative of the single node's.
  profile  ``offerwise profile`` through the CLI on ``--rows`` (default 15M) synthetic order lines
           (``offerwise.data.synth``), ``--engine duckdb`` and ``--engine spark``; the two
           profile files are compared (same rows, numbers within 1e-9).

Every engine runs in a fresh child process; "peak MB" is the largest resident memory of that
child's whole process tree (Python, the Spark JVM and its Python workers), sampled from /proc
every 0.2 s. Inputs are generated once (seeded) and cached in ``--workdir``; generation is not
timed in the results.

Usage::

    .venv/bin/python benchmarks/bench_spark_scale.py                       # both cases, full size
    .venv/bin/python benchmarks/bench_spark_scale.py --cases plan --customers 1000000
    .venv/bin/python benchmarks/bench_spark_scale.py --cases profile --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
TOP = HERE.parents[1]
PLAN_TARGET_S = 600.0
OBJ_TOL = 1e-6


# --------------------------------------------------------------------------------------------
# memory of a process tree
# --------------------------------------------------------------------------------------------


def _tree_rss_mb(root: int) -> float:
    """Resident MB of ``root`` and all its descendants (from /proc)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            parent[int(d)] = int(parts[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def run_child(args: list[str]) -> dict[str, object]:
    """Run ``args`` as a child; return its last stdout line as JSON plus wall s and peak MB."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TOP)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    done.set()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-3000:]}")
    start = out.find("\n{") + 1 if not out.startswith("{") else 0
    res = json.loads(out[start:]) if "{" in out else {}  # the child's JSON: one object, last
    res["wall_s"] = round(wall, 2)
    res["peak_mb"] = round(peak[0])
    return res


# --------------------------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------------------------


def plan_instance(n: int, K: int, seed: int) -> dict[str, np.ndarray | float]:
    """Synthetic scores: (n, K) value and cost (currency), mask, 4 segments, and the bounds."""
    rng = np.random.default_rng(seed)
    depth = np.linspace(1.0, 3.0, K)  # deeper offers cost more
    cost = rng.gamma(2.0, 1.5, size=(n, K)) * depth
    value = cost * rng.normal(0.9, 0.5, size=(n, K)) + rng.normal(0.0, 1.0, size=(n, K))
    mask = rng.random((n, K)) > 0.05
    seg = rng.integers(0, 4, size=n).astype(np.int32)
    best = np.where(mask & (value > 0), value, -np.inf).argmax(axis=1)
    full = float(cost[np.arange(n), best].sum())
    return {
        "value": value,
        "cost": cost,
        "mask": mask,
        "segment": seg,
        "budget": 0.3 * full,
        "max_count": np.r_[0.02 * n, np.full(K - 1, np.inf)],
        "segment_max_spend": np.array([np.inf, 0.04 * full, np.inf, np.inf]),
    }


def child_plan(engine: str, n: int, K: int, seed: int, master: str, memory: str, work: Path) -> None:
    inst = plan_instance(n, K, seed)
    kw = {"segment": inst["segment"], "segment_names": ["s0", "s1", "s2", "s3"],
          "max_count": inst["max_count"], "segment_max_spend": inst["segment_max_spend"], "threads": 2}
    info: dict[str, object] = {}
    t0 = time.perf_counter()
    if engine == "single":
        from offerwise.policy import allocate

        a = allocate(inst["value"], inst["cost"], inst["budget"], inst["mask"], **kw)
    else:
        from offerwise.spark.allocate import allocate_on_spark
        from offerwise.spark.session import SparkConfig, spark_session

        spark = spark_session(SparkConfig(master=master, driver_memory=memory,
                                          conf={"spark.driver.maxResultSize": "4g"}))
        info["session_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        got = allocate_on_spark(spark, inst["value"], inst["cost"], inst["budget"], inst["mask"], **kw)
        a = got.allocation
        info |= {"passes": got.passes, "undecided": got.undecided,
                 "spark_s": round(got.seconds_spark, 2)}
    info["solve_s"] = round(time.perf_counter() - t0, 2)
    np.save(work / f"choice_{engine}.npy", a.choice)
    info |= {"value": a.value, "cost": a.cost, "budget": float(inst["budget"]), "kernel": a.kernel,
             "count0": int(a.count_by_offer[0]), "cap0": float(inst["max_count"][0]),
             "spend_s1": float(a.spend_by_segment[1]), "cap_s1": float(inst["segment_max_spend"][1]),
             "binding": a.binding}
    print(json.dumps(info))


def case_plan(a: argparse.Namespace) -> list[dict[str, object]]:
    work = a.workdir / f"plan_{a.customers}_{a.offers}_{a.seed}"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for engine in ("single", "spark"):
        res = run_child([sys.executable, str(HERE), "--child", f"plan-{engine}", "--customers",
                         str(a.customers), "--offers", str(a.offers), "--seed", str(a.seed),
                         "--master", a.master, "--driver-memory", a.driver_memory,
                         "--workdir", str(work)])
        res["engine"] = engine
        rows.append(res)
    x, y = np.load(work / "choice_single.npy"), np.load(work / "choice_spark.npy")
    ref = float(rows[0]["value"])
    rows[1]["rel_diff"] = abs(float(rows[1]["value"]) - ref) / abs(ref)
    rows[1]["choices_differ"] = int((x != y).sum())
    return rows


# --------------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------------


def case_profile(a: argparse.Namespace) -> list[dict[str, object]]:
    import pandas as pd

    from offerwise._io import write_json
    from offerwise.data.synth import generate_synthetic

    data = a.workdir / f"synthetic_{a.rows}_{a.seed}"
    marker = data / "synth.json"
    if not marker.exists():
        s = generate_synthetic(data, n_rows=a.rows, seed=a.seed)
        write_json(s.to_dict(), marker)
    exe = str(Path(sys.executable).with_name("offerwise"))
    rows = []
    for engine in ("duckdb", "spark"):
        out = a.workdir / f"profile_{engine}.parquet"
        cmd = [exe, "profile", "--data", str(data), "--out", str(out), "--json", "--engine", engine]
        if engine == "spark":
            cmd += ["--spark-master", a.master, "--spark-conf", f"spark.driver.memory={a.driver_memory}"]
        res = run_child(cmd)
        rows.append({"engine": engine, "wall_s": res["wall_s"], "peak_mb": res["peak_mb"],
                     "customers": res.get("n_customers")})
    x = pd.read_parquet(a.workdir / "profile_duckdb.parquet")
    y = pd.read_parquet(a.workdir / "profile_spark.parquet")
    num = [c for c in x.columns if x[c].dtype.kind == "f"]
    same_rows = len(x) == len(y) and x["customer_id"].equals(y["customer_id"])
    d = (x[num] - y[num]).abs().max().max() if same_rows else float("inf")
    rows[1]["max_abs_diff"] = float(d)
    rows[1]["same_rows"] = same_rows
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="plan,profile")
    ap.add_argument("--customers", type=int, default=10_000_000)
    ap.add_argument("--offers", type=int, default=8)
    ap.add_argument("--rows", type=int, default=15_000_000, help="order lines of the profile case")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="10g")
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "offerwise-bench")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=["plan-single", "plan-spark"], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child_plan(a.child.split("-")[1], a.customers, a.offers, a.seed, a.master, a.driver_memory,
                   a.workdir)
        return 0
    a.workdir.mkdir(parents=True, exist_ok=True)
    import pyspark

    out: dict[str, object] = {"master": a.master, "driver_memory": a.driver_memory,
                              "pyspark": pyspark.__version__, "cores": os.cpu_count()}
    ok = True
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    if "plan" in cases:
        rows = case_plan(a)
        out["plan"] = rows
        s = rows[1]
        ok &= float(s["wall_s"]) < PLAN_TARGET_S and float(s["rel_diff"]) <= OBJ_TOL
    if "profile" in cases:
        rows = case_profile(a)
        out["profile"] = rows
        ok &= bool(rows[1]["same_rows"]) and float(rows[1]["max_abs_diff"]) <= 1e-9
    if a.json:
        print(json.dumps(out, indent=2, default=str))
        return 0 if ok else 1
    print(f"bench_spark_scale: {out['cores']} cores, master {a.master}, driver memory "
          f"{a.driver_memory}, pyspark {out['pyspark']}; each engine a fresh process; "
          "peak MB = its whole process tree")
    if "plan" in out:
        print(f"\nplan: {a.customers:,} customers x {a.offers} offers, budget + count cap on offer 0 "
              "+ spend cap on segment 1")
        print(f"{'engine':>7} {'wall s':>8} {'solve s':>8} {'spark s':>8} {'passes':>6} "
              f"{'undecided':>10} {'peak MB':>8} {'objective':>16} {'rel diff':>9} "
              f"{'choices differ':>14}  constraints")
        for r in out["plan"]:
            cons = (f"cost {r['cost']:,.0f} <= {r['budget']:,.0f}; offer 0 {r['count0']:,} <= "
                    f"{r['cap0']:,.0f}; segment 1 {r['spend_s1']:,.0f} <= {r['cap_s1']:,.0f}")
            print(f"{r['engine']:>7} {r['wall_s']:>8.1f} {r['solve_s']:>8.1f} "
                  f"{r.get('spark_s', ''):>8} {r.get('passes', ''):>6} {r.get('undecided', ''):>10} "
                  f"{r['peak_mb']:>8,} {r['value']:>16,.2f} {r.get('rel_diff', 0.0):>9.1e} "
                  f"{r.get('choices_differ', ''):>14}  {cons}")
    if "profile" in out:
        print(f"\nprofile: {a.rows:,} order lines (offerwise profile through the CLI)")
        print(f"{'engine':>7} {'wall s':>8} {'peak MB':>8} {'customers':>10} {'max|d| vs duckdb':>17}")
        for r in out["profile"]:
            d = r.get("max_abs_diff")
            print(f"{r['engine']:>7} {r['wall_s']:>8.1f} {r['peak_mb']:>8,} {r['customers'] or '':>10} "
                  f"{'' if d is None else f'{d:.1e}':>17}")
    print(f"\nacceptance (plan < {PLAN_TARGET_S:.0f} s and objective within {OBJ_TOL:g}; profile "
          f"equal within 1e-9): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: ``offerwise profile`` end to end (validate + features + segments + summary).

Cases
  (a) The Complete Journey (1.47M lines; imported once, import not timed). Target: < 10 s wall.
  (b) Synthetic data with ``--rows`` lines (default 15M; generation timed separately, not counted).
      Target: < 60 s wall and peak RSS < 4 GB.

Every run is a fresh child process (``python bench_profile.py --child DATA``) so the wall time
includes interpreter start and imports, like the CLI, and the peak RSS is that child's own
(``os.wait4``). Baseline, measured in the same run: a bare DuckDB RFM aggregate (3 features, one
GROUP BY) over the same Parquet files in a child process — the floor any profile pays to read
the data; the ratio says what the full feature set, validation and segments cost on top.

Usage::

    .venv/bin/python benchmarks/bench_profile.py                 # full: CJ + 15M synthetic, 3 runs
    .venv/bin/python benchmarks/bench_profile.py --rows 1000000 --runs 1   # quick check
    .venv/bin/python benchmarks/bench_profile.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
TARGETS = {"completejourney": {"wall_s": 10.0}, "synthetic": {"wall_s": 60.0, "peak_rss_mb": 4096.0}}


def machine() -> dict[str, object]:
    """Cores, RAM and CPU model of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    import duckdb

    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "ram_gb": mem_gb,
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------------------------
# child processes
# --------------------------------------------------------------------------------------------


def _limit_connections(memory_limit: str) -> None:
    """Give every DuckDB connection offerwise opens a memory limit (benchmark only)."""
    from offerwise.data import contract

    orig = contract.new_connection

    def new_connection(settings=None):  # noqa: ANN001, ANN202
        con = orig(settings)
        con.execute(f"SET memory_limit = '{memory_limit}'")
        return con

    contract.new_connection = new_connection


def child_profile(data: str, threads: int, memory_limit: str) -> dict[str, object]:
    t0 = time.perf_counter()
    _limit_connections(memory_limit)
    from offerwise.config import load_settings
    from offerwise.workflows.profile import run_profile

    settings = load_settings(threads=threads)
    report = run_profile(data, settings=settings)
    return {"seconds": report.timings, "n_customers": len(report.profiles),
            "in_process_s": round(time.perf_counter() - t0, 3),
            "segments": dict(zip(report.summary["segment"], report.summary["customers"].astype(int), strict=True))}


def child_baseline(data: str, threads: int, memory_limit: str) -> dict[str, object]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    path = str(Path(data) / "transactions.parquet").replace("'", "''")
    n = con.execute(f"""
        SELECT COUNT(*) FROM (
            SELECT customer_id, COUNT(DISTINCT order_id) AS frequency, SUM(amount) AS monetary,
                   MAX(ts) AS last_ts
            FROM read_parquet('{path}') GROUP BY customer_id)""").fetchone()[0]
    return {"n_customers": n, "in_process_s": round(time.perf_counter() - t0, 3)}


def run_child(kind: str, data: Path, threads: int, memory_limit: str) -> dict[str, object]:
    """Run one child; return its JSON plus wall seconds and peak RSS (MB)."""
    cmd = [sys.executable, str(HERE), "--child", kind, "--data", str(data), "--threads", str(threads),
           "--memory-limit", memory_limit]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"child {kind} on {data} failed ({code}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["wall_s"] = round(wall, 3)
    res["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: kilobytes
    return res


# --------------------------------------------------------------------------------------------
# data preparation (not timed in the results)
# --------------------------------------------------------------------------------------------


def prepare_cj(work: Path) -> tuple[Path, str]:
    """Import Complete Journey once into ``work`` (reused later); returns (dir, how long it took)."""
    from offerwise.data.completejourney import MARKER

    out = work / "completejourney"
    if (out / MARKER).exists():
        return out, f"{json.loads((out / MARKER).read_text())['seconds']:.1f} s (cached from an earlier run)"
    from offerwise.config import load_settings
    from offerwise.data.completejourney import import_completejourney

    s = import_completejourney(out, settings=load_settings(threads=2))
    return out, f"{s.seconds:.1f} s"


def prepare_synth(work: Path, rows: int, seed: int) -> tuple[Path, str]:
    """Generate the synthetic data once into ``work`` (reused later); returns (dir, how long it took)."""
    out = work / f"synthetic_{rows}_{seed}"
    marker = out / "synth.json"
    if marker.exists():
        return out, f"{json.loads(marker.read_text())['seconds']:.1f} s (cached from an earlier run)"
    from offerwise._io import write_json
    from offerwise.data.synth import generate_synthetic

    s = generate_synthetic(out, n_rows=rows, seed=seed)
    write_json(s.to_dict(), marker)
    return out, f"{s.seconds:.1f} s"


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def bench_case(name: str, data: Path, rows: int, runs: int, threads: int, memory_limit: str) -> dict[str, object]:
    prof = [run_child("profile", data, threads, memory_limit) for _ in range(runs)]
    base = [run_child("baseline", data, threads, memory_limit) for _ in range(runs)]
    med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
    wall = med([r["wall_s"] for r in prof])
    base_wall = med([r["wall_s"] for r in base])
    rss = max(r["peak_rss_mb"] for r in prof)
    target = TARGETS[name]
    ok = wall < target["wall_s"] and rss < target.get("peak_rss_mb", float("inf"))
    return {
        "case": name, "rows": rows, "customers": prof[0]["n_customers"], "runs": runs,
        "wall_s_median": wall, "wall_s_min": min(r["wall_s"] for r in prof),
        "wall_s_max": max(r["wall_s"] for r in prof),
        "load_s_median": med([r["seconds"]["load"] for r in prof]),
        "features_segments_s_median": med([r["seconds"]["features_segments"] for r in prof]),
        "peak_rss_mb": rss,
        "baseline_wall_s_median": base_wall,
        "baseline_peak_rss_mb": max(r["peak_rss_mb"] for r in base),
        "ratio_to_baseline": round(wall / base_wall, 2) if base_wall else None,
        "target": target, "meets_target": ok, "segments": prof[0]["segments"],
    }


def print_table(results: list[dict[str, object]], info: dict[str, object]) -> None:
    print(f"machine: {info['machine']['cpu']}, {info['machine']['usable_cores']} usable cores "
          f"({info['machine']['cores']} total), {info['machine']['ram_gb']} GB RAM; "
          f"DuckDB threads={info['threads']}, memory_limit={info['memory_limit']}; "
          f"load average at start {info['machine']['load_avg_1m_at_start']} (other processes share the cores)")
    for k, v in info["prepare_s"].items():
        print(f"prepare {k}: {v} (not counted)")
    head = ("case", "rows", "customers", "runs", "wall s (med)", "min", "max", "load s", "feat+seg s",
            "peak RSS MB", "baseline s", "ratio", "target", "ok")
    rows = []
    for r in results:
        t = r["target"]
        tgt = f"<{t['wall_s']:.0f}s" + (f", <{t['peak_rss_mb'] / 1024:.0f}GB" if "peak_rss_mb" in t else "")
        rows.append((r["case"], f"{r['rows']:,}", f"{r['customers']:,}", str(r["runs"]),
                     f"{r['wall_s_median']:.2f}", f"{r['wall_s_min']:.2f}", f"{r['wall_s_max']:.2f}",
                     f"{r['load_s_median']:.2f}", f"{r['features_segments_s_median']:.2f}",
                     f"{r['peak_rss_mb']:,.0f}", f"{r['baseline_wall_s_median']:.2f}",
                     f"{r['ratio_to_baseline']:.1f}x", tgt, "yes" if r["meets_target"] else "NO"))
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for x in rows:
        print("  ".join(v.ljust(w) for v, w in zip(x, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=15_000_000, help="synthetic transaction lines")
    ap.add_argument("--runs", type=int, default=3, help="runs per case (median reported)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit of every connection")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "offerwise-bench")
    ap.add_argument("--skip-cj", action="store_true", help="skip the Complete Journey case")
    ap.add_argument("--skip-synthetic", action="store_true", help="skip the synthetic case")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--child", choices=["profile", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        fn = child_profile if a.child == "profile" else child_baseline
        print(json.dumps(fn(a.data, a.threads, a.memory_limit)))
        return 0

    a.workdir.mkdir(parents=True, exist_ok=True)
    info: dict[str, object] = {"machine": machine(), "threads": a.threads, "memory_limit": a.memory_limit,
                               "prepare_s": {}}
    results = []
    if not a.skip_cj:
        data, secs = prepare_cj(a.workdir)
        info["prepare_s"]["completejourney import"] = secs
        import duckdb

        n = duckdb.connect().execute(
            f"SELECT COUNT(*) FROM read_parquet('{data / 'transactions.parquet'}')").fetchone()[0]
        results.append(bench_case("completejourney", data, n, a.runs, a.threads, a.memory_limit))
    if not a.skip_synthetic:
        data, secs = prepare_synth(a.workdir, a.rows, a.seed)
        info["prepare_s"][f"synthetic generation ({a.rows:,} rows)"] = secs
        results.append(bench_case("synthetic", data, a.rows, a.runs, a.threads, a.memory_limit))
    if a.json:
        print(json.dumps({"info": info, "results": results}, indent=2))
    else:
        print_table(results, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Check and time: the Spark engine's features against DuckDB's on the same data.

For each case the feature table is computed twice from the same validated data directory: by
DuckDB (``compute_features``) and by Spark SQL (``offerwise.spark``, ``feature_sql(dialect=
"spark")``). The script prints rows, columns, the largest absolute difference per column group
(and string mismatches), and the seconds each engine took. Acceptance: same rows, every numeric
difference <= 1e-9, no string mismatch (exit 1 otherwise).

Cases
  profile    every customer at the default decision date (what ``offerwise profile`` computes)
  exposures  one cutoff per exposure at its own ts (what training computes)

Timings: "duckdb s" is the feature query on an open DuckDB connection; "spark s" is registering
the Parquet files as views plus the feature query and the collect to pandas, on a warm session
(the session start is printed once, separately). Validation (DuckDB, shared by both engines) is
not in either column.

Usage::

    .venv/bin/python benchmarks/bench_spark.py --data /path/to/cj          # a contract directory
    .venv/bin/python benchmarks/bench_spark.py                             # imports CJ (extra data)
    .venv/bin/python benchmarks/bench_spark.py --data DIR --master local[4] --partitions 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.data.contract import load_data
from offerwise.features.engine import compute_features
from offerwise.spark.features import register_contract, spark_features
from offerwise.spark.session import SparkConfig, spark_session
from offerwise.vocab import default_as_of

TOL = 1e-9
GROUPS = {
    "days": ["recency_days", "tenure_days", "mean_gap_days"],
    "counts": ["frequency", "n_categories"],
    "money": ["monetary", "avg_basket", "spend_recent", "spend_previous", "clv_expected"],
    "shares": ["spend_trend", "discount_share", "discount_order_share", "private_label_share",
               "top_brand_share", "top_category_share", "churn_risk"],
}
TEXT = ["customer_id", "top_brand", "top_category", "top_category_2", "top_category_3"]


def compare(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    """Max |a - b| per column group (inf when NaNs differ), and string/timestamp mismatches."""
    assert list(a.columns) == list(b.columns), (list(a.columns), list(b.columns))
    out: dict[str, float] = {}
    for g, cols in GROUPS.items():
        worst = 0.0
        for c in cols:
            x, y = a[c].to_numpy(float), b[c].to_numpy(float)
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                worst = float("inf")
                continue
            d = np.abs(x - y)[~np.isnan(x)]
            worst = max(worst, float(d.max()) if len(d) else 0.0)
        out[g] = worst
    bad = 0
    for c in [*TEXT, "as_of"]:
        x, y = a[c].astype(object), b[c].astype(object)
        bad += int((~((x == y).fillna(False) | (x.isna() & y.isna()))).sum())
    out["text_mismatches"] = float(bad)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="contract data directory (default: import CJ)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=2, help="spark.sql.shuffle.partitions")
    ap.add_argument("--driver-memory", default="2g", help="spark.driver.memory")
    ap.add_argument("--cases", default="profile,exposures")
    args = ap.parse_args(argv)

    data = args.data
    if data is None:
        from offerwise.data.completejourney import import_completejourney

        data = Path(tempfile.mkdtemp(prefix="bench_spark_")) / "cj"
        import_completejourney(data)
    t = time.perf_counter()
    ds = load_data(data)
    t_validate = time.perf_counter() - t
    t = time.perf_counter()
    spark = spark_session(SparkConfig(master=args.master, shuffle_partitions=args.partitions,
                                      driver_memory=args.driver_memory))
    t_session = time.perf_counter() - t
    lit = default_as_of(ds).strftime("%Y-%m-%d %H:%M:%S.%f")
    cases = {
        "profile": f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers",
        "exposures": "SELECT customer_id, ts AS as_of FROM exposures",
    }
    rows = []
    ok = True
    for name in args.cases.split(","):
        sql = cases[name]
        if name == "exposures" and not ds.has("exposures"):
            continue
        ds.con.execute(f"CREATE OR REPLACE TEMP VIEW bench_cutoffs AS {sql}")
        t = time.perf_counter()
        duck = compute_features(ds.con, "bench_cutoffs", settings=ds.settings)
        t_duck = time.perf_counter() - t
        t = time.perf_counter()
        register_contract(spark, ds)
        spark.sql(sql).createOrReplaceTempView("bench_cutoffs")
        sp = spark_features(spark, "bench_cutoffs", settings=ds.settings)
        t_spark = time.perf_counter() - t
        same_rows = len(duck) == len(sp)
        diff = compare(duck, sp) if same_rows else {}
        ok &= same_rows and all(v <= TOL for k, v in diff.items() if k != "text_mismatches")
        ok &= diff.get("text_mismatches", 1.0) == 0
        rows.append((name, len(duck), len(sp), duck.shape[1], diff, t_duck, t_spark))

    print(f"data: {data}  (validated by DuckDB in {t_validate:.1f} s)")
    print(f"spark: master {args.master}, {args.partitions} shuffle partitions, driver memory "
          f"{args.driver_memory}, "
          f"session start {t_session:.1f} s, pyspark {__import__('pyspark').__version__}")
    head = ["case", "rows duckdb", "rows spark", "columns", *(f"max|d| {g}" for g in GROUPS),
            "text mismatches", "duckdb s", "spark s"]
    body = [[name, f"{n1:,}", f"{n2:,}", str(nc), *(f"{d.get(g, float('nan')):.1e}" for g in GROUPS),
             f"{int(d.get('text_mismatches', -1))}", f"{td:.2f}", f"{ts:.2f}"]
            for name, n1, n2, nc, d, td, ts in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for r in body:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print(f"acceptance (same rows, numbers within {TOL:g}, strings equal): "
          + ("met" if ok else "NOT met"))
    spark.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

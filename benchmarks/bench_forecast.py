"""Benchmark: ``offerwise forecast`` on the Complete Journey import (issue #15, part 1).

* ``backtest``: weekly sales (amount) with the last ``--holdout`` weeks held out, at category level
  (every category) and at top-``--top``-product level: MASE (mean and median over series) and 80 % /
  95 % interval coverage of the backtest-chosen models vs seasonal-naive and naive (and each
  candidate alone), exactly what ``offerwise forecast --evaluate`` prints;
* ``throughput``: the forecast itself (backtest choice + refit, 12 weeks, category level) with
  every candidate and without AutoARIMA, series per second on ``--threads`` cores
  (statsforecast ``n_jobs``; NUMBA_NUM_THREADS set to the same).

    .venv/bin/python benchmarks/bench_forecast.py --data /tmp/cj        # offerwise import completejourney --out /tmp/cj
"""

from __future__ import annotations

import argparse
import os
import sys

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--data", default="/tmp/cj", help="a Complete Journey import (offerwise import completejourney)")
ap.add_argument("--holdout", type=int, default=12)
ap.add_argument("--top", type=int, default=200)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--parts", nargs="+", default=["backtest", "throughput"])
args = ap.parse_args()
os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from offerwise.config import load_settings  # noqa: E402
from offerwise.data.contract import load_data  # noqa: E402
from offerwise.demand.forecast import DEFAULT_MODELS, MODEL_NAMES  # noqa: E402
from offerwise.workflows.forecast import run_forecast  # noqa: E402

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)


def main() -> int:
    settings = load_settings(None, threads=args.threads)
    if not Path(args.data).exists():  # `make bench` on a fresh machine: import it first
        from offerwise.data.completejourney import import_completejourney

        import_completejourney(Path(args.data))
    t = time.perf_counter()
    ds = load_data(args.data, settings=settings, required=("transactions",))
    print(f"data {args.data}: loaded in {time.perf_counter() - t:.1f} s; {args.threads} threads "
          f"(statsforecast n_jobs={min(2, args.threads)}), {os.cpu_count()} cores on the machine")
    if "backtest" in args.parts:
        for level in ("category", "product"):
            run = run_forecast(ds, level=level, horizon=args.holdout, evaluate=True,
                               holdout_weeks=args.holdout, top=args.top, settings=settings)
            bt = run.backtest
            assert bt is not None
            chosen = run.chosen.value_counts().to_dict()
            print(f"\n## backtest, {level} level: {run.n_series} series, {bt.train_weeks} weeks fitted, "
                  f"last {bt.holdout_weeks} weeks held out ({run.timings['backtest']:.1f} s)")
            print(f"chosen models: {chosen}")
            print(bt.metrics.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if "throughput" in args.parts:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for label, models in (("default (no AutoARIMA)", DEFAULT_MODELS),
                                  ("all five", MODEL_NAMES)):
                run = run_forecast(ds, level="category", horizon=12, out=Path(tmp) / "fc.parquet",
                                   models=models, settings=settings)
                rows.append({"models": label, "series": run.n_series, "weeks": run.n_weeks,
                             "seconds": run.timings["forecast"], "series_per_s": run.series_per_second,
                             "target_per_s": 100.0, "met": run.series_per_second >= 100})
        print(f"\n## throughput: category level, 12-week forecast (backtest choice + refit), "
              f"{args.threads} threads")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

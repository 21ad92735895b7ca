"""Benchmark: the ranker's settings on the Complete Journey validation window (docs/recommend.md).

``recommend --evaluate`` with the history before 2017-09-12 and the 8 weeks to 2017-11-07 held
out (the last 8 weeks of the data, the test window, are not read), for a few settings of
:class:`offerwise.recommend.ranker.RankerParams`: NDCG@10, explore NDCG@10 and fit seconds of the
ranker next to buy-again's. The shipped settings are the ``100x0.1 pop30 cf20`` row.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ranker_settings.py --data CJ_DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import offerwise.recommend.methods as methods  # noqa: E402
from offerwise.data.contract import load_data  # noqa: E402
from offerwise.workflows.recommend import evaluate_recommenders  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "200x0.05 pop60 cf30": {"n_estimators": 200, "learning_rate": 0.05, "n_popular": 60, "n_cf": 30},
    "100x0.1 pop60 cf30": {"n_estimators": 100, "learning_rate": 0.1, "n_popular": 60, "n_cf": 30},
    "100x0.1 pop60 cf30 leaves63": {"n_estimators": 100, "learning_rate": 0.1, "n_popular": 60,
                                    "n_cf": 30, "num_leaves": 63},
    "100x0.1 pop30 cf20": {"n_estimators": 100, "learning_rate": 0.1, "n_popular": 30, "n_cf": 20},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a Complete Journey import")
    ap.add_argument("--as-of", default="2017-11-07", help="end of the held-out weeks")
    args = ap.parse_args()
    ds = load_data(args.data, required=("customers", "transactions"))
    for level in ("category", "product"):
        base = methods.default_params(level)
        for name, kw in VARIANTS.items():
            methods._DEFAULTS[level] = dataclasses.replace(
                base, ranker=dataclasses.replace(base.ranker, **kw)  # type: ignore[arg-type]
            )
            ev = evaluate_recommenders(ds, holdout_weeks=8, level=level, as_of=args.as_of,
                                       methods=("buy-again", "ranker"))
            r = {m.method: m for m in ev.rows}
            print(f"{level:<8} {name:<28} ranker NDCG@10 {r['ranker'].ndcg:.4f} explore "
                  f"{r['ranker'].explore_ndcg:.4f} fit {r['ranker'].fit_seconds:5.1f} s | "
                  f"buy-again {r['buy-again'].ndcg:.4f}", flush=True)
        methods._DEFAULTS[level] = base


if __name__ == "__main__":
    main()

"""Benchmark: what the `offerwise` command costs before and around the work, on small shops.

Every command process imports its libraries first. ``import lightgbm`` imports scikit-learn
(and ``scipy.stats``) when it is installed, about 1.2 s on 2 cores for estimator classes offerwise
does not use; the ``offerwise`` command imports LightGBM without it (``offerwise._lightgbm``).
On a small shop that start-up is most of a command's time: causalml's multi-offer protocol
(``bench_causalml.py --protocol multiarm``, issue #13) counts both CLI processes against
causalml's X-learner fitted in-process.

Rows, each the median wall time of ``--runs`` runs, alternating with the baselines in the same
run: the same commands with ``OFFERWISE_LEAN_LIGHTGBM=0`` (LightGBM imported as usual), and with
``--baseline-src DIR`` an older offerwise's ``src`` folder on ``PYTHONPATH`` (``git worktree add
/tmp/ow-old COMMIT``, then ``--baseline-src /tmp/ow-old/src``):

* ``train`` on a missing folder (start-up and the error message only);
* ``train`` and ``score`` (default settings) on a simulated shop of ``--customers`` customers and
  ``--exposures`` exposures, and their sum;
* the same on causalml's ``make_uplift_classification`` defaults (3 offers + control, 2,800
  training rows: the multiarm protocol's shop, seed 0), when causalml is installed.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--customers 1500] [--exposures 3000]
        [--baseline-src /tmp/ow-old/src]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli_timing import bench_shops, print_medians, timed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--customers", type=int, default=1500)
    ap.add_argument("--exposures", type=int, default=3000)
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="an older offerwise's src folder, run with PYTHONPATH")
    args = ap.parse_args(argv)
    variants = {"lean LightGBM import (default)": {"OFFERWISE_LEAN_LIGHTGBM": "1"},
                "`OFFERWISE_LEAN_LIGHTGBM=0`": {"OFFERWISE_LEAN_LIGHTGBM": "0"}}
    if args.baseline_src is not None:
        variants[f"baseline {args.baseline_src}"] = {"PYTHONPATH": str(args.baseline_src.resolve())}
    names = list(variants)

    work = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    shops = bench_shops(work, args.customers, args.exposures)

    rows: dict[str, dict[str, list[float]]] = {}

    def add(name: str, variant: str, s: float) -> None:
        rows.setdefault(name, {v: [] for v in names})[variant].append(s)

    for _ in range(args.runs):
        for k, (v, env) in enumerate(variants.items()):
            add("train on a missing folder (error)", v,
                timed(["train", "--data", str(work / "missing"), "--out", str(work / "x")],
                      env, ok=False))
            for name, shop in shops.items():
                m, s = shop / f"model-{k}", shop / f"s-{k}.parquet"
                t = timed(["train", "--data", str(shop), "--out", str(m)], env)
                sc = timed(["score", "--model", str(m), "--data", str(shop), "--out", str(s)], env)
                add(f"{name}: train", v, t)
                add(f"{name}: score", v, sc)
                add(f"{name}: train + score", v, t + sc)

    print(f"\nmedian wall seconds of {args.runs} runs, alternating (2 cores; work folder {work})\n")
    print_medians(rows, names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

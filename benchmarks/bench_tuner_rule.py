"""Benchmark: would a looser switching rule let the tuner pick the X-learner on causalml's
multi-offer data, and would that rank the test rows better?

Data and split: ``bench_causalml.py --protocol multiarm`` (causalml's
``make_uplift_classification`` with its defaults, the seeded 70/30 split, data seeds
0..``--repeats``-1). Per seed, in-process on the generator's feature columns:
``offerwise.workflows.tune.tune`` cross-fits ``--tune fast``'s candidates plus an X-learner with
the default's rows per leaf on the training rows (no propensity logged: estimated out of fold, as
the CLI does). For each rule ``--z`` (the best out-of-fold DR plan value is chosen if it beats
the default by more than z standard errors of the paired difference, ``tune.choose``; the shipped
``fast`` rule is 1.96 over its three candidates), the chosen candidate, fitted on the training
rows, ranks the test rows (causalml's ``auuc_score(normalize=True)``, mean over the three
treatments), compared seed by seed with causalml's X-learner (LightGBM defaults). The rows
"always C" show each candidate chosen on every seed.

    .venv/bin/python benchmarks/bench_tuner_rule.py [--repeats 10] [--z 0 1 1.96] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

import offerwise.workflows.tune as tune_mod
from offerwise.models.defaults import default_min_child_samples
from offerwise.workflows.crossfit import Candidate, fit_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_causalml import (  # noqa: E402
    ARMS,
    causalml_multiarm,
    inprocess_exposures,
    mean_auuc,
    multiarm_split,
    uplift_of,
)

X_NAME = "causalml BaseXClassifier"


def run_seed(seed: int, zs: list[float]) -> dict:
    """One data seed: each candidate's held-out AUUC and out-of-fold z against the default, the
    candidate each rule chooses, and causalml's X-learner's AUUC."""
    df, x_names, test = multiarm_split(seed)
    g = df["treatment_group_key"].to_numpy()
    y = df["conversion"].to_numpy(dtype=np.float64)
    X = df[x_names].to_numpy(dtype=np.float64)
    tr = ~test
    ex, kwargs = inprocess_exposures(g[tr], y[tr])
    mcs = default_min_child_samples(len(ex))
    cands = [*tune_mod.candidates("fast", len(ex)), Candidate("x", mcs)]
    orig = tune_mod.candidates
    tune_mod.candidates = lambda *a, **k: cands  # fast's candidates plus the X-learner
    try:
        res = tune_mod.tune("fast", X[tr], ex, list(ARMS), model_kwargs=kwargs, propensity=None,
                            seed=42, threads=2)
    finally:
        tune_mod.candidates = orig
    auuc = [mean_auuc(y[test], g[test],
                      uplift_of(fit_model(c, X[tr], ex, list(ARMS), kwargs, None), X[test]))
            for c in cands]
    pred, _ = causalml_multiarm(X[tr], g[tr], y[tr], X[test], seed)[X_NAME]
    return {"seed": seed, "candidates": [c.label for c in cands], "auuc": auuc,
            "z": [s.diff_vs_default / s.se_vs_default if s.se_vs_default > 0 else 0.0
                  for s in res.scores],
            "chosen": {f"{z:g}": tune_mod.choose(res.scores, z) for z in zs},
            "auuc_causalml_x": mean_auuc(y[test], g[test], pred)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--z", type=float, nargs="+", default=[0.0, 1.0, 1.96])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [run_seed(s, args.z) for s in range(args.repeats)]
    cx = [r["auuc_causalml_x"] for r in runs]
    rows = [{"rule": f"always {label}", "per_seed": [r["auuc"][j] for r in runs], "chosen": []}
            for j, label in enumerate(runs[0]["candidates"])]
    rows += [{"rule": f"switch at z > {z}", "chosen": [r["chosen"][z] for r in runs],
              "per_seed": [r["auuc"][r["chosen"][z]] for r in runs]}
             for z in (f"{z:g}" for z in args.z)]
    for row in rows:
        row["mean"] = statistics.fmean(row["per_seed"])
        row["seeds_ge_x"] = sum(a >= b for a, b in zip(row["per_seed"], cx, strict=True))
    out = {"runs": runs, "rows": rows, "causalml_x_mean": statistics.fmean(cx),
           "causalml_x_per_seed": cx}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"bench_tuner_rule: causalml multiarm protocol, {args.repeats} data seeds; held-out "
          f"AUUC (causalml auuc_score, normalized, mean over 3 treatments); causalml X-learner "
          f"mean {out['causalml_x_mean']:.3f} ({' '.join(f'{v:.2f}' for v in cx)})")
    print("candidates: " + "; ".join(f"{j}: {c}" for j, c in enumerate(runs[0]["candidates"])))
    print(f"{'rule':52s} {'mean':>6s} {'>= X':>5s}  per seed (chosen candidate)")
    for row in rows:
        cells = [f"{v:.2f}" + (f"({c})" if row["chosen"] else "")
                 for v, c in zip(row["per_seed"], row["chosen"] or [None] * len(runs), strict=True)]
        print(f"{row['rule']:52s} {row['mean']:6.3f} {row['seeds_ge_x']:>2d}/{len(runs)}  "
              + " ".join(cells))
    print("out-of-fold z vs the default, per seed: " + "; ".join(
        " ".join(f"{z:+.2f}" for z in r["z"][1:]) for r in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: estimated propensities on randomized logs that carry none, and what they do to the
tuner's choice, with and without the blend with the arm frequencies
(``offerwise.models.propensity.shrink_to_frequencies``).

Data: causalml's ``make_uplift_classification`` with its default arguments (3 treatments +
control, 1,000 rows per group, assigned at random: the true propensity is 0.25 for every row), the
seeded 70/30 split of ``bench_causalml.py --protocol multiarm``, seeds 0..``--repeats``-1. Per seed
and per variant (``blend``: the product; ``raw``: the classifier's out-of-fold probabilities alone,
the code before the blend, as the baseline in the same run):

* the estimated propensity of each training row's own arm (``arm_propensities``, what the tuner
  uses when no propensity was logged): its 1st and 99th percentiles, its out-of-fold log-loss
  against the arm frequencies', and the mean inverse propensity (the truth: 4.0);
* (both also for the X-learner's own propensities, ``estimate_propensities``)
* the tuner's paired out-of-fold DR comparison of an X-learner (15 leaves, 10 rows per leaf) with
  the default (``tune`` on the training rows with the two candidates; z = difference / its
  standard error), against the held-out ranking: each candidate refitted on the training rows ranks
  the test rows (causalml's ``auuc_score(normalize=True)``, mean over the three treatments).

The last lines count the seeds where the tuner's z and the held-out AUUC difference have the same
sign.

    .venv/bin/python benchmarks/bench_propensity.py [--repeats 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import offerwise.evaluation.identification as identification
import offerwise.models.propensity as propensity
import offerwise.workflows.tune as tune_mod
from offerwise.models.defaults import DEFAULT_BAGS
from offerwise.models.propensity import shrink_to_frequencies
from offerwise.vocab import NO_OFFER
from offerwise.workflows.crossfit import Candidate, fit_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_causalml import ARMS, mean_auuc, multiarm_split  # noqa: E402


def _raw(P, label, freq, grid=101):  # noqa: ANN001, ANN202 - the baseline: no blend
    return np.asarray(P, dtype=np.float64)


def run_seed(seed: int) -> list[dict]:
    df, x_names, test = multiarm_split(seed)
    g = df["treatment_group_key"].to_numpy()
    y = df["conversion"].to_numpy(dtype=np.float64)
    X = df[x_names].to_numpy(dtype=np.float64)
    offer = np.where(g == "control", NO_OFFER, g)
    tr = ~test
    ex = pd.DataFrame({"customer_id": [f"c{i}" for i in np.flatnonzero(tr)], "offer_id": offer[tr],
                       "converted": y[tr], "revenue": y[tr], "discount_cost": 0.0,
                       "gross_profit": y[tr]})
    arms = [NO_OFFER, *ARMS]
    action = np.array([arms.index(o) for o in offer[tr]])
    freq = np.bincount(action, minlength=len(arms)) / len(action)
    kwargs = {"profit": "hurdle", "min_treated": 50, "n_bags": DEFAULT_BAGS,
              "propensity_clip": (0.01, 0.99), "n_jobs": 2, "random_state": 42}
    default = Candidate("ptb", max(20, len(ex) // 100))
    cands = [default, Candidate("x", 10)]

    def auuc(c: Candidate) -> float:
        sc = fit_model(c, X[tr], ex, list(ARMS), kwargs, None).predict(X[test])
        pred = sc.incremental_conversion[:, [sc.offers.index(a) for a in ARMS]]
        return mean_auuc(y[test], g[test], pred)

    auuc_default, auuc_x = auuc(cands[0]), auuc(cands[1])
    held_out = auuc_x - auuc_default
    rows = []
    for variant, blend in (("blend", shrink_to_frequencies), ("raw", _raw)):
        # what arm_propensities (the tuner's DR) and estimate_propensities (the X-learner) call
        identification.shrink_to_frequencies = propensity.shrink_to_frequencies = blend
        p = identification.arm_propensities(X[tr], action, len(arms), seed=42, threads=2)
        orig = tune_mod.candidates
        tune_mod.candidates = lambda *a, **k: cands
        try:
            res = tune_mod.tune("full", X[tr], ex, list(ARMS), model_kwargs=kwargs,
                                propensity=None, seed=42, threads=2)
        finally:
            tune_mod.candidates = orig
        x = res.scores[1]
        rows.append({"seed": seed, "variant": variant,
                     "p01": float(np.quantile(p, 0.01)), "p99": float(np.quantile(p, 0.99)),
                     "logloss": float(-np.log(p).mean()),
                     "logloss_freq": float(-np.log(freq[action]).mean()),
                     "mean_inv_p": float((1 / p).mean()),
                     "z_x_vs_default": x.diff_vs_default / x.se_vs_default,
                     "heldout_auuc_x_minus_default": held_out,
                     "auuc_default": auuc_default, "auuc_x": auuc_x})
    identification.shrink_to_frequencies = propensity.shrink_to_frequencies = shrink_to_frequencies
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [r for s in range(args.repeats) for r in run_seed(s)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("estimated propensity of the logged arm (true 0.25), and the tuner's paired z of an "
          "X-learner vs the default; held-out: AUUC(X) - AUUC(default) on the 30 % test rows")
    print(f"{'seed':>4} {'variant':>7} {'p 1%':>6} {'p 99%':>6} {'logloss':>8} {'freq ll':>8} "
          f"{'mean 1/p':>8} {'z X':>6} {'held-out':>9}")
    for r in rows:
        print(f"{r['seed']:>4} {r['variant']:>7} {r['p01']:6.3f} {r['p99']:6.3f} "
              f"{r['logloss']:8.4f} {r['logloss_freq']:8.4f} {r['mean_inv_p']:8.2f} "
              f"{r['z_x_vs_default']:+6.2f} {r['heldout_auuc_x_minus_default']:+9.3f}")
    for v in ("blend", "raw"):
        rs = [r for r in rows if r["variant"] == v]
        agree = sum(np.sign(r["z_x_vs_default"]) == np.sign(r["heldout_auuc_x_minus_default"])
                    for r in rs)
        print(f"{v}: z > 0 on {sum(r['z_x_vs_default'] > 0 for r in rs)}/{len(rs)} seeds; same sign "
              f"as the held-out AUUC difference on {agree}/{len(rs)}; median mean 1/p "
              f"{statistics.median(r['mean_inv_p'] for r in rs):.2f}")
    rs = [r for r in rows if r["variant"] == "blend"]
    print(f"held-out AUUC, mean over seeds: default {statistics.fmean(r['auuc_default'] for r in rs):.3f}, "
          f"X-learner {statistics.fmean(r['auuc_x'] for r in rs):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

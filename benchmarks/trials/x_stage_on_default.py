"""Trial (not in the product): an X-learner second stage on top of the default model.

On causalml's ``make_uplift_classification`` with its defaults (the multi-offer protocol of
``bench_causalml.py``, seeds 0-9, 70/30 split), each arm's imputed effects (treated: y − p_none;
control: p_k − y, from the default ``ptb`` model fitted in-process) are regressed by a LightGBM
booster started (``init_score``) from the default's conversion uplift and early-stopped on a 25 %
split, then blended by the arm's share (``ptbx``); ``x0`` is the same without the start. Mean
normalized AUUC (causalml's ``auuc_score``) against causalml's X-learner, as in the bench.

    .venv/bin/python benchmarks/trials/x_stage_on_default.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_causalml import ARMS, mean_auuc  # noqa: E402

from offerwise.errors import require  # noqa: E402
from offerwise.models.defaults import DEFAULT_BAGS  # noqa: E402
from offerwise.workflows.crossfit import Candidate, fit_model  # noqa: E402


def fit_tau(X: np.ndarray, d: np.ndarray, init: np.ndarray, seed: int) -> lgb.Booster:
    """A regression of the imputed effects ``d`` started from ``init``, rounds early-stopped on
    a 25 % split, then refitted on every row with those rounds."""
    va = np.random.default_rng(seed).random(len(d)) < 0.25
    p = dict(objective="regression", learning_rate=0.05, num_leaves=15, min_child_samples=27,
             verbose=-1, num_threads=2, seed=seed, deterministic=True)
    tr = lgb.Dataset(X[~va], d[~va], init_score=init[~va])
    b = lgb.train(p, tr, 300, valid_sets=[lgb.Dataset(X[va], d[va], init_score=init[va],
                                                      reference=tr)],
                  callbacks=[lgb.early_stopping(20, verbose=False)])
    return lgb.train(p, lgb.Dataset(X, d, init_score=init), max(b.best_iteration or 300, 1))


def main() -> None:
    dataset = require("causalml.dataset", "bench")
    meta = require("causalml.inference.meta", "bench")
    res: dict[str, list[float]] = {k: [] for k in ("ptb", "ptbx", "x0", "causalml X")}
    for seed in range(10):
        df, xn = dataset.make_uplift_classification(n_samples=1000, random_seed=seed)
        test = np.random.default_rng(seed).random(len(df)) < 0.3
        g, y = df["treatment_group_key"].to_numpy(), df["conversion"].to_numpy(float)
        X = df[xn].to_numpy()
        xtr, xte, gtr, ytr = X[~test], X[test], g[~test], y[~test]

        def auuc(pred: np.ndarray) -> float:
            return mean_auuc(y[test], g[test], pred)

        ex = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(gtr))],
                           "offer_id": np.where(gtr == "control", "none", gtr), "converted": ytr,
                           "revenue": ytr, "discount_cost": 0.0, "gross_profit": ytr})
        kw = {"profit": "hurdle", "min_treated": 50, "n_bags": DEFAULT_BAGS,
              "propensity_clip": (0.01, 0.99), "n_jobs": 2, "random_state": 42}
        model = fit_model(Candidate("ptb", 28), xtr, ex, list(ARMS), kw, None)
        s_tr, s_te = model.predict(xtr), model.predict(xte)
        idx = [s_tr.offers.index(a) for a in ARMS]
        res["ptb"].append(auuc(s_te.incremental_conversion[:, idx]))
        for name, start in (("ptbx", True), ("x0", False)):
            pred = np.zeros((len(xte), len(ARMS)))
            for j, a in enumerate(ARMS):
                k = idx[j]
                p0 = s_tr.p_convert_none if s_tr.p_convert_none.ndim == 1 else s_tr.p_convert_none[:, k]
                t1, t0 = gtr == a, gtr == "control"
                tau = s_tr.incremental_conversion[:, k] if start else np.zeros(len(gtr))
                b1 = fit_tau(xtr[t1], ytr[t1] - p0[t1], tau[t1], seed)
                b0 = fit_tau(xtr[t0], s_tr.p_convert[t0, k] - ytr[t0], tau[t0], seed + 1)
                base = s_te.incremental_conversion[:, k] if start else 0.0
                e = t1.sum() / (t1.sum() + t0.sum())
                pred[:, j] = e * (base + b0.predict(xte)) + (1 - e) * (base + b1.predict(xte))
            res[name].append(auuc(pred))
        lk = {"n_jobs": 2, "verbose": -1, "random_state": seed}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cx = meta.BaseXClassifier(lgb.LGBMClassifier(**lk), lgb.LGBMRegressor(**lk),
                                      control_name="control")
            cx.fit(xtr, gtr, ytr)
            res["causalml X"].append(auuc(np.asarray(cx.predict(xte, verbose=False))
                                          .reshape(len(xte), -1)))
        print(f"seed {seed}: " + "  ".join(f"{k} {v[-1]:.3f}" for k, v in res.items()), flush=True)
    for k, v in res.items():
        wins = sum(a >= b for a, b in zip(v, res["causalml X"], strict=True))
        print(f"{k:11s} mean {np.mean(v):.3f}  seeds >= causalml X {wins}/10")


if __name__ == "__main__":
    main()

"""Benchmark (issue #12, exploration row): remedies tried for "one ``--explore 0.2`` round then
retrain does not lift the plan's true value on confounded logs". None is in the product; this
script keeps the evidence reproducible.

Per market seed (``confounded`` logging, no propensities, as ``bench_identification --parts
explore``): the history model's plan (``before``); one campaign planned with ``--explore 0.2`` and
run in the simulator; then

* ``after``: retrain on the campaign's exposures (logged propensities), plan — what the product does;
* ``hist+blp``: the history model's incremental profit per offer recalibrated on the campaign's
  non-holdout rows by the best linear predictor of the IPW pseudo-outcome
  ``y · (1{a=k} − 1{a=none}) / p`` on ``[1, τ̂_k(x) − mean τ̂_k]`` (slope clipped to [0, 1]);
* ``after+cap``: the campaign model, but only customers whose best predicted gain is above the
  gain at the share of customers that maximises the model's out-of-fold DR plan value (no one when
  every share's OOF DR value is <= 0).

Values are the plan's true incremental profit as a share of the oracle at the same budget.

    .venv/bin/python benchmarks/bench_explore_remedies.py --seeds 5
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_identification import _budget, _market, _train, explore_round  # noqa: E402

from offerwise.config import load_settings  # noqa: E402
from offerwise.evaluation.plan_value import (  # noqa: E402
    dr_increments,
    per_customer_mean,
    top_share_policy,
)
from offerwise.models.persist import load_model  # noqa: E402
from offerwise.simulator import write_market  # noqa: E402
from offerwise.workflows.plan import make_plan  # noqa: E402
from offerwise.workflows.score import score  # noqa: E402

GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)


def _with_scores(scored, frame: pd.DataFrame):  # noqa: ANN001, ANN202
    out = copy.copy(scored)
    object.__setattr__(out, "scores", frame)
    return out


def blp(S: pd.DataFrame, ex: pd.DataFrame) -> pd.DataFrame:
    """The history scores recalibrated per offer on the campaign's non-holdout rows."""
    e = ex[ex["propensity"] < 1]
    y = (e["gross_profit"] - e["discount_cost"]).to_numpy()
    out = S.copy()
    for a in S["offer_id"].unique():
        if a == "none":
            continue
        z = y * ((e["offer_id"] == a).to_numpy(float) - (e["offer_id"] == "none").to_numpy(float))
        z = z / e["propensity"].to_numpy()
        t = e[["customer_id"]].merge(S[S["offer_id"] == a][["customer_id", "incremental_profit"]],
                                     on="customer_id", how="left")["incremental_profit"].to_numpy()
        m = t.mean()
        (al, be), *_ = np.linalg.lstsq(np.c_[np.ones(len(t)), t - m], z, rcond=None)
        sel = out["offer_id"] == a
        out.loc[sel, "incremental_profit"] = al + min(max(be, 0.0), 1.0) * (
            S.loc[sel, "incremental_profit"] - m)
    return out


def depth_threshold(tr, ex: pd.DataFrame) -> float:  # noqa: ANN001
    """Gain threshold at the share with the best OOF DR plan value (inf: none is positive)."""
    t = tr.tuning
    q, arms = t.oof.q, t.oof.arms
    action = ex["offer_id"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    reward = (ex["gross_profit"] - ex["discount_cost"]).to_numpy()
    d = dr_increments(reward, action, t.pscore, top_share_policy(q, GRID), q)
    m = per_customer_mean(ex["customer_id"].astype(str).to_numpy(), d).mean(axis=0)
    j = int(np.argmax(m))
    if m[j] <= 0:
        return float("inf")
    gain = q[:, 1:].max(axis=1) - q[:, 0]
    return max(float(np.quantile(gain, 1 - GRID[j])), 0.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--exposures", type=int, default=30_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    settings = load_settings(threads=args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_explore_remedies_"))
    rows = []
    t0 = time.perf_counter()
    for s in range(args.seeds):
        seed = 300 + s
        mk = _market(seed, "confounded", args.customers, args.exposures, record=False)
        d = write_market(mk, tmp / f"e-{s}")
        tr = _train(d, tmp / f"em-{s}", seed, settings)
        budget, sc = _budget(tr.model_dir, d, settings)
        oracle = mk.oracle_value(budget)

        def value(model_dir: Path, scored, as_of=None) -> float:  # noqa: ANN001
            r = make_plan(load_model(model_dir), d, budget, tmp / "p.parquet", seed=seed,
                          settings=settings, scored=scored, frontier=False, as_of=as_of)
            p = r.result.to_frame()
            t = p[p["group"] == "treatment"][["customer_id", "offer_id"]]
            return mk.true_policy_value(t) / oracle

        before = value(tr.model_dir, sc)
        exr, camp, d2, _ = explore_round(mk, d, tr.model_dir, sc, seed, settings, tmp / f"c-{s}")
        tr2 = _train(d2, tmp / f"cm-{s}", seed, settings)
        as_of = exr.result.as_of
        sc2 = score(tr2.model_dir, d, settings=settings, as_of=as_of)
        after = value(tr2.model_dir, sc2, as_of)
        hist_blp = value(tr.model_dir, _with_scores(sc, blp(sc.scores, camp.exposures)))
        thr = depth_threshold(tr2, pd.read_parquet(d2 / "exposures.parquet").reset_index(drop=True))
        S = sc2.scores.copy()
        low = (S["offer_id"] != "none") & (S["incremental_profit"] < thr)
        S.loc[low, "incremental_profit"] = -1e-6 - S.loc[low, "incremental_profit"].abs()
        capped = value(tr2.model_dir, _with_scores(sc2, S), as_of)
        rows.append({"seed": seed, "oracle": oracle, "before": before, "after": after, "hist+blp": hist_blp,
                     "after+cap": capped, "cap_threshold": thr})
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:+.3f}"),
              flush=True)
    df = pd.DataFrame(rows)
    print(f"\nbench_explore_remedies: {args.customers} customers, {args.exposures} exposures per "
          f"market, {args.threads} threads, {time.perf_counter() - t0:.0f} s")
    print("true plan value as a share of the oracle (30 % budget)")
    print(df.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    cols = ["before", "after", "hist+blp", "after+cap"]
    print("median " + "  ".join(f"{c} {df[c].median():+.3f}" for c in cols))
    print("better than before on " + "  ".join(
        f"{c} {int((df[c] > df['before']).sum())}/{len(df)}" for c in cols[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

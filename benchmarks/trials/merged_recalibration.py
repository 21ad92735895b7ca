"""Trial (issue #12, exploration row; not in the product): after one ``--explore 0.2`` round on
confounded logs, the history + campaign model's predicted incremental profit per offer is
recalibrated on the campaign's rows with logged propensities (treatment group), using the model's
own out-of-fold predictions there:

* ``blp``: best linear predictor of the IPW pseudo-outcome ``y·(1{a=k} − 1{a=none}) / p`` on
  ``[1, τ̂_k − mean τ̂_k]`` (slope clipped to [0, 1]);
* ``shift``: the mean bias only, ``τ̂_k + (mean pseudo-outcome − mean τ̂_k)``.

The plans are made as ``bench_identification.py --parts explore`` makes its merged plan (as of
the campaign's start, same budget); values are true incremental profit as a share of the oracle.

    .venv/bin/python benchmarks/trials/merged_recalibration.py [--seeds 300,301,302,303,304]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_explore_remedies import _with_scores  # noqa: E402
from bench_identification import _budget, _market, _train, explore_round  # noqa: E402

from offerwise.config import load_settings  # noqa: E402
from offerwise.models.persist import load_model  # noqa: E402
from offerwise.simulator import write_market  # noqa: E402
from offerwise.workflows.plan import make_plan  # noqa: E402
from offerwise.workflows.score import score  # noqa: E402


def recalibrate(S: pd.DataFrame, ex: pd.DataFrame, oof, mode: str) -> pd.DataFrame:  # noqa: ANN001
    """``S`` (long scores) with each offer's incremental profit recalibrated (``blp``/``shift``)."""
    p = pd.to_numeric(ex["propensity"], errors="coerce").to_numpy()
    keep = np.isfinite(p) & (p < 1)  # the campaign's treatment group (holdout rows log 1)
    y = (ex["gross_profit"] - ex["discount_cost"]).to_numpy(float)[keep]
    a = ex["offer_id"].astype(str).to_numpy()[keep]
    pk, qk = p[keep], oof.q[keep]
    out = S.copy()
    for j, o in enumerate(oof.arms):
        if o == "none":
            continue
        z = y * ((a == o).astype(float) - (a == "none").astype(float)) / pk
        t = qk[:, j] - qk[:, 0]
        m = t.mean()
        if mode == "blp":
            (al, be), *_ = np.linalg.lstsq(np.c_[np.ones(len(t)), t - m], z, rcond=None)
            be = min(max(be, 0.0), 1.0)
        else:
            al, be = z.mean(), 1.0
        sel = out["offer_id"] == o
        out.loc[sel, "incremental_profit"] = al + be * (S.loc[sel, "incremental_profit"] - m)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--exposures", type=int, default=30_000)
    ap.add_argument("--seeds", default="300,301,302,303,304")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    settings = load_settings(threads=2)
    tmp = Path(tempfile.mkdtemp(prefix="trial_recal_"))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        t0 = time.perf_counter()
        mk = _market(seed, "confounded", args.customers, args.exposures, record=False)
        d = write_market(mk, tmp / f"e-{seed}")
        tr = _train(d, tmp / f"em-{seed}", seed, settings)
        budget, sc = _budget(tr.model_dir, d, settings)
        oracle = mk.oracle_value(budget)

        def value(model_dir: Path, data: Path, scored, as_of=None, name: str = "p") -> float:  # noqa: ANN001
            r = make_plan(load_model(model_dir), data, budget, tmp / f"{name}-{seed}.parquet",
                          seed=seed, settings=settings, scored=scored, frontier=False, as_of=as_of)
            p = r.result.to_frame()
            t = p[p["group"] == "treatment"][["customer_id", "offer_id"]]
            return mk.true_policy_value(t) / oracle

        row = {"seed": seed, "before": value(tr.model_dir, d, sc, name="b")}
        ex_run, _, _, d3 = explore_round(mk, d, tr.model_dir, sc, seed, settings, tmp / f"c-{seed}")
        tr3 = _train(d3, tmp / f"em3-{seed}", seed, settings)
        when = ex_run.result.as_of
        sc3 = score(tr3.model_dir, d3, settings=settings, as_of=when)
        ex3 = pd.read_parquet(d3 / "exposures.parquet").reset_index(drop=True)
        assert tr3.tuning is not None and len(ex3) == len(tr3.tuning.oof.q)
        row["merged"] = value(tr3.model_dir, d3, sc3, as_of=when, name="m")
        for mode in ("blp", "shift"):
            S = recalibrate(sc3.scores, ex3, tr3.tuning.oof, mode)
            row[mode] = value(tr3.model_dir, d3, _with_scores(sc3, S), as_of=when, name=mode)
        rows.append(row)
        print("  ".join(f"{k} {v:+.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in row.items()), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    for c in ("before", "merged", "blp", "shift"):
        print(f"{c:7s} median {df[c].median():+.3f}  better than before "
              f"{int((df[c] > df['before']).sum())}/{len(df)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

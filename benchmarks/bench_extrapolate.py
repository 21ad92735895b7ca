"""Benchmark: leave one offer out, retrain, and score it from its attributes (issue #13, item 3).

Per seed, as a user runs it: ``offerwise simulate`` a shop (known truth), ``offerwise train`` +
``offerwise score`` with the defaults on all exposures (the *full* model). Then for every menu
offer o: drop every exposure of o (the menu still lists it), ``train`` + ``score`` again. The
scores must still have rows for o, flagged ``extrapolated`` (the attribute model of
``offerwise.models.offer_attributes``). Printed per offer: the Spearman correlation over customers
of o's incremental profit from the leave-one-out model with the full model's and with the truth
(the simulator's ``incremental_profit``), next to the full model's own correlation with the truth,
and the mean incremental profit of each (how far the level is off, in currency per customer).

    .venv/bin/python benchmarks/bench_extrapolate.py [--seeds 3] [--customers 4000]
        [--exposures-per-customer 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ow  # noqa: E402


def rho(a: pd.Series, b: pd.Series) -> float:
    r = spearmanr(a.to_numpy(), b.to_numpy()).statistic
    return float(r) if np.isfinite(r) else float("nan")


def one_seed(seed: int, args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    shop = work / "shop"
    ow("simulate", "--out", shop, "--customers", args.customers,
       "--exposures", args.exposures_per_customer * args.customers, "--seed", seed)
    ow("train", "--data", shop, "--out", work / "full", "--seed", seed)
    ow("score", "--model", work / "full", "--data", shop, "--out", work / "full.parquet")
    full = pd.read_parquet(work / "full.parquet")
    truth = pd.read_parquet(shop / "truth.parquet")[["customer_id", "offer_id", "incremental_profit"]]
    truth = truth.astype({"customer_id": str, "offer_id": str})
    ex = pd.read_parquet(shop / "exposures.parquet")
    menu = [o for o in pd.read_parquet(shop / "offers.parquet")["offer_id"].astype(str) if o != "none"]
    rows: list[dict[str, object]] = []
    for o in menu:
        t0 = time.perf_counter()
        loo = work / f"loo_{o}"
        shutil.copytree(shop, loo)
        kept = ex[ex["offer_id"].astype(str) != o]
        kept.to_parquet(loo / "exposures.parquet", index=False)
        ow("train", "--data", loo, "--out", work / f"m_{o}", "--seed", seed)
        ow("score", "--model", work / f"m_{o}", "--data", loo, "--out", work / f"s_{o}.parquet")
        sc = pd.read_parquet(work / f"s_{o}.parquet")
        mine = sc[sc["offer_id"].astype(str) == o]
        flagged = bool(len(mine)) and bool(mine["extrapolated"].all())
        m = (mine[["customer_id", "incremental_profit"]].astype({"customer_id": str})
             .merge(full[full["offer_id"] == o][["customer_id", "incremental_profit"]]
                    .astype({"customer_id": str}), on="customer_id", suffixes=("_loo", "_full"))
             .merge(truth[truth["offer_id"] == o][["customer_id", "incremental_profit"]],
                    on="customer_id"))
        rows.append({
            "seed": seed,
            "offer": o,
            "dropped": int(len(ex) - len(kept)),
            "scored": len(mine),
            "extrapolated": flagged,
            "rho_loo_full": rho(m["incremental_profit_loo"], m["incremental_profit_full"]),
            "rho_loo_truth": rho(m["incremental_profit_loo"], m["incremental_profit"]),
            "rho_full_truth": rho(m["incremental_profit_full"], m["incremental_profit"]),
            "mean_loo": float(m["incremental_profit_loo"].mean()),
            "mean_full": float(m["incremental_profit_full"].mean()),
            "mean_truth": float(m["incremental_profit"].mean()),
            "s": time.perf_counter() - t0,
        })
        r = rows[-1]
        print(f"  seed {seed} {o:<14} scored {r['scored']:>6} extrapolated {r['extrapolated']!s:<5} "
              f"rho(loo, full) {r['rho_loo_full']:+.3f}  rho(loo, truth) {r['rho_loo_truth']:+.3f}  "
              f"rho(full, truth) {r['rho_full_truth']:+.3f}  ({r['s']:.0f} s)", flush=True)
        shutil.rmtree(loo)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=500)
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--exposures-per-customer", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows: list[dict[str, object]] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        with tempfile.TemporaryDirectory(prefix="ow_loo_") as tmp:
            rows += one_seed(seed, args, Path(tmp))
    df = pd.DataFrame(rows)
    print()
    print(f"leave one offer out: {args.seeds} seeds x {df['offer'].nunique()} offers, "
          f"{args.customers:,} simulated customers, {args.exposures_per_customer * args.customers:,} "
          "exposures, CLI defaults (offerwise simulate/train/score); Spearman over customers of the "
          "offer's incremental profit")
    by = df.groupby("offer").agg(
        scored=("scored", "min"), extrapolated=("extrapolated", "all"),
        rho_loo_full=("rho_loo_full", "median"), rho_loo_truth=("rho_loo_truth", "median"),
        rho_full_truth=("rho_full_truth", "median"), mean_loo=("mean_loo", "mean"),
        mean_full=("mean_full", "mean"), mean_truth=("mean_truth", "mean"),
    ).reset_index()
    print(by.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    print(f"median over all offers and seeds: rho(loo, full) {df['rho_loo_full'].median():+.3f}, "
          f"rho(loo, truth) {df['rho_loo_truth'].median():+.3f}, "
          f"rho(full, truth) {df['rho_full_truth'].median():+.3f}; "
          f"scored and flagged extrapolated in {int(df['extrapolated'].sum())}/{len(df)} runs")
    print(f"total {time.perf_counter() - t0:,.0f} s")


if __name__ == "__main__":
    main()

"""Benchmark: does the collaborative-filtering category affinity help category-scoped offers?
(issue #14, item 4)

Per seed: a simulated shop (customers with category preferences; a category-scoped percent_off
moves a customer in proportion to the preference share there) whose menu has site-wide
``pct10``/``pct20`` and four category offers (``fresh20``, ``pantry20``, ``drinks20``,
``household20``). Then, as a user runs it, ``offerwise train`` twice — ``--affinity share`` (the
default: past share of spend in the category) and ``--affinity cf`` (also the ALS affinity) — and
``offerwise score`` and ``offerwise plan --budget B`` (B: the budget share of the unconstrained
oracle's cost) with each model. Printed per seed and category offer: the Spearman correlation over
customers of the offer's predicted incremental profit with the truth, the true incremental profit
per customer of the top decile by prediction; per seed, the plan's true value (% of the oracle at
that budget).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_affinity.py [--seeds 5]
        [--customers 6000] [--exposures 18000] [--budget-share 0.3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ow  # noqa: E402

from offerwise.simulator import (  # noqa: E402
    OfferSpec,
    SimulatorConfig,
    oracle_policy,
    oracle_value,
    simulate,
    true_policy_value,
    write_market,
)

MENU = (
    OfferSpec("pct10", "percent_off", 0.10),
    OfferSpec("pct20", "percent_off", 0.20),
    OfferSpec("fresh20", "percent_off", 0.20, category="fresh"),
    OfferSpec("pantry20", "percent_off", 0.20, category="pantry"),
    OfferSpec("drinks20", "percent_off", 0.20, category="drinks"),
    OfferSpec("household20", "percent_off", 0.20, category="household"),
)
SCOPED = [o.offer_id for o in MENU if o.category]
MODES = ("share", "cf")


def one_seed(seed: int, args: argparse.Namespace, tmp: Path) -> tuple[list[dict], dict]:
    cfg = SimulatorConfig(
        n_customers=args.customers, n_exposures=args.exposures, seed=seed, offers=MENU
    )
    market = simulate(cfg)
    shop = write_market(market, tmp / f"shop{seed}")
    truth = pd.read_parquet(shop / "truth.parquet").astype({"customer_id": str, "offer_id": str})
    budget = args.budget_share * float(oracle_policy(truth)["expected_cost"].sum())
    rows: list[dict] = []
    plan_row: dict = {"seed": seed, "budget": budget, "oracle": oracle_value(truth, budget)}
    for mode in MODES:
        t0 = time.perf_counter()
        model = tmp / f"m_{mode}_{seed}"
        ow("train", "--data", shop, "--out", model, "--seed", seed, "--affinity", mode)
        plan_row[f"train s {mode}"] = time.perf_counter() - t0
        ow("score", "--model", model, "--data", shop, "--out", tmp / f"s_{mode}.parquet")
        sc = pd.read_parquet(tmp / f"s_{mode}.parquet").astype({"customer_id": str, "offer_id": str})
        for o in SCOPED:
            m = sc[sc["offer_id"] == o][["customer_id", "incremental_profit"]].merge(
                truth[truth["offer_id"] == o][["customer_id", "incremental_profit"]],
                on="customer_id", suffixes=("_pred", "_true"),
            )
            top = m.nlargest(max(1, len(m) // 10), "incremental_profit_pred")
            rows.append({
                "seed": seed, "offer": o, "mode": mode,
                "rho": float(spearmanr(m["incremental_profit_pred"], m["incremental_profit_true"])
                             .statistic),
                "top10_true": float(top["incremental_profit_true"].mean()),
                "mean_true": float(m["incremental_profit_true"].mean()),
            })
        ow("plan", "--model", model, "--data", shop, "--budget", f"{budget:.2f}",
           "--out", tmp / f"plan_{mode}.parquet", "--holdout", "0", "--seed", seed)
        plan = pd.read_parquet(tmp / f"plan_{mode}.parquet").astype({"customer_id": str})
        plan_row[mode] = true_policy_value(truth, plan[["customer_id", "offer_id"]])
        plan_row[f"scoped share {mode}"] = float(plan["offer_id"].isin(SCOPED).mean())
    return rows, plan_row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=700)
    ap.add_argument("--customers", type=int, default=6000)
    ap.add_argument("--exposures", type=int, default=18000)
    ap.add_argument("--budget-share", type=float, default=0.3,
                    help="budget: share of the unconstrained oracle's expected cost")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows: list[dict] = []
    plans: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_affinity_") as d:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r, p = one_seed(seed, args, Path(d))
            rows += r
            plans.append(p)
            print(f"  seed {seed}: plan true value share {p['share']:,.0f}  cf {p['cf']:,.0f}  "
                  f"oracle {p['oracle']:,.0f}", flush=True)
    df = pd.DataFrame(rows)
    wide = df.pivot_table(index=["seed", "offer"], columns="mode",
                          values=["rho", "top10_true"]).reset_index()
    wide.columns = [" ".join(c).strip() for c in wide.columns]
    print()
    print(f"{args.customers:,} simulated customers, {args.exposures:,} exposures per seed; "
          "CLI defaults but --affinity; Spearman over customers of the offer's predicted "
          "incremental profit with the truth; top10: true incremental profit per customer of the "
          "top decile by prediction")
    print(wide.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    by = df.groupby(["offer", "mode"])[["rho", "top10_true"]].median().unstack("mode")
    print("\nmedian over seeds")
    print(by.to_string(float_format=lambda v: f"{v:+.3f}"))
    better = (wide["rho cf"] > wide["rho share"]).sum()
    print(f"cf's Spearman above share's in {better}/{len(wide)} (seed, offer) pairs; "
          f"median difference {np.median(wide['rho cf'] - wide['rho share']):+.4f}")
    pl = pd.DataFrame(plans)
    for m in MODES:
        pl[f"{m} %"] = 100 * pl[m] / pl["oracle"]
    print(f"\nplan at {args.budget_share:.0%} of the oracle's cost (offerwise plan defaults, no "
          "holdout): true value as % of the oracle")
    print(pl[["seed", "budget", "oracle", "share %", "cf %", "scoped share share",
              "scoped share cf", "train s share", "train s cf"]]
          .to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"mean: share {pl['share %'].mean():+.1f} %, cf {pl['cf %'].mean():+.1f} %; cf better on "
          f"{int((pl['cf'] > pl['share']).sum())}/{len(pl)} seeds; total "
          f"{time.perf_counter() - t0:,.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Coverage of the campaign A/B intervals on simulated campaigns with a known true lift.

Each of N seeded campaigns is a fresh market from the project's simulator
(:func:`offerwise.simulator.simulate`, ``--n`` customers, a year of purchase history), a plan
made by the real planner (:func:`offerwise.policy.plan.solve_plan` on the simulator's true scores,
budget = 30% of the cost of everyone's best offer, a random holdout stratified by favourite
category), one simulated run of that plan (:func:`offerwise.simulator.run_campaign`), the
per-customer frame built from the transactions by
:func:`offerwise.evaluation.experiment.campaign_outcomes` (CUPED covariate: spend in the 90 days
before the campaign) and :func:`offerwise.evaluation.experiment.analyze_campaign`.

Prints, per metric: the share of 95% CIs (absolute lift) that contain the true lift — the mean over
the plan's customers of E[y | planned offer] − E[y | none] from the simulator's truth — without and
with CUPED (target 93–97%), the mean CI widths and their ratio (CUPED / plain).

    .venv/bin/python benchmarks/bench_ab_coverage.py [--runs 200] [--n 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from offerwise.evaluation.experiment import analyze_campaign, campaign_outcomes
from offerwise.policy.plan import solve_plan
from offerwise.simulator import run_campaign, simulate

METRICS = ("converted", "revenue", "net_profit")
PRE_PERIOD_DAYS = 90
BUDGET_SHARE = 0.30


def generate_campaign(seed: int, n_customers: int, holdout_fraction: float) -> tuple[pd.DataFrame, dict[str, float]]:
    """(per-customer campaign frame, true lift per metric) of one simulated campaign."""
    market = simulate(n_customers=n_customers, n_exposures=0, seed=seed)
    truth = market.truth
    scores = truth[truth["offer_id"] != "none"]
    best = scores.loc[scores.groupby("customer_id")["incremental_profit"].idxmax()]
    budget = BUDGET_SHARE * float(best.loc[best["incremental_profit"] > 0, "expected_cost"].sum())
    segments = market.latent[["customer_id", "favourite_category"]].rename(
        columns={"favourite_category": "segment"})
    plan = solve_plan(scores, segments, budget, holdout=holdout_fraction, seed=seed).to_frame()
    run = run_campaign(market, plan, seed=seed)
    tx = pd.concat([market.transactions, run.transactions], ignore_index=True)
    frame = plan.assign(offer_id=plan["planned_offer_id"])
    # products=None: gross profit = margin × (amount + discount), the measure true_lift uses
    per_customer = campaign_outcomes(frame, tx, run.start, run.end, PRE_PERIOD_DAYS,
                                     market.config.margin_rate)
    return per_customer, run.true_lift


def run(runs: int, n_customers: int, holdout_fraction: float, seed: int) -> dict[str, object]:
    hits = {m: [0, 0] for m in METRICS}
    widths: dict[str, list[list[float]]] = {m: [[], []] for m in METRICS}
    secs: list[float] = []
    truth: dict[str, float] = {}
    true_lifts: dict[str, list[float]] = {m: [] for m in METRICS}
    for r in range(runs):
        df, truth = generate_campaign(seed + r, n_customers, holdout_fraction)
        t0 = time.perf_counter()
        a = analyze_campaign(df, expected_holdout_fraction=holdout_fraction)
        secs.append(time.perf_counter() - t0)
        for m in METRICS:
            res = a.get(m)
            true_lifts[m].append(truth[m])
            hits[m][0] += res.abs_ci_low <= truth[m] <= res.abs_ci_high
            hits[m][1] += res.cuped_ci_low <= truth[m] <= res.cuped_ci_high
            widths[m][0].append(res.abs_ci_high - res.abs_ci_low)
            widths[m][1].append(res.cuped_ci_high - res.cuped_ci_low)
    rows = []
    for m in METRICS:
        w0, w1 = float(np.mean(widths[m][0])), float(np.mean(widths[m][1]))
        rows.append({"metric": m, "true_lift": float(np.mean(true_lifts[m])), "coverage": hits[m][0] / runs,
                     "coverage_cuped": hits[m][1] / runs, "width": w0, "width_cuped": w1,
                     "width_ratio": w1 / w0})
    return {"runs": runs, "n_customers": n_customers, "holdout_fraction": holdout_fraction, "seed": seed,
            "median_analyze_s": float(np.median(secs)), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--n", type=int, default=10_000, help="customers per campaign")
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20 campaigns of 3,000 customers (smoke run)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.n = 20, 3000
    out = run(args.runs, args.n, args.holdout, args.seed)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"A/B CI coverage: {out['runs']} campaigns x {out['n_customers']} customers, "
          f"holdout {out['holdout_fraction']:.0%}, nominal 95% (target 93-97%); project simulator, "
          f"one market per campaign (true lift: mean over campaigns)")
    print(f"{'metric':<12}{'true lift':>11}{'coverage':>10}{'cov CUPED':>11}"
          f"{'CI width':>11}{'w CUPED':>10}{'ratio':>8}")
    for r in out["rows"]:
        print(f"{r['metric']:<12}{r['true_lift']:>11.4f}{r['coverage']:>10.1%}{r['coverage_cuped']:>11.1%}"
              f"{r['width']:>11.4f}{r['width_cuped']:>10.4f}{r['width_ratio']:>8.3f}")
    print(f"median analyze_campaign time: {out['median_analyze_s'] * 1000:.1f} ms per campaign")
    return 0


if __name__ == "__main__":
    sys.exit(main())

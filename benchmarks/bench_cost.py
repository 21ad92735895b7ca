"""Benchmark: does a plan stay within its budget? True discount cost / budget, seed by seed.

On the project's simulator (``legacy`` logging, known truth), for each market seed: ``train``
with default settings (cross-fitted, ``--tune fast``), then ``plan`` at 30 % of the cost of giving
every customer their true best offer, twice: with the default ``--overspend-risk 0.1`` (the
model's cost calibrated on out-of-fold rows, the planning budget shrunk until the interval says
the true cost exceeds the budget with probability <= 10 %) and with ``--overspend-risk 0`` (the
costs as predicted, as before issue #13). The true cost is the truth table's expected discount
cost of the planned offers; the table also shows the stated 90 % interval, whether it covers the
true cost, and the plan's true value as a share of the oracle plan at the same budget.

    .venv/bin/python benchmarks/bench_cost.py [--seeds 10] [--customers 20000] [--exposures 40000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

from offerwise.config import load_settings
from offerwise.models.persist import load_model
from offerwise.simulator import SimulatorConfig, oracle_policy, simulate, write_market
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import true_cost  # noqa: E402


def run_seed(seed: int, args: argparse.Namespace, tmp: Path) -> list[dict]:
    settings = load_settings(threads=args.threads, seed=seed)
    mk = simulate(SimulatorConfig(n_customers=args.customers, n_exposures=args.exposures, seed=seed,
                                  logging="legacy"))
    d = write_market(mk, tmp / f"d{seed}")
    truth = mk.truth.astype({"customer_id": "str", "offer_id": "str"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = train(d, tmp / f"m{seed}", seed=seed, settings=settings)
    lm = load_model(tr.model_dir)
    budget = args.share * float(oracle_policy(truth)["expected_cost"].sum())
    oracle = mk.oracle_value(budget)
    rows = []
    scored = None
    for label, risk in (("--overspend-risk 0.1 (default)", 0.1), ("--overspend-risk 0 (as predicted)", None)):
        run = make_plan(lm, d, budget, tmp / f"p{seed}-{risk}.parquet", seed=seed, settings=settings,
                        frontier=False, overspend_risk=risk, scored=scored)
        scored = run.scores
        p = run.result.to_frame()
        p = p[(p["group"] == "treatment") & (p["offer_id"] != "none")][["customer_id", "offer_id"]]
        tc = true_cost(truth, p.astype(str))
        c = run.cost
        rows.append({"seed": seed, "plan": label, "budget": budget, "true_cost": tc,
                     "ratio": tc / budget, "stated_low": c.ci_low, "stated_high": c.ci_high,
                     "covered": bool(c.ci_low <= tc <= c.ci_high),
                     "calibration": c.calibration.ratio, "planning_budget": run.planning_budget,
                     "share_of_oracle": mk.true_policy_value(p) / oracle})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--exposures", type=int, default=40_000)
    ap.add_argument("--share", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_cost_"))
    rows = [r for s in range(args.seeds) for r in run_seed(args.first_seed + s, args, tmp)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    tb = Table(title=f"bench_cost: true cost / budget at {args.share:.0%} budget, {args.seeds} simulator "
                     f"seeds ({args.customers} customers, {args.exposures} exposures, legacy logging)")
    for c in ("seed", "plan", "true cost / budget", "stated 90% interval / budget", "covered",
              "calibration", "planning budget / budget", "share of oracle"):
        tb.add_column(c, justify="left" if c == "plan" else "right")
    for r in rows:
        tb.add_row(str(r["seed"]), r["plan"], f"{r['ratio']:.3f}",
                   f"[{r['stated_low'] / r['budget']:.2f}, {r['stated_high'] / r['budget']:.2f}]",
                   "yes" if r["covered"] else "no", f"{r['calibration']:.2f}",
                   f"{r['planning_budget'] / r['budget']:.2f}", f"{100 * r['share_of_oracle']:.1f}%")
    Console(width=200).print(tb)
    for label in dict.fromkeys(r["plan"] for r in rows):
        rs = [r for r in rows if r["plan"] == label]
        print(f"{label}: true cost <= 1.05 x budget on {sum(r['ratio'] <= 1.05 for r in rs)}/{len(rs)} "
              f"seeds; median ratio {statistics.median(r['ratio'] for r in rs):.3f}; interval covers the "
              f"true cost on {sum(r['covered'] for r in rs)}/{len(rs)}; median share of oracle "
              f"{100 * statistics.median(r['share_of_oracle'] for r in rs):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

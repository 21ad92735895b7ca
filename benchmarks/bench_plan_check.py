"""Benchmark: what a plan made after its logs says about itself, against the truth.

On the project simulator (``legacy`` logging with logged propensities, exposures over six weeks,
known truth), for each market seed: ``train`` and ``plan --budget B`` with default settings (the
CLI's code), then ``evaluate --decisions PLAN --model M`` on the same data. The table shows, next
to the simulator's truth:

* the plan's expected incremental profit (the model's own sum for the customers it picked);
* the plan's held-out check (``claims.estimate``: doubly robust, the plan re-made by the audit
  model as of each span's first exposure) with its 90 % interval;
* ``evaluate``'s DR and IPW net profit per logged round with their 95 % intervals (the plan as
  made, after the exposures), the true value per round of the plan and of no offer, and whether
  ``evaluate`` warned that the plan was made after the exposures.

    .venv/bin/python benchmarks/bench_plan_check.py [--seeds 1] [--first-seed 7] [--customers 50000] \\
        [--exposures 100000] [--budget 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

from offerwise.config import load_settings
from offerwise.simulator import SimulatorConfig, simulate, write_market
from offerwise.workflows.evaluate import evaluate_plan
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_cli  # noqa: E402


def run_seed(seed: int, args: argparse.Namespace, tmp: Path) -> dict:
    settings = load_settings(threads=args.threads)
    mk = simulate(SimulatorConfig(n_customers=args.customers, n_exposures=args.exposures,
                                  seed=seed, logging="legacy"))
    d = write_market(mk, tmp / f"d{seed}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = train(d, tmp / f"m{seed}", settings=settings)
        path = tmp / f"p{seed}.parquet"
        run = make_plan(tr.model_dir, d, args.budget, path, settings=settings, frontier=False)
        ev = evaluate_plan(path, d, model=tr.model_dir, settings=settings)
    plan = run.result.to_frame()
    treated = plan[plan["group"] == "treatment"][["customer_id", "offer_id"]]
    decided = plan[["customer_id", "offer_id"]].copy()
    decided.loc[plan["group"] != "treatment", "offer_id"] = "none"
    nothing = decided.assign(offer_id="none")
    est = run.claims.estimate if run.claims is not None else None
    by = {e.estimator.lower(): e for e in ev.estimates}
    return {
        "seed": seed,
        "true": mk.true_policy_value(treated),
        "model": run.result.total_incremental_profit,
        "check": None if est is None else est.value,
        "check_lo": None if est is None else est.ci_low,
        "check_hi": None if est is None else est.ci_high,
        "true_round": mk.true_policy_value_per_exposure(decided),
        "none_round": mk.true_policy_value_per_exposure(nothing),
        **{f"{k}{s}": getattr(by[k], a) for k in ("dr", "ipw") if k in by
           for s, a in (("", "value"), ("_lo", "ci_low"), ("_hi", "ci_high"))},
        "warned": any(w.startswith("the plan was made as of") for w in ev.warnings),
    }


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as t:
        rows = [run_seed(args.first_seed + s, args, Path(t)) for s in range(args.seeds)]
    return {"customers": args.customers, "exposures": args.exposures, "budget": args.budget,
            "rows": rows}


def _in(v: float, lo: float | None, hi: float | None) -> str:
    return "covers" if lo is not None and hi is not None and lo <= v <= hi else "MISSES"


def show(out: dict) -> None:
    print(f"bench_plan_check: {out['customers']} customers, {out['exposures']} legacy exposures, "
          f"plan --budget {out['budget']:g}")
    print("| seed | true incremental profit | model's own | plan's held-out check (90 %) | "
          "evaluate DR per round (95 %) | evaluate IPW per round (95 %) | true per round "
          "(none) | evaluate warned |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out["rows"]:
        chk = ("—" if r["check"] is None else
               f"{r['check']:,.0f} [{r['check_lo']:,.0f}, {r['check_hi']:,.0f}] "
               f"{_in(r['true'], r['check_lo'], r['check_hi'])}")
        ev = [f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}] "
              f"{_in(r['true_round'], r[k + '_lo'], r[k + '_hi'])}" if k in r else "—"
              for k in ("dr", "ipw")]
        print(f"| {r['seed']} | {r['true']:,.0f} | {r['model']:,.0f} | {chk} | {ev[0]} | {ev[1]} "
              f"| {r['true_round']:.3f} ({r['none_round']:.3f}) | {'yes' if r['warned'] else 'no'} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=7)
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--exposures", type=int, default=100_000)
    ap.add_argument("--budget", type=float, default=3000.0)
    ap.add_argument("--threads", type=int, default=2)
    return run_cli(ap, argv, run, show)


if __name__ == "__main__":
    raise SystemExit(main(argv=None))

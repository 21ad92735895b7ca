"""Benchmark: plan value with recommendation-scoped offer templates vs site-wide offers only.

On the project's simulator (customers with category preferences; a category-scoped percent_off
moves a customer in proportion to their preference share there), per seed:

* a market whose menu has site-wide ``pct10``/``pct20``/``pct30`` and the templates
  ``rec1_20`` (20 % off the customer's top recommended category), ``rec1_30`` (30 %, the deeper
  discount for the top rank) and ``rec23_20`` (20 % off the best of ranks 2..3); the logged
  exposures instantiate templates on the customer's top categories by past spend;
* offerwise's default model trained once on it (one LightGBM thread);
* ``offerwise plan`` (``make_plan``: templates instantiated from ``offerwise recommend``'s
  default method at the decision date) on the whole menu, and on the site-wide offers only (the
  same scores without the template rows), both at the same budget, no holdout, costs as
  predicted;
* true values from the truth with the templates scoped to the plan's categories
  (``instantiated_truth``), as % of the oracle over the same instantiated menu at that budget.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rec_templates.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rec_templates.py --seeds 1 --quick
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.simulator import (
    OfferSpec,
    SimulatorConfig,
    instantiated_truth,
    oracle_policy,
    oracle_value,
    simulate,
    true_policy_value,
    write_market,
)
from offerwise.workflows.plan import make_plan
from offerwise.workflows.recommend import recommend
from offerwise.workflows.score import ScoreResult, score
from offerwise.workflows.templates import template_categories
from offerwise.workflows.train import train

SITE_WIDE = (
    OfferSpec("pct10", "percent_off", 0.10),
    OfferSpec("pct20", "percent_off", 0.20),
    OfferSpec("pct30", "percent_off", 0.30),
)
TEMPLATES = (
    OfferSpec("rec1_20", "percent_off", 0.20, category="rec:1"),
    OfferSpec("rec1_30", "percent_off", 0.30, category="rec:1"),
    OfferSpec("rec23_20", "percent_off", 0.20, category="rec:2..3"),
)


def one_seed(seed: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """Train once, plan with and without the templates, value both against the truth."""
    cfg = SimulatorConfig(
        n_customers=args.customers,
        n_exposures=args.exposures,
        seed=seed,
        offers=SITE_WIDE + TEMPLATES,
    )
    market = simulate(cfg)
    data = write_market(market, tmp / f"m{seed}")
    settings = load_settings(threads=1, seed=seed)
    train(data, tmp / f"model{seed}", seed=seed, settings=settings)
    scored = score(tmp / f"model{seed}", data, settings=settings)
    ds = load_data(data, settings=settings)
    recs = recommend(ds, as_of=scored.as_of, k=10, seed=seed, settings=settings).recs
    ids = ds.frame("customers")["customer_id"].astype(str).to_numpy()
    tc = template_categories(ds, ids, scored.as_of, recs=recs, settings=settings, seed=seed)
    assert tc is not None
    truth = instantiated_truth(market, tc.frame)
    budget = args.budget_share * float(oracle_policy(truth)["expected_cost"].sum())
    site = {o.offer_id for o in SITE_WIDE}
    site_scored = ScoreResult(
        scores=scored.scores[scored.scores["offer_id"].astype(str).isin(site)],
        as_of=scored.as_of,
        skipped_offers=scored.skipped_offers,
        customer_ids=scored.customer_ids,
        features=scored.features,
    )
    out: dict[str, float] = {"seed": seed, "budget": budget}
    for name, sc in (("templates", scored), ("site-wide", site_scored)):
        run = make_plan(
            tmp / f"model{seed}", data, budget, tmp / f"plan_{name}_{seed}.parquet",
            holdout=0.0, frontier=False, settings=settings, scored=sc, overspend_risk=None,
            recs=recs,
        )
        plan = run.result.to_frame()
        out[name] = true_policy_value(truth, plan[["customer_id", "offer_id"]])
        out[f"{name} share"] = float(
            plan["offer_id"].isin([o.offer_id for o in TEMPLATES]).mean()
        )
    out["oracle"] = oracle_value(truth, budget)
    out["oracle site-wide"] = oracle_value(truth[truth["offer_id"].isin(site | {"none"})], budget)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--customers", type=int, default=6000)
    ap.add_argument("--exposures", type=int, default=18000)
    ap.add_argument("--budget-share", type=float, default=0.3,
                    help="budget: share of the unconstrained oracle's expected cost")
    ap.add_argument("--quick", action="store_true", help="2,000 customers, 6,000 exposures")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.customers, args.exposures = 2000, 6000
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_rec_templates_") as d:
        for seed in range(1, args.seeds + 1):
            rows.append(one_seed(seed, args, Path(d)))
    df = pd.DataFrame(rows)
    for c in ("templates", "site-wide", "oracle site-wide"):
        df[f"{c} %"] = 100 * df[c] / df["oracle"]
    if args.json:
        print(json.dumps(df.to_dict("records"), indent=2))
        return 0
    print(f"{args.customers:,} customers, {args.exposures:,} exposures per seed; budget "
          f"{args.budget_share:.0%} of the unconstrained oracle's cost; % of the oracle over "
          "the instantiated menu at that budget")
    print(f"{'seed':>4} {'budget':>9} {'oracle':>9} {'templates':>10} {'site-wide':>10} "
          f"{'tpl %':>7} {'site %':>7} {'orc site %':>10} {'tpl rows':>8}")
    for r in df.to_dict("records"):
        print(f"{r['seed']:>4} {r['budget']:>9,.0f} {r['oracle']:>9,.0f} {r['templates']:>10,.0f} "
              f"{r['site-wide']:>10,.0f} {r['templates %']:>6.1f}% {r['site-wide %']:>6.1f}% "
              f"{r['oracle site-wide %']:>9.1f}% {r['templates share']:>7.1%}")
    m, s = df[["templates %", "site-wide %"]].mean(), df[["templates %", "site-wide %"]].std()
    wins = int((df["templates"] > df["site-wide"]).sum())
    print(f"mean: templates {m['templates %']:.1f}% (sd {s['templates %']:.1f}), site-wide only "
          f"{m['site-wide %']:.1f}% (sd {s['site-wide %']:.1f}); templates ahead in {wins} of "
          f"{len(df)} seeds; {time.perf_counter() - t0:.0f} s")
    return 0 if np.isfinite(m.to_numpy()).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())

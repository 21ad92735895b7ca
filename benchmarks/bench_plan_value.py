"""Benchmark: true value of budgeted plans as a share of the oracle plan, at 10%, 30%, 60% budgets.

On the project's simulator (``legacy`` logging policy, known truth): trains offerwise's default
learner once (``offerwise.models.train``), scores every customer (features as of the day after
the logs), and at each budget share (of the expected cost of giving every customer their true
best offer, ``oracle_policy(truth)``) compares the *true* value (truth table) of

* offerwise's plan (:func:`offerwise.policy.allocate` on the default model's incremental profit
  and expected cost),
* the causal-core baselines (``benchmarks/_common.py``): T-learner on net profit, best single
  offer to random customers, deepest discount to the lowest P(buy),
* "uplift ranking ignoring cost": each customer's offer with the highest predicted conversion
  uplift (the default model's), customers ranked by it, until the estimated cost is spent,
* with ``--min-gains C ...``: the default model's plan allowed only customer x offer pairs whose
  predicted incremental profit exceeds C (a minimum-gain rule; the threshold is not chosen here),
* with ``--risks Z ...``: every model seed's plan on the lower bound ``incremental_profit - Z *
  incremental_profit_sd`` (``offerwise plan --risk Z``; the spread is over the seed bags),

with the oracle plan at the same budget (true effects, Lagrangian, ``oracle_policy(truth, B)``).
With ``--model-seeds`` N > 1 each model seed's plan also gets its own card's minimum gain (what
``offerwise plan`` does with that model), and the table ends with the means over the model seeds.
Plans are budgeted on their own estimated costs; the table also shows each plan's true cost.

    .venv/bin/python benchmarks/bench_plan_value.py            # 50k customers, 100k exposures
    .venv/bin/python benchmarks/bench_plan_value.py --quick    # 5k customers, 10k exposures
    .venv/bin/python benchmarks/bench_plan_value.py --json
    .venv/bin/python benchmarks/bench_plan_value.py --tune off --min-child-samples 300 [--keep-exposures 0.8]
    .venv/bin/python benchmarks/bench_plan_value.py --learner x   # another learner, pinned
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.features.model_inputs import customer_features
from offerwise.models.defaults import DEFAULT_LEARNER, DEFAULT_PROFIT
from offerwise.models.persist import load_model
from offerwise.models.response import LEARNER_NAMES
from offerwise.policy.plan import gain_floor
from offerwise.simulator import (
    SimulatorConfig,
    oracle_policy,
    simulate,
    true_policy_value,
    write_market,
)
from offerwise.workflows.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    NONE,
    allocate_choice,
    best_single_offer,
    deepest_discount,
    deepest_discount_plan,
    logged_data,
    plan_frame,
    run_cli,  # noqa: E402
    single_offer_plan,
    t_learner_scores,
    true_cost,
    uplift_ignoring_cost_plan,
)

PLANS = ("oracle (true effects)", "offerwise (default learner)", "T-learner (net profit)",
         "best single offer, random customers", "deepest discount to lowest P(buy)",
         "uplift ranking ignoring cost")


def run(args: argparse.Namespace) -> dict:
    settings = load_settings(threads=args.threads, seed=args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_plan_value_"))
    t0 = time.perf_counter()
    market = simulate(SimulatorConfig(n_customers=args.customers, n_exposures=args.exposures,
                                      seed=args.seed, logging="legacy"))
    data_dir = write_market(market, tmp / "data")
    if args.keep_exposures < 1:  # a random share of the logged exposures only (seeded)
        import pandas as pd

        exf = data_dir / "exposures.parquet"
        ex = pd.read_parquet(exf)
        keep = np.random.default_rng(args.seed).random(len(ex)) < args.keep_exposures
        ex[keep].to_parquet(exf, index=False)
    truth = market.truth.astype({"customer_id": "str", "offer_id": "str"})
    menu = [str(o) for o in market.offers["offer_id"]]
    timings = {"simulate": time.perf_counter() - t0}

    t1 = time.perf_counter()
    ds = load_data(data_dir, settings=settings, required=("customers", "offers", "exposures"))
    scores = []  # the default learner with --model-seeds seeds: a model's seed moves the plan value
    seed_mgs: list[dict] = []  # each model's own out-of-fold minimum gain (its card)
    for r in range(args.model_seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = train(data_dir, tmp / f"model{r}", seed=args.seed + r, settings=settings,
                        tune_mode=args.tune,  # as `offerwise train` runs by default
                        learner=args.learner,  # None: tuned, as `offerwise train` does
                        min_child_samples=args.min_child_samples)
        lm = load_model(res.model_dir)
        if r == 0:
            mg = res.card.get("min_gain") or {}
            ids, X_cust, _ = customer_features(ds, lm.features, settings=settings)
        scores.append(lm.model.predict(X_cust))
        seed_mgs.append(res.card.get("min_gain") or {})
    sc = scores[0]
    timings["train default"] = (time.perf_counter() - t1) / args.model_seeds

    t1 = time.perf_counter()
    lg = logged_data(ds, settings, lm.features)
    V_tl, C_tl = t_learner_scores(lg, X_cust, menu, settings.threads, args.seed)
    so = best_single_offer(lg, menu)
    dd = deepest_discount(lg, market.offers, X_cust, settings.threads, args.seed)
    timings["baselines"] = time.perf_counter() - t1

    # the minimum gain `offerwise train` chose out of fold, as `offerwise plan --min-gain auto`
    # applies it (gain_floor; its raw threshold and z), and the best reach's (card
    # min_gain.share_best: the rule before 2026-12-04, when the card chose the best reach)
    floors: dict[str, float] = {}
    everyone = np.ones(sc.incremental_profit.shape, bool)
    if mg:
        f = gain_floor(sc.incremental_profit, everyone, mg["threshold"], mg["share"])
        floors[f"tuned min gain ({f:.3g}; raw {mg['threshold']:.3g}, reach {mg['share']:.0%}, "
               f"z {mg.get('z_vs_full', float('nan')):.2f})"] = f
    if "share_best" in mg and mg.get("pays", True):
        f = gain_floor(sc.incremental_profit, everyone, mg["threshold_best"], mg["share_best"])
        floors[f"best-reach min gain ({f:.3g}; reach {mg['share_best']:.0%})"] = f
    # with several model seeds, each model's plan with its own minimum gain (`offerwise plan`'s
    # default, model by model); the first is the "tuned min gain" row above
    seed_floors = [gain_floor(s.incremental_profit, everyone, m["threshold"], m["share"])
                   if m and args.model_seeds > 1 else None for s, m in zip(scores, seed_mgs)]
    full_cost = float(oracle_policy(truth)["expected_cost"].sum())
    rows: list[dict] = []
    t1 = time.perf_counter()
    for share in args.shares:
        budget = share * full_cost
        oracle = oracle_policy(truth, budget)[["customer_id", "offer_id"]]
        v_oracle = true_policy_value(truth, oracle)
        def planned(s, value: np.ndarray):  # noqa: ANN001, ANN202 - model s's scores, values
            return plan_frame(ids, s.offers, allocate_choice(value, s.expected_cost, budget,
                                                             settings.threads))

        def floored(s, f: float):  # noqa: ANN001, ANN202 - only predicted gains >= f
            return planned(s, np.where(s.incremental_profit >= f, s.incremental_profit, -1.0))

        plans = {
            PLANS[0]: oracle,
            **{f"{PLANS[1]}, model seed {args.seed + r}": planned(s, s.incremental_profit)
               for r, s in enumerate(scores)},
            # only customer x offer with a predicted gain above c (first model seed)
            **{f"{PLANS[1]}, predicted gain > {c:g}": planned(
                sc, np.where(sc.incremental_profit > c, sc.incremental_profit, -1.0))
               for c in args.min_gains},
            # the out-of-fold minimum gains (first model seed; floors computed once, above)
            **{f"{PLANS[1]}, {label}": floored(sc, floor) for label, floor in floors.items()},
            **{f"{PLANS[1]}, tuned min gain, model seed {args.seed + r}": floored(s, f)
               for r, (s, f) in enumerate(zip(scores, seed_floors)) if f is not None},
            # the lower bound gain - z * spread over the seed bags (`offerwise plan --risk z`), per seed
            **{f"{PLANS[1]}, --risk {z:g}, model seed {args.seed + r}": planned(
                s, s.incremental_profit - z * s.incremental_profit_sd)
               for z in args.risks for r, s in enumerate(scores)},
            PLANS[2]: plan_frame(ids, menu, allocate_choice(V_tl, C_tl, budget, settings.threads)),
            PLANS[3]: single_offer_plan(ids, so, budget, args.seed),
            PLANS[4]: deepest_discount_plan(ids, dd, budget),
            PLANS[5]: uplift_ignoring_cost_plan(ids, sc.offers, sc.incremental_conversion,
                                                sc.expected_cost, budget),
        }
        for name, plan in plans.items():
            if args.write_plans is not None:
                rows_hash = _write_plan(plan, args.write_plans, name, share)
            v = true_policy_value(truth, plan)
            rows.append({"budget_share": share, "budget": budget, "plan": name, "true_value": v,
                         "share_of_oracle": v / v_oracle if v_oracle else float("nan"),
                         "true_cost": true_cost(truth, plan),
                         "n_treated": int((plan["offer_id"] != NONE).sum()),
                         **({"sha256": rows_hash} if args.write_plans is not None else {})})
    timings["plans"] = time.perf_counter() - t1
    return {"config": {"customers": args.customers, "exposures": args.exposures,
                       "keep_exposures": args.keep_exposures,
                       "min_child_samples": args.min_child_samples or "default",
                       "seed": args.seed, "logging": "legacy", "threads": settings.threads,
                       "cpu_count": os.cpu_count(), "best_offer_cost": full_cost,
                       "default": f"{DEFAULT_LEARNER}:{DEFAULT_PROFIT}",
                       "learner": args.learner or "tuned (default)",
                       "single_offer": so.offer, "deepest": dd.offer, "work": str(tmp)},
            "rows": rows, "timings": timings}


def _write_plan(plan, out_dir: Path, name: str, share: float) -> str:  # noqa: ANN001
    """Write one plan as Parquet under ``out_dir``; return the sha256 of its rows (CSV text)."""
    import hashlib
    import re

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = plan[["customer_id", "offer_id"]].astype(str).reset_index(drop=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    rows.to_parquet(out_dir / f"{slug}.{round(share * 100)}pct.parquet", index=False)
    return hashlib.sha256(rows.to_csv(index=False).encode()).hexdigest()


def _print(out: dict) -> None:
    c = out["config"]
    shares = sorted({r["budget_share"] for r in out["rows"]})
    print(f"bench_plan_value: {c['customers']} customers, {c['exposures']} exposures, legacy "
          f"logging, seed {c['seed']}; budgets as a share of the best-offer cost "
          f"{c['best_offer_cost']:.0f}; true value as % of the oracle plan (true cost / budget)")
    if c["learner"] != "tuned (default)":
        print(f"learner pinned: offerwise train --learner {c['learner']}")
    if c["min_child_samples"] != "default" or c["keep_exposures"] < 1:
        print(f"min rows per leaf {c['min_child_samples']}; trained on a random "
              f"{c['keep_exposures']:.0%} of the exposures")
    head = f"{'plan':50s}" + "".join(f"{f'{s:.0%} budget':>22s}" for s in shares)
    print(head)
    by = {(r["plan"], r["budget_share"]): r for r in out["rows"]}
    for name in dict.fromkeys(r["plan"] for r in out["rows"]):
        cells = []
        for s in shares:
            r = by[(name, s)]
            cells.append(f"{100 * r['share_of_oracle']:7.1f}% ({r['true_cost'] / r['budget']:4.2f})")
        print(f"{name:50s}" + "".join(f"{x:>22s}" for x in cells))
    groups: dict[str, list[str]] = {}  # rows that differ only in the model seed
    for name in dict.fromkeys(r["plan"] for r in out["rows"]):
        if ", model seed " in name:
            groups.setdefault(name.rsplit(", model seed ", 1)[0], []).append(name)
    for g, names in groups.items():
        if len(names) > 1:
            cells = [f"{100 * np.mean([by[(n, s)]['share_of_oracle'] for n in names]):7.1f}%"
                     for s in shares]
            print(f"{g + f', mean of {len(names)} model seeds':50s}"
                  + "".join(f"{x:>22s}" for x in cells))
    print(f"single offer: {c['single_offer']}; deepest discount: {c['deepest']}; timings (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in out["timings"].items()))
    print(f"work folder (shop in data/, first model in model0/; not removed): {c['work']}")
    for r in out["rows"]:
        if "sha256" in r:
            print(f"plan rows sha256 {r['sha256'][:16]}  {r['budget_share']:.0%}  {r['plan']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--exposures", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shares", type=float, nargs="+", default=[0.10, 0.30, 0.60])
    ap.add_argument("--model-seeds", type=int, default=3, help="train the default learner with this many seeds")
    ap.add_argument("--risks", type=float, nargs="*", default=[],
                    help="also plan with offerwise plan --risk Z for each Z (every model seed)")
    ap.add_argument("--min-gains", type=float, nargs="*", default=[],
                    help="also plan with the first model only allowing a predicted gain above each value")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tune", default="fast", help="train --tune mode (default: fast, as the CLI)")
    ap.add_argument("--learner", default=None, choices=LEARNER_NAMES,
                    help="pin the learner (offerwise train --learner; default: the tuner's choice)")
    ap.add_argument("--min-child-samples", type=int, default=None,
                    help="pin the minimum rows per leaf (default: the product's, 1 %% of the exposures)")
    ap.add_argument("--keep-exposures", type=float, default=1.0,
                    help="train on this random share of the logged exposures (seeded by --seed)")
    ap.add_argument("--write-plans", type=Path, default=None,
                    help="write every plan as Parquet into this folder and print the sha256 of its rows")
    return run_cli(ap, argv, run, _print)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: value of budgeted plans made from offerwise's scores vs common baselines.

On the project's simulator (``legacy`` logging policy, known truth) the script

1. writes a market to a temporary data directory and times ``offerwise.models.train`` end to end
   (validation + point-in-time features + models + holdout metrics + save) for each variant;
2. scores every customer (features as of the day after the logs) and allocates a budget of
   ``budget_share`` x the expected cost of the oracle's unconstrained best offers
   (``oracle_policy(truth)``) with :func:`offerwise.policy.allocate`;
3. reports each plan's *true* value (from the truth table) as a fraction of the oracle's plan at
   the same budget, next to the baselines:

   * ``T-learner (net profit)``: per-offer LightGBM T-learner (LightGBM defaults: 31 leaves, 100
     rounds, learning rate 0.1) on net profit, cost from a per-offer LightGBM regression; same
     allocation;
   * ``best single offer, random customers``: the offer with the highest IPW-estimated mean
     incremental profit (from the logs) given to randomly ordered customers until the budget;
   * ``deepest discount to lowest P(buy)``: the largest percent-off offer to the customers with
     the lowest predicted purchase probability (LightGBM on control rows) until the budget;

   Every offerwise variant is trained with ``--model-seeds`` seeds (default 3) and its row shows
   the median plan (with the range): one model seed moves the plan value by several points.

4. reports the off-policy estimates of the default plan's value per logged round as ``offerwise
   evaluate --model`` makes them (:func:`offerwise.workflows.evaluate.evaluate_plan`: on the
   model's own training data the DM/DR reward model is its out-of-fold prediction) against its
   true value on the same rows (``true_policy_value_per_exposure``).

Plans are budgeted on their own *estimated* costs; the table also shows each plan's true cost.

    .venv/bin/python benchmarks/bench_uplift.py            # 50k customers, 100k exposures
    .venv/bin/python benchmarks/bench_uplift.py --quick    # small size, a smoke run
    .venv/bin/python benchmarks/bench_uplift.py --json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.features.model_inputs import customer_features
from offerwise.models.defaults import DEFAULT_BAGS, DEFAULT_LEARNER, DEFAULT_PROFIT
from offerwise.models.persist import load_model
from offerwise.simulator import (
    SimulatorConfig,
    oracle_policy,
    simulate,
    true_policy_value,
    true_policy_value_per_exposure,
    write_market,
)
from offerwise.workflows.evaluate import evaluate_plan
from offerwise.workflows.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    NONE,
    best_single_offer,
    deepest_discount,
    deepest_discount_plan,
    logged_data,
    run_cli,  # noqa: E402
    single_offer_plan,
    t_learner_scores,
)
from _common import allocate_choice as _allocate  # noqa: E402
from _common import plan_frame as _plan_frame  # noqa: E402
from _common import true_cost as _true_cost  # noqa: E402


def _variant(spec: str) -> tuple[str, str, int]:
    """``learner:profit[:bags]`` -> (learner, profit, bags)."""
    parts = spec.split(":")
    return parts[0], parts[1], int(parts[2]) if len(parts) > 2 else DEFAULT_BAGS


def run(args: argparse.Namespace) -> dict:
    settings = load_settings(threads=args.threads, seed=args.seed)
    # learner:profit[:bags] (bags: seed bags of the pooled conversion model; default DEFAULT_BAGS)
    variants = [_variant(v) for v in args.variants.split(",")] if args.variants else [
        (DEFAULT_LEARNER, DEFAULT_PROFIT, DEFAULT_BAGS)]
    default = (DEFAULT_LEARNER, DEFAULT_PROFIT, DEFAULT_BAGS)
    if default not in variants:
        variants.insert(0, default)
    tmp = Path(tempfile.mkdtemp(prefix="bench_uplift_"))
    cfg = SimulatorConfig(n_customers=args.customers, n_exposures=args.exposures, seed=args.seed,
                          logging="legacy")
    t0 = time.perf_counter()
    market = simulate(cfg)
    data_dir = write_market(market, tmp / "data")
    t_sim = time.perf_counter() - t0
    truth = market.truth.astype({"customer_id": "str", "offer_id": "str"})
    menu = [str(o) for o in market.offers["offer_id"]]

    # ---- oracle and the budget -----------------------------------------------------------
    best = oracle_policy(truth)
    budget = args.budget_share * float(best["expected_cost"].sum())
    oracle_plan = oracle_policy(truth, budget)
    v_oracle = true_policy_value(truth, oracle_plan[["customer_id", "offer_id"]])

    rows: list[dict] = []

    def add(name: str, plan: pd.DataFrame, train_s: float | None = None, note: str = "") -> None:
        v = true_policy_value(truth, plan)
        rows.append({
            "plan": name, "true_value": v, "share_of_oracle": v / v_oracle if v_oracle else float("nan"),
            "true_cost": _true_cost(truth, plan), "n_treated": int((plan["offer_id"] != NONE).sum()),
            "train_s": train_s, "note": note,
        })

    add("oracle (true effects)", oracle_plan[["customer_id", "offer_id"]])

    # ---- offerwise variants ------------------------------------------------------------------
    ds = load_data(data_dir, settings=settings, required=("customers", "offers", "exposures"))
    results: dict[tuple[str, str], dict] = {}
    ids = X_cust = None
    for learner, profit, bags in variants:
        times, values, first = [], [], None
        # plan value moves a lot with the model's own seed: every variant is trained with
        # --model-seeds seeds (args.seed, args.seed+1, ...) and the row shows the median plan
        for r in range(args.model_seeds):
            t1 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = train(data_dir, tmp / f"model_{learner}_{profit}_{bags}_{r}", learner=learner,
                            profit=profit, n_bags=bags, seed=args.seed + r, settings=settings)
            times.append(time.perf_counter() - t1)
            lm = load_model(res.model_dir)
            if ids is None:
                ids, X_cust, as_of = customer_features(ds, lm.features, settings=settings)
            sc = lm.model.predict(X_cust)
            choice = _allocate(sc.incremental_profit, sc.expected_cost, budget, settings.threads)
            plan = _plan_frame(ids, sc.offers, choice)
            values.append((true_policy_value(truth, plan), plan))
            if first is None:
                first = {"lm": lm, "plan": plan, "timings": res.timings}
        name = f"offerwise {learner.upper()}-learner, {profit} profit"
        if learner == "ptb":
            name += f", {bags} bag{'s' if bags > 1 else ''}"
        if (learner, profit, bags) == default:
            name += " (default)"
        ordered = sorted(values, key=lambda v: v[0])
        med_plan = ordered[len(ordered) // 2][1]
        vals = [v[0] / v_oracle for v in values]
        add(name, med_plan, statistics.median(times),
            note=(f"median of {len(values)} model seeds ({min(vals):.1%} .. {max(vals):.1%})"
                  if len(values) > 1 else ""))
        results[(learner, profit, bags)] = {**first, "train_s": times, "shares": vals}

    # ---- features of the logged exposures for the baselines ----------------------------------
    lm0 = results[default]["lm"]
    lg = logged_data(ds, settings, lm0.features)
    threads = settings.threads

    # T-learner on net profit with LightGBM defaults
    t1 = time.perf_counter()
    V, C = t_learner_scores(lg, X_cust, menu, threads, args.seed)
    t_tl = time.perf_counter() - t1
    add("T-learner (net profit), LightGBM defaults", _plan_frame(ids, menu, _allocate(V, C, budget, threads)),
        t_tl, note="features precomputed")

    # best single offer (IPW estimate from the logs) to random customers
    so = best_single_offer(lg, menu)
    add("best single offer, random customers", single_offer_plan(ids, so, budget, args.seed),
        note=f"{so.offer}: IPW uplift {so.uplift:+.3f}/customer")

    # common recipe: deepest discount to the lowest predicted purchase probability
    dd = deepest_discount(lg, market.offers, X_cust, threads, args.seed)
    add("deepest discount to lowest P(buy)", deepest_discount_plan(ids, dd, budget), note=dd.offer)

    # ---- off-policy estimates of the default plan, as `offerwise evaluate --model` makes them -----
    plan = results[default]["plan"]
    ev = evaluate_plan(plan, data_dir, model=lm0, settings=settings, seed=args.seed,
                       n_bootstrap=args.bootstrap)
    rounds = ds.frame("exposures")
    if ev.n_rounds != len(rounds):  # the out-of-fold rewards cover every exposure
        raise SystemExit(f"evaluate used {ev.n_rounds} of {len(rounds)} exposures ({ev.rows})")
    rounds["customer_id"] = rounds["customer_id"].astype(str)
    rounds["offer_id"] = rounds["offer_id"].astype(str)
    ope = ev.estimates
    true_pe = true_policy_value_per_exposure(truth, rounds, plan)
    ope_rows = [{"estimator": e.estimator, "value": e.value, "ci_low": e.ci_low, "ci_high": e.ci_high,
                 "rel_error": (e.value - true_pe) / abs(true_pe) if true_pe else float("nan"),
                 "ess": e.ess} for e in ope]

    d_ow = next(r for r in rows if r["plan"].endswith("(default)"))
    others = [r for r in rows if not r["plan"].startswith(("offerwise", "oracle"))]
    return {
        "config": {"customers": args.customers, "exposures": args.exposures, "seed": args.seed,
                   "logging": "legacy", "budget_share": args.budget_share, "budget": budget,
                   "threads": threads, "cpu_count": os.cpu_count(), "simulate_s": t_sim,
                   "default": f"{DEFAULT_LEARNER}:{DEFAULT_PROFIT}:{DEFAULT_BAGS}"},
        "plans": rows,
        "margin_over_best_baseline": d_ow["share_of_oracle"] - max(r["share_of_oracle"] for r in others),
        "ope": {"rows": ev.rows, "n_rounds": ev.n_rounds, "true_value_per_round": true_pe,
                "estimates": ope_rows},
        "train_timings_default": results[default]["timings"],
        "train_s_default": results[default]["train_s"],
    }


def _print(out: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    c = out["config"]
    t = Table(title=(f"bench_uplift: {c['customers']} customers, {c['exposures']} exposures, legacy logging, "
                     f"budget {c['budget_share']:.0%} of the best-offer cost = {c['budget']:.0f}, "
                     f"{c['threads']} threads"))
    for col in ("plan", "true value", "% of oracle", "true cost", "treated", "train s", "note"):
        t.add_column(col, justify="left" if col in ("plan", "note") else "right")
    for r in out["plans"]:
        t.add_row(r["plan"], f"{r['true_value']:.0f}", f"{100 * r['share_of_oracle']:.1f}%",
                  f"{r['true_cost']:.0f}", str(r["n_treated"]),
                  "" if r["train_s"] is None else f"{r['train_s']:.1f}", r["note"])
    o = out["ope"]
    for e in o["estimates"]:
        t.add_row(f"OPE {e['estimator']} of default plan (per round, {o['n_rounds']} rows)",
                  f"{e['value']:.3f}", f"err {100 * e['rel_error']:+.1f}%", f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}]",
                  "", "", f"true {o['true_value_per_round']:.3f}")
    Console(width=200).print(t)
    print(f"OPE rows: {o['rows']}")
    print(f"default vs best baseline: {100 * out['margin_over_best_baseline']:+.1f} points of the oracle value; "
          f"train timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in out["train_timings_default"].items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--exposures", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget-share", type=float, default=0.30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-seeds", type=int, default=3,
                    help="train every variant with this many seeds; rows show the median plan")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--variants", default="tb:hurdle,t:hurdle,t:composed,x:hurdle,dr:hurdle",
                    help="comma list of learner:profit to compare (default one always included)")
    return run_cli(ap, argv, run, _print)


if __name__ == "__main__":
    sys.exit(main())

"""Shared pieces of the plan benchmarks (``bench_uplift.py``, ``bench_plan_value.py``).

Plans are (customer_id, offer_id) frames ("none" = no offer) scored against the simulator's truth.
The baselines of the causal-core issue are built from the logged exposures:

* T-learner on net profit (LightGBM defaults: 31 leaves, 100 rounds, learning rate 0.1), cost
  from a per-offer LightGBM regression, allocated like offerwise's scores;
* best single offer (highest IPW-estimated mean incremental profit) to random customers;
* deepest discount to the customers with the lowest predicted purchase probability;
* uplift ranking ignoring cost: each customer's offer with the highest predicted conversion
  uplift, customers ranked by that uplift, offered until the budget is spent.

Every "until the budget" baseline takes the longest prefix of its ranking whose *estimated* cost
fits the budget.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offerwise.features.model_inputs import build_features
from offerwise.models.metalearners import fit_booster, lgb_params, predict_booster
from offerwise.policy import allocate

NONE = "none"


def ow(*args: str | Path) -> str:
    """Run ``offerwise ARGS`` as a user does (its own process, ``OFFERWISE_THREADS`` 2 unless
    set); its stdout, or exit with its stderr when it fails."""
    env = {**os.environ, "OFFERWISE_THREADS": os.environ.get("OFFERWISE_THREADS", "2")}
    out = subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)], capture_output=True,
                         text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"offerwise {' '.join(map(str, args[:1]))} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def plan_frame(ids: pd.Series, offers: list[str], choice: np.ndarray) -> pd.DataFrame:
    """(customer_id, offer_id) from a choice vector (n,) of offer indices, -1 = none."""
    names = np.asarray([NONE, *offers], dtype=object)
    return pd.DataFrame({"customer_id": ids.to_numpy(), "offer_id": names[np.asarray(choice) + 1]})


def true_cost(truth: pd.DataFrame, plan: pd.DataFrame) -> float:
    """Sum of the true expected discount cost of the plan's offers."""
    m = plan.merge(truth[["customer_id", "offer_id", "expected_cost"]],
                   on=["customer_id", "offer_id"], how="left")
    return float(m["expected_cost"].fillna(0.0).sum())


def allocate_choice(value: np.ndarray, cost: np.ndarray, budget: float, threads: int) -> np.ndarray:
    """offerwise's solver on (n, K) estimated value and cost; returns the choice (n,) int64."""
    return allocate(value, np.maximum(cost, 0.0), budget, threads=threads).choice.astype(np.int64)


def greedy_fill(order: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Take customers in ``order`` while the cumulative ``cost`` (n,) stays within ``budget``."""
    cum = np.cumsum(cost[order])
    take = order[cum <= budget]
    sel = np.zeros(len(cost), dtype=bool)
    sel[take] = True
    return sel


@dataclass
class Logged:
    """Logged exposures with features (rows of the exposures table)."""

    X: np.ndarray
    net_profit: np.ndarray  # gross profit - discount cost
    cost: np.ndarray  # discount cost
    converted: np.ndarray
    offer: np.ndarray  # offer id per row (object), "none" = control
    propensity: np.ndarray


def logged_data(ds, settings, features) -> Logged:  # noqa: ANN001
    """Point-in-time features of every logged exposure (as of its timestamp)."""
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    X_ex, _ = build_features(ds, ex[["customer_id", "ts"]].rename(columns={"ts": "as_of"}),
                             settings, spec=features)
    return Logged(X_ex, (ex["gross_profit"] - ex["discount_cost"]).to_numpy(float),
                  ex["discount_cost"].to_numpy(float), ex["converted"].to_numpy(float),
                  ex["offer_id"].to_numpy(object), ex["propensity"].to_numpy(float))


def default_lgb(threads: int, seed: int) -> dict:
    return dict(learning_rate=0.1, num_leaves=31, min_child_samples=20, subsample=1.0,
                colsample=1.0, reg_lambda=0.0, n_jobs=threads, seed=seed)


def t_learner_scores(lg: Logged, X_cust: np.ndarray, menu: list[str], threads: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """T-learner on net profit: (n, K) incremental net profit and expected cost per offer."""
    p = lgb_params("regression", **default_lgb(threads, seed))
    ctrl = lg.offer == NONE
    m0 = predict_booster(fit_booster(lg.X[ctrl], lg.net_profit[ctrl], p, 100), X_cust, threads)
    V = np.empty((len(X_cust), len(menu)))
    C = np.empty((len(X_cust), len(menu)))
    for j, o in enumerate(menu):
        tr = lg.offer == o
        mu1 = fit_booster(lg.X[tr], lg.net_profit[tr], p, 100)
        cm = fit_booster(lg.X[tr], lg.cost[tr], p, 100)
        V[:, j] = predict_booster(mu1, X_cust, threads) - m0
        C[:, j] = predict_booster(cm, X_cust, threads)
    return V, C


@dataclass
class SingleOffer:
    offer: str
    uplift: float  # IPW mean incremental net profit per customer
    mean_cost: float  # IPW mean discount cost per treated customer


def best_single_offer(lg: Logged, menu: list[str]) -> SingleOffer:
    """The offer with the highest IPW-estimated mean incremental net profit in the logs."""
    w = 1.0 / lg.propensity
    off, npft = lg.offer, lg.net_profit
    mean_np = {o: np.sum(w[off == o] * npft[off == o]) / np.sum(w[off == o]) for o in [NONE, *menu]}
    mean_cost = {o: np.sum(w[off == o] * lg.cost[off == o]) / np.sum(w[off == o]) for o in menu}
    best = max(menu, key=lambda o: mean_np[o] - mean_np[NONE])
    return SingleOffer(best, float(mean_np[best] - mean_np[NONE]), float(mean_cost[best]))


def single_offer_plan(ids: pd.Series, so: SingleOffer, budget: float, seed: int) -> pd.DataFrame:
    """``so.offer`` to randomly ordered customers (seeded) until the budget."""
    rng = np.random.default_rng(seed)
    sel = greedy_fill(rng.permutation(len(ids)), np.full(len(ids), so.mean_cost), budget)
    return pd.DataFrame({"customer_id": ids.to_numpy(), "offer_id": np.where(sel, so.offer, NONE)})


@dataclass
class DeepestDiscount:
    offer: str
    p_buy: np.ndarray  # (n,) predicted purchase probability without an offer
    cost: np.ndarray  # (n,) predicted cost of the deepest discount


def deepest_discount(lg: Logged, offers_tab: pd.DataFrame, X_cust: np.ndarray, threads: int,
                     seed: int) -> DeepestDiscount:
    """The largest percent-off offer, P(buy) from LightGBM on control rows, its cost per customer."""
    pct = offers_tab[offers_tab["kind"] == "percent_off"]
    deepest = str(pct.sort_values("value")["offer_id"].iloc[-1])
    kw = default_lgb(threads, seed)
    ctrl = lg.offer == NONE
    pb = fit_booster(lg.X[ctrl], lg.converted[ctrl], lgb_params("binary", **kw), 100)
    d = lg.offer == deepest
    dc = fit_booster(lg.X[d], lg.cost[d], lgb_params("regression", **kw), 100)
    return DeepestDiscount(deepest, predict_booster(pb, X_cust, threads),
                           np.maximum(predict_booster(dc, X_cust, threads), 0.0))


def deepest_discount_plan(ids: pd.Series, dd: DeepestDiscount, budget: float) -> pd.DataFrame:
    sel = greedy_fill(np.argsort(dd.p_buy, kind="stable"), dd.cost, budget)
    return pd.DataFrame({"customer_id": ids.to_numpy(), "offer_id": np.where(sel, dd.offer, NONE)})


def uplift_ignoring_cost_plan(ids: pd.Series, offers: list[str], incremental_conversion: np.ndarray,
                              cost: np.ndarray, budget: float) -> pd.DataFrame:
    """Rank customer x offer by predicted conversion uplift (n, K), ignoring cost: each customer's
    top offer, customers by that uplift (positive only), until the estimated ``cost`` (n, K)
    reaches the budget."""
    k = np.argmax(incremental_conversion, axis=1)
    rows = np.arange(len(k))
    up = incremental_conversion[rows, k]
    order = np.argsort(-up, kind="stable")
    order = order[up[order] > 0]
    sel = greedy_fill(order, np.maximum(cost[rows, k], 0.0), budget)
    return plan_frame(ids, offers, np.where(sel, k, -1))


def run_cli(ap: argparse.ArgumentParser, argv: list[str] | None, run: Callable[[Any], dict],
            show: Callable[[dict], None]) -> int:
    """The tail every market benchmark shares: add --quick/--json, parse, run, print."""
    import json

    ap.add_argument("--quick", action="store_true", help="5k customers, 10k exposures")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.customers, args.exposures = 5_000, 10_000
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        show(out)
    return 0


"""Benchmark: the market simulator (``offerwise.simulator``).

Target: ``simulate`` of 50,000 customers × 100,000 exposures (≈ 1M transaction lines) in a few
seconds (< 5 s) on the 2-core dev machine; ``write_market`` reported separately.

Baseline, measured in the same run: the same purchase-history model written the obvious way, one
Python loop iteration per customer (``naive_history``), timed on ``--baseline-customers``
customers and scaled linearly to the full size (it is linear in customers). The ratio says what
the vectorised generator buys. Medians over ``--runs`` runs.

Usage::

    .venv/bin/python benchmarks/bench_simulator.py                    # 50k × 100k, 3 runs
    .venv/bin/python benchmarks/bench_simulator.py --customers 10000 --exposures 20000 --runs 1
    .venv/bin/python benchmarks/bench_simulator.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from offerwise.simulator import SimulatorConfig

TARGET_S = 5.0


def naive_history(cfg: SimulatorConfig, seed: int) -> int:
    """Per-customer loop version of the history generator (same traits, same line model)."""
    from offerwise.simulator import config as cfgmod
    from offerwise.simulator import population as popmod

    rng = np.random.default_rng(seed)
    t = popmod._draw_traits(cfg, rng)
    products = popmod._products(rng, cfg.margin_rate)
    price = products["price"].to_numpy()
    rows: list[tuple] = []
    h = float(cfg.history_days)
    for i in range(cfg.n_customers):
        active = max(t["signup_day"][i], 0.0)
        end_a = t["lapse_day"][i] if t["lapsed"][i] else h
        days = list(
            active
            + rng.random(rng.poisson(t["rate"][i] * max(end_a - active, 0) / 30))
            * max(end_a - active, 0)
        )
        if t["lapsed"][i]:
            days += list(
                end_a + rng.random(rng.poisson(t["rate_now"][i] * (h - end_a) / 30)) * (h - end_a)
            )
        for order, day in enumerate(sorted(days)):
            target = t["basket"][i] * np.exp(
                rng.normal(-(cfg.basket_noise**2) / 2, cfg.basket_noise)
            )
            depth = (
                rng.uniform(0.1, 0.2 + 0.3 * t["sens"][i])
                if rng.random() < 0.02 + 0.95 * t["sens"][i]
                else 0.0
            )
            n_lines = 1 + rng.poisson(0.7)
            w = rng.exponential(1.0, n_lines)
            for v in target * w / w.sum():
                cat = min(
                    int((rng.random() > np.cumsum(t["pref"][i])).sum()), len(cfgmod.CATEGORIES) - 1
                )
                u = rng.random()
                brand = t["fav_brand"][i] if u < t["loyal"][i] else rng.integers(0, cfgmod.N_BRANDS)
                p = (cat * cfgmod.N_BRANDS + brand) * cfgmod.ITEMS_PER_BRAND + rng.integers(
                    0, cfgmod.ITEMS_PER_BRAND
                )
                q = max(1, round(v / price[p]))
                rows.append((i, order, p, day, q, q * price[p] * (1 - depth), q * price[p] * depth))
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--exposures", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-customers", type=int, default=3_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from offerwise.simulator import SimulatorConfig, simulate, write_market

    sim_s, write_s, base_s = [], [], []
    n_lines = 0
    for run in range(args.runs):
        cfg = SimulatorConfig(
            n_customers=args.customers, n_exposures=args.exposures, seed=run, logging="legacy"
        )
        t0 = time.perf_counter()
        market = simulate(cfg)
        sim_s.append(time.perf_counter() - t0)
        n_lines = len(market.transactions)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            write_market(market, Path(d) / "sim")
            write_s.append(time.perf_counter() - t0)
        del market
        bcfg = SimulatorConfig(n_customers=args.baseline_customers, n_exposures=0, seed=run)
        t0 = time.perf_counter()
        naive_history(bcfg, run)
        base_s.append((time.perf_counter() - t0) * args.customers / args.baseline_customers)

    med = {
        k: statistics.median(v)
        for k, v in {"simulate": sim_s, "write": write_s, "naive": base_s}.items()
    }
    result = {
        "customers": args.customers,
        "exposures": args.exposures,
        "transaction_lines": n_lines,
        "runs": args.runs,
        "simulate_s": round(med["simulate"], 3),
        "write_market_s": round(med["write"], 3),
        "naive_history_s_scaled": round(med["naive"], 2),
        "baseline_customers": args.baseline_customers,
        "speedup_vs_naive_history": round(med["naive"] / med["simulate"], 1),
        "target_s": TARGET_S,
        "target_met": med["simulate"] < TARGET_S,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"market simulator: {args.customers:,} customers × {args.exposures:,} exposures "
        f"({n_lines:,} transaction lines), median of {args.runs} run(s)"
    )
    print(f"{'step':<42}{'seconds':>10}{'ratio':>10}")
    print(
        f"{'simulate (legacy logging, all tables+truth)':<42}{med['simulate']:>10.3f}{1.0:>10.1f}"
    )
    print(
        f"{'write_market (parquet, atomic)':<42}{med['write']:>10.3f}{med['write'] / med['simulate']:>10.1f}"
    )
    print(
        f"{'baseline: naive per-customer history loop':<42}{med['naive']:>10.2f}"
        f"{med['naive'] / med['simulate']:>10.1f}"
    )
    print(
        f"  (baseline timed on {args.baseline_customers:,} customers, scaled linearly; history only)"
    )
    print(f"target simulate < {TARGET_S:.0f} s: {'met' if result['target_met'] else 'NOT met'}")


if __name__ == "__main__":
    main()

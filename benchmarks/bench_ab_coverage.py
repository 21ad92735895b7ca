"""Coverage of the campaign A/B intervals on simulated campaigns with a known true lift.

Runs N seeded campaigns through :func:`offerwise.evaluation.experiment.analyze_campaign` and
prints, per metric: the share of 95% CIs (absolute lift) that contain the true lift, without and
with CUPED (target 93–97%), the mean CI widths and their ratio (CUPED / plain).

    .venv/bin/python benchmarks/bench_ab_coverage.py [--runs 200] [--n 10000] [--json]

Campaigns come from :func:`generate_campaign`, the one function to switch to the project's
simulator (``offerwise.data.simulator``) once it exists; it must return the per-customer frame of
``analyze_campaign`` and the true (super-population) lift per metric.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from offerwise.evaluation.experiment import analyze_campaign

METRICS = ("converted", "revenue", "net_profit")

# toy market: pre-period spend x ~ LogNormal(MU, SIGMA); P(buy) = sigmoid(A + B·log1p(x) + C·T);
# basket list price ~ Gamma(2, m(x)/2) with m(x) = M0 + M1·x; treated buyers get DISCOUNT off list.
MU, SIGMA = 4.0, 0.8
A, B, C = -2.5, 0.6, 0.35
M0, M1 = 15.0, 0.4
DISCOUNT, MARGIN = 0.10, 0.30


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _expected(x: np.ndarray, treated: bool) -> dict[str, np.ndarray]:
    """E[metric | x, T] of the toy market (closed form)."""
    p = _sigmoid(A + B * np.log1p(x) + (C if treated else 0.0))
    m = M0 + M1 * x
    d = DISCOUNT if treated else 0.0
    return {"converted": p, "revenue": p * m * (1 - d), "net_profit": p * m * (MARGIN - d)}


def toy_true_lifts() -> dict[str, float]:
    """E_x[E(y|x,1) − E(y|x,0)] by 200-node Gauss–Hermite quadrature over log x (exact to ~1e-10)."""
    nodes, weights = np.polynomial.hermite.hermgauss(200)
    x = np.exp(MU + np.sqrt(2.0) * SIGMA * nodes)
    w = weights / np.sqrt(np.pi)
    e1, e0 = _expected(x, True), _expected(x, False)
    return {k: float((w * (e1[k] - e0[k])).sum()) for k in METRICS}


def toy_campaign(seed: int, n_customers: int, holdout_fraction: float) -> pd.DataFrame:
    """One randomized campaign of the toy market, in ``analyze_campaign``'s format."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(MU, SIGMA, n_customers)
    holdout = rng.uniform(size=n_customers) < holdout_fraction
    t = ~holdout
    p = _sigmoid(A + B * np.log1p(x) + C * t)
    conv = rng.uniform(size=n_customers) < p
    list_price = conv * rng.gamma(2.0, (M0 + M1 * x) / 2.0)
    disc = list_price * DISCOUNT * t
    return pd.DataFrame({
        "customer_id": np.char.add("c", np.arange(n_customers).astype(str)),
        "group": np.where(t, "treatment", "holdout"),
        "offer_id": np.where(rng.uniform(size=n_customers) < 0.5, "pct10a", "pct10b"),
        "segment": np.where(x > np.exp(MU), "high", "low"),
        "converted": conv.astype(int),
        "revenue": list_price - disc,
        "discount_cost": disc,
        "gross_profit": MARGIN * list_price,
        "pre_spend": x,
    })


def generate_campaign(seed: int, n_customers: int, holdout_fraction: float) -> tuple[pd.DataFrame, dict[str, float]]:
    """SWITCH POINT: (per-customer campaign frame, true lift per metric).

    Today: the toy market above. To use ``offerwise.data.simulator``, simulate a market with this
    seed, randomize customers into treatment/holdout, build the frame with
    ``offerwise.evaluation.experiment.campaign_outcomes`` and take the true lifts from the
    simulator's potential outcomes (mean over the population of E[y|T=1] − E[y|T=0]).
    """
    return toy_campaign(seed, n_customers, holdout_fraction), toy_true_lifts()


def run(runs: int, n_customers: int, holdout_fraction: float, seed: int) -> dict[str, object]:
    hits = {m: [0, 0] for m in METRICS}
    widths: dict[str, list[list[float]]] = {m: [[], []] for m in METRICS}
    secs: list[float] = []
    truth: dict[str, float] = {}
    for r in range(runs):
        df, truth = generate_campaign(seed + r, n_customers, holdout_fraction)
        t0 = time.perf_counter()
        a = analyze_campaign(df, expected_holdout_fraction=holdout_fraction)
        secs.append(time.perf_counter() - t0)
        for m in METRICS:
            res = a.get(m)
            hits[m][0] += res.abs_ci_low <= truth[m] <= res.abs_ci_high
            hits[m][1] += res.cuped_ci_low <= truth[m] <= res.cuped_ci_high
            widths[m][0].append(res.abs_ci_high - res.abs_ci_low)
            widths[m][1].append(res.cuped_ci_high - res.cuped_ci_low)
    rows = []
    for m in METRICS:
        w0, w1 = float(np.mean(widths[m][0])), float(np.mean(widths[m][1]))
        rows.append({"metric": m, "true_lift": truth[m], "coverage": hits[m][0] / runs,
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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = run(args.runs, args.n, args.holdout, args.seed)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"A/B CI coverage: {out['runs']} campaigns x {out['n_customers']} customers, "
          f"holdout {out['holdout_fraction']:.0%}, nominal 95% (target 93-97%)")
    print(f"{'metric':<12}{'true lift':>11}{'coverage':>10}{'cov CUPED':>11}"
          f"{'CI width':>11}{'w CUPED':>10}{'ratio':>8}")
    for r in out["rows"]:
        print(f"{r['metric']:<12}{r['true_lift']:>11.4f}{r['coverage']:>10.1%}{r['coverage_cuped']:>11.1%}"
              f"{r['width']:>11.4f}{r['width_cuped']:>10.4f}{r['width_ratio']:>8.3f}")
    print(f"median analyze_campaign time: {out['median_analyze_s'] * 1000:.1f} ms per campaign")
    return 0


if __name__ == "__main__":
    sys.exit(main())

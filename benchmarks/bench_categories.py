"""Benchmark: competitor prices and stock against the simulator's truth (issue #15, items 3 and 5).

``--draws`` seeded shops from :mod:`offerwise.demand.synthetic` with 3 rivals and a stock room
(6 categories: known own-price elasticities -0.5 ... -3.0, known cross-price elasticities to the
rivals' median price 0.8, 0.4, 0.0, 0.6, 1.2, 0.2, rivals 15 % cheaper ... 20 % dearer, target
stock covers 1 ... 20 weeks). Each shop is written to disk and read by the commands' workflows
(``offerwise elasticity``, ``offerwise categories``), as a user runs them:

* competitor effect: 90 % interval coverage of the known cross-price elasticity, bias, spread;
  own-price elasticity coverage with the rivals in the data (bar of item 2: >= 85 %), and without
  the competitor column (the same shops read without ``competitor_prices``);
* price index: largest absolute error against the truth (same definition, generator prices);
* stock: the stock status (scarce < 2 weeks, overstock > 8) from the last 4 weeks of sales vs the
  status of the true cover (last snapshot / expected demand), and the median relative error of
  weeks of cover.

    .venv/bin/python benchmarks/bench_categories.py --draws 50
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from offerwise.config import load_settings
from offerwise.demand.competition import StockPolicy, stock_status
from offerwise.demand.synthetic import DemandConfig, simulate_demand
from offerwise.workflows.categories import category_outlook
from offerwise.workflows.elasticity import run_elasticity

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)


def one(seed: int, root: Path) -> pd.DataFrame:
    """Per category of one shop: estimates next to the truth."""
    settings = load_settings(None)
    m = simulate_demand(DemandConfig(competitors=3, seed=seed))
    shop = root / f"shop{seed}"
    m.write(str(shop))
    el = run_elasticity(shop, out=root / f"el{seed}.parquet", settings=settings).table
    bare = root / f"bare{seed}"
    shutil.copytree(shop, bare)
    (bare / "competitor_prices.parquet").unlink()
    (bare / "inventory.parquet").unlink()
    el0 = run_elasticity(bare, out=root / f"el0_{seed}.parquet", settings=settings).table
    out = category_outlook(shop, settings=settings).frame
    t = m.truth.rename(columns=lambda c: c if c == "category" else f"true_{c}")
    r = t.merge(el, on="category").merge(
        el0[["category", "elasticity", "ci_low", "ci_high"]].rename(
            columns=lambda c: c if c == "category" else f"{c}_no_rivals"
        ),
        on="category",
    )
    r = r.merge(out[["category", "price_index", "weeks_of_cover", "stock_status"]], on="category")
    r["seed"] = seed
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=50)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        r = pd.concat([one(s, Path(tmp)) for s in range(args.draws)], ignore_index=True)
    pol = StockPolicy()
    g = r["true_competitor_effect"]
    cov_c = (r["competitor_ci_low"] <= g) & (g <= r["competitor_ci_high"])
    e = r["true_elasticity"]
    cov_own = (r["ci_low"] <= e) & (e <= r["ci_high"])
    cov_own0 = (r["ci_low_no_rivals"] <= e) & (e <= r["ci_high_no_rivals"])
    true_status = stock_status(r["true_weeks_of_cover"].to_numpy(float), pol)
    agree = r["stock_status"].to_numpy() == true_status
    rel = (r["weeks_of_cover"] / r["true_weeks_of_cover"] - 1).abs()
    print(f"## per true cross-price elasticity ({args.draws} draws)")
    by = r.assign(covered=cov_c, err=r["competitor_effect"] - g).groupby("true_competitor_effect")
    print(
        by.agg(coverage90=("covered", "mean"), bias=("err", "mean"), sd=("err", "std")).to_string(
            float_format=lambda v: f"{v:.3f}"
        )
    )
    print(f"\n## stock status from the last 4 weeks of sales vs the truth ({args.draws} draws)")
    print(
        pd.crosstab(pd.Series(true_status, name="true status"), r["stock_status"].rename("ours"))
    )
    rows = [
        ("competitor effect: 90 % interval covers the truth", f"{cov_c.mean():.3f}", ">= 0.85",
         cov_c.mean() >= 0.85),
        ("competitor effect: bias (mean estimate - truth)",
         f"{(r['competitor_effect'] - g).mean():+.3f}", "stated", True),
        ("own elasticity: 90 % coverage, rivals in the data", f"{cov_own.mean():.3f}", ">= 0.85",
         cov_own.mean() >= 0.85),
        ("own elasticity: 90 % coverage, rivals left out", f"{cov_own0.mean():.3f}", "-", True),
        ("price index: largest |ours - truth|",
         f"{(r['price_index'] - r['true_price_index']).abs().max():.2e}", "< 1e-6",
         (r["price_index"] - r["true_price_index"]).abs().max() < 1e-6),
        ("stock status agrees with the true cover's", f"{agree.mean():.3f}", ">= 0.90",
         agree.mean() >= 0.90),
        ("weeks of cover: median relative error", f"{rel.median():.3f}", "stated", True),
    ]
    print(f"\n## competitor prices and stock vs truth: {args.draws} draws x 6 categories "
          f"({time.perf_counter() - t0:.0f} s)")
    print(pd.DataFrame(rows, columns=["check", "measured", "bar", "met"]).to_string(index=False))


if __name__ == "__main__":
    main()

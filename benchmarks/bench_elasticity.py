"""Benchmark: ``offerwise elasticity`` (issue #15, part 2).

* ``synthetic``: ``--draws`` seeded shops from :mod:`offerwise.demand.synthetic` (6 categories with
  known elasticities -0.5 ... -3.0, promotions timed for high-demand weeks), each estimated through
  the same code as the command (price panel -> double ML per category); the share of 90 % and
  95 % intervals that contain the truth, the bias (mean estimate - truth) and the spread, for the
  default generator (20 products, 50 base units a week) and a thin one (12 products, 20 units),
  next to a plain within-product regression of log units on log price (no week effects) to show
  the confounding is real;
* ``completejourney``: the command on the Complete Journey import; the estimates of the top
  ``--top`` categories by sales with 90 % intervals, and how many categories got a number.

    .venv/bin/python benchmarks/bench_elasticity.py --data /tmp/cj      # offerwise import completejourney --out /tmp/cj
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.config import load_settings
from offerwise.demand.elasticity import category_elasticities, price_panel
from offerwise.demand.synthetic import DemandConfig, simulate_demand
from offerwise.workflows.elasticity import run_elasticity

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)


def _plain(panel: pd.DataFrame) -> pd.Series:
    """Per category: slope of log units on log paid price, both demeaned within product."""
    f = panel.assign(ly=np.log(panel["units"]), lp=np.log(panel["paid"] / panel["units"]))
    for c in ("ly", "lp"):
        f[c] = f[c] - f.groupby("product_id")[c].transform("mean")
    return f.groupby("category").apply(lambda g: float((g.lp @ g.ly) / (g.lp @ g.lp)), include_groups=False)


def synthetic(draws: int) -> None:
    rows = []
    for label, cfg in (("default: 20 products x 50 units", {}),
                       ("thin: 12 products x 20 units", {"products_per_category": 12, "base_units": 20.0})):
        t = time.perf_counter()
        res = []
        for seed in range(draws):
            m = simulate_demand(DemandConfig(seed=seed, **cfg))
            tx = m.transactions.merge(m.products[["product_id", "category"]], on="product_id")
            panel = price_panel(tx, m.as_of)
            est = category_elasticities(panel).merge(m.truth, on="category", suffixes=("", "_true"))
            est["plain"] = est["category"].map(_plain(panel.frame))
            res.append(est)
        r = pd.concat(res, ignore_index=True)
        truth = r["elasticity_true"]
        cov90 = ((r["ci_low"] <= truth) & (truth <= r["ci_high"])).mean()
        rows.append({
            "generator": label, "draws": draws, "intervals": len(r),
            "coverage90": cov90, "coverage95": ((r["ci95_low"] <= truth) & (truth <= r["ci95_high"])).mean(),
            "bias": (r["elasticity"] - truth).mean(), "rel_bias": ((r["elasticity"] - truth) / truth.abs()).mean(),
            "sd": (r["elasticity"] - truth).std(), "mean_se": r["se"].mean(),
            "plain_bias": (r["plain"] - truth).mean(), "target_cov90": 0.85, "met": cov90 >= 0.85,
            "seconds": time.perf_counter() - t,
        })
        by = r.assign(truth=truth).groupby("truth").apply(lambda g: pd.Series({
            "coverage90": ((g.ci_low <= g.name) & (g.name <= g.ci_high)).mean(),
            "bias": (g.elasticity - g.name).mean(), "plain_bias": (g.plain - g.name).mean()}),
            include_groups=False)
        print(f"\n## synthetic, {label}: per true elasticity ({draws} draws)")
        print(by.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"\n## synthetic: 90 % interval coverage over {draws} draws x 6 categories")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def completejourney(data: str, top: int) -> None:
    if not Path(data).exists():  # `make bench` on a fresh machine: import it first
        from offerwise.data.completejourney import import_completejourney

        import_completejourney(Path(data))
    with tempfile.TemporaryDirectory() as tmp:
        run = run_elasticity(data, out=Path(tmp) / "el.parquet", settings=load_settings(None))
    t = run.table
    print(f"\n## Complete Journey: {run.n_estimated} of {len(t)} categories estimated "
          f"({run.timings['total']:.1f} s); quantity-0 lines left out: {run.dropped_zero_quantity}; "
          f"free product-weeks left out: {run.free_product_weeks}")
    print(t["reason"].str.replace(r"\(.*", "", regex=True).value_counts().rename("categories").to_string())
    print(f"\ntop {top} categories by sales (paid amount), 90 % intervals:")
    cols = ["category", "elasticity", "ci_low", "ci_high", "ci95_low", "ci95_high", "n_obs", "n_products",
            "discount_depth", "reason"]
    print(t[cols].head(top).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/cj")
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--parts", nargs="+", default=["synthetic", "completejourney"])
    args = ap.parse_args()
    if "synthetic" in args.parts:
        synthetic(args.draws)
    if "completejourney" in args.parts:
        completejourney(args.data, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

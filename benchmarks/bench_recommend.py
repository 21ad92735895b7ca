"""Benchmark: ``offerwise recommend --evaluate`` on The Complete Journey, and fit time.

For each level (category, product): every method fitted on the history before the last 8 weeks
and scored on those weeks (k = 10), through the same workflow as the CLI; then the default method
fitted on the full history (``offerwise recommend``), median of 3 runs. Acceptance (issue #14):
the default method >= buy-again on NDCG@10 and > popularity on explore NDCG@10 at both levels;
fit on the full history < 30 s on 2 cores. Threads: implicit 1, BLAS 1.

Then the trade-off between the two acceptance rows, with the ranker's calibrated probabilities:
the items a customer has not bought before get their probability multiplied by ``boost``
(``offerwise recommend --explore-boost``; 1 = the default); for each boost, NDCG@10 and explore
NDCG@10 on the same held-out weeks.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_recommend.py [--data CJ_DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd  # noqa: E402

from offerwise.data.contract import DataSet, load_data  # noqa: E402
from offerwise.recommend import (  # noqa: E402
    build_interactions,
    default_params,
    explore_relevant,
    fit_methods,
    item_purchases,
    ranking_scores,
    relevant_matrix,
    top_k,
)
from offerwise.recommend.methods import PopularScorer, popularity  # noqa: E402
from offerwise.recommend.ranker import RankerScorer, RankerSource  # noqa: E402
from offerwise.vocab import default_as_of  # noqa: E402
from offerwise.workflows.recommend import evaluate_recommenders, recommend  # noqa: E402

HOLDOUT_WEEKS, K, RUNS, FIT_TARGET_S = 8, 10, 3, 30.0
BOOSTS = (1.0, 1.25, 1.5, 1.75, 2.0, 3.0)


def frontier(
    ds: DataSet, level: str, as_of: pd.Timestamp | None = None
) -> list[tuple[float, float, float]]:
    """(boost, NDCG@K, explore NDCG@K) of the boosted ranker on the held-out weeks before
    ``as_of`` (default: the end of the data)."""
    end = default_as_of(ds) if as_of is None else as_of
    cut = end - pd.Timedelta(weeks=HOLDOUT_WEEKS)
    params = default_params(level)
    users = ds.frame("customers")["customer_id"].astype(str).to_numpy(dtype=object)
    inter = build_interactions(item_purchases(ds, level, None, cut, params.half_life_days), users)
    held = item_purchases(ds, level, cut, end, params.half_life_days)
    rel, n_rel = relevant_matrix(held, inter)
    x, n_x = explore_relevant(rel, n_rel, inter.counts)
    rk = fit_methods(inter, ("ranker",), params, source=RankerSource(ds, level, cut))["ranker"]
    assert isinstance(rk.scorer, RankerScorer)
    cold = ~inter.has_history()
    out = []
    for b in BOOSTS:
        lists = top_k(rk.scorer.with_boost(b, inter.counts), *inter.shape, K).items
        pop = top_k(PopularScorer(popularity(inter.counts)), 1, inter.shape[1], K).items
        lists[cold] = pop[0]  # as in the product: no history, the popularity list
        out.append((b, ranking_scores(lists, rel, n_rel).ndcg, ranking_scores(lists, x, n_x).ndcg))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="a Complete Journey import")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--as-of", default=None,
                    help="end of the held-out weeks (default: the end of the data); the "
                    "validation window of docs/recommend.md is --as-of 2017-11-07")
    args = ap.parse_args()
    data = args.data
    if data is None:
        from offerwise.data.completejourney import import_completejourney

        data = Path(tempfile.mkdtemp()) / "cj"
        import_completejourney(data)
    ds = load_data(data, required=("customers", "transactions"))
    out: dict[str, object] = {"data": str(data), "holdout_weeks": HOLDOUT_WEEKS, "k": K}
    lines = []
    for level in ("category", "product"):
        ev = evaluate_recommenders(ds, holdout_weeks=HOLDOUT_WEEKS, level=level, k=K,
                                   as_of=args.as_of)
        fits, totals = [], []
        for _ in range(RUNS):
            r = recommend(ds, level=level, k=K, as_of=args.as_of)
            fits.append(r.timings["fit"])
            totals.append(r.timings["total"])
        by = {m.method: m for m in ev.rows}
        d, ba, pop = by[ev.default_method], by["buy-again"], by["popular"]
        fit_s = statistics.median(fits)
        checks = {
            f"{ev.default_method} NDCG@{K} >= buy-again": d.ndcg >= ba.ndcg,
            f"{ev.default_method} explore NDCG@{K} > popular": d.explore_ndcg > pop.explore_ndcg,
            f"full-history fit < {FIT_TARGET_S:.0f} s": fit_s < FIT_TARGET_S,
        }
        out[level] = {
            **ev.to_dict(),
            "full_fit_seconds": fits,
            "full_total_seconds": totals,
            "checks": checks,
        }
        lines.append(
            f"\n{level}: fitted before {ev.cutoff.date()}, scored on {ev.end.date()} - "
            f"{HOLDOUT_WEEKS} weeks ({ev.n_items:,} items, {d.n_users:,} customers, "
            f"{d.n_explore_users:,} with explore items)"
        )
        lines.append(
            f"{'method':<10} {'recall@10':>9} {'NDCG@10':>8} {'x-recall':>9} {'x-NDCG':>8} "
            f"{'coverage':>8} {'fit s':>7}"
        )
        for m in ev.rows:
            lines.append(
                f"{m.method:<10} {m.recall:>9.4f} {m.ndcg:>8.4f} {m.explore_recall:>9.4f} "
                f"{m.explore_ndcg:>8.4f} {m.coverage:>8.4f} {m.fit_seconds:>7.2f}"
            )
        lines.append(
            f"full history, {ev.default_method}: fit {fit_s:.2f} s, whole command "
            f"{statistics.median(totals):.2f} s (median of {RUNS})"
        )
        for name, ok in checks.items():
            lines.append(f"  [{'met' if ok else 'NOT met'}] {name}")
        fr = frontier(ds, level, None if args.as_of is None else pd.Timestamp(args.as_of))
        out[level]["frontier"] = fr  # type: ignore[index]
        lines.append(
            f"the ranker with new items' probabilities x boost (buy-again NDCG {ba.ndcg:.4f}, "
            f"popular explore NDCG {pop.explore_ndcg:.4f}):"
        )
        for b, nd, xn in fr:
            both = nd >= ba.ndcg and xn > pop.explore_ndcg
            lines.append(
                f"  boost {b:4.2f}: NDCG {nd:.4f}  explore NDCG {xn:.4f}"
                + ("  <- both rows met" if both else "")
            )
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()

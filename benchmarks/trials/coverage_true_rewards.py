"""The plan's held-out check on bench_identification's coverage markets, recomputed with the
simulator's true expected rewards in place of the audit model's (not in the product).

For each market seed (legacy logging, 10k customers, 30k exposures, as ``bench_identification.py
--parts coverage``): the product's check (``claims.estimate``), then the same doubly-robust sum on
the same rows, actions, propensities and re-made plans with q = the truth's expected net profit.
When both miss the truth on the same side, the rows' realized rewards (not the reward model nor
the re-made plan) put the estimate there. ``true_checked``: the truth of the checked plans'
actions on the checked customers (per-customer mean x customers): what the check targets.

    .venv/bin/python benchmarks/trials/coverage_true_rewards.py 220 224 227 239
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench_identification as B  # noqa: E402

import offerwise.workflows.claims as C  # noqa: E402
from offerwise.config import load_settings  # noqa: E402
from offerwise.evaluation.plan_value import per_customer_mean  # noqa: E402
from offerwise.models.persist import load_model  # noqa: E402
from offerwise.simulator import write_market  # noqa: E402
from offerwise.workflows.plan import make_plan  # noqa: E402

seen: dict = {}
product_dr = C.incremental_value_dr


def capture(customer, reward, action, pscore, plan_action, q, n, **kw):  # noqa: ANN001, ANN003, ANN201
    seen.update(customer=customer, reward=reward, action=action, pscore=pscore, pa=plan_action, n=n)
    return product_dr(customer, reward, action, pscore, plan_action, q, n, **kw)


def main(seeds: list[int]) -> None:
    C.incremental_value_dr = capture  # the check's inputs, as the product computes them
    settings = load_settings(threads=2)
    rows = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for seed in seeds:
            mk = B._market(seed, "legacy", 10_000, 30_000)
            d = write_market(mk, tmp / f"c-{seed}")
            tr = B._train(d, tmp / f"cm-{seed}", seed, settings)
            budget, sc = B._budget(tr.model_dir, d, settings)
            run = make_plan(load_model(tr.model_dir), d, budget, tmp / f"cp-{seed}.parquet",
                            seed=seed, settings=settings, scored=sc, frontier=False)
            arms = ["none", *run.result.offer_ids]
            q_t = mk.truth.pivot(index="customer_id", columns="offer_id",
                                 values="expected_net_profit")[arms]
            qo = q_t.reindex(pd.Series(seen["customer"]).astype(str)).to_numpy()
            oracle = product_dr(seen["customer"], seen["reward"], seen["action"], seen["pscore"],
                                seen["pa"], qo, seen["n"])
            direct = qo[np.arange(len(qo)), seen["pa"]] - qo[:, 0]
            plan = run.result.to_frame()
            est = run.claims.estimate
            rows.append({
                "seed": seed,
                "true": mk.true_policy_value(plan[plan["group"] == "treatment"][["customer_id", "offer_id"]]),
                "true_checked": per_customer_mean(seen["customer"], direct).mean() * seen["n"],
                "check": est.value, "check_lo": est.ci_low, "check_hi": est.ci_high,
                "true_q": oracle.value, "true_q_lo": oracle.ci_low, "true_q_hi": oracle.ci_high,
            })
    print(pd.DataFrame(rows).round(0).to_string(index=False))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [220, 224, 227, 239])

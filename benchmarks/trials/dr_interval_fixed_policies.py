"""Is the DR interval of ``evaluation.plan_value.incremental_value_dr`` calibrated when nothing
but the logs' own noise can move it? (Not in the product.)

On bench_identification's coverage markets (legacy logging with exact propensities, 10k
customers, 30k exposures, seeds 200-219), three policies fixed from the truth alone (a random offer
per customer; each customer's true best offer; that offer for the true top 10 % by gain), with the
truth's expected rewards as q: the share of seeds whose 90 % interval covers the true incremental
profit, and the mean z of each arm's reward residual (logged reward minus truth).

    .venv/bin/python benchmarks/trials/dr_interval_fixed_policies.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.evaluation.plan_value import incremental_value_dr
from offerwise.simulator import SimulatorConfig, simulate


def main() -> None:
    res, zs = [], []
    for seed in range(200, 220):
        mk = simulate(SimulatorConfig(n_customers=10000, n_exposures=30000, seed=seed, logging="legacy"))
        ex = mk.exposures.copy()
        ex["customer_id"] = ex["customer_id"].astype(str)
        arms = ["none"] + sorted(set(mk.truth.offer_id) - {"none"})
        q_t = mk.truth.pivot(index="customer_id", columns="offer_id", values="expected_net_profit")[arms]
        cust = q_t.index.to_numpy()
        idx = {a: i for i, a in enumerate(arms)}
        action = ex.offer_id.map(idx).to_numpy()
        reward = ex.gross_profit.to_numpy() - ex.discount_cost.to_numpy()
        q = q_t.reindex(ex.customer_id).to_numpy()
        resid = reward - q[np.arange(len(q)), action]
        zs.append({a: resid[action == i].mean() / (resid[action == i].std() / np.sqrt((action == i).sum()))
                   for a, i in idx.items()})
        qa = q_t.to_numpy()
        best = 1 + np.argmax(qa[:, 1:], 1)
        gain = qa[:, 1:].max(1) - qa[:, 0]
        rng = np.random.default_rng(seed)
        for name, pol in (("random offer", rng.integers(1, len(arms), len(cust))),
                          ("true best offer", best),
                          ("true top 10 %", np.where(gain > np.quantile(gain, 0.9), best, 0))):
            dec = pd.DataFrame({"customer_id": cust, "offer_id": np.array(arms)[pol]})
            true = mk.true_policy_value(dec)
            pa = pd.Series(pol, index=cust).reindex(ex.customer_id).to_numpy()
            e = incremental_value_dr(ex.customer_id.to_numpy(), reward, action,
                                     ex.propensity.to_numpy(), pa, q, len(cust))
            res.append({"seed": seed, "policy": name, "covered": e.ci_low <= true <= e.ci_high})
    r = pd.DataFrame(res)
    print(r.groupby("policy")["covered"].agg(["sum", "count"]).to_string())
    print("mean z of the reward residual per arm:", pd.DataFrame(zs).mean().round(2).to_dict())


if __name__ == "__main__":
    main()

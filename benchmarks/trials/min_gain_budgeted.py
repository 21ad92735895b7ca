"""Trial (2026-12-04): rules for the minimum gain's reach, judged by budgeted plans' true value.

``min_gain_reach_truth.py`` judged the rules by the true value of the uncapped top-s plan on the
logged rows. A floor's harm shows under a budget: a floor at a 2 % reach leaves a 10 % budget
unspent. Here, for every model a ``bench_plan_value.py`` work folder holds (``model0`` ...
``modelN``, e.g. from ``--model-seeds 3``), each rule's reach (from the model's out-of-fold DR
increments, ``offerwise.workflows.tune.reach_values``) becomes a floor on that
model's predicted gains for every customer (``gain_floor``, as ``offerwise plan`` applies it),
and the plan at 10 / 30 / 60 % budgets is valued against the truth, as % of the oracle plan:

* ``argmax``: the best DR value's reach (the product's rule; no floor when no reach pays);
* ``paired z<1.64`` / ``paired z<1``: the largest reach at or beyond the best whose value is not
  below the best's by that paired z (per-customer differences: the reaches share customers, so
  their difference is far less noisy than either value); no floor when no reach pays;
* ``1-SE``: the largest reach within one (unpaired) standard error of the best;
* ``none``: no floor.

    .venv/bin/python benchmarks/bench_plan_value.py --seed S --model-seeds 3   # S = 7 .. 11
    .venv/bin/python benchmarks/trials/min_gain_budgeted.py /tmp/bench_plan_value_*
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.features.model_inputs import customer_features
from offerwise.models.persist import load_model
from offerwise.policy.plan import gain_floor
from offerwise.simulator import oracle_policy, true_policy_value
from offerwise.workflows.tune import GAIN_SHARES, reach_threshold, reach_values, widest_reach

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import allocate_choice, plan_frame  # noqa: E402
from min_gain_reach_truth import oof_inputs  # noqa: E402

SHARES = np.array(GAIN_SHARES)
BUDGETS = (0.1, 0.3, 0.6)


def rules(per: np.ndarray) -> dict[str, int]:
    """Reach index each rule picks (the last index: no floor)."""
    mean = per.mean(axis=0)
    se = per.std(axis=0, ddof=1) / np.sqrt(len(per))
    best, full = int(np.argmax(mean)), len(mean) - 1
    pays = mean[best] > 0
    return {"argmax": best if pays else full,
            "paired z<1.64": widest_reach(per, best, 1.645) if pays else full,
            "paired z<1": widest_reach(per, best, 1.0) if pays else full,  # the product's
            "1-SE": int(np.flatnonzero(mean >= mean[best] - se[best]).max()), "none": full}


def folder(work: Path) -> list[dict]:
    seed = int(json.loads((work / "data" / "simulator.json").read_text())["seed"])
    settings = load_settings(threads=2, seed=seed)
    ds = load_data(work / "data", settings=settings, required=("customers", "offers", "exposures"))
    truth = pd.read_parquet(work / "data" / "truth.parquet").astype({"customer_id": str,
                                                                       "offer_id": str})
    full_cost = float(oracle_policy(truth)["expected_cost"].sum())
    oracle = {b: true_policy_value(truth, oracle_policy(truth, b * full_cost)) for b in BUDGETS}
    out = []
    for model in sorted(work.glob("model*")):
        lm = load_model(model)
        ids, X, _ = customer_features(ds, lm.features, settings=settings)
        sc = lm.model.predict(X)
        everyone = np.ones(sc.incremental_profit.shape, bool)
        cust, reward, action, pscore, q, _ = oof_inputs(work, model.name)
        picks = rules(reach_values(cust, reward, action, pscore, q))
        row = {"market": seed, "model": model.name, "reach": {}, "value": {}}
        for name, k in picks.items():
            f = gain_floor(sc.incremental_profit, everyone, reach_threshold(q, SHARES[k]), SHARES[k])
            v = np.where(sc.incremental_profit >= f, sc.incremental_profit, -1.0)
            row["reach"][name] = SHARES[k]
            row["value"][name] = [
                100 * true_policy_value(truth, plan_frame(ids, sc.offers, allocate_choice(
                    v, sc.expected_cost, b * full_cost, 2))) / oracle[b] for b in BUDGETS]
        out.append(row)
        print(f"market {seed} {model.name}: " + "; ".join(
            f"{n} {row['reach'][n]:.0%} " + "/".join(f"{x:.1f}" for x in row["value"][n])
            for n in picks), flush=True)
    return out


def main(argv: list[str]) -> int:
    rows = [r for w in argv for r in folder(Path(w))]
    names = list(rows[0]["value"])
    print(f"\n{len(rows)} models; true value as % of the oracle at 10 / 30 / 60 % budgets")
    print("| rule | mean | median | worst | models below no floor by > 5 points (any budget) |")
    print("|---|---|---|---|---|")
    for n in names:
        v = np.array([r["value"][n] for r in rows])
        none = np.array([r["value"]["none"] for r in rows])
        worse = int(((none - v) > 5).any(axis=1).sum())
        print(f"| {n} | " + " | ".join(
            "/".join(f"{x:.1f}" for x in f(v, axis=0)) for f in (np.mean, np.median, np.min))
            + f" | {worse}/{len(rows)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

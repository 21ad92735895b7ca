"""Trial (2026-12-04): how well the out-of-fold DR values by reach pick the minimum gain's reach.

For each work folder ``bench_plan_value.py`` leaves (``data/``: the simulated shop with its truth;
``model0/``: the first model, its ``oof.parquet`` and card), the plans that give the top s of the
logged rows their best offer by the out-of-fold predictions (s in ``GAIN_SHARES``, as
``offerwise.workflows.tune.min_gain`` values them) are valued twice: by the DR estimate the card
holds (logged propensities, realized rewards) and by the simulator's true incremental profit of
the chosen offers (``truth.parquet``, per customer, mean over the customer's rows). Printed per
folder: the truly best reach, and the reach each rule picks with its true value; then each rule's
mean regret (true value lost against the truly best reach, currency per customer):

* ``argmax``: the best DR value (the product before 2026-12-04);
* ``argmax, paying``: the same, but no cut (full reach) when no reach's DR value is positive
  (the product since 2026-12-04: ``MinGain.pays``);
* ``1-SE``: the largest reach within one standard error of the best;
* ``full``: no cut;
* ``isotonic``: the rows' DR increments of their best offer calibrated on the predicted gain by
  an increasing isotonic regression, cut where the calibrated gain crosses 0 (the nearest reach).

Also printed per folder: the DR value's standard error at its best reach, and how much the truly
best reach is worth above no cut (``best - full``, the most a cut can win).

    .venv/bin/python benchmarks/bench_plan_value.py --seed S --model-seeds 1   # S = 7 .. 16
    .venv/bin/python benchmarks/trials/min_gain_reach_truth.py /tmp/bench_plan_value_*
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from offerwise.evaluation.plan_value import dr_increments, per_customer_mean, top_share_policy
from offerwise.workflows.tune import GAIN_SHARES, reach_values

SHARES = np.array(GAIN_SHARES)


def oof_inputs(work: Path, model: str = "model0") -> tuple[np.ndarray, ...]:
    """(customer, reward, action, pscore, q) of ``model``'s out-of-fold rows in bench folder
    ``work`` (the arguments of ``offerwise.workflows.tune.min_gain``), and the arms (q's columns,
    ``none`` first)."""
    o = pd.read_parquet(work / model / "oof.parquet").sort_values("row")
    ex = pd.read_parquet(work / "data" / "exposures.parquet").iloc[o["row"].to_numpy()]
    cust = ex["customer_id"].astype(str).to_numpy()
    assert (cust == o["customer_id"].astype(str).to_numpy()).all(), "oof rows out of order"
    arms = [c[2:] for c in o.columns if c.startswith("q:")]
    q = o[[f"q:{a}" for a in arms]].to_numpy()
    action = ex["offer_id"].astype(str).map({a: i for i, a in enumerate(arms)}).to_numpy()
    reward = (ex["gross_profit"] - ex["discount_cost"]).to_numpy(np.float64)
    return cust, reward, action, ex["propensity"].to_numpy(), q, np.array(arms)


def curves(work: Path) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, int]:
    """(market seed, DR value (G,), its standard error (G,), true value (G,)) per reach, and the
    reach index the isotonic rule picks."""
    seed = int(json.loads((work / "data" / "simulator.json").read_text())["seed"])
    cust, reward, action, pscore, q, arms = oof_inputs(work)
    pol = top_share_policy(q, GAIN_SHARES)
    per = reach_values(cust, reward, action, pscore, q)
    se = per.std(axis=0, ddof=1) / np.sqrt(len(per))
    truth = pd.read_parquet(work / "data" / "truth.parquet").astype({"customer_id": str,
                                                                       "offer_id": str})
    t = truth.pivot(index="customer_id", columns="offer_id", values="incremental_profit")
    t = t.reindex(cust)
    T = np.column_stack([np.zeros(len(cust))] + [t[a].to_numpy() for a in arms[1:]])
    true = per_customer_mean(cust, np.take_along_axis(T, pol, axis=1)).mean(axis=0)
    best = 1 + np.argmax(q[:, 1:], axis=1)
    gain = q[np.arange(len(q)), best] - q[:, 0]
    d = dr_increments(reward, action, pscore, best, q)
    pos = gain > 0
    cal = IsotonicRegression(increasing=True).fit(gain[pos], d[pos]).predict(gain[pos])
    cut = gain[pos][cal > 0].min() if (cal > 0).any() else np.inf
    iso = int(np.argmin(np.abs(SHARES - float((gain >= cut).mean()))))
    return seed, per.mean(axis=0), se, true, iso


def rules(dr: np.ndarray, se: np.ndarray, iso: int) -> dict[str, int]:
    best = int(np.argmax(dr))
    full = len(dr) - 1
    return {"argmax": best, "argmax, paying": best if dr[best] > 0 else full,
            "1-SE": int(np.flatnonzero(dr >= dr[best] - se[best]).max()), "full": full,
            "isotonic": iso}


def main(argv: list[str]) -> int:
    rows = sorted((curves(Path(w)) for w in argv), key=lambda r: r[0])
    names = list(rules(rows[0][1], rows[0][2], rows[0][4]))
    print("true value per customer of the top-s plan (out-of-fold gains), by the reach each rule "
          "picks; 'DR best' is the DR value at the argmax, 'se' its standard error")
    print(f"{'seed':>4s} {'true best':>15s} {'best-full':>9s} {'DR best':>9s} {'se':>7s} "
          + " ".join(f"{n:>16s}" for n in names))
    regret: dict[str, list[float]] = {n: [] for n in names}
    for seed, dr, se, true, iso in rows:
        b, a = int(np.argmax(true)), int(np.argmax(dr))
        picks = rules(dr, se, iso)
        cells = []
        for n in names:
            k = picks[n]
            regret[n].append(float(true[b] - true[k]))
            cells.append(f"{SHARES[k]:4.0%} {true[k]:+.4f}")
        print(f"{seed:4d} {SHARES[b]:4.0%} {true[b]:+.4f} {true[b] - true[-1]:9.4f} "
              f"{dr[a]:+9.4f} {se[a]:7.4f} " + " ".join(f"{c:>16s}" for c in cells))
    print("mean regret per customer: " + ", ".join(f"{n} {np.mean(v):.4f}" for n, v in regret.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

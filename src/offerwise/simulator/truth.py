"""Policy values against the truth: a plan's true value, the oracle policy and its value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.vocab import NO_OFFER


def _check_decisions(truth: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, offer_id) as strings, after checking columns, duplicates and offer ids."""
    for col in ("customer_id", "offer_id"):
        if col not in decisions.columns:
            raise InputError(
                f"decisions: required column '{col}' is missing (found: "
                f"{', '.join(map(str, decisions.columns[:12]))})"
            )
    d = decisions[["customer_id", "offer_id"]].astype({"customer_id": "str", "offer_id": "str"})
    dup = d["customer_id"].duplicated()
    if dup.any():
        raise InputError(
            f"decisions: {int(dup.sum())} duplicate customer ids; e.g. "
            f"{d.loc[dup, 'customer_id'].iloc[0]!r}"
        )
    bad = ~d["offer_id"].isin(set(truth["offer_id"].unique()))
    if bad.any():
        raise InputError(
            f"decisions: {int(bad.sum())} rows name offers not in the truth table; e.g. "
            f"{d.loc[bad, 'offer_id'].iloc[0]!r}"
        )
    return d


def true_policy_value(truth: pd.DataFrame, decisions: pd.DataFrame) -> float:
    """Sum over customers of the true incremental profit of the decided offer (vs none).

    ``decisions``: (customer_id, offer_id), one row per customer; customers not listed get none.
    """
    d = _check_decisions(truth, decisions)
    m = d.merge(
        truth[["customer_id", "offer_id", "incremental_profit"]],
        on=["customer_id", "offer_id"],
        how="left",
    )
    unknown = m["incremental_profit"].isna()
    if unknown.any():
        raise InputError(
            f"decisions: {int(unknown.sum())} customers not in the truth table; e.g. "
            f"{m.loc[unknown, 'customer_id'].iloc[0]!r}"
        )
    return float(m["incremental_profit"].sum())


def oracle_policy(truth: pd.DataFrame, budget: float | None = None) -> pd.DataFrame:
    """Best decisions knowing the truth: maximise Σ incremental profit s.t. Σ expected cost ≤
    budget.

    Lagrangian relaxation of the multiple-choice knapsack: each customer takes
    ``argmax_k incremental_profit - lam * expected_cost`` (none = 0), with the smallest ``lam ≥ 0``
    (bisection) that meets the budget. Within one customer's profit of the exact optimum.
    Returns (customer_id, offer_id, expected_cost, incremental_profit), one row per customer.
    """
    if budget is not None and budget < 0:
        raise InputError(f"oracle_policy: budget must be non-negative (got {budget})")
    t = truth.sort_values(["customer_id", "offer_id"], kind="stable")
    actions = pd.Index(sorted(t["offer_id"].unique()))
    ids = pd.Index(t["customer_id"].unique())
    inc = (
        t.pivot(index="customer_id", columns="offer_id", values="incremental_profit")
        .reindex(index=ids, columns=actions)
        .fillna(-np.inf)
        .to_numpy(dtype="float64", copy=True)
    )
    cost = (
        t.pivot(index="customer_id", columns="offer_id", values="expected_cost")
        .reindex(index=ids, columns=actions)
        .fillna(0.0)
        .to_numpy(dtype="float64", copy=True)
    )
    if NO_OFFER in actions:
        j0 = actions.get_loc(NO_OFFER)
        inc[:, j0], cost[:, j0] = 0.0, 0.0

    def pick(lam: float) -> np.ndarray:
        return np.argmax(inc - lam * cost, axis=1)

    rows = np.arange(len(ids))
    choice = pick(0.0)
    if budget is not None and cost[rows, choice].sum() > budget:
        lo, hi = 0.0, 1.0
        while cost[rows, pick(hi)].sum() > budget and hi < 1e9:
            hi *= 2
        for _ in range(60):
            mid = (lo + hi) / 2
            if cost[rows, pick(mid)].sum() > budget:
                lo = mid
            else:
                hi = mid
        choice = pick(hi)
    return pd.DataFrame(
        {
            "customer_id": pd.array(ids.to_numpy(dtype=object), dtype="str"),
            "offer_id": pd.array(actions.to_numpy(dtype=object)[choice], dtype="str"),
            "expected_cost": cost[rows, choice],
            "incremental_profit": inc[rows, choice],
        }
    )


def oracle_value(truth: pd.DataFrame, budget: float | None = None) -> float:
    """True incremental profit of :func:`oracle_policy` (``budget`` on the expected cost)."""
    return float(oracle_policy(truth, budget)["incremental_profit"].sum())


def true_policy_value_per_exposure(
    truth: pd.DataFrame, exposures: pd.DataFrame, decisions: pd.DataFrame
) -> float:
    """Mean over logged exposure rows of E[net profit | customer, plan(customer)].

    The quantity an off-policy estimate (IPW/DR over ``exposures``) of the plan's value per exposure
    targets. Customers missing from ``decisions`` get none.
    """
    plan = _check_decisions(truth, decisions)
    e = (
        exposures[["customer_id"]]
        .astype({"customer_id": "str"})
        .merge(plan, on="customer_id", how="left")
    )
    e["offer_id"] = e["offer_id"].fillna(NO_OFFER)
    m = e.merge(
        truth[["customer_id", "offer_id", "expected_net_profit"]],
        on=["customer_id", "offer_id"],
        how="left",
    )
    unknown = m["expected_net_profit"].isna()
    if unknown.any():
        raise InputError(
            f"exposures: {int(unknown.sum())} rows name customers not in the truth table; "
            f"e.g. {m.loc[unknown, 'customer_id'].iloc[0]!r}"
        )
    return float(m["expected_net_profit"].mean()) if len(m) else 0.0

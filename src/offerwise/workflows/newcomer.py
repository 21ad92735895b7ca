"""The plan's decision for a customer it does not list: a *newcomer*.

A customer who signed up after the plan was made, or who is not in the data, has no plan row. The
offer service gives them the model's decision for a customer with no history: their features as
of the plan's date for an id with no transactions and no attributes (frequency 0, tenure 0, …),
scored by the plan's model, the planner's rules applied to a customer of segment ``new`` (so
``new_customers_only``, ``members_only``, depth and segment limits hold as in the plan), and the
best eligible offer **net of the plan's budget price** λ: ``argmax_k value_k − λ · cost_k`` when
positive, else none. The plan's summary carries it (``newcomer``); the service serves it as the
``cold_start`` group, exploring only among its eligible offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.data.templates import is_template
from offerwise.features.model_inputs import build_features
from offerwise.models.persist import LoadedModel
from offerwise.policy.plan import PlanResult
from offerwise.policy.rules import Rules, compile_rules
from offerwise.vocab import NO_OFFER

__all__ = ["NEWCOMER_ID", "NewcomerDecision", "newcomer_decision"]

#: The id the newcomer's features are computed for (no customer has it).
NEWCOMER_ID = "\x00newcomer"
#: The segment a customer without history belongs to.
NEW_SEGMENT = "new"


@dataclass(frozen=True, slots=True)
class NewcomerDecision:
    """The offer for customers without a plan row: ``offer_id`` (or ``none``), ``eligible`` (the
    offers the rules allow a newcomer and the model scored: the service's exploration arms),
    ``value`` (the plan's objective) and ``expected_cost`` of the offer (currency), ``lam`` the
    budget price it was chosen at, and ``reason`` (``best_net_of_budget_price``,
    ``no_positive_offer`` or ``ineligible``)."""

    offer_id: str
    eligible: list[str] = field(default_factory=list)
    value: float = 0.0
    expected_cost: float = 0.0
    lam: float = 0.0
    reason: str = "no_positive_offer"

    def to_dict(self) -> dict[str, object]:
        return {
            "offer_id": self.offer_id,
            "eligible": list(self.eligible),
            "value": self.value,
            "expected_cost": self.expected_cost,
            "lambda": self.lam,
            "reason": self.reason,
            "segment": NEW_SEGMENT,
        }


def _newcomer_row(customers: pd.DataFrame) -> pd.DataFrame:
    """One customer row with the plan's customer-table columns: segment ``new``, ``is_new`` true,
    not a member, never offered, other attributes missing."""
    row: dict[str, object] = {c: None for c in customers.columns}
    row["customer_id"] = NEWCOMER_ID
    row["segment"] = NEW_SEGMENT
    if "is_new" in customers.columns:
        row["is_new"] = True
    if "member" in customers.columns:
        row["member"] = False
    if "last_offer_ts" in customers.columns:
        row["last_offer_ts"] = pd.NaT
    return pd.DataFrame([row], columns=list(customers.columns) or ["customer_id", "segment"])


def newcomer_decision(
    lm: LoadedModel,
    ds: DataSet,
    res: PlanResult,
    customers: pd.DataFrame,
    *,
    rules: Rules | None,
    offers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    settings: Settings,
) -> NewcomerDecision:
    """The newcomer's decision under the plan ``res`` (its offers, objective, budget and λ).

    ``customers``: the plan's customer table (segment + the customers table's columns), whose
    columns the newcomer's row copies so the same rules compile."""
    X, _ = build_features(
        ds,
        pd.DataFrame({"customer_id": [NEWCOMER_ID], "as_of": [pd.Timestamp(as_of)]}),
        settings,
        spec=lm.features,
    )
    sc = lm.model.predict(X)
    scored = {o: k for k, o in enumerate(sc.offers)}
    offer_ids = list(res.offer_ids)
    K = len(offer_ids)
    profit = np.zeros((1, K))
    cost = np.zeros((1, K))
    present = np.zeros(K, dtype=bool)
    revenue_objective = res.objective == "revenue"
    value = np.zeros(K)
    templates: set[str] = set()
    if offers is not None and "category" in offers.columns:
        templates = {
            str(o)
            for o, c in zip(offers["offer_id"], offers["category"], strict=True)
            if isinstance(c, str) and is_template(c)
        }
    for j, o in enumerate(offer_ids):
        k = scored.get(o)
        if k is None or o in templates:  # skipped by the model, or scoped by recommendations a
            continue  # newcomer does not have: never given to a newcomer
        present[j] = True
        profit[0, j] = sc.incremental_profit[0, k]
        cost[0, j] = max(float(sc.expected_cost[0, k]), 0.0)
        value[j] = sc.incremental_revenue[0, k] if revenue_objective else profit[0, j]
    row = _newcomer_row(customers)
    names = sorted({str(s) for s in customers["segment"].dropna()} | {NEW_SEGMENT})
    comp = compile_rules(
        rules,
        offer_ids=offer_ids,
        customers=row,
        segment_codes=np.array([names.index(NEW_SEGMENT)], dtype=np.int64),
        segment_names=names,
        profit=profit,
        cost=cost,
        budget=res.budget,
        offers=offers,
        as_of=as_of,
    )
    eligible = comp.mask[0] & present & ~comp.cooldown[0]
    lam = float(res.lam) if np.isfinite(res.lam) else 0.0
    net = np.where(eligible, value - lam * cost[0], -np.inf)
    elig_ids = [o for o, e in zip(offer_ids, eligible, strict=True) if e]
    if not eligible.any():
        return NewcomerDecision(NO_OFFER, elig_ids, lam=lam, reason="ineligible")
    j = int(np.argmax(net))
    if net[j] <= 0:
        return NewcomerDecision(NO_OFFER, elig_ids, lam=lam, reason="no_positive_offer")
    return NewcomerDecision(
        offer_ids[j],
        elig_ids,
        value=float(value[j]),
        expected_cost=float(cost[0, j]),
        lam=lam,
        reason="best_net_of_budget_price",
    )

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
from typing import Any

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.data.templates import fixed_category, is_template
from offerwise.features.model_inputs import build_features
from offerwise.models.persist import LoadedModel
from offerwise.policy.plan import PlanResult
from offerwise.policy.rules import Rules, compile_rules, parse_rules
from offerwise.vocab import NO_OFFER
from offerwise.workflows.margin import customer_margin_meets

__all__ = [
    "NEWCOMER_ID",
    "NEW_SEGMENT",
    "DecisionContext",
    "NewcomerDecision",
    "best_offers",
    "decision_context",
    "newcomer_decision",
    "newcomer_rows",
]

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
    segment: str = NEW_SEGMENT
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
            "segment": self.segment,
        }


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What a plan decided with, enough to decide for customers it does not list: its offers
    (``offer_ids``, the columns of the allocation), ``objective``, ``risk`` (z of the profit lower
    bound), ``budget``, the budget price ``lam``, the ``rules``, the menu ``offers`` (kind,
    dates, categories; None: none given), the decision date ``as_of``, the plan's segment names
    and its customer table's ``customer_columns`` (what the rules read); ``weights``: the stock
    weight of each offer scoped to a fixed category (rules ``[stock]``; absent: 1). Stored in the
    plan summary (``online``) so that the offer service scores customers online the plan's way."""

    offer_ids: list[str]
    objective: str
    budget: float
    lam: float
    rules: Rules | None
    offers: pd.DataFrame | None
    as_of: pd.Timestamp
    segments: list[str]
    customer_columns: list[str]
    risk: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)
    #: the gross margin before discounts and each offer's logged discount cost per unit of
    #: revenue the plan's margin target counted (rules ``[margin]``, per customer)
    margin_rate: float = 0.3
    margin_ratios: dict[str, float] = field(default_factory=dict)
    margin_prior: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the plan's minimum value per offer (currency; 0: any positive value)
    min_gain: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (``offers`` is not stored: the model directory holds the menu)."""
        return {
            "offer_ids": list(self.offer_ids),
            "objective": self.objective,
            "risk": self.risk,
            "budget": self.budget,
            "lambda": self.lam,
            "rules": None if self.rules is None else self.rules.model_dump(mode="json"),
            "as_of": pd.Timestamp(self.as_of).isoformat(),
            "segments": list(self.segments),
            "customer_columns": list(self.customer_columns),
            "offer_weights": dict(self.weights),
            "margin_rate": self.margin_rate,
            "margin_ratios": dict(self.margin_ratios),
            "margin_prior": {c: list(p) for c, p in self.margin_prior.items()},
            "min_gain": self.min_gain,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], offers: pd.DataFrame | None) -> DecisionContext:
        """The context a plan summary's ``online`` holds (:meth:`to_dict`), with the menu."""
        rules = d.get("rules")
        lam = float(d.get("lambda") or 0.0)
        return cls(
            offer_ids=[str(o) for o in d["offer_ids"]],
            objective=str(d.get("objective", "profit")),
            budget=float(d.get("budget") or 0.0),
            lam=lam if np.isfinite(lam) else 0.0,
            rules=parse_rules(rules, "plan summary rules") if isinstance(rules, dict) else None,
            offers=offers,
            as_of=pd.Timestamp(str(d["as_of"])),
            segments=[str(x) for x in d.get("segments", [])],
            customer_columns=[str(c) for c in d.get("customer_columns", [])],
            risk=float(d.get("risk") or 0.0),
            weights={str(k): float(v) for k, v in (d.get("offer_weights") or {}).items()},
            margin_rate=float(d.get("margin_rate") or 0.3),
            margin_ratios={str(k): float(v) for k, v in (d.get("margin_ratios") or {}).items()},
            margin_prior={
                str(k): (float(v[0]), float(v[1])) for k, v in (d.get("margin_prior") or {}).items()
            },
            min_gain=float(d.get("min_gain") or 0.0),
        )


def newcomer_rows(ids: list[str], columns: list[str]) -> pd.DataFrame:
    """Customer rows with a plan's customer-table ``columns`` for customers the data does not
    hold: segment ``new``, ``is_new`` true, not a member, never offered, other attributes
    missing."""
    cols = list(dict.fromkeys(["customer_id", "segment", *columns]))
    rows = pd.DataFrame({c: pd.Series([None] * len(ids), dtype=object) for c in cols})
    rows["customer_id"] = list(ids)
    rows["segment"] = NEW_SEGMENT
    if "is_new" in cols:
        rows["is_new"] = True
    if "member" in cols:
        rows["member"] = False
    if "last_offer_ts" in cols:
        rows["last_offer_ts"] = pd.NaT
    return rows


def _templates(offers: pd.DataFrame | None) -> set[str]:
    """Menu offers scoped by recommendations (``rec:N``): never decided without a plan row."""
    if offers is None or "category" not in offers.columns:
        return set()
    return {
        str(o)
        for o, c in zip(offers["offer_id"], offers["category"], strict=True)
        if isinstance(c, str) and is_template(c)
    }


def best_offers(
    lm: LoadedModel, X: np.ndarray, rows: pd.DataFrame, ctx: DecisionContext
) -> list[NewcomerDecision]:
    """The plan's decision for each of the n customers of ``rows`` (customer-table columns with
    ``segment``) with features ``X`` (n, p): the planner's rules for that customer, then
    ``argmax_k w_k · value_k − g − λ · cost_k`` over the eligible offers the model scored, when
    positive (``w_k`` the plan's stock weight of the offer, 1 without one; ``g`` the plan's
    minimum gain, ``ctx.min_gain``).
    Rule limits that bind the whole plan (counts, spends, fairness) are not re-checked: one
    customer at a time, the budget price λ stands in for them."""
    n = len(rows)
    if n == 0:
        return []
    sc = lm.model.predict(X)
    scored = {o: k for k, o in enumerate(sc.offers)}
    offer_ids = list(ctx.offer_ids)
    K = len(offer_ids)
    profit = np.zeros((n, K))
    cost = np.zeros((n, K))
    value = np.zeros((n, K))
    present = np.zeros(K, dtype=bool)
    templates = _templates(ctx.offers)
    for j, o in enumerate(offer_ids):
        k = scored.get(o)
        if k is None or o in templates:
            continue
        present[j] = True
        profit[:, j] = sc.incremental_profit[:, k]
        cost[:, j] = np.maximum(sc.expected_cost[:, k], 0.0)
        if ctx.objective == "revenue":
            value[:, j] = sc.incremental_revenue[:, k]
        else:
            value[:, j] = profit[:, j] - ctx.risk * sc.incremental_profit_sd[:, k]
    seg = rows["segment"].astype(str).to_numpy()
    names = sorted(set(ctx.segments) | set(seg) | {NEW_SEGMENT})
    comp = compile_rules(
        ctx.rules,
        offer_ids=offer_ids,
        customers=rows.reset_index(drop=True),
        segment_codes=np.array([names.index(s) for s in seg], dtype=np.int64),
        segment_names=names,
        profit=profit,
        cost=cost,
        budget=ctx.budget,
        offers=ctx.offers,
        as_of=ctx.as_of,
        extrapolated=lm.model.extrapolated_offers(),
    )
    eligible = comp.mask & present[None, :] & ~comp.cooldown[:, None]
    mrule = None if ctx.rules is None else ctx.rules.margin
    if mrule is not None and mrule.per == "customer":  # the plan's per-customer margin target
        revenue = np.full((n, K), np.nan)
        for j, o in enumerate(offer_ids):
            if present[j]:
                revenue[:, j] = sc.expected_revenue[:, scored[o]]
        eligible &= customer_margin_meets(
            lm.features.columns,
            X,
            revenue,
            cost,
            offer_ids,
            mrule,
            ctx.margin_rate,
            ctx.offers,
            ctx.margin_ratios,
            ctx.margin_prior,
        )
    w = np.array([ctx.weights.get(o, 1.0) for o in offer_ids])
    # the plan's objective: each offer given costs the plan's minimum gain (0: none)
    net = np.where(eligible, w[None, :] * value - ctx.min_gain - ctx.lam * cost, -np.inf)
    out = []
    for i in range(n):
        elig_ids = [o for o, e in zip(offer_ids, eligible[i], strict=True) if e]
        if not eligible[i].any():
            out.append(
                NewcomerDecision(NO_OFFER, elig_ids, seg[i], lam=ctx.lam, reason="ineligible")
            )
            continue
        j = int(np.argmax(net[i]))
        if net[i, j] <= 0:
            out.append(
                NewcomerDecision(
                    NO_OFFER, elig_ids, seg[i], lam=ctx.lam, reason="no_positive_offer"
                )
            )
            continue
        out.append(
            NewcomerDecision(
                offer_ids[j],
                elig_ids,
                seg[i],
                value=float(value[i, j]),
                expected_cost=float(cost[i, j]),
                lam=ctx.lam,
                reason="best_net_of_budget_price",
            )
        )
    return out


def decision_context(
    res: PlanResult,
    customers: pd.DataFrame,
    *,
    rules: Rules | None,
    offers: pd.DataFrame | None,
    as_of: pd.Timestamp,
    stock_weights: dict[str, float] | None = None,
    margin_rate: float = 0.3,
    margin_ratios: dict[str, float] | None = None,
    margin_prior: dict[str, tuple[float, float]] | None = None,
) -> DecisionContext:
    """The :class:`DecisionContext` of plan ``res`` over its customer table ``customers``;
    ``stock_weights`` (category -> weight, rules ``[stock]``) weigh the offers scoped to a fixed
    category; ``margin_rate``, ``margin_ratios`` and ``margin_prior``: what the plan's margin
    target counted."""
    weights: dict[str, float] = {}
    if stock_weights and offers is not None and "category" in offers.columns:
        for o, c in zip(offers["offer_id"].astype(str), offers["category"], strict=True):
            cat = fixed_category(c)
            if cat is not None and o in res.offer_ids:
                weights[o] = float(stock_weights.get(cat, 1.0))
    return DecisionContext(
        offer_ids=list(res.offer_ids),
        objective=res.objective,
        budget=float(res.budget),
        lam=float(res.lam) if np.isfinite(res.lam) else 0.0,
        rules=rules,
        offers=offers,
        as_of=pd.Timestamp(as_of),
        segments=sorted({str(s) for s in customers["segment"].dropna()}),
        customer_columns=[c for c in customers.columns if c not in ("customer_id", "segment")],
        risk=float(res.risk),
        weights=weights,
        margin_rate=float(margin_rate),
        margin_ratios=dict(margin_ratios or {}),
        margin_prior=dict(margin_prior or {}),
        min_gain=float(res.min_gain),
    )


def newcomer_decision(
    lm: LoadedModel, ds: DataSet, ctx: DecisionContext, settings: Settings
) -> NewcomerDecision:
    """The decision under the plan of ``ctx`` for a customer without history: features as of the
    plan's date for an id with no transactions and no attributes."""
    X, _ = build_features(
        ds,
        pd.DataFrame({"customer_id": [NEWCOMER_ID], "as_of": [pd.Timestamp(ctx.as_of)]}),
        settings,
        spec=lm.features,
    )
    return best_offers(lm, X, newcomer_rows([NEWCOMER_ID], ctx.customer_columns), ctx)[0]

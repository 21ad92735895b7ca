"""Request and response models of the HTTP API (they generate /openapi.json).

Money is in the shop's currency (two decimals); times are ISO 8601 (UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False, description="currency amount")]
Id = Annotated[str, Field(min_length=1, max_length=128)]

#: Why a coupon gives no discount (``reason`` of validate, redeem and rollback answers).
Reason = Literal[
    "expired",
    "not_started",
    "offer_ended",
    "already_redeemed",
    "customer_limit_reached",
    "wrong_category",
    "below_min_spend",
    "not_enough_items",
    "nothing_to_discount",
    "budget_exhausted",
    "not_redeemed",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="URI reference naming the problem type")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    reason: str | None = Field(None, description="machine-readable cause, e.g. budget_exhausted")
    errors: list[dict] | None = Field(None, description="validation errors (422)")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str
    campaign_id: str | None


class OfferOut(BaseModel):
    """An offer of the menu."""

    offer_id: str
    kind: Literal["percent_off", "amount_off", "spend_threshold", "free_shipping", "gift", "bogo"]
    value: float = Field(description="fraction for percent_off, currency otherwise")
    min_spend: float
    category: str | None
    starts: datetime | None
    ends: datetime | None
    members_only: bool


class CouponOut(BaseModel):
    code: str
    expires_at: datetime
    max_uses: int


class DriverOut(BaseModel):
    """One value driver of the customer's offer (from the plan)."""

    feature: str = Field(description="a feature or a group of features (one-hot levels, embedding)")
    value: str | None = Field(description="the customer's value of it (null for a group)")
    effect: float = Field(
        description="the offer's expected incremental profit with the customer's value minus with "
        "a typical customer's (currency)"
    )


class OfferDecision(BaseModel):
    """The customer's offer in the active campaign; ``offer`` is null for "no offer"."""

    customer_id: str
    campaign_id: str
    group: Literal["treatment", "holdout", "cold_start"]
    offer: OfferOut | None
    coupon: CouponOut | None
    propensity: float = Field(description="probability the service chose this offer (logged)")
    explored: bool = Field(description="chosen by the exploration draw, not the plan")
    reason: str | None = Field(
        None,
        description="why: the plan's reason code (best_net_of_budget_price, budget_exhausted, "
        "no_positive_offer, ineligible, cooldown, cap_reached, not_explored: a first campaign's "
        "customer the draw left out, ...), holdout, explore, online "
        "(no plan row: the model scored the customer's recorded orders) or cold_start (no plan "
        "row, not scored: the plan's newcomer decision)",
    )
    drivers: list[DriverOut] | None = Field(
        None,
        description="the top value drivers of the plan's offer for this customer (what makes it "
        "worth more or less than for a typical customer); null when not computed or not the "
        "plan's offer",
    )
    decided_at: datetime


class CartLine(_Strict):
    product_id: Id
    category: Annotated[str, Field(max_length=128)] | None = None
    quantity: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)]
    unit_price: Money


class Cart(_Strict):
    """A cart: ``total`` (currency), optional ``shipping`` and its lines."""

    total: Money
    shipping: Money | None = None
    lines: Annotated[list[CartLine], Field(max_length=1000)] = Field(default_factory=list)


class RedeemRequest(Cart):
    order_id: Id | None = None


class Validation(BaseModel):
    code: str
    valid: bool
    discount: float
    eligible_subtotal: float
    reason: Reason | None
    detail: str | None
    offer_id: str
    customer_id: str
    campaign_id: str
    remaining_budget: float


class Redemption(BaseModel):
    redemption_id: str
    code: str
    campaign_id: str
    customer_id: str
    offer_id: str
    order_id: str | None
    discount: float
    remaining_budget: float
    redeemed_at: datetime


class RollbackRequest(_Strict):
    redemption_id: Id | None = Field(None, description="which redemption (default: the latest)")
    reason: Annotated[str, Field(max_length=500)] | None = None


class RollbackResult(BaseModel):
    redemption_id: str
    code: str
    refunded: float
    already_rolled_back: bool
    remaining_budget: float


class OrderEvent(_Strict):
    order_id: Id
    customer_id: Id
    ts: datetime
    revenue: Money = Field(description="paid, after discounts")
    discount: Money = 0.0
    coupon_code: Annotated[str, Field(max_length=64)] | None = None


class EventBatch(_Strict):
    events: Annotated[list[OrderEvent], Field(min_length=1, max_length=10_000)]


class EventsAccepted(BaseModel):
    accepted: int
    duplicates: int


class CampaignOut(BaseModel):
    campaign_id: str
    active: bool
    budget: float
    spent: float
    remaining: float
    redemptions: int
    offers_issued: int
    exposures: int
    customers_in_plan: int
    created_at: datetime
    explore_plan: float = Field(
        0.0,
        description="share of the plan's customers given a random eligible offer by the plan's "
        "own draw (`offerwise plan --explore`)",
    )
    epsilon: float = Field(
        0.0,
        description="the service's exploration rate (`serve --explore`): the share of new "
        "decisions drawn uniformly over the customer's eligible offers and none",
    )
    explored: int = Field(0, description="decisions made by the service's exploration draw")
    online_scored: int = Field(
        0,
        description="customers without a plan row the model has scored from their recorded "
        "orders (`offerwise serve`; off with `--no-online`)",
    )


class PlanSwap(_Strict):
    """A plan to load and make the active campaign (paths on the server's machine)."""

    plan: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="plan file written by `offerwise plan` (its .summary.json beside it)"
    )
    model_dir: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="model directory of the plan (its offers.parquet is the menu)"
    )
    budget: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None, description="campaign budget (default: the plan summary's)"
    )


class PlanLoaded(BaseModel):
    """The campaign now active; ``created``: False when that plan was already loaded."""

    campaign_id: str
    budget: float
    customers_in_plan: int
    offers: int
    created: bool
    plan_fingerprint: str
    previous_campaign_id: str | None


__all__ = [
    "Cart",
    "CartLine",
    "CampaignOut",
    "CouponOut",
    "EventBatch",
    "EventsAccepted",
    "Health",
    "OfferDecision",
    "OfferOut",
    "OrderEvent",
    "PlanLoaded",
    "PlanSwap",
    "Problem",
    "Reason",
    "RedeemRequest",
    "Redemption",
    "RollbackRequest",
    "RollbackResult",
    "Validation",
]

"""Pure discount maths of a coupon on a cart (all money in integer cents).

The *eligible subtotal* is Σ quantity × unit_price over the cart lines in the offer's category
(every line when the offer is site-wide; the cart ``total`` when a site-wide offer gets no lines).
``min_spend`` is compared with the eligible subtotal. Per kind:

* ``percent_off``      value × eligible subtotal (value is a fraction)
* ``amount_off``       min(value, eligible subtotal)
* ``spend_threshold``  min(value, eligible subtotal) when eligible subtotal ≥ min_spend
* ``free_shipping``    the cart's ``shipping`` amount, else the configured shipping fee
* ``gift``             value (the cost of the gift)
* ``bogo``             the cheapest eligible unit, when the cart has ≥ 2 eligible units
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offerwise.vocab import to_cents


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """An offer of the menu; ``value`` is a fraction for percent_off, currency otherwise."""

    offer_id: str
    kind: str
    value: float
    min_spend_cents: int = 0
    category: str | None = None
    starts_ts: float | None = None
    ends_ts: float | None = None
    members_only: bool = False

    def active_at(self, ts: float) -> bool:
        return (self.starts_ts is None or ts >= self.starts_ts) and (
            self.ends_ts is None or ts <= self.ends_ts
        )


@dataclass(frozen=True, slots=True)
class Line:
    """One cart line: ``quantity`` units at ``unit_price`` (currency)."""

    product_id: str
    category: str | None
    quantity: float
    unit_price: float


@dataclass(frozen=True, slots=True)
class Quote:
    """The discount a coupon gives on a cart, or why it gives none (``reason``)."""

    discount_cents: int
    eligible_cents: int
    reason: str | None = None


#: Currency → integer cents, rounding half away from zero: :func:`offerwise.vocab.to_cents`
#: (the one rounding rule of offerwise; plan budgets and menu amounts are converted by it too).
cents = to_cents


def eligible_cents(offer: OfferTerms, lines: Sequence[Line], total: float) -> int:
    """Eligible subtotal in cents (see module docstring)."""
    if not lines:
        return cents(total) if offer.category is None else 0
    return sum(
        cents(ln.quantity * ln.unit_price)
        for ln in lines
        if offer.category is None or ln.category == offer.category
    )


def quote(
    offer: OfferTerms,
    lines: Sequence[Line],
    total: float,
    *,
    shipping: float | None = None,
    shipping_fee: float = 0.0,
) -> Quote:
    """Discount of ``offer`` on a cart; ``reason`` is ``wrong_category``, ``below_min_spend``,
    ``not_enough_items`` or ``nothing_to_discount`` when it gives nothing."""
    elig = eligible_cents(offer, lines, total)
    if offer.category is not None and elig == 0:
        return Quote(0, 0, "wrong_category")
    if elig < offer.min_spend_cents:
        return Quote(0, elig, "below_min_spend")
    kind, v = offer.kind, offer.value
    if kind == "percent_off":
        d = cents(v * elig / 100)
    elif kind in ("amount_off", "spend_threshold"):
        d = min(cents(v), elig)
    elif kind == "free_shipping":
        d = cents(shipping if shipping is not None else shipping_fee)
    elif kind == "gift":
        d = cents(v)
    elif kind == "bogo":
        units = [ln for ln in lines if offer.category is None or ln.category == offer.category]
        if sum(ln.quantity for ln in units) < 2 - 1e-9:
            return Quote(0, elig, "not_enough_items")
        d = min(cents(ln.unit_price) for ln in units if ln.quantity > 0)
    else:  # pragma: no cover - kinds are checked when the menu is loaded
        raise ValueError(f"unknown offer kind {kind!r}")
    if d <= 0:
        return Quote(0, elig, "nothing_to_discount")
    return Quote(d, elig)


__all__ = ["Line", "OfferTerms", "Quote", "cents", "eligible_cents", "quote"]

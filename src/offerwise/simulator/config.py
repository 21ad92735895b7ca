"""Simulator settings: the offer menu (:class:`OfferSpec`), :class:`SimulatorConfig` and the shop's
fixed catalogue layout (categories, brands, items per brand)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, cast

import pandas as pd

from offerwise._io import frame_fingerprint
from offerwise.data.templates import is_template, parse_scope
from offerwise.errors import ConfigError, InputError
from offerwise.vocab import NO_OFFER

CATEGORIES: tuple[str, ...] = ("fresh", "pantry", "drinks", "household", "personal_care", "frozen")
#: Brands sold in every category: index 0 is the shop's private label.
BRANDS: tuple[str, ...] = ("Private", "Northwind", "Brightwell", "Acorn")
N_BRANDS = len(BRANDS)
ITEMS_PER_BRAND = 5
SUPPORTED_KINDS = ("percent_off", "amount_off", "spend_threshold", "free_shipping")
#: Profile columns understood by the bootstrap (any non-empty subset).
PROFILE_COLUMNS = (
    "frequency",
    "monetary",
    "avg_basket",
    "discount_share",
    "recency_days",
    "private_label_share",
    "top_brand_share",
    "top_national_brand_share",
)


#: The logging policies :func:`~offerwise.simulator.simulate` can log exposures with.
LOGGING_POLICIES = ("random", "legacy", "confounded")

#: Offer kinds the simulator can draw responses for (a subset of the contract's ``OFFER_KINDS``).
OfferKind = Literal["percent_off", "amount_off", "spend_threshold", "free_shipping"]


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """One menu entry in contract terms (``value``: fraction for percent_off, currency
    otherwise)."""

    offer_id: str
    kind: OfferKind
    value: float
    min_spend: float = 0.0
    category: str | None = None
    description: str = ""


DEFAULT_OFFERS: tuple[OfferSpec, ...] = (
    OfferSpec("pct10", "percent_off", 0.10, description="10% off the next order"),
    OfferSpec("pct20", "percent_off", 0.20, description="20% off the next order"),
    OfferSpec("pct30", "percent_off", 0.30, description="30% off the next order"),
    OfferSpec(
        "amt5", "amount_off", 5.0, min_spend=20.0, description="5 off an order of 20 or more"
    ),
    OfferSpec(
        "spend50save10", "spend_threshold", 10.0, min_spend=50.0, description="spend 50, save 10"
    ),
    OfferSpec("freeship", "free_shipping", 4.95, description="free shipping (fee 4.95 below 60)"),
    OfferSpec("fresh20", "percent_off", 0.20, category="fresh", description="20% off fresh food"),
)


def offers_from_frame(offers: pd.DataFrame) -> tuple[OfferSpec, ...]:
    """Menu entries from a contract ``offers`` table (columns offer_id, kind, value,
    [min_spend, category])."""
    missing = [c for c in ("offer_id", "kind", "value") if c not in offers.columns]
    if missing:
        raise InputError(
            f"offers: required column(s) {', '.join(missing)} missing "
            f"(found: {', '.join(map(str, offers.columns[:12]))})"
        )
    out = []
    for row in offers.to_dict("records"):
        ms, cat, desc = row.get("min_spend"), row.get("category"), row.get("description")
        out.append(
            OfferSpec(
                offer_id=str(row["offer_id"]),
                kind=cast(OfferKind, str(row["kind"])),  # the kind is not validated here
                value=float(row["value"]),
                min_spend=0.0 if ms is None or pd.isna(ms) else float(ms),
                category=None if cat is None or pd.isna(cat) else str(cat),
                description="" if desc is None or pd.isna(desc) else str(desc),
            )
        )
    return tuple(out)


@dataclass
class SimulatorConfig:
    """Settings of :func:`simulate`. Every random draw derives from ``seed``.

    Exposures fall on ``n_campaigns`` campaign days, ``attribution_days`` apart, starting the day
    after the ``history_days`` of purchase history; a customer gets at most one exposure per
    campaign.
    ``profiles``: optional table of real customer profiles (columns in :data:`PROFILE_COLUMNS`) to
    bootstrap the latent traits from (rows resampled, rank-mapped with ``profile_jitter`` noise).
    ``logging='confounded'``: the legacy policy also targets a latent in-market state
    (``in_market_share`` of the customer × campaign slots) that raises purchases around the campaign
    by ``confounding_strength`` orders per 30 days (see :mod:`offerwise.simulator.confounding`).
    ``record_propensity=False``: the exposures table has no ``propensity`` column.
    """

    n_customers: int = 10_000
    n_exposures: int = 20_000
    seed: int = 42
    logging: Literal["random", "legacy", "confounded"] = "random"
    history_days: int = 365
    n_campaigns: int = 4
    attribution_days: int = 14
    start_date: str = "2025-01-01"
    offers: tuple[OfferSpec, ...] = DEFAULT_OFFERS
    margin_rate: float = 0.30
    free_shipping_above: float = 60.0
    lapsed_share: float = 0.30
    sleeping_dog_share: float = 0.05
    basket_noise: float = 0.35
    topup_stretch: float = 0.30
    min_propensity: float = 0.02
    profiles: pd.DataFrame | None = field(default=None, repr=False)
    profile_jitter: float = 0.25
    in_market_share: float = 0.20
    confounding_strength: float = 1.0
    record_propensity: bool = True

    def __post_init__(self) -> None:
        self.offers = tuple(self.offers)
        checks = [
            (self.n_customers >= 1, "n_customers", "must be at least 1"),
            (self.n_exposures >= 0, "n_exposures", "must be non-negative"),
            (
                self.logging in LOGGING_POLICIES,
                "logging",
                "must be 'random', 'legacy' or 'confounded'",
            ),
            (self.history_days >= 30, "history_days", "must be at least 30"),
            (self.n_campaigns >= 1, "n_campaigns", "must be at least 1"),
            (self.attribution_days >= 1, "attribution_days", "must be at least 1"),
            (0 < self.margin_rate < 1, "margin_rate", "must be in (0, 1)"),
            (0 <= self.lapsed_share < 1, "lapsed_share", "must be in [0, 1)"),
            (0 <= self.sleeping_dog_share <= 0.5, "sleeping_dog_share", "must be in [0, 0.5]"),
            (0 < self.basket_noise <= 1.5, "basket_noise", "must be in (0, 1.5]"),
            (0 <= self.topup_stretch < 1, "topup_stretch", "must be in [0, 1)"),
            (self.profile_jitter >= 0, "profile_jitter", "must be non-negative"),
            (0 <= self.in_market_share <= 1, "in_market_share", "must be in [0, 1]"),
            (
                0 <= self.confounding_strength <= 10,
                "confounding_strength",
                "must be in [0, 10]",
            ),
            (len(self.offers) >= 1, "offers", "the menu needs at least one offer"),
        ]
        for ok, key, msg in checks:
            if not ok:
                raise ConfigError(f"simulator config: {key} {msg} (got {getattr(self, key)!r})")
        k1 = len(self.offers) + 1
        if not 0 < self.min_propensity * k1 < 1:
            raise ConfigError(
                f"simulator config: min_propensity × {k1} actions must be in (0, 1) "
                f"(got {self.min_propensity!r})"
            )
        cap = self.n_customers * self.n_campaigns
        if self.n_exposures > cap:
            raise ConfigError(
                f"simulator config: n_exposures={self.n_exposures} exceeds n_customers × "
                f"n_campaigns = {cap} (one exposure per customer and campaign)"
            )
        try:
            pd.Timestamp(self.start_date)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"simulator config: start_date {self.start_date!r} is not a date"
            ) from exc
        ids = [o.offer_id for o in self.offers]
        if len(set(ids)) != len(ids) or NO_OFFER in ids:
            raise ConfigError(
                f"simulator config: offer ids must be unique and not '{NO_OFFER}' (got {ids})"
            )
        for o in self.offers:
            if o.kind not in SUPPORTED_KINDS:
                raise ConfigError(
                    f"simulator config: offer {o.offer_id!r} has kind {o.kind!r}; the simulator "
                    f"supports {', '.join(SUPPORTED_KINDS)}"
                )
            if o.kind == "percent_off" and not 0 < o.value < 1:
                raise ConfigError(
                    f"simulator config: offer {o.offer_id!r}: percent_off value must be in (0, 1)"
                )
            if o.value <= 0 or o.min_spend < 0:
                raise ConfigError(
                    f"simulator config: offer {o.offer_id!r}: value must be > 0, min_spend >= 0"
                )
            if is_template(o.category):
                scope = parse_scope(o.category, o.offer_id)
                if scope is not None and scope.first > len(CATEGORIES):
                    raise ConfigError(
                        f"simulator config: offer {o.offer_id!r}: template {o.category!r} "
                        f"names a rank beyond the {len(CATEGORIES)} categories"
                    )
            elif o.category is not None and o.category not in CATEGORIES:
                raise ConfigError(
                    f"simulator config: offer {o.offer_id!r}: category {o.category!r} not in "
                    f"{', '.join(CATEGORIES)}"
                )
            if o.category is not None and o.kind != "percent_off":
                raise ConfigError(
                    f"simulator config: offer {o.offer_id!r}: only percent_off may be "
                    f"scoped to a category"
                )

    def to_dict(self) -> dict[str, object]:
        """JSON-able settings (the profile table is summarised by its size and fingerprint)."""
        d = {k: v for k, v in asdict(self).items() if k != "profiles"}
        d["offers"] = [asdict(o) for o in self.offers]
        if self.profiles is not None:
            d["profiles"] = {
                "n_rows": len(self.profiles),
                "fingerprint": frame_fingerprint(self.profiles),
            }
        else:
            d["profiles"] = None
        return d

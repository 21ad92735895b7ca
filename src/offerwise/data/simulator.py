"""A market simulator with known ground truth, for benchmarks and tests.

:func:`simulate` draws customers with latent traits, a purchase history consistent with them, an
offer menu, logged exposures (offer chosen by a ``random`` or biased ``legacy`` policy, with the
exact propensity, and outcomes drawn from the true response model) and the *truth*: for every
customer × offer (``none`` included) the expected conversion, revenue, discount cost and profit.
:func:`write_market` writes it all as a contract data directory plus ``truth.parquet``,
``latent.parquet`` and ``simulator.json``. The model is documented in ``docs/simulator.md``.

Response model, per customer ``i`` and offer ``k`` (``W`` = attribution window in days)::

    p0_i      = 1 - exp(-rate_now_i * W / 30)                 # P(order in window | no offer)
    p_ik      = sigmoid(logit(p0_i) + effect_ik)
    effect_ik = resp_i * appeal_ik          (or -dog_i * (0.6 + 0.4 * appeal_ik / 1.6) for sleeping dogs)
    resp_i    = R * sens_i * (1 - 0.6 loyal_i) * sigmoid(1.5 (logit p0_i + 3)) * sigmoid(-2 (logit p0_i - 0.2))

Given conversion the order's gross value is ``g = m_ik * eps``, ``eps ~ LogNormal(-s²/2, s)``; the
offer's rules give the final gross value and the discount, so E[revenue], E[discount] are exact
(log-normal partial expectations). Net profit = margin × gross − discount.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit, logit, ndtr, ndtri

from offerwise._io import atomic_dir, frame_fingerprint
from offerwise._version import __version__
from offerwise.errors import ConfigError, InputError

NO_OFFER = "none"
SIMULATOR_VERSION = 1
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

# latent Gaussian-copula order: rate, basket, sens, loyal, private-label, lapse
_TRAITS = ("rate", "basket", "sens", "loyal", "pl", "lapse")
_CORR = np.array(
    [
        #  rate  basket  sens  loyal   pl   lapse
        [1.00, -0.10, -0.10, 0.35, -0.05, -0.30],
        [-0.10, 1.00, -0.20, 0.10, -0.10, 0.00],
        [-0.10, -0.20, 1.00, -0.30, 0.50, 0.10],
        [0.35, 0.10, -0.30, 1.00, -0.20, -0.30],
        [-0.05, -0.10, 0.50, -0.20, 1.00, 0.00],
        [-0.30, 0.00, 0.10, -0.30, 0.00, 1.00],
    ]
)
_R_MAX = 5.0  # peak responsiveness (logit units per unit of appeal)
_APPEAL_CAP = 1.6
_JND = 0.03  # discounts below 3% of the basket are not noticed
_BAND_BONUS = 1.5  # goal-gradient: customers just below a threshold respond more
_PRICE_PULL = 0.5  # percent discounts raise the basket by 0.5 * value * sens


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """One menu entry in contract terms (``value``: fraction for percent_off, currency otherwise)."""

    offer_id: str
    kind: Literal["percent_off", "amount_off", "spend_threshold", "free_shipping"]
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
    """Menu entries from a contract ``offers`` table (columns offer_id, kind, value, [min_spend, category])."""
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
                kind=str(row["kind"]),
                value=float(row["value"]),  # type: ignore[arg-type]
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
    after the ``history_days`` of purchase history; a customer gets at most one exposure per campaign.
    ``profiles``: optional table of real customer profiles (columns in :data:`PROFILE_COLUMNS`) to
    bootstrap the latent traits from (rows resampled, rank-mapped with ``profile_jitter`` noise).
    """

    n_customers: int = 10_000
    n_exposures: int = 20_000
    seed: int = 42
    logging: Literal["random", "legacy"] = "random"
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

    def __post_init__(self) -> None:
        self.offers = tuple(self.offers)
        checks = [
            (self.n_customers >= 1, "n_customers", "must be at least 1"),
            (self.n_exposures >= 0, "n_exposures", "must be non-negative"),
            (self.logging in ("random", "legacy"), "logging", "must be 'random' or 'legacy'"),
            (self.history_days >= 30, "history_days", "must be at least 30"),
            (self.n_campaigns >= 1, "n_campaigns", "must be at least 1"),
            (self.attribution_days >= 1, "attribution_days", "must be at least 1"),
            (0 < self.margin_rate < 1, "margin_rate", "must be in (0, 1)"),
            (0 <= self.lapsed_share < 1, "lapsed_share", "must be in [0, 1)"),
            (0 <= self.sleeping_dog_share <= 0.5, "sleeping_dog_share", "must be in [0, 0.5]"),
            (0 < self.basket_noise <= 1.5, "basket_noise", "must be in (0, 1.5]"),
            (0 <= self.topup_stretch < 1, "topup_stretch", "must be in [0, 1)"),
            (self.profile_jitter >= 0, "profile_jitter", "must be non-negative"),
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
            if o.category is not None and o.category not in CATEGORIES:
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


@dataclass(frozen=True, slots=True)
class _MarketState:
    """Latent traits and truth arrays kept in memory to draw new outcomes (campaigns)."""

    traits: dict[str, np.ndarray]
    truth: _Truth


@dataclass
class SimulatedMarket:
    """Output of :func:`simulate`: the contract tables, the truth and the latent traits.

    ``truth``: one row per customer × action (``none`` first, then the menu order).
    ``latent``: one row per customer: traits, ``response_type`` and ``best_offer``.
    ``logging_probs``: per exposure row, the logging policy's probability of every action.
    """

    config: SimulatorConfig
    customers: pd.DataFrame
    products: pd.DataFrame
    transactions: pd.DataFrame
    offers: pd.DataFrame
    exposures: pd.DataFrame
    truth: pd.DataFrame
    latent: pd.DataFrame
    logging_probs: pd.DataFrame
    state: _MarketState | None = field(default=None, repr=False, compare=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The contract tables by name."""
        return {
            "customers": self.customers,
            "products": self.products,
            "transactions": self.transactions,
            "offers": self.offers,
            "exposures": self.exposures,
        }

    def true_policy_value(self, decisions: pd.DataFrame) -> float:
        """See :func:`true_policy_value`."""
        return true_policy_value(self.truth, decisions)

    def oracle_value(self, budget: float | None = None) -> float:
        """See :func:`oracle_value`."""
        return oracle_value(self.truth, budget)

    def true_policy_value_per_exposure(self, decisions: pd.DataFrame) -> float:
        """See :func:`true_policy_value_per_exposure` (over this market's logged exposures)."""
        return true_policy_value_per_exposure(self.truth, self.exposures, decisions)


# --------------------------------------------------------------------------------------------
# latent traits
# --------------------------------------------------------------------------------------------


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-based normal scores (ties averaged); NaN stays NaN."""
    s = pd.Series(x, dtype="float64")
    r = s.rank(method="average")
    n = s.notna().sum()
    return ndtri((r.to_numpy() - 0.5) / max(n, 1))


def _profile_scores(profiles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Normal scores of the copula coordinates that the profile table determines."""
    if not isinstance(profiles, pd.DataFrame) or len(profiles) == 0:
        raise InputError("simulator profiles: expected a non-empty DataFrame")
    present = [c for c in PROFILE_COLUMNS if c in profiles.columns]
    if not present:
        raise InputError(
            f"simulator profiles: none of the columns {', '.join(PROFILE_COLUMNS)} found "
            f"(got {', '.join(map(str, profiles.columns[:12]))})"
        )
    cols: dict[str, np.ndarray] = {}
    for c in present:
        v = pd.to_numeric(profiles[c], errors="coerce")
        bad = v.isna() & profiles[c].notna()
        if bad.any():
            ex = profiles.loc[bad, c].iloc[0]
            raise InputError(
                f"simulator profiles, column '{c}': {int(bad.sum())} non-numeric values; e.g. {ex!r}"
            )
        cols[c] = v.to_numpy(dtype="float64")
    basket = cols.get("avg_basket")
    if basket is None and "monetary" in cols and "frequency" in cols:
        basket = cols["monetary"] / np.where(cols["frequency"] > 0, cols["frequency"], np.nan)
    sources = {
        "rate": cols.get("frequency", cols.get("monetary")),
        "basket": basket,
        "sens": cols.get("discount_share"),
        "loyal": cols.get("top_national_brand_share", cols.get("top_brand_share")),
        "pl": cols.get("private_label_share"),
        "lapse": cols.get("recency_days"),
    }
    return {k: _normal_scores(v) for k, v in sources.items() if v is not None}


def _latent_normals(cfg: SimulatorConfig, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) correlated standard normals; profile-driven coordinates come from resampled rows."""
    n = cfg.n_customers
    if cfg.profiles is None:
        return rng.standard_normal((n, len(_TRAITS))) @ np.linalg.cholesky(_CORR).T
    scores = _profile_scores(cfg.profiles)
    rows = rng.integers(0, len(cfg.profiles), size=n)
    z = np.empty((n, len(_TRAITS)))
    given = [j for j, t in enumerate(_TRAITS) if t in scores]
    free = [j for j in range(len(_TRAITS)) if j not in given]
    j2 = cfg.profile_jitter**2
    for j in given:
        s = scores[_TRAITS[j]][rows]
        s = np.where(np.isnan(s), rng.standard_normal(n), s)  # missing profile values: fresh draw
        z[:, j] = (s + cfg.profile_jitter * rng.standard_normal(n)) / np.sqrt(1 + j2)
    if free:  # conditional Gaussian given the profile coordinates
        g, f = np.array(given), np.array(free)
        s_gg = _CORR[np.ix_(g, g)]
        s_fg = _CORR[np.ix_(f, g)]
        b = np.linalg.solve(s_gg, s_fg.T).T
        cov = _CORR[np.ix_(f, f)] - b @ s_fg.T
        z[:, f] = z[:, g] @ b.T + rng.standard_normal((n, len(free))) @ np.linalg.cholesky(cov).T
    return z


def _draw_traits(cfg: SimulatorConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-customer latent traits (arrays of length n). Days are relative to the history start."""
    n = cfg.n_customers
    z = _latent_normals(cfg, rng)
    t: dict[str, np.ndarray] = {}
    t["rate"] = np.clip(np.exp(np.log(0.9) + 0.75 * z[:, 0]), 0.05, 12.0)  # orders / 30 days
    t["basket"] = np.clip(np.exp(np.log(38.0) + 0.45 * z[:, 1]), 8.0, 400.0)  # mean gross order
    t["sens"] = expit(-0.35 + 1.1 * z[:, 2])  # logit-normal, mean ≈ 0.43
    t["loyal"] = expit(-0.2 + 1.0 * z[:, 3])
    t["pl"] = expit(-0.8 + 1.0 * z[:, 4])
    h = cfg.history_days
    # tenure: 75% signed up before the history window (up to 4 years), the rest during it
    old = rng.random(n) < 0.75
    signup = np.where(old, -rng.random(n) * 4 * 365, rng.random(n) * (h - 30))
    t["signup_day"] = signup
    active = np.maximum(signup, 0.0)
    lapsed = z[:, 5] > ndtri(1 - cfg.lapsed_share) if cfg.lapsed_share > 0 else np.zeros(n, bool)
    room = (h - 30) - active
    lapsed &= room > 14
    # deeper lapse-score -> earlier lapse
    frac = np.clip(
        ndtr(-(z[:, 5] - ndtri(1 - cfg.lapsed_share)) * 1.5) * 0.8 + 0.1 * rng.random(n), 0, 1
    )
    t["lapse_day"] = np.where(lapsed, active + np.clip(room, 0, None) * frac, np.nan)
    t["lapsed"] = lapsed
    t["lapse_factor"] = np.where(lapsed, rng.uniform(0.02, 0.5, n), 1.0)
    t["rate_now"] = t["rate"] * t["lapse_factor"]
    alpha = rng.gamma(0.8, 1.0, (n, len(CATEGORIES))) + 1e-9
    t["pref"] = alpha / alpha.sum(axis=1, keepdims=True)
    t["fav_brand"] = rng.integers(1, N_BRANDS, n)
    w = t["loyal"] * (1 - t["sens"])
    p_dog = np.clip(cfg.sleeping_dog_share * w / max(w.mean(), 1e-12), 0, 0.5)
    t["dog"] = rng.random(n) < p_dog
    t["dog_strength"] = np.where(t["dog"], rng.uniform(0.4, 1.2, n), 0.0)
    return t


# --------------------------------------------------------------------------------------------
# the response model (truth)
# --------------------------------------------------------------------------------------------


def _lognorm_cdf(c: np.ndarray | float, m: np.ndarray, s: float) -> np.ndarray:
    """P(g < c) for g = m * LogNormal(-s²/2, s)."""
    c = np.asarray(c, dtype="float64")
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(c, 0) / m) + s * s / 2) / s
    return ndtr(z)


def _lognorm_partial(c: np.ndarray | float, m: np.ndarray, s: float) -> np.ndarray:
    """E[g · 1{g < c}] for g = m * LogNormal(-s²/2, s)."""
    c = np.asarray(c, dtype="float64")
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(c, 0) / m) + s * s / 2) / s
    return m * ndtr(z - s)


def _appeal(eff: np.ndarray | float) -> np.ndarray:
    """Attractiveness of a discount worth ``eff`` × the basket: 3 (eff − 0.03)₊^0.8, capped.

    The 3% is a just-noticeable difference: tiny discounts move nobody.
    """
    return np.minimum(
        3.0 * np.maximum(np.asarray(eff, dtype="float64") - _JND, 0.0) ** 0.8, _APPEAL_CAP
    )


@dataclass(frozen=True, slots=True)
class _OfferTerms:
    appeal: np.ndarray  # (n,) attractiveness, >= 0
    m: np.ndarray  # (n,) mean natural gross order value given conversion
    gross: np.ndarray  # (n,) E[final gross order value | converted]
    discount: np.ndarray  # (n,) E[discount cost | converted]
    shipping: bool = False  # the discount is a waived fee, not a cut of the goods' price


def _offer_terms(
    o: OfferSpec | None, t: dict[str, np.ndarray], cfg: SimulatorConfig
) -> _OfferTerms:
    """Appeal and conditional expectations of one action for all customers."""
    mu, sens, s = t["basket"], t["sens"], cfg.basket_noise
    zero = np.zeros_like(mu)
    if o is None:
        return _OfferTerms(zero, mu, mu, zero)
    if o.kind == "percent_off":
        share = t["pref"][:, CATEGORIES.index(o.category)] if o.category else np.ones_like(mu)
        eff = o.value * np.minimum(1.0, 1.5 * share) if o.category else o.value * np.ones_like(mu)
        appeal = _appeal(eff)
        m = mu * (1 + _PRICE_PULL * o.value * share * sens)
        return _OfferTerms(appeal, m, m, o.value * share * m)
    if o.kind in ("amount_off", "spend_threshold"):
        a = o.value
        T = max(o.min_spend, a)
        c1 = (1 - cfg.topup_stretch) * T
        p_above = 1 - _lognorm_cdf(T, mu, s)
        p_band = _lognorm_cdf(T, mu, s) - _lognorm_cdf(c1, mu, s)
        # spend_threshold is a goal: it fades for customers who clear it by far anyway
        fade = np.exp(-2.0 * np.maximum(mu / T - 1, 0.0)) if o.kind == "spend_threshold" else 1.0
        appeal = _appeal(a / np.maximum(mu, T)) * (fade * p_above + _BAND_BONUS * p_band)
        gross = (mu - _lognorm_partial(T, mu, s)) + T * p_band + _lognorm_partial(c1, mu, s)
        return _OfferTerms(np.minimum(appeal, _APPEAL_CAP), mu, gross, a * (p_above + p_band))
    # free_shipping: the fee applies to orders below free_shipping_above
    p_fee = _lognorm_cdf(cfg.free_shipping_above, mu, s)
    appeal = _appeal(o.value / mu) * p_fee
    return _OfferTerms(np.minimum(appeal, _APPEAL_CAP), mu, mu, o.value * p_fee, shipping=True)


def _responsiveness(
    t: dict[str, np.ndarray], cfg: SimulatorConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(base logit, responsiveness) per customer."""
    p0 = 1 - np.exp(-t["rate_now"] * cfg.attribution_days / 30)
    b = logit(np.clip(p0, 1e-4, 1 - 1e-4))
    resp = (
        _R_MAX * t["sens"] * (1 - 0.6 * t["loyal"]) * expit(1.5 * (b + 3)) * expit(-2.0 * (b - 0.2))
    )
    return b, resp


@dataclass(frozen=True, slots=True)
class _Truth:
    p: np.ndarray  # (n, K+1) conversion probability, column 0 = none
    m: np.ndarray  # (n, K+1) natural gross mean given conversion
    gross: np.ndarray  # (n, K+1) E[final gross | converted]
    discount: np.ndarray  # (n, K+1) E[discount cost | converted]
    price_cut: np.ndarray  # (n, K+1) E[part of the discount that lowers revenue | converted]


def _truth_arrays(t: dict[str, np.ndarray], cfg: SimulatorConfig) -> _Truth:
    b, resp = _responsiveness(t, cfg)
    terms = [_offer_terms(None, t, cfg)] + [_offer_terms(o, t, cfg) for o in cfg.offers]
    appeal = np.column_stack([x.appeal for x in terms])
    dog = t["dog"][:, None]
    effect = np.where(
        dog,
        -t["dog_strength"][:, None] * (0.6 + 0.4 * appeal / _APPEAL_CAP),
        resp[:, None] * appeal,
    )
    effect[:, 0] = 0.0
    p = expit(b[:, None] + effect)
    disc = np.column_stack([x.discount for x in terms])
    cut = np.column_stack([np.zeros_like(x.discount) if x.shipping else x.discount for x in terms])
    return _Truth(
        p,
        np.column_stack([x.m for x in terms]),
        np.column_stack([x.gross for x in terms]),
        disc,
        cut,
    )


def _flat(a: np.ndarray) -> np.ndarray:
    """(n, K+1) -> (n·(K+1),) row-major: customer-major, action-minor."""
    return a.reshape(-1)


def _truth_frame(ids: pa.Array, action_ids: list[str], tr: _Truth, margin: float) -> pd.DataFrame:
    n, k1 = tr.p.shape
    exp_gross = tr.p * tr.gross
    exp_disc = tr.p * tr.discount
    exp_rev = exp_gross - tr.p * tr.price_cut
    net = margin * exp_gross - exp_disc
    df = pd.DataFrame(
        {
            "customer_id": _strings(ids, np.repeat(np.arange(n), k1)),
            "offer_id": _strings(action_ids, np.tile(np.arange(k1), n)),
            "p_convert": _flat(tr.p),
            "p_convert_none": np.repeat(tr.p[:, 0], k1),
            "expected_revenue": _flat(exp_rev),
            "expected_discount_cost": _flat(exp_disc),
            "expected_cost": _flat(exp_disc),
            "expected_gross_profit": _flat(margin * exp_gross),
            "expected_net_profit": _flat(net),
            "incremental_conversion": _flat(tr.p - tr.p[:, :1]),
            "incremental_revenue": _flat(exp_rev - exp_rev[:, :1]),
            "incremental_profit": _flat(net - net[:, :1]),
        }
    )
    return df


def _response_types(tr: _Truth, dog: np.ndarray) -> np.ndarray:
    """sleeping_dog (flag) > persuadable (best lift ≥ 0.10) > sure_thing (p0 ≥ 0.4) > lost_cause."""
    lift = (tr.p[:, 1:] - tr.p[:, :1]).max(axis=1)
    p0 = tr.p[:, 0]
    return np.select(
        [dog, lift >= 0.10, p0 >= 0.4], ["sleeping_dog", "persuadable", "sure_thing"], "lost_cause"
    ).astype(object)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _products(rng: np.random.Generator, margin_rate: float) -> pd.DataFrame:
    """``CATEGORIES`` × ``BRANDS`` × ``ITEMS_PER_BRAND`` products; unit cost ≈ (1 − margin) × price."""
    base_price = np.array([3.5, 4.0, 2.5, 5.0, 6.0, 4.5])
    n = len(CATEGORIES) * N_BRANDS * ITEMS_PER_BRAND
    idx = np.arange(n)
    cat = idx // (N_BRANDS * ITEMS_PER_BRAND)
    brand = (idx // ITEMS_PER_BRAND) % N_BRANDS
    price = base_price[cat] * np.where(brand == 0, 0.75, 1.0) * np.exp(rng.normal(0, 0.35, n))
    price = np.round(np.clip(price, 0.5, None), 2)
    cats = np.asarray(CATEGORIES, dtype=object)[cat]
    brands = np.asarray(BRANDS, dtype=object)[brand]
    return pd.DataFrame(
        {
            "product_id": pd.array([f"P{i:04d}" for i in idx], dtype="str"),
            "category": pd.array(cats, dtype="str"),
            "brand": pd.array(brands, dtype="str"),
            "price": price,
            "unit_cost": np.round(price * (1 - margin_rate) * np.exp(rng.normal(0, 0.05, n)), 2),
        }
    )


def _history(
    t: dict[str, np.ndarray], cfg: SimulatorConfig, rng: np.random.Generator, products: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Order lines over the history window, vectorised; plus per-customer snapshot features."""
    n, h = cfg.n_customers, float(cfg.history_days)
    active = np.maximum(t["signup_day"], 0.0)
    end_a = np.where(t["lapsed"], t["lapse_day"], h)
    len_a = np.maximum(end_a - active, 0.0)
    len_b = np.where(t["lapsed"], h - end_a, 0.0)
    n_a = rng.poisson(t["rate"] * len_a / 30)
    n_b = rng.poisson(t["rate_now"] * len_b / 30)
    cust = np.concatenate([np.repeat(np.arange(n), n_a), np.repeat(np.arange(n), n_b)])
    lo = np.concatenate([np.repeat(active, n_a), np.repeat(end_a, n_b)])
    ln = np.concatenate([np.repeat(len_a, n_a), np.repeat(len_b, n_b)])
    day = lo + rng.random(cust.size) * ln
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    n_orders = cust.size
    s = cfg.basket_noise
    target = t["basket"][cust] * np.exp(rng.normal(-s * s / 2, s, n_orders))
    # promotions used in the past: deal seekers use more of them, and deeper ones
    sens_o = t["sens"][cust]
    promo = rng.random(n_orders) < 0.02 + 0.95 * sens_o
    depth = np.where(promo, np.round(rng.uniform(0.1, 0.2 + 0.3 * sens_o), 2), 0.0)

    lines = 1 + rng.poisson(0.7, n_orders)
    o_idx = np.repeat(np.arange(n_orders), lines)
    l_cust = cust[o_idx]
    w = rng.exponential(1.0, o_idx.size)
    w = w / np.bincount(o_idx, weights=w, minlength=n_orders)[o_idx]
    value = target[o_idx] * w
    cum = np.cumsum(t["pref"], axis=1)[l_cust]
    cat = np.minimum((rng.random(o_idx.size)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    u = rng.random(o_idx.size)
    loyal, pl = t["loyal"][l_cust], t["pl"][l_cust]
    brand = np.where(
        u < loyal,
        t["fav_brand"][l_cust],
        np.where(u < loyal + (1 - loyal) * pl, 0, rng.integers(0, N_BRANDS, o_idx.size)),
    )
    pidx = (cat * N_BRANDS + brand) * ITEMS_PER_BRAND + rng.integers(0, ITEMS_PER_BRAND, o_idx.size)
    price = products["price"].to_numpy()[pidx]
    qty = np.maximum(1, np.rint(value / price)).astype("int64")
    gross = np.round(qty * price, 2)
    disc = np.round(depth[o_idx] * gross, 2)

    start = pd.Timestamp(cfg.start_date)
    secs = np.floor(day * 86400).astype("int64")[o_idx]
    ts = (start + pd.to_timedelta(secs, unit="s")).as_unit("us")
    order_ids = pc.binary_join_element_wise("O", pc.cast(pa.array(o_idx + 1), pa.string()), "")
    tx = pd.DataFrame(
        {
            "customer_id": _strings(_customer_ids(n), l_cust),
            "order_id": _strings(order_ids),
            "product_id": _strings(products["product_id"].tolist(), pidx),
            "ts": ts,
            "quantity": qty,
            "amount": np.round(gross - disc, 2),
            "discount": disc,
        }
    )
    # snapshot features at the end of the history (what a legacy system would have seen)
    cnt = np.bincount(cust, minlength=n)
    last = np.full(n, np.nan)
    if n_orders:
        ends = np.cumsum(cnt)
        has = cnt > 0
        last[has] = day[ends[has] - 1]
    spend = np.bincount(
        cust, weights=np.bincount(o_idx, weights=gross, minlength=n_orders), minlength=n
    )
    snap = {
        "n_orders": cnt,
        "recency_days": np.where(np.isnan(last), h - active, h - last),
        "avg_basket": np.where(cnt > 0, spend / np.maximum(cnt, 1), np.nan),
    }
    return tx, snap


def _customer_ids(n: int) -> pa.Array:
    """'C000001', 'C000002', … (at least 6 digits)."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), max(6, len(str(n))), "0"
    )
    return pc.binary_join_element_wise("C", digits, "")


def _strings(
    values: pa.Array | np.ndarray | list[object], idx: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """``values[idx]`` as a pandas ``str`` array (via Arrow: fast for millions of rows)."""
    arr = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    if idx is not None:
        arr = arr.take(pa.array(np.asarray(idx, dtype="int64")))
    return pd.array(arr, dtype="str")


def _customers(
    t: dict[str, np.ndarray], cfg: SimulatorConfig, rng: np.random.Generator
) -> pd.DataFrame:
    n = cfg.n_customers
    start = pd.Timestamp(cfg.start_date)
    signup = (start + pd.to_timedelta(np.floor(t["signup_day"]).astype("int64"), unit="D")).as_unit(
        "us"
    )
    ages = np.array(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], dtype=object)
    incomes = np.array(["<25K", "25-49K", "50-74K", "75-99K", "100K+"], dtype=object)
    inc_z = 0.6 * (np.log(t["basket"]) - np.log(38.0)) / 0.45 + 0.8 * rng.standard_normal(n)
    inc = np.digitize(inc_z, [-1.0, -0.3, 0.3, 1.0])
    age = rng.choice(len(ages), n, p=[0.10, 0.22, 0.22, 0.2, 0.15, 0.11])
    return pd.DataFrame(
        {
            "customer_id": _strings(_customer_ids(n)),
            "signup_date": signup,
            "age": _strings(ages.tolist(), age),
            "income": _strings(incomes.tolist(), inc),
        }
    )


def _offers_frame(cfg: SimulatorConfig) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "offer_id": pd.array([o.offer_id for o in cfg.offers], dtype="str"),
            "kind": pd.array([o.kind for o in cfg.offers], dtype="str"),
            "value": np.array([float(o.value) for o in cfg.offers]),
            "min_spend": np.array([float(o.min_spend) for o in cfg.offers]),
            "category": pd.array([o.category for o in cfg.offers], dtype="str"),
            "description": pd.array([o.description for o in cfg.offers], dtype="str"),
        }
    )


def legacy_logits(snap: dict[str, np.ndarray], cfg: SimulatorConfig) -> np.ndarray:
    """(n, K+1) scores of the biased legacy policy from history snapshot features.

    Lapsed (long recency) and infrequent customers get deep discounts; frequent ones mostly none;
    threshold offers go to baskets just below the threshold, free shipping to small baskets.
    """
    rec = np.clip(snap["recency_days"] / 60.0, 0, 3)
    freq = np.log1p(snap["n_orders"]) / np.log1p(20)
    basket = np.nan_to_num(snap["avg_basket"], nan=30.0)
    cols = [0.5 + 1.5 * freq]
    for o in cfg.offers:
        if o.kind == "percent_off":
            depth = o.value * (0.6 if o.category else 1.0)
        elif o.kind in ("amount_off", "spend_threshold"):
            depth = o.value / np.maximum(basket, max(o.min_spend, 1.0))
        else:
            depth = o.value / np.maximum(basket, 1.0)
        score = -0.8 + (depth / 0.1) * (0.6 * rec - 0.3 * freq)
        if o.kind in ("amount_off", "spend_threshold") and o.min_spend > 0:
            score = score + 1.0 * np.exp(
                -(((basket - 0.85 * o.min_spend) / (0.2 * o.min_spend)) ** 2)
            )
        if o.kind == "free_shipping":
            score = score + 0.7 * (basket < cfg.free_shipping_above)
        cols.append(np.broadcast_to(score, rec.shape))
    return np.column_stack(cols)


def logging_probabilities(snap: dict[str, np.ndarray], cfg: SimulatorConfig) -> np.ndarray:
    """(n, K+1) action probabilities of ``cfg.logging``; legacy floors each at ``min_propensity``."""
    n, k1 = len(snap["n_orders"]), len(cfg.offers) + 1
    if cfg.logging == "random":
        return np.full((n, k1), 1.0 / k1)
    z = legacy_logits(snap, cfg)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    soft = z / z.sum(axis=1, keepdims=True)
    return cfg.min_propensity + (1 - k1 * cfg.min_propensity) * soft


@dataclass(frozen=True, slots=True)
class _Orders:
    converted: np.ndarray  # (m,) bool
    gross: np.ndarray  # (m,) final gross order value (0 without conversion), rounded to cents
    discount: np.ndarray  # (m,) discount cost
    revenue: np.ndarray  # (m,) money received: gross − price cut (a waived fee keeps revenue)


def _draw_orders(
    t: dict[str, np.ndarray],
    tr: _Truth,
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    cust: np.ndarray,
    a: np.ndarray,
) -> _Orders:
    """One attribution window per row: conversion ~ Bernoulli(p[cust, a]) and its order value.

    ``cust`` (m,) customer index, ``a`` (m,) action index (0 = none, j = menu offer j).
    Order value g = m[cust, a] · LogNormal(−s²/2, s); thresholds pull baskets in the top-up band
    up to the threshold; the discount follows the offer kind.
    """
    m = cust.size
    conv = rng.random(m) < tr.p[cust, a]
    s = cfg.basket_noise
    g = tr.m[cust, a] * np.exp(rng.normal(-s * s / 2, s, m))
    disc = np.zeros(m)
    shipping = np.zeros(m, dtype=bool)
    for j, o in enumerate(cfg.offers, start=1):
        sel = a == j
        if not sel.any():
            continue
        if o.kind == "percent_off":
            share = t["pref"][cust[sel], CATEGORIES.index(o.category)] if o.category else 1.0
            disc[sel] = o.value * share * g[sel]
        elif o.kind in ("amount_off", "spend_threshold"):
            T = max(o.min_spend, o.value)
            gs = g[sel]
            band = (gs >= (1 - cfg.topup_stretch) * T) & (gs < T)
            g[sel] = np.where(band, T, gs)
            disc[sel] = np.where(gs >= (1 - cfg.topup_stretch) * T, o.value, 0.0)
        else:
            disc[sel] = np.where(g[sel] < cfg.free_shipping_above, o.value, 0.0)
            shipping[sel] = True
    g = np.round(np.where(conv, g, 0.0), 2)
    disc = np.round(np.where(conv, disc, 0.0), 2)
    revenue = np.round(g - np.where(shipping, 0.0, disc), 2)
    return _Orders(conv, g, disc, revenue)


def _exposures(
    t: dict[str, np.ndarray],
    tr: _Truth,
    snap: dict[str, np.ndarray],
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    action_ids: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n, m, k1 = cfg.n_customers, cfg.n_exposures, tr.p.shape[1]
    slot = np.sort(rng.choice(n * cfg.n_campaigns, size=m, replace=False))
    if m == 0:
        slot = np.zeros(0, dtype=np.int64)
    camp, cust = slot // n, slot % n
    probs_all = logging_probabilities(snap, cfg)
    probs = probs_all[cust]
    cum = np.cumsum(probs, axis=1)
    a = np.minimum((rng.random(m)[:, None] > cum).sum(axis=1), k1 - 1)
    o = _draw_orders(t, tr, cfg, rng, cust, a)
    conv, g, disc, revenue = o.converted, o.gross, o.discount, o.revenue
    start = pd.Timestamp(cfg.start_date)
    day = cfg.history_days + camp * cfg.attribution_days
    secs = (day * 86400 + rng.integers(8 * 3600, 20 * 3600, m)).astype("int64")
    ex = pd.DataFrame(
        {
            "customer_id": _strings(_customer_ids(n), cust),
            "offer_id": _strings(action_ids, a),
            "ts": (start + pd.to_timedelta(secs, unit="s")).as_unit("us"),
            "propensity": probs[np.arange(m), a],
            "converted": conv.astype("int64"),
            "revenue": revenue,
            "discount_cost": disc,
            "gross_profit": np.round(cfg.margin_rate * g, 4),
        }
    )
    return ex, pd.DataFrame(probs, columns=list(action_ids)), _Window(slot, cust, secs, o)


@dataclass(frozen=True, slots=True)
class _Window:
    """Campaign-period draws: slot = campaign·n + customer, order values, exposure time (s)."""

    slot: np.ndarray
    cust: np.ndarray
    secs: np.ndarray
    orders: _Orders


def _order_lines(
    t: dict[str, np.ndarray],
    products: pd.DataFrame,
    rng: np.random.Generator,
    ids: pa.Array,
    cust: np.ndarray,
    o: _Orders,
    ts: pd.DatetimeIndex | pd.Series,
    prefix: str,
) -> pd.DataFrame:
    """Contract transaction lines, one per converting row of ``o`` (rows with ``o.converted``).

    ``ids`` (n,) customer ids (Arrow strings) by customer index; ``cust`` (m,) customer index per row; ``ts`` (m,)
    order times. The product is drawn from a category the customer likes; quantity ≈ value / price.
    """
    buy = np.flatnonzero(o.converted)
    m = buy.size
    cum = np.cumsum(t["pref"], axis=1)[cust[buy]]
    cat = np.minimum((rng.random(m)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    pidx = (cat * N_BRANDS + rng.integers(0, N_BRANDS, m)) * ITEMS_PER_BRAND + rng.integers(
        0, ITEMS_PER_BRAND, m)
    price = products["price"].to_numpy()[pidx]
    return pd.DataFrame({
        "customer_id": _strings(ids, cust[buy]),
        "order_id": _strings([f"{prefix}{i + 1}" for i in range(m)]),
        "product_id": _strings(products["product_id"].tolist(), pidx),
        "ts": pd.DatetimeIndex(ts)[buy].as_unit("us"),
        "quantity": np.maximum(1, np.rint(o.gross[buy] / price)).astype("int64"),
        "amount": o.revenue[buy],
        "discount": o.discount[buy],
    })


def _campaign_period(
    t: dict[str, np.ndarray],
    tr: _Truth,
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    products: pd.DataFrame,
    w: _Window,
) -> pd.DataFrame:
    """Every purchase of the logged campaigns' windows, as transaction lines.

    Exposed slots buy as their logged outcome says (the order lands within the attribution window
    after the exposure); every other customer × campaign slot buys with its no-offer probability.
    Without this the history would go silent for the campaign period and customers would look
    lapsed at decision time.
    """
    n = cfg.n_customers
    rest = np.setdiff1d(np.arange(n * cfg.n_campaigns), w.slot, assume_unique=True)
    cust_r = rest % n
    o_r = _draw_orders(t, tr, cfg, rng, cust_r, np.zeros(rest.size, dtype=np.int64))
    day_r = cfg.history_days + (rest // n) * cfg.attribution_days
    span = cfg.attribution_days * 86400
    secs_e = w.secs + rng.integers(0, span - 20 * 3600, w.slot.size)
    secs_r = day_r * 86400 + rng.integers(0, span, rest.size)
    cust = np.concatenate([w.cust, cust_r])
    o = _Orders(*(np.concatenate([getattr(w.orders, f), getattr(o_r, f)])
                  for f in ("converted", "gross", "discount", "revenue")))
    ts = pd.Timestamp(cfg.start_date) + pd.to_timedelta(np.concatenate([secs_e, secs_r]), unit="s")
    return _order_lines(t, products, rng, _customer_ids(n), cust, o, ts, "W")


def simulate(config: SimulatorConfig | None = None, **overrides: object) -> SimulatedMarket:
    """Draw a market. ``simulate(n_customers=1000, seed=1)`` is shorthand for a config.

    Customers, history and truth depend only on the seed and the customer-side settings, so the same
    seed with ``logging='random'`` and ``'legacy'`` gives the same customers and truth.
    """
    if config is None:
        config = SimulatorConfig(**overrides)  # type: ignore[arg-type]
    elif overrides:
        raise InputError("simulate: pass either a SimulatorConfig or keyword overrides, not both")
    cfg = config
    ss = np.random.SeedSequence(cfg.seed)
    r_traits, r_products, r_hist, r_cust, r_exp, r_win = (
        np.random.default_rng(x) for x in ss.spawn(6))
    t = _draw_traits(cfg, r_traits)
    products = _products(r_products, cfg.margin_rate)
    tx, snap = _history(t, cfg, r_hist, products)
    customers = _customers(t, cfg, r_cust)
    tr = _truth_arrays(t, cfg)
    action_ids = [NO_OFFER] + [o.offer_id for o in cfg.offers]
    ids = _customer_ids(cfg.n_customers)
    truth = _truth_frame(ids, action_ids, tr, cfg.margin_rate)
    net = cfg.margin_rate * tr.p * tr.gross - tr.p * tr.discount
    exposures, probs, window = _exposures(t, tr, snap, cfg, r_exp, action_ids)
    tx = pd.concat([tx, _campaign_period(t, tr, cfg, r_win, products, window)], ignore_index=True)
    latent = pd.DataFrame(
        {
            "customer_id": _strings(ids),
            "rate": t["rate"],
            "rate_now": t["rate_now"],
            "basket": t["basket"],
            "price_sensitivity": t["sens"],
            "brand_loyalty": t["loyal"],
            "private_label_pref": t["pl"],
            "lapsed": t["lapsed"],
            "lapse_factor": t["lapse_factor"],
            "favourite_category": _strings(list(CATEGORIES), t["pref"].argmax(axis=1)),
            **{f"pref_{c}": t["pref"][:, j] for j, c in enumerate(CATEGORIES)},
            "sleeping_dog": t["dog"],
            "p_convert_none": tr.p[:, 0],
            "response_type": pd.array(_response_types(tr, t["dog"]), dtype="str"),
            "best_offer": _strings(action_ids, (net - net[:, :1]).argmax(axis=1)),
        }
    )
    return SimulatedMarket(
        cfg, customers, products, tx, _offers_frame(cfg), exposures, truth, latent, probs,
        _MarketState(t, tr),
    )


def write_market(market: SimulatedMarket, out_dir: str | Path) -> Path:
    """Write the market atomically: contract tables, ``truth``, ``latent`` (Parquet), ``simulator.json``."""
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        for name, df in {**market.tables(), "truth": market.truth, "latent": market.latent}.items():
            df.to_parquet(tmp / f"{name}.parquet", index=False)
        meta = {
            "generator": "offerwise.data.simulator",
            "simulator_version": SIMULATOR_VERSION,
            "offerwise_version": __version__,
            "seed": market.config.seed,
            "config": market.config.to_dict(),
            "rows": {k: len(v) for k, v in market.tables().items()} | {"truth": len(market.truth)},
            "summary": market_summary(market),
        }
        (tmp / "simulator.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return out


# --------------------------------------------------------------------------------------------
# policy values
# --------------------------------------------------------------------------------------------


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
    """Best decisions knowing the truth: maximise Σ incremental profit s.t. Σ expected cost ≤ budget.

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


# --------------------------------------------------------------------------------------------
# running a planned campaign
# --------------------------------------------------------------------------------------------

CAMPAIGN_METRICS = ("converted", "revenue", "discount_cost", "net_profit")


@dataclass
class CampaignRun:
    """Outcomes of one simulated run of a plan (see :func:`run_campaign`).

    ``transactions``: contract rows (one order line per converting plan customer) with ``ts`` in
    ``[start, end)``. ``true_lift``: per metric, the mean over plan customers of
    E[y | planned offer] − E[y | none] — the average treatment effect that a treatment-vs-holdout
    comparison estimates; net profit is measured as an analysis measures it from transactions,
    ``margin·(amount + discount) − discount``. ``true_incremental_profit``: Σ over treated
    customers of the simulator's true incremental profit.
    """

    transactions: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    true_lift: dict[str, float]
    true_incremental_profit: float
    n_treatment: int
    n_holdout: int


def default_campaign_start(market: SimulatedMarket) -> pd.Timestamp:
    """The day after the last transaction or logged exposure (midnight) — a plan's default decision date."""
    last = [pd.Timestamp(df["ts"].max()) for df in (market.transactions, market.exposures) if len(df)]
    if not last:
        cfg = market.config
        return (pd.Timestamp(cfg.start_date) + pd.Timedelta(days=cfg.history_days)).normalize()
    return (max(last) + pd.Timedelta(days=1)).normalize()


def run_campaign(
    market: SimulatedMarket,
    plan: pd.DataFrame,
    *,
    seed: int,
    start: str | pd.Timestamp | None = None,
) -> CampaignRun:
    """Run ``plan`` in the simulated market for one attribution window and draw what happened.

    ``plan``: customer_id, offer_id and optionally ``group`` ('treatment' | 'holdout'; missing =
    treatment) and ``planned_offer_id`` (the offer a holdout customer would have got; default
    its ``offer_id``). Holdout customers get no offer; treated customers get their ``offer_id``
    ('none' allowed). Outcomes are drawn exactly as the logged exposures are (same response model),
    independently per call with ``seed``; the market must come from :func:`simulate` in this
    process (its latent state is not written to disk).
    """
    if market.state is None:
        raise InputError("run_campaign: this market has no latent state; simulate it in this process")
    d = _check_decisions(market.truth, plan)
    group = (plan["group"].astype(str).to_numpy() if "group" in plan.columns
             else np.full(len(d), "treatment", dtype=object))
    bad = ~np.isin(group, ["treatment", "holdout"])
    if bad.any():
        raise InputError(f"plan: column 'group': {int(bad.sum())} rows are not 'treatment' or "
                         f"'holdout'; e.g. {group[bad][0]!r}")
    cfg, t, tr = market.config, market.state.traits, market.state.truth
    ids = pd.Index(market.customers["customer_id"].astype(str))
    cust = ids.get_indexer(d["customer_id"])
    if (cust < 0).any():
        raise InputError(f"plan: {int((cust < 0).sum())} customers not in the market; e.g. "
                         f"{d['customer_id'][cust < 0].iloc[0]!r}")
    action_ids = [NO_OFFER] + [o.offer_id for o in cfg.offers]
    given = pd.Index(action_ids).get_indexer(d["offer_id"])
    planned = given
    if "planned_offer_id" in plan.columns:  # what holdout customers would have got
        planned = pd.Index(action_ids).get_indexer(plan["planned_offer_id"].astype(str))
        if (planned < 0).any():
            raise InputError(f"plan: column 'planned_offer_id': {int((planned < 0).sum())} rows name "
                             f"offers not in the menu; e.g. "
                             f"{plan['planned_offer_id'].astype(str)[planned < 0].iloc[0]!r}")
    treated = group == "treatment"
    planned = np.where(treated, given, planned)
    a = np.where(treated, given, 0)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xCA3]))
    o = _draw_orders(t, tr, cfg, rng, cust, a)
    start = default_campaign_start(market) if start is None else pd.Timestamp(start).normalize()
    end = start + pd.Timedelta(days=cfg.attribution_days)
    secs = (rng.integers(0, cfg.attribution_days, cust.size) * 86400
            + rng.integers(8 * 3600, 20 * 3600, cust.size)).astype("int64")
    tx = _order_lines(t, market.products, rng, pa.array(ids.to_numpy(dtype=object), pa.string()), cust, o,
                      start + pd.to_timedelta(secs, unit="s"), f"K{seed}-")
    # true effects of what was planned, measured the way an analysis measures transactions
    rows = np.arange(cust.size)
    p, mg = tr.p[cust], cfg.margin_rate
    rev = p * (tr.gross[cust] - tr.price_cut[cust])
    dis = p * tr.discount[cust]
    mean = {"converted": p, "revenue": rev, "discount_cost": dis, "net_profit": mg * (rev + dis) - dis}
    lift = {k: float((v[rows, planned] - v[:, 0]).mean()) if cust.size else float("nan")
            for k, v in mean.items()}
    net = mg * p * tr.gross[cust] - dis
    inc = float((net[rows, a] - net[:, 0]).sum())
    return CampaignRun(tx, start, end, lift, inc, int(treated.sum()), int((~treated).sum()))


def write_campaign_data(market: SimulatedMarket, run: CampaignRun, out_dir: str | Path) -> Path:
    """The shop's data after ``run`` (atomically): the contract tables with the campaign's order
    lines appended to ``transactions`` — what ``offerwise analyze`` reads."""
    out = Path(out_dir)
    tables = market.tables()
    tables["transactions"] = pd.concat([market.transactions, run.transactions], ignore_index=True)
    with atomic_dir(out) as tmp:
        for name, df in tables.items():
            if len(df):  # an empty optional table (no logged exposures) is left out
                df.to_parquet(tmp / f"{name}.parquet", index=False)
    return out


def market_summary(market: SimulatedMarket) -> dict[str, object]:
    """Headline facts of the truth: response-type shares, best-offer shares, oracle value."""
    lat = market.latent
    return {
        "n_customers": len(lat),
        "response_types": lat["response_type"].value_counts(normalize=True).round(4).to_dict(),
        "best_offer_share": lat["best_offer"].value_counts(normalize=True).round(4).to_dict(),
        "mean_p_convert_none": round(float(lat["p_convert_none"].mean()), 4),
        "oracle_incremental_profit": round(oracle_value(market.truth), 2),
        "transactions_per_customer": round(len(market.transactions) / max(len(lat), 1), 2),
    }


def profiles_from_transactions(
    transactions: pd.DataFrame,
    products: pd.DataFrame | None = None,
    as_of: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Per-customer profile table (the columns :data:`PROFILE_COLUMNS`) from contract transactions.

    frequency = orders, monetary = Σ amount, avg_basket = monetary / orders, discount_share =
    Σ discount / Σ (amount + discount), recency_days = days from the last order to ``as_of``
    (default: the last ts), private_label_share / top_brand_share / top_national_brand_share =
    spend share of brand 'Private' / of the customer's top brand / of the top brand other than
    'Private' (these three need ``products`` with a brand column).
    """
    need = ["customer_id", "order_id", "ts", "amount", "discount"]
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise InputError(f"transactions: required column(s) {', '.join(missing)} missing")
    tx = transactions[
        need + (["product_id"] if "product_id" in transactions.columns else [])
    ].copy()
    tx["ts"] = pd.to_datetime(tx["ts"])
    as_of = pd.Timestamp(as_of) if as_of is not None else tx["ts"].max()
    g = tx.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "frequency": g["order_id"].nunique(),
            "monetary": g["amount"].sum(),
            "discount_total": g["discount"].sum(),
            "last_ts": g["ts"].max(),
        }
    )
    out["avg_basket"] = out["monetary"] / out["frequency"]
    out["discount_share"] = out["discount_total"] / (out["monetary"] + out["discount_total"]).where(
        lambda x: x > 0
    )
    out["recency_days"] = (as_of - out["last_ts"]).dt.total_seconds() / 86400
    if products is not None and "brand" in products.columns and "product_id" in tx.columns:
        b = tx.merge(products[["product_id", "brand"]], on="product_id", how="left")
        spend = b.groupby(["customer_id", "brand"], sort=False)["amount"].sum()
        tot = spend.groupby(level=0).sum()
        out["top_brand_share"] = (spend.groupby(level=0).max() / tot.where(tot > 0)).reindex(
            out.index
        )
        national = spend[spend.index.get_level_values("brand") != "Private"]
        top_nat = national.groupby(level=0).max().reindex(out.index).fillna(0.0)
        out["top_national_brand_share"] = top_nat / tot.where(tot > 0).reindex(out.index)
        pl = (
            spend.xs("Private", level="brand")
            if "Private" in spend.index.get_level_values(1)
            else None
        )
        out["private_label_share"] = (
            pl.reindex(out.index).fillna(0) / tot.reindex(out.index) if pl is not None else 0.0
        )
    return out.drop(columns=["discount_total", "last_ts"]).reset_index()


__all__ = [
    "CATEGORIES",
    "DEFAULT_OFFERS",
    "NO_OFFER",
    "PROFILE_COLUMNS",
    "OfferSpec",
    "CAMPAIGN_METRICS",
    "CampaignRun",
    "SimulatedMarket",
    "SimulatorConfig",
    "legacy_logits",
    "logging_probabilities",
    "market_summary",
    "offers_from_frame",
    "oracle_policy",
    "oracle_value",
    "default_campaign_start",
    "profiles_from_transactions",
    "run_campaign",
    "simulate",
    "true_policy_value",
    "true_policy_value_per_exposure",
    "write_campaign_data",
    "write_market",
]

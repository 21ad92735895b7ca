"""The true response model: per customer × action, the conversion probability and the expected
order value and discount given conversion (:class:`_Truth`), the truth table, and draws of
realised orders from it.

Response model, per customer ``i`` and offer ``k`` (``W`` = attribution window in days)::

    p0_i      = 1 - exp(-rate_now_i * W / 30)                 # P(order in window | no offer)
    p_ik      = sigmoid(logit(p0_i) + effect_ik)
    effect_ik = resp_i * appeal_ik          (sleeping dogs: -dog_i * (0.6 + 0.4 * appeal_ik / 1.6))
    resp_i    = R * sens_i * (1 - 0.6 loyal_i)
                * sigmoid(1.5 (logit p0_i + 3)) * sigmoid(-2 (logit p0_i - 0.2))

Given conversion the order's gross value is ``g = m_ik * eps``, ``eps ~ LogNormal(-s²/2, s)``; the
offer's rules give the final gross value and the discount, so E[revenue], E[discount] are exact
(log-normal partial expectations). Net profit = margin × gross − discount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import expit, logit, ndtr

from offerwise.simulator.config import OfferSpec, SimulatorConfig
from offerwise.simulator.population import _strings
from offerwise.simulator.templates import category_share

_R_MAX = 5.0  # peak responsiveness (logit units per unit of appeal)
_APPEAL_CAP = 1.6
_JND = 0.03  # discounts below 3% of the basket are not noticed
_BAND_BONUS = 1.5  # goal-gradient: customers just below a threshold respond more
_PRICE_PULL = 0.5  # percent discounts raise the basket by 0.5 * value * sens


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
        share = category_share(o, t, np.arange(len(mu)))
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
    disc: np.ndarray = np.zeros(m)
    shipping = np.zeros(m, dtype=bool)
    for j, o in enumerate(cfg.offers, start=1):
        sel = a == j
        if not sel.any():
            continue
        if o.kind == "percent_off":
            share = category_share(o, t, cust[sel])
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

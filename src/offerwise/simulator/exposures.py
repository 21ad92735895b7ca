"""Logging policies (``random``, biased ``legacy``, ``confounded``) and the logged exposures they
produce, plus the order lines of every purchase in the campaign windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from offerwise.errors import InputError
from offerwise.simulator.config import CATEGORIES, ITEMS_PER_BRAND, N_BRANDS, SimulatorConfig
from offerwise.simulator.confounding import CONFOUNDING_LOGIT, _InMarket, add_window_orders
from offerwise.simulator.population import _customer_ids, _strings
from offerwise.simulator.response import _draw_orders, _Orders, _Truth

_ORDER_FIELDS = ("converted", "gross", "discount", "revenue")


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


def logging_probabilities(
    snap: dict[str, np.ndarray], cfg: SimulatorConfig, in_market: np.ndarray | None = None
) -> np.ndarray:
    """(n, K+1) action probabilities of ``cfg.logging``; legacy and confounded floor each at
    ``min_propensity``.

    ``confounded`` needs ``in_market`` (n,) bool, the rows' latent in-market state: it adds
    ``CONFOUNDING_LOGIT × confounding_strength`` to every offer's legacy logit where it is set.
    """
    n, k1 = len(snap["n_orders"]), len(cfg.offers) + 1
    if cfg.logging == "random":
        return np.full((n, k1), 1.0 / k1)
    z = legacy_logits(snap, cfg)
    if cfg.logging == "confounded":
        if in_market is None or np.shape(in_market) != (n,):
            raise InputError("confounded logging needs the (n,) in-market state of the rows")
        z[:, 1:] += CONFOUNDING_LOGIT * cfg.confounding_strength * np.asarray(in_market)[:, None]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    soft = z / z.sum(axis=1, keepdims=True)
    return cfg.min_propensity + (1 - k1 * cfg.min_propensity) * soft


def _exposures(
    t: dict[str, np.ndarray],
    tr: _Truth,
    snap: dict[str, np.ndarray],
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    action_ids: list[str],
    im: _InMarket | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, _Window]:
    """Logged exposures; ``im``: the in-market draws (``confounded`` logging only)."""
    n, m, k1 = cfg.n_customers, cfg.n_exposures, tr.p.shape[1]
    slot = np.sort(rng.choice(n * cfg.n_campaigns, size=m, replace=False))
    if m == 0:
        slot = np.zeros(0, dtype=np.int64)
    camp, cust = slot // n, slot % n
    if im is None:
        probs = logging_probabilities(snap, cfg)[cust]
    else:
        rows = {k: v[cust] for k, v in snap.items()}
        probs = logging_probabilities(rows, cfg, im.state[slot])
    cum = np.cumsum(probs, axis=1)
    a = np.minimum((rng.random(m)[:, None] > cum).sum(axis=1), k1 - 1)
    o = _draw_orders(t, tr, cfg, rng, cust, a)
    conv, g, disc, revenue = o.converted, o.gross, o.discount, o.revenue
    gross_profit = np.round(cfg.margin_rate * g, 4)
    if im is not None:  # the in-market slots' own orders are part of the logged outcome
        extra = _Orders(*(getattr(im.window, f)[slot] for f in _ORDER_FIELDS))
        summed, gross_profit = add_window_orders(o, extra, cfg.margin_rate)
        conv, revenue = summed.converted, summed.revenue
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
            "gross_profit": gross_profit,
        }
    )
    if not cfg.record_propensity:
        ex = ex.drop(columns="propensity")
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

    ``ids`` (n,) customer ids (Arrow strings) by customer index; ``cust`` (m,) customer index per
    row; ``ts`` (m,) order times. The product is drawn from a category the customer likes;
    quantity ≈ value / price.
    """
    buy = np.flatnonzero(o.converted)
    m = buy.size
    cum = np.cumsum(t["pref"], axis=1)[cust[buy]]
    cat = np.minimum((rng.random(m)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    pidx = (cat * N_BRANDS + rng.integers(0, N_BRANDS, m)) * ITEMS_PER_BRAND + rng.integers(
        0, ITEMS_PER_BRAND, m
    )
    price = products["price"].to_numpy()[pidx]
    return pd.DataFrame(
        {
            "customer_id": _strings(ids, cust[buy]),
            "order_id": _strings([f"{prefix}{i + 1}" for i in range(m)]),
            "product_id": _strings(products["product_id"].tolist(), pidx),
            "ts": pd.DatetimeIndex(ts)[buy].as_unit("us"),
            "quantity": np.maximum(1, np.rint(o.gross[buy] / price)).astype("int64"),
            "amount": o.revenue[buy],
            "discount": o.discount[buy],
        }
    )


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
    o = _Orders(*(np.concatenate([getattr(w.orders, f), getattr(o_r, f)]) for f in _ORDER_FIELDS))
    ts = pd.Timestamp(cfg.start_date) + pd.to_timedelta(np.concatenate([secs_e, secs_r]), unit="s")
    return _order_lines(t, products, rng, _customer_ids(n), cust, o, ts, "W")

"""Confounded logging: a latent *in-market* state per customer × campaign that no table shows.

A customer × campaign slot is in market with probability ``in_market_share``, independently of
every trait and of the history (so no purchase-history feature at the end of the history predicts
it). An in-market slot

- is targeted: the ``confounded`` policy adds ``CONFOUNDING_LOGIT × confounding_strength`` to the
  legacy logits of every offer (not of ``none``) before the softmax and the propensity floor;
- buys more, whatever it is offered: extra orders at ``confounding_strength`` orders per 30 days,
  at no-offer terms (full price, no discount), in the ``PRE_DAYS`` before the slot's exposure time
  (Poisson count; written to ``transactions`` only) and in the campaign's attribution window (at
  most one order, with probability ``1 − exp(−strength · W / 30)``; for an exposed slot it is part
  of the logged outcome: ``converted`` is 1 if either order happened, ``revenue`` and
  ``gross_profit`` are the sums; its own transaction lines are written too).

The extra orders do not depend on the offer, so the true effects (the truth table, per customer)
are unchanged: for every slot, in market or not, the offer's effect on revenue, discount cost,
gross and net profit is exactly the truth table's (on conversion, "any order", an in-market slot's
effect is ``(1 − q)`` × the truth's, ``q`` the extra order's probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offerwise.simulator.config import SimulatorConfig
from offerwise.simulator.response import _Orders

#: Logit added to every offer (not ``none``) per unit of ``confounding_strength`` for an in-market
#: slot under ``confounded`` logging.
CONFOUNDING_LOGIT = 2.0
#: Days before the exposure time in which in-market slots buy extra (the placebo window of the
#: identification report, ``offerwise.workflows.identify.PLACEBO_DAYS``).
PRE_DAYS = 30


@dataclass(frozen=True, slots=True)
class _InMarket:
    """In-market draws. Slot = campaign·n + customer (as the exposures' slots).

    ``state`` (n·C,) bool; ``window`` (n·C,) the extra order in the campaign window (nothing
    outside in-market slots); ``pre_slot`` (r,) slot of each extra order before the exposure and
    ``pre`` (r,) those orders.
    """

    state: np.ndarray
    window: _Orders
    pre_slot: np.ndarray
    pre: _Orders


def _no_offer_orders(
    t: dict[str, np.ndarray],
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    cust: np.ndarray,
    conv: np.ndarray,
) -> _Orders:
    """Orders at no-offer terms where ``conv``: value basket · LogNormal(−s²/2, s), no discount."""
    s = cfg.basket_noise
    g = t["basket"][cust] * np.exp(rng.normal(-s * s / 2, s, cust.size))
    g = np.round(np.where(conv, g, 0.0), 2)
    return _Orders(conv, g, np.zeros(cust.size), g.copy())


def draw_in_market(
    t: dict[str, np.ndarray], cfg: SimulatorConfig, rng: np.random.Generator
) -> _InMarket:
    """The in-market state of every slot and its extra orders (values; times come later)."""
    n, c = cfg.n_customers, cfg.n_campaigns
    state = rng.random(n * c) < cfg.in_market_share
    cust = np.arange(n * c) % n
    rate = cfg.confounding_strength  # extra orders per 30 days while in market
    q = 1 - np.exp(-rate * cfg.attribution_days / 30)
    window = _no_offer_orders(t, cfg, rng, cust, state & (rng.random(n * c) < q))
    count = np.where(state, rng.poisson(rate * PRE_DAYS / 30, n * c), 0)
    pre_slot = np.repeat(np.arange(n * c), count)
    pre = _no_offer_orders(t, cfg, rng, pre_slot % n, np.ones(pre_slot.size, dtype=bool))
    return _InMarket(state, window, pre_slot, pre)


def add_window_orders(o: _Orders, extra: _Orders, margin_rate: float) -> tuple[_Orders, np.ndarray]:
    """The logged outcome of exposed slots: ``o`` plus the slots' extra orders ``extra`` (same
    rows); returns the summed orders and gross profit (margin × summed gross, 4 decimals)."""
    g = np.round(o.gross + extra.gross, 2)
    summed = _Orders(
        o.converted | extra.converted, g, o.discount, np.round(o.revenue + extra.revenue, 2)
    )
    return summed, np.round(margin_rate * g, 4)


def in_market_orders(
    cfg: SimulatorConfig,
    rng: np.random.Generator,
    im: _InMarket,
    exposed_slot: np.ndarray,
    exposed_secs: np.ndarray,
) -> tuple[np.ndarray, _Orders, pd.DatetimeIndex]:
    """The in-market slots' extra orders: (customer index, orders, order time) per order.

    A slot's reference time is its exposure time (exposed slots, ``exposed_secs`` in seconds from
    the start date) or noon of its campaign day; window orders land in the attribution window
    after it, the others in the ``PRE_DAYS`` before it.
    """
    n = cfg.n_customers
    slots = np.arange(n * cfg.n_campaigns)
    day = cfg.history_days + (slots // n) * cfg.attribution_days
    ref = (day * 86400 + 12 * 3600).astype("int64")
    ref[exposed_slot] = exposed_secs
    span = cfg.attribution_days * 86400
    w_rows = np.flatnonzero(im.window.converted)
    secs_w = ref[w_rows] + rng.integers(0, span - 20 * 3600, w_rows.size)
    secs_p = ref[im.pre_slot] - 1 - rng.integers(0, PRE_DAYS * 86400 - 1, im.pre_slot.size)
    cust = np.concatenate([w_rows % n, im.pre_slot % n])
    o = _Orders(
        *(
            np.concatenate([getattr(im.window, f)[w_rows], getattr(im.pre, f)])
            for f in ("converted", "gross", "discount", "revenue")
        )
    )
    secs = np.concatenate([secs_w, secs_p])
    return cust, o, pd.DatetimeIndex(pd.Timestamp(cfg.start_date) + pd.to_timedelta(secs, unit="s"))

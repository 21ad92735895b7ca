"""A seeded shop whose categories have KNOWN own-price elasticities, for testing the estimator.

Contract-shaped tables (``customers``, ``products``, ``transactions``, ``offers``) and the truth.
Per category ``c`` (elasticity ``beta_c``), product ``i`` (shelf price ``P_i``, base log demand
``a_i``) and week ``w`` (demand shock ``d_cw``: a yearly wave plus AR(1) noise):

* the shop runs promotions when demand is high: product ``i`` is on promotion in week ``w`` with
  probability ``sigmoid(-1.2 + confounding * d_cw / sd(d) + u_iw)``, at a depth of 10, 20 or
  30 %; some products also change their shelf price by +/-5 % once in the year;
* units ``~ Poisson(exp(a_i + d_cw + beta_c * log(p_iw / P_i) + e_iw))``, ``p_iw`` the paid price,
  ``e_iw ~ N(0, noise^2)``;
* the units of a product-week are sold in lines of 1-3 units at the paid price to random
  customers at random times of the week (``amount = quantity * p``, ``discount = quantity * (P -
  p)``, in cents).

A regression of log units on log price without week effects is biased (cuts coincide with busy
weeks); with product and week effects it is not.

With ``competitors = K > 0`` the shop also has rivals and a stock room (a separate seeded stream,
so the tables without them are the same as before):

* competitor ``k`` prices product ``i`` in week ``w`` at ``P_i · exp(o_c + v_ik + r_ikw)``:
  ``o_c`` the category's price gap (``competitor_gaps``), ``v_ik ~ N(0, 0.03^2)``, ``r`` an AR(1)
  walk per product and competitor (coefficient 0.7, shocks N(0, 0.05^2)); the table has one price
  per product, competitor and week (ts: the week's third day). Demand gains
  ``+ gamma_c · log(m_iw / P_i)``, ``m_iw`` the median competitor price (``competitor_effects``,
  the known cross-price elasticities);
* the stock room holds each product at about ``cover_c`` weeks of its demand (``stock_covers``):
  snapshot ``on_hand`` at each week's start, then the week's units leave and, when what is left is
  below ``cover_c`` weeks of the product's mean demand, it is topped up to ``cover_c + 1`` weeks.

``truth`` then also has ``competitor_effect``, ``price_index`` (the module
:mod:`offerwise.demand.competition` definition over the last 4 weeks, from the generator's prices
and units), ``demand_per_week`` (expected units per week over the last 4 weeks, before noise) and
``weeks_of_cover`` (the last snapshot's on_hand over that demand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DemandConfig", "DemandMarket", "simulate_demand"]


@dataclass(frozen=True, slots=True)
class DemandConfig:
    """Size, truth and noise of a synthetic shop; ``elasticities``: one per category."""

    elasticities: tuple[float, ...] = (-0.5, -1.0, -1.5, -2.0, -2.5, -3.0)
    products_per_category: int = 20
    n_weeks: int = 52
    base_units: float = 50.0
    confounding: float = 1.5
    noise: float = 0.15
    n_customers: int = 500
    start: str = "2024-01-01"
    seed: int = 0
    #: rivals whose prices are in ``competitor_prices`` (0: no rivals, no inventory table)
    competitors: int = 0
    #: per category: the rivals' mean log price gap to our shelf price (cycled over categories)
    competitor_gaps: tuple[float, ...] = (-0.15, -0.05, 0.0, 0.05, 0.1, 0.2)
    #: per category: the cross-price elasticity of our units to the rivals' median price
    competitor_effects: tuple[float, ...] = (0.8, 0.4, 0.0, 0.6, 1.2, 0.2)
    #: per category: the stock room's target cover in weeks of demand
    stock_covers: tuple[float, ...] = (1.0, 3.0, 5.0, 8.0, 12.0, 20.0)


@dataclass(frozen=True, slots=True)
class DemandMarket:
    """Contract tables and ``truth`` (``category``, ``elasticity``); ``as_of`` is the midnight
    after the last week, so the estimator's weeks are the generator's weeks."""

    customers: pd.DataFrame
    products: pd.DataFrame
    transactions: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp
    competitor_prices: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None

    def write(self, out: str) -> None:
        """Write the tables as Parquet into folder ``out`` (created)."""
        from pathlib import Path

        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        for name in ("customers", "products", "transactions", "offers"):
            getattr(self, name).to_parquet(d / f"{name}.parquet", index=False)
        for name in ("competitor_prices", "inventory"):
            if getattr(self, name) is not None:
                getattr(self, name).to_parquet(d / f"{name}.parquet", index=False)


def simulate_demand(cfg: DemandConfig | None = None) -> DemandMarket:
    """Draw a shop from ``cfg`` (seeded: the same config gives the same tables)."""
    cfg = cfg or DemandConfig()
    rng = np.random.default_rng(cfg.seed)
    n_c, n_i, n_w = len(cfg.elasticities), cfg.products_per_category, cfg.n_weeks
    beta = np.repeat(np.asarray(cfg.elasticities, dtype=np.float64), n_i)  # (C*I,)
    cat = np.repeat(np.arange(n_c), n_i)
    shelf0 = np.round(np.exp(rng.normal(1.2, 0.5, n_c * n_i)), 2)
    a = np.log(cfg.base_units) + rng.normal(0.0, 0.5, n_c * n_i)
    # demand shocks per category and week: yearly wave + AR(1)
    wave = 0.25 * np.sin(2 * np.pi * (np.arange(n_w) / 52.0 + rng.uniform(0, 1, (n_c, 1))))
    ar = np.zeros((n_c, n_w))
    for w in range(n_w):
        ar[:, w] = (0.6 * ar[:, w - 1] if w else 0.0) + rng.normal(0.0, 0.2, n_c)
    d = wave + ar  # (C, W)
    dz = (d - d.mean()) / d.std()
    u = rng.normal(0.0, 1.0, (len(cat), n_w))
    promo_p = 1.0 / (1.0 + np.exp(-(-1.2 + cfg.confounding * dz[cat] + u)))
    promo = rng.uniform(size=promo_p.shape) < promo_p
    depth = np.where(promo, rng.choice([0.1, 0.2, 0.3], size=promo.shape), 0.0)
    change_week = rng.integers(8, n_w - 8, len(cat))
    change = np.where(rng.uniform(size=len(cat)) < 0.5, rng.choice([-0.05, 0.05], len(cat)), 0.0)
    after = np.arange(n_w)[None, :] >= change_week[:, None]
    shelf = np.round(shelf0[:, None] * (1 + change[:, None] * after), 2)
    paid = np.round(shelf * (1 - depth), 2)
    rivals = _rivals(cfg, shelf0, cat) if cfg.competitors > 0 else None
    cross = (
        0.0 if rivals is None else rivals.gamma[:, None] * np.log(rivals.median / shelf0[:, None])
    )
    log_mu = a[:, None] + d[cat] + beta[:, None] * np.log(paid / shelf0[:, None]) + cross
    mu = np.exp(log_mu + rng.normal(0.0, cfg.noise, paid.shape))
    expected = np.exp(log_mu)  # before the noise
    units = rng.poisson(mu)  # (C*I, W)
    transactions = _lines(units, paid, shelf, cfg, rng)
    pid = np.array([f"p{i:04d}" for i in range(len(cat))])
    cats = np.array([f"CAT{c}" for c in range(n_c)])
    products = pd.DataFrame({"product_id": pid, "category": cats[cat], "price": shelf0})
    transactions["product_id"] = pid[transactions.pop("item").to_numpy()]
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(cfg.n_customers)]})
    offers = pd.DataFrame({"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1]})
    truth = pd.DataFrame({"category": cats, "elasticity": np.asarray(cfg.elasticities)})
    as_of = pd.Timestamp(cfg.start) + pd.Timedelta(days=7 * n_w)
    if rivals is None:
        return DemandMarket(customers, products, transactions, offers, truth, as_of)
    comp, inv, extra = _rival_tables(cfg, rivals, units, expected, shelf, cat, pid)
    truth = pd.concat([truth, extra], axis=1)
    return DemandMarket(customers, products, transactions, offers, truth, as_of, comp, inv)


@dataclass(frozen=True, slots=True)
class _Rivals:
    prices: np.ndarray  # (K, C*I, W)
    median: np.ndarray  # (C*I, W)
    gamma: np.ndarray  # (C*I,)
    cover: np.ndarray  # (C*I,) target weeks of cover


def _cycle(values: tuple[float, ...], n: int) -> np.ndarray:
    return np.array([values[c % len(values)] for c in range(n)], dtype=np.float64)


def _rivals(cfg: DemandConfig, shelf0: np.ndarray, cat: np.ndarray) -> _Rivals:
    """The rivals' prices (their own seeded stream: the tables without rivals stay the same)."""
    rng = np.random.default_rng([cfg.seed, 1])
    n_c, n_w, k = len(cfg.elasticities), cfg.n_weeks, cfg.competitors
    gap = _cycle(cfg.competitor_gaps, n_c)
    walk = np.zeros((k, len(cat), n_w))
    for w in range(n_w):
        walk[:, :, w] = (0.7 * walk[:, :, w - 1] if w else 0.0) + rng.normal(0, 0.05, (k, len(cat)))
    v = rng.normal(0.0, 0.03, (k, len(cat)))
    prices = np.round(
        shelf0[None, :, None] * np.exp(gap[cat][None, :, None] + v[:, :, None] + walk), 2
    )
    return _Rivals(
        prices,
        np.median(prices, axis=0),
        _cycle(cfg.competitor_effects, n_c)[cat],
        _cycle(cfg.stock_covers, n_c)[cat],
    )


def _rival_tables(
    cfg: DemandConfig,
    r: _Rivals,
    units: np.ndarray,
    expected: np.ndarray,
    shelf: np.ndarray,
    cat: np.ndarray,
    pid: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``competitor_prices``, ``inventory`` and the truth columns they add (per category)."""
    n_c, n_w = len(cfg.elasticities), cfg.n_weeks
    k, n_i = r.prices.shape[0], len(cat)
    weeks = pd.Timestamp(cfg.start) + pd.to_timedelta(7 * np.arange(n_w), unit="D")
    kk, ii, ww = np.meshgrid(np.arange(k), np.arange(n_i), np.arange(n_w), indexing="ij")
    comp = pd.DataFrame(
        {
            "product_id": pid[ii.ravel()],
            "ts": (weeks + pd.Timedelta(days=2))[ww.ravel()],
            "competitor": np.char.add("rival", kk.ravel().astype(str)),
            "price": r.prices.ravel(),
        }
    )
    mean_units = expected.mean(axis=1)  # (C*I,) the product's mean expected units per week
    on_hand = np.zeros((n_i, n_w))
    level = np.ceil((r.cover + 1) * mean_units)
    for w in range(n_w):
        on_hand[:, w] = level
        left = np.maximum(level - units[:, w], 0.0)
        level = np.where(left < r.cover * mean_units, np.ceil((r.cover + 1) * mean_units), left)
    ii2, ww2 = np.meshgrid(np.arange(n_i), np.arange(n_w), indexing="ij")
    inv = pd.DataFrame(
        {
            "product_id": pid[ii2.ravel()],
            "ts": (weeks + pd.Timedelta(hours=1))[ww2.ravel()],
            "on_hand": on_hand.ravel(),
        }
    )
    last = slice(n_w - 4, n_w)
    q = units[:, last].sum(axis=1).astype(np.float64)
    latest_comp = r.prices[:, :, -1]  # each rival's latest price (the last week's)
    comp_ref = np.median(latest_comp, axis=0)
    shelf_sales = (units[:, last] * shelf[:, last]).sum(axis=1)
    demand = expected[:, last].mean(axis=1)
    rows = []
    for c in range(n_c):
        m = cat == c
        rows.append(
            {
                "competitor_effect": float(r.gamma[m][0]),
                "price_index": float(shelf_sales[m].sum() / (q[m] * comp_ref[m]).sum()),
                "demand_per_week": float(demand[m].sum()),
                "weeks_of_cover": float(on_hand[m, -1].sum() / demand[m].sum()),
            }
        )
    return comp, inv, pd.DataFrame(rows)


def _lines(
    units: np.ndarray,
    paid: np.ndarray,
    shelf: np.ndarray,
    cfg: DemandConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Split each product-week's units into lines of 1-3 units at random times of the week."""
    item, week = np.nonzero(units)
    u = units[item, week]
    # lines per cell: enough 1-3 unit chunks; draw sizes then trim the last one
    sizes = rng.integers(1, 4, size=(len(u), int(u.max()) if len(u) else 1))
    cum = np.cumsum(sizes, axis=1)
    keep = np.concatenate([np.zeros((len(u), 1), bool), cum[:, :-1] < u[:, None]], axis=1)
    keep[:, 0] = True
    q = np.where(cum <= u[:, None], sizes, sizes - (cum - u[:, None]))
    rows, cols = np.nonzero(keep & (q > 0))
    qty = q[rows, cols].astype(np.float64)
    it, wk = item[rows], week[rows]
    start = pd.Timestamp(cfg.start)
    secs = rng.uniform(0, 7 * 86400 - 1, len(qty))
    secs[np.argmax(wk)] = 6 * 86400 + 20 * 3600  # the last week ends on its last day
    secs[np.argmin(wk)] = 8 * 3600  # the first week starts on its first day
    ts = start + pd.to_timedelta(wk * 7 * 86400 + secs, unit="s")
    amount = np.round(qty * paid[it, wk], 2)
    discount = np.round(qty * (shelf[it, wk] - paid[it, wk]), 2)
    n = len(qty)
    order = np.arange(n)
    return pd.DataFrame(
        {
            "customer_id": np.char.add("c", rng.integers(0, cfg.n_customers, n).astype(str)),
            "order_id": np.char.add("o", order.astype(str)),
            "item": it,
            "ts": ts.floor("s"),
            "quantity": qty,
            "amount": amount,
            "discount": discount,
        }
    )

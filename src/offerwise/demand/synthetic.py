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

    def write(self, out: str) -> None:
        """Write the four tables as Parquet into folder ``out`` (created)."""
        from pathlib import Path

        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        for name in ("customers", "products", "transactions", "offers"):
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
    mu = np.exp(
        a[:, None]
        + d[cat]
        + beta[:, None] * np.log(paid / shelf0[:, None])
        + rng.normal(0.0, cfg.noise, paid.shape)
    )
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
    return DemandMarket(customers, products, transactions, offers, truth, as_of)


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

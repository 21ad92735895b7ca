"""Drawing a whole market (:func:`simulate`), its result (:class:`SimulatedMarket`) and writing it
as a contract data directory plus the truth (:func:`write_market`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise._io import FolderKind, atomic_dir
from offerwise._version import __version__
from offerwise.errors import InputError
from offerwise.simulator.config import CATEGORIES, SimulatorConfig
from offerwise.simulator.confounding import draw_in_market, in_market_orders
from offerwise.simulator.exposures import _campaign_period, _exposures, _order_lines
from offerwise.simulator.population import (
    _customer_ids,
    _customers,
    _draw_traits,
    _history,
    _offers_frame,
    _products,
    _strings,
)
from offerwise.simulator.response import _response_types, _Truth, _truth_arrays, _truth_frame
from offerwise.simulator.templates import history_scopes, scope_key, with_scopes
from offerwise.simulator.truth import (
    oracle_value,
    true_policy_value,
    true_policy_value_per_exposure,
)
from offerwise.vocab import NO_OFFER

SIMULATOR_VERSION = 1
#: The shop folder's simulation settings; it marks the folder as a simulated shop, which a
#: later ``simulate --out`` may replace.
META_FILE = "simulator.json"
#: A simulated shop folder (``simulator.json`` marks one written before ``.offerwise`` existed).
SHOP_OUTPUT = FolderKind("simulated shop", (META_FILE,))


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
    ``exposure_truth``: per exposure row (same order), customer_id, ts, offer_id, the exact
    ``propensity`` (also when the exposures do not record it) and ``in_market`` (the latent state
    that ``confounded`` logging targets; False under the other policies).
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
    exposure_truth: pd.DataFrame | None = field(default=None, repr=False)

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


def simulate(config: SimulatorConfig | None = None, **overrides: object) -> SimulatedMarket:
    """Draw a market. ``simulate(n_customers=1000, seed=1)`` is shorthand for a config.

    Customers, history and truth depend only on the seed and the customer-side settings, so the same
    seed with ``logging='random'``, ``'legacy'`` and ``'confounded'`` gives the same customers and
    truth (and the same history before the last 30 days of it).
    """
    if config is None:
        config = SimulatorConfig(**overrides)  # type: ignore[arg-type]
    elif overrides:
        raise InputError("simulate: pass either a SimulatorConfig or keyword overrides, not both")
    cfg = config
    ss = np.random.SeedSequence(cfg.seed)
    r_traits, r_products, r_hist, r_cust, r_exp, r_win = (
        np.random.default_rng(x) for x in ss.spawn(6)
    )
    t = _draw_traits(cfg, r_traits)
    products = _products(r_products, cfg.margin_rate)
    tx, snap = _history(t, cfg, r_hist, products)
    t.update(history_scopes(cfg, tx, products))  # template offers: the history's top categories
    customers = _customers(t, cfg, r_cust)
    tr = _truth_arrays(t, cfg)
    action_ids = [NO_OFFER] + [o.offer_id for o in cfg.offers]
    ids = _customer_ids(cfg.n_customers)
    truth = _truth_frame(ids, action_ids, tr, cfg.margin_rate)
    net = cfg.margin_rate * tr.p * tr.gross - tr.p * tr.discount
    im = None
    if cfg.logging == "confounded":  # a 7th stream: the first six are those of the other policies
        r_conf = np.random.default_rng(ss.spawn(1)[0])
        im = draw_in_market(t, cfg, r_conf)
    exposures, probs, window = _exposures(t, tr, snap, cfg, r_exp, action_ids, im)
    parts = [tx, _campaign_period(t, tr, cfg, r_win, products, window)]
    if im is not None:
        cust, orders, ts = in_market_orders(cfg, r_conf, im, window.slot, window.secs)
        parts.append(_order_lines(t, products, r_conf, ids, cust, orders, ts, "M"))
    tx = pd.concat(parts, ignore_index=True)
    m, pick = len(exposures), pd.Index(action_ids).get_indexer(exposures["offer_id"])
    exposure_truth = pd.DataFrame(
        {
            "customer_id": exposures["customer_id"],
            "ts": exposures["ts"],
            "offer_id": exposures["offer_id"],
            "propensity": probs.to_numpy()[np.arange(m), pick],
            "in_market": im.state[window.slot] if im is not None else np.zeros(m, dtype=bool),
        }
    )
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
        cfg,
        customers,
        products,
        tx,
        _offers_frame(cfg),
        exposures,
        truth,
        latent,
        probs,
        _MarketState(t, tr),
        exposure_truth,
    )


def instantiated_truth(market: SimulatedMarket, concrete: pd.DataFrame) -> pd.DataFrame:
    """The market's truth with its template offers (``rec:N``) scoped to the categories of
    ``concrete`` (customer_id, offer_id, category: e.g. a plan's instantiation,
    :func:`offerwise.data.templates.instantiate`) instead of the market's own; the rows of a
    customer without a category for a template are dropped (not eligible)."""
    if market.state is None:
        raise InputError("instantiated_truth: the market has no in-memory state (re-simulate it)")
    cfg = market.config
    ids = pd.Index(market.latent["customer_id"].astype(str))
    t = with_scopes(market.state.traits, concrete, ids)
    action_ids = [NO_OFFER] + [o.offer_id for o in cfg.offers]
    truth = _truth_frame(
        _customer_ids(cfg.n_customers), action_ids, _truth_arrays(t, cfg), cfg.margin_rate
    )
    keep = np.ones(len(truth), dtype=bool)
    for o in cfg.offers:
        key = scope_key(o.offer_id)
        if key in t:
            none = np.repeat(t[key] < 0, len(action_ids))
            keep &= ~(none & (truth["offer_id"] == o.offer_id).to_numpy())
    return truth[keep].reset_index(drop=True)


def write_market(market: SimulatedMarket, out_dir: str | Path) -> Path:
    """Write the market atomically: contract tables, ``truth``, ``latent``, ``exposure_truth``
    (Parquet), ``simulator.json``."""
    out = Path(out_dir)
    extra = {"truth": market.truth, "latent": market.latent}
    if market.exposure_truth is not None:
        extra["exposure_truth"] = market.exposure_truth
    with atomic_dir(out, SHOP_OUTPUT) as tmp:
        for name, df in {**market.tables(), **extra}.items():
            if name in ("exposures", "exposure_truth") and not len(df):
                continue  # a shop that never logged offers has no exposures table (contract)
            df.to_parquet(tmp / f"{name}.parquet", index=False)
        meta = {
            "generator": "offerwise.simulator",
            "simulator_version": SIMULATOR_VERSION,
            "offerwise_version": __version__,
            "seed": market.config.seed,
            "config": market.config.to_dict(),
            "rows": {k: len(v) for k, v in market.tables().items()} | {"truth": len(market.truth)},
            "summary": market_summary(market),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
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

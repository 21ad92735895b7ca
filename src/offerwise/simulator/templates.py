"""Recommendation-scoped template offers (``category = "rec:N"``) in the simulated market.

A template percent_off offer acts as the same offer scoped to one category per customer; the
existing category response applies to it (:func:`~offerwise.simulator.response._offer_terms`:
customers move in proportion to their preference share there). The category of customer ``i``
for template offer ``k`` is ``t["scope:<offer_id>"][i]`` (an index into ``CATEGORIES``; -1: the
customer has none, so the offer does nothing and costs nothing).

* :func:`history_scopes`: the market's own instantiation, used for the logged exposures and the
  default truth: categories ranked by the customer's spend over the purchase history (ties, and
  customers without history, by the shop's total spend) — the shop's past recommendations.
* :func:`with_scopes` (and :func:`~offerwise.simulator.market.instantiated_truth`): the truth
  of the templates at any other instantiation, such as
  the one a plan made from ``offerwise recommend`` (``offerwise.data.templates.instantiate``):
  plan values and the oracle are then measured on the categories actually offered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.data.templates import parse_scope
from offerwise.errors import InputError
from offerwise.simulator.config import CATEGORIES, OfferSpec, SimulatorConfig

__all__ = [
    "category_index",
    "category_share",
    "history_scopes",
    "scope_key",
    "template_offers",
    "with_scopes",
]


def scope_key(offer_id: str) -> str:
    """The key of a template offer's (n,) category indices in the traits dict."""
    return f"scope:{offer_id}"


def template_offers(cfg: SimulatorConfig) -> dict[str, int]:
    """The template offers of the menu and the rank each is instantiated at (a range ``N..M``
    at its best rank N: every simulated customer has a full ranking of the categories)."""
    out: dict[str, int] = {}
    for o in cfg.offers:
        scope = parse_scope(o.category, o.offer_id)
        if scope is not None:
            out[o.offer_id] = scope.first
    return out


def category_index(o: OfferSpec, t: dict[str, np.ndarray]) -> np.ndarray | int | None:
    """The category of ``o``: an index, per-customer indices (template; -1 none) or None
    (site-wide)."""
    if o.category is None:
        return None
    key = scope_key(o.offer_id)
    return t[key] if key in t else CATEGORIES.index(o.category)


def category_share(o: OfferSpec, t: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """(len(rows),) preference share of customers ``rows`` in ``o``'s category (1: site-wide;
    0: a template without a category for the customer)."""
    idx = category_index(o, t)
    if idx is None:
        return np.ones(len(rows))
    if isinstance(idx, int):
        return np.asarray(t["pref"][rows, idx], dtype=np.float64)
    c = np.asarray(idx)[rows]
    return np.where(c >= 0, t["pref"][rows, np.maximum(c, 0)], 0.0)


def history_scopes(
    cfg: SimulatorConfig, tx: pd.DataFrame, products: pd.DataFrame
) -> dict[str, np.ndarray]:
    """``scope:<offer_id>`` -> (n,) category index of every template offer, ranked by the
    customer's spend in ``tx`` (ties and customers without purchases: by the shop's spend)."""
    ranks = template_offers(cfg)
    if not ranks:
        return {}
    n, c = cfg.n_customers, len(CATEGORIES)
    cat_of = pd.Series(
        pd.Index(CATEGORIES).get_indexer(products["category"].astype(str)),
        index=products["product_id"].astype(str),
    )
    cust = tx["customer_id"].astype(str).str[1:].astype(np.int64).to_numpy() - 1
    cat = cat_of.reindex(tx["product_id"].astype(str)).to_numpy()
    spend = np.zeros((n, c))
    np.add.at(spend, (cust, cat), tx["amount"].to_numpy(dtype=np.float64))
    shop = spend.sum(axis=0)
    tie = shop / max(float(shop.max()), 1e-12) * 1e-6  # the shop's order behind the customer's
    order = np.argsort(-(spend / np.maximum(spend.sum(1, keepdims=True), 1e-12) + tie), axis=1)
    return {scope_key(o): order[:, r - 1].astype(np.int64) for o, r in ranks.items()}


def with_scopes(
    t: dict[str, np.ndarray], concrete: pd.DataFrame, customer_ids: pd.Index
) -> dict[str, np.ndarray]:
    """Traits ``t`` with the template categories of ``concrete`` (customer_id, offer_id,
    category; a missing category = not eligible) in place of the market's own."""
    out = dict(t)
    cidx = pd.Index(CATEGORIES)
    for oid, part in concrete.groupby(concrete["offer_id"].astype(str)):
        key = scope_key(str(oid))
        if key not in t:
            raise InputError(f"instantiated truth: offer '{oid}' is not a template of the market")
        rows = customer_ids.get_indexer(part["customer_id"].astype(str))
        cats = part["category"].astype("string")
        idx = np.where(cats.isna(), -1, cidx.get_indexer(cats.fillna("")))
        arr = np.full(len(customer_ids), -1, dtype=np.int64)
        arr[rows[rows >= 0]] = idx[rows >= 0]
        out[key] = arr
    return out

"""What a margin target (rules ``[margin]``) counts, and how the plan's margin is checked.

* :func:`offer_terms` / :func:`with_terms`: the discount cost the target counts comes from what
  fixes it per unit of revenue, not from the model's per-customer cost
  (:func:`offerwise.policy.margin.terms_cost`): a ``percent_off`` offer's terms (depth x the
  share of the order it applies to), else the offer's realised cost per unit of revenue on the
  logged exposures. A plan that meets a target by picking the customers the model believes
  cheapest selects the model's cost errors with them (seed 5 of ``benchmarks/bench_margin.py``
  at 27 %: the plan's ``fresh20`` customers cost 1.39x what the model said, and its true margin
  fell 0.5 points short); the terms and the offer's average cannot be selected that way.
* :func:`margin_check`: the plan's margin at each offer's realised cost per unit of revenue on
  the logged exposures (for every offer, percent_off included)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.data.templates import is_template
from offerwise.features.columns import CATEGORY_SHARE_PREFIX
from offerwise.features.model_inputs import category_share_features
from offerwise.policy.margin import (
    margin_terms,
    plan_margin,
    price_cut_offers,
    realised_cost_ratios,
    share_prior,
    shrink_share,
    terms_cost,
)
from offerwise.policy.plan import PlanResult, ScoreArrays
from offerwise.policy.rules import MarginRule

__all__ = [
    "OfferTerms",
    "customer_margin_meets",
    "logged_cost_ratios",
    "margin_check",
    "menu_terms",
    "offer_terms",
    "with_terms",
]


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """``depth`` (K,) of each ``percent_off`` offer of ``offer_ids`` (NaN for other kinds and
    templates) and ``share`` (n, K): the share of customer i's gross sales offer k applies to —
    1 site-wide, the customer's share of spend in the scoped category over the feature window
    (NaN: no spend in the window), pulled towards the category's mean by how few orders it rests
    on (:func:`~offerwise.policy.margin.shrink_share`; ``prior``: category -> (μ, τ²));
    ``ratio`` (K,): each offer's realised discount cost per unit of revenue on the logged
    exposures (NaN: fewer than 30 with revenue, or no exposures)."""

    customer_ids: pd.Index
    offer_ids: list[str]
    depth: np.ndarray
    share: np.ndarray
    ratio: np.ndarray
    prior: dict[str, tuple[float, float]] = field(default_factory=dict)


def menu_terms(
    offers: pd.DataFrame | None, offer_ids: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, list[int]]]:
    """Of each of the K ``offer_ids``: ``depth`` (K,) (NaN unless a ``percent_off`` offer with a
    depth in (0, 1) and not a template), ``site`` (K,) bool (such an offer without a category),
    and the columns of those scoped to each category."""
    K = len(offer_ids)
    depth, site = np.full(K, np.nan), np.zeros(K, dtype=bool)
    scoped: dict[str, list[int]] = {}
    if offers is None or "kind" not in offers or "value" not in offers:
        return depth, site, scoped
    menu = offers.astype({"offer_id": str}).drop_duplicates("offer_id").set_index("offer_id")
    for j, oid in enumerate(offer_ids):
        if oid not in menu.index or str(menu.at[oid, "kind"]) != "percent_off":
            continue
        d = float(pd.to_numeric(menu.at[oid, "value"], errors="coerce"))
        cat = menu.at[oid, "category"] if "category" in menu else None
        if not 0.0 < d < 1.0 or is_template(cat):
            continue
        depth[j] = d
        if cat is None or pd.isna(cat) or str(cat) == "":
            site[j] = True
        else:
            scoped.setdefault(str(cat), []).append(j)
    return depth, site, scoped


def offer_terms(
    ds: DataSet,
    offers: pd.DataFrame | None,
    arr: ScoreArrays,
    as_of: datetime | pd.Timestamp,
    settings: Settings,
    orders: pd.Series | None = None,
) -> OfferTerms | None:
    """The :class:`OfferTerms` of ``arr``'s customers and offers; None without an offers table.
    ``orders``: customer_id -> orders in the feature window (the profile's ``frequency``), what
    each share rests on (None: shares as observed)."""
    if offers is None or "kind" not in offers or "value" not in offers:
        return None
    n, K = arr.shape
    depth, site, scoped = menu_terms(offers, arr.offer_ids)
    share = np.full((n, K), np.nan)
    share[:, site] = 1.0
    ids = pd.Index(arr.customer_ids.astype(str))
    prior: dict[str, tuple[float, float]] = {}
    if scoped:
        cut = pd.DataFrame({"customer_id": ids, "as_of": as_of})
        cut["as_of"] = pd.to_datetime(cut["as_of"])
        sh = category_share_features(ds, cut, list(scoped), settings.feature_window_days)
        sh = sh.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)
        o = None
        if orders is not None:
            o = pd.to_numeric(orders.set_axis(orders.index.astype(str)).reindex(ids))
        for c, cols in scoped.items():
            col = f"{CATEGORY_SHARE_PREFIX}{c}"
            v = sh[col].to_numpy(np.float64) if col in sh else np.full(n, np.nan)
            if o is not None:
                prior[c] = share_prior(v, o.to_numpy(np.float64))
                v = shrink_share(v, o.to_numpy(np.float64), *prior[c])
            share[:, cols] = v[:, None]
    ratio = logged_cost_ratios(ds, arr.offer_ids)
    return OfferTerms(ids, list(arr.offer_ids), depth, share, ratio, prior)


def customer_margin_meets(
    columns: list[str],
    X: np.ndarray,
    revenue: np.ndarray,
    cost: np.ndarray,
    offer_ids: list[str],
    rule: MarginRule,
    margin_rate: float,
    offers: pd.DataFrame | None,
    ratios: dict[str, float],
    prior: dict[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    """(n, K) whether each offer's own expected margin for each customer meets ``rule`` (the
    per-customer margin target), for customers the plan does not list: the same costs as the
    plan's (:func:`offer_terms`), the category shares read from the model's feature matrix ``X``
    (n, p) with ``columns`` (``category_share={c}``; no spend in the window, ``monetary`` 0: the
    model's cost), shrunk by ``prior`` (category -> (μ, τ²)) over the ``frequency`` column's
    orders, ``ratios`` the plan's logged cost ratios per offer."""
    n, K = revenue.shape
    depth, site, scoped = menu_terms(offers, offer_ids)
    share = np.full((n, K), np.nan)
    share[:, site] = 1.0
    col = {c: i for i, c in enumerate(columns)}
    spent = X[:, col["monetary"]] > 0 if "monetary" in col else np.ones(n, dtype=bool)
    orders = X[:, col["frequency"]] if "frequency" in col else None
    for c, cols in scoped.items():
        i = col.get(f"{CATEGORY_SHARE_PREFIX}{c}")
        if i is not None:
            v = np.where(spent, X[:, i], np.nan)
            if orders is not None and prior and c in prior:
                v = shrink_share(v, orders, *prior[c])
            share[:, cols] = v[:, None]
    ratio = np.array([ratios.get(o, np.nan) for o in offer_ids], dtype=np.float64)
    mc = terms_cost(revenue, cost, depth, share, ratio)
    mt = margin_terms(revenue, cost, mc, offer_ids, rule, margin_rate, offers)
    return np.asarray(mt.meets & np.isfinite(mt.a), dtype=bool)


def logged_cost_ratios(ds: DataSet, offer_ids: list[str]) -> np.ndarray:
    """(K,) :func:`~offerwise.policy.margin.realised_cost_ratios` of the data's exposures,
    weighted by 1 / propensity where logged (all NaN without exposures)."""
    if not ds.has("exposures"):
        return np.full(len(offer_ids), np.nan)
    ex = ds.con.execute("SELECT offer_id, revenue, discount_cost, propensity FROM exposures").df()
    p = pd.to_numeric(ex["propensity"], errors="coerce").fillna(1.0).to_numpy(np.float64)
    return realised_cost_ratios(
        ex["offer_id"].astype(str).to_numpy(),
        ex["revenue"].to_numpy(np.float64),
        ex["discount_cost"].to_numpy(np.float64),
        1.0 / p,
        offer_ids,
    )


def with_terms(arr: ScoreArrays, terms: OfferTerms | None) -> ScoreArrays:
    """``arr`` with ``margin_cost`` from ``terms`` (rows and columns matched by id; customers or
    offers ``terms`` does not know keep the model's cost); unchanged without terms or revenue."""
    if terms is None or arr.revenue is None:
        return arr
    rows = terms.customer_ids.get_indexer(pd.Index(arr.customer_ids.astype(str)))
    col_of = {o: j for j, o in enumerate(terms.offer_ids)}
    cols = np.array([col_of.get(o, -1) for o in arr.offer_ids], dtype=np.int64)
    share = np.full(arr.shape, np.nan)
    depth = np.full(arr.shape[1], np.nan)
    ratio = np.full(arr.shape[1], np.nan)
    okc = cols >= 0
    depth[okc] = terms.depth[cols[okc]]
    ratio[okc] = terms.ratio[cols[okc]]
    okr = rows >= 0
    share[np.ix_(okr, okc)] = terms.share[np.ix_(rows[okr], cols[okc])]
    mc = terms_cost(arr.revenue, arr.cost, depth, share, ratio)
    return replace(arr, margin_cost=mc)


def margin_check(
    ds: DataSet,
    res: PlanResult,
    rate: float,
    offers: pd.DataFrame | None,
    ratio: np.ndarray | None = None,
) -> dict[str, object] | None:
    """With a margin target: the plan's margin if each offer cost what it did on the logged
    exposures per unit of revenue (``realised_cost_ratios``, weighted by 1 / propensity where
    logged) instead of the model's per-customer costs. Below the target: the plan meets it only
    by the model picking customers it believes cheaper than their offer's average, an estimate
    to check with the holdout. None without a target, revenue or exposures."""
    arr = res.arrays
    if res.margin is None or arr is None or arr.revenue is None or not ds.has("exposures"):
        return None
    if ratio is None:  # (K,) of res.offer_ids; the plan's terms have read them already
        ratio = logged_cost_ratios(ds, res.offer_ids)
    kinds = None if offers is None else dict(zip(offers["offer_id"], offers["kind"], strict=True))
    cut = price_cut_offers(res.offer_ids, kinds)
    known = np.isfinite(ratio)
    choice = np.where(
        (res.assignment >= 0) & known[np.maximum(res.assignment, 0)], res.assignment, -1
    )
    at = plan_margin(choice, arr.revenue, np.nan_to_num(ratio)[None, :] * arr.revenue, rate, cut)
    return {
        "realised_cost_ratio": {
            o: float(r) for o, r in zip(res.offer_ids, ratio) if np.isfinite(r)
        },
        "at_realised_ratios": at,
        "target": res.margin.target,
        "below_target": bool(np.isfinite(at) and at < res.margin.target),
        "customers_checked": int((choice >= 0).sum()),
    }

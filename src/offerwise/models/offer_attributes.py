"""Offers as attributes: a response model that sees what an offer *is*, so it can score an offer
with few or no logged exposures (flagged ``extrapolated``).

An offer's attribute row for customer i (:data:`ATTRIBUTE_NAMES`, m columns):

* ``offer_kind=<k>``: one indicator per kind of :data:`~offerwise.vocab.OFFER_KINDS`;
* ``offer_percent``: the percent-off depth (fraction; 0 for other kinds);
* ``offer_amount``: the currency value of the other kinds (0 for percent-off);
* ``offer_depth_share``: the discount as a share of the customer's typical basket: percent x the
  customer's spend share in the offer's category (1 site-wide) for percent-off, amount /
  ``avg_basket`` otherwise (NaN without a basket);
* ``offer_min_spend`` and ``offer_threshold_ratio`` = min_spend / ``avg_basket``;
* ``offer_scoped`` (0/1) and ``offer_scope_share`` (the customer's share in the scope, 1
  site-wide, NaN for a recommendation template);
* ``offer_duration_days`` (``ends - starts``; NaN when the menu does not say).

The control (``none``) row is all zeros. The model (:func:`fit_attribute_model`) mirrors the
pooled ``ptb`` learner with attributes in place of the offer one-hot:
``logit P(conv | x, none) = b(x) + r0(x)``, ``logit P(conv | x, o) = b(x) + r1(x, a(x, o))``,
and the order's gross sales (before discounts), gross profit and discount cost given conversion
are regressions on ``[x, a]`` over the converted rows of every arm. Monotone constraints hold where
the economics are certain: a deeper discount (``offer_percent``, ``offer_amount``,
``offer_depth_share``) does not lower conversion and costs at least as much. A percent-off's cost
is accounting, not a guess: ``gross sales x depth x share`` (the customer's category share where
scoped), which also holds for a depth deeper than any the logs show (trees do not extrapolate);
other kinds take the cost regression. Net profit given conversion = gross profit - cost, revenue
= gross sales - cost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offerwise.features.columns import CATEGORY_SHARE_PREFIX
from offerwise.models.metalearners import fit_booster, fit_booster_scored, predict_booster
from offerwise.vocab import NO_OFFER, OFFER_KINDS, REC_SCOPE_PREFIX

if TYPE_CHECKING:  # pragma: no cover
    import lightgbm as lgb

__all__ = [
    "ATTRIBUTE_NAMES",
    "ATTR_PREFIX",
    "AttributeScores",
    "OfferSpec",
    "attribute_matrix",
    "fit_attribute_model",
    "offer_specs",
    "predict_attribute_model",
]

ATTRIBUTE_NAMES: tuple[str, ...] = (
    *(f"offer_kind={k}" for k in OFFER_KINDS),
    "offer_percent",
    "offer_amount",
    "offer_depth_share",
    "offer_min_spend",
    "offer_threshold_ratio",
    "offer_scoped",
    "offer_scope_share",
    "offer_duration_days",
)
#: attributes along which a deeper discount converts at least as well and costs at least as much
MONOTONE_UP = ("offer_percent", "offer_amount", "offer_depth_share")
#: booster name prefix of the attribute model in a saved model
ATTR_PREFIX = "attr/"
_RESIDUAL_LEAVES = 7
_VALUE_TARGETS = ("gross_sales", "gross_profit", "cost")


@dataclass(frozen=True, slots=True)
class OfferSpec:
    """One menu offer's structure: ``kind`` (an :data:`OFFER_KINDS` value), ``value`` (a fraction
    for percent-off, currency otherwise), ``min_spend`` (currency), ``category`` (scope; None =
    site-wide), ``duration_days`` (NaN = unknown)."""

    offer_id: str
    kind: str
    value: float
    min_spend: float = 0.0
    category: str | None = None
    duration_days: float = math.nan

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (NaN duration as None)."""
        d = asdict(self)
        if not math.isfinite(self.duration_days):
            d["duration_days"] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OfferSpec:
        """Inverse of :meth:`to_dict`."""
        dur = d.get("duration_days")
        return cls(
            offer_id=str(d["offer_id"]),
            kind=str(d["kind"]),
            value=float(d["value"]),
            min_spend=float(d.get("min_spend") or 0.0),
            category=None if d.get("category") in (None, "") else str(d["category"]),
            duration_days=math.nan if dur is None else float(dur),
        )


def _text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip()
    return s or None


def offer_specs(offers: pd.DataFrame) -> list[OfferSpec]:
    """The menu ``offers`` (contract table: offer_id, kind, value, optional min_spend, category,
    starts, ends) as specs, ``none`` left out."""
    out: list[OfferSpec] = []
    for row in offers.to_dict("records"):
        oid = str(row["offer_id"])
        if oid == NO_OFFER:
            continue
        dur = math.nan
        starts, ends = row.get("starts"), row.get("ends")
        if _text(starts) and _text(ends):
            delta = pd.Timestamp(str(ends)) - pd.Timestamp(str(starts))
            dur = delta.total_seconds() / 86400.0
        ms = row.get("min_spend")
        out.append(
            OfferSpec(
                offer_id=oid,
                kind=str(row.get("kind") or ""),
                value=float(row.get("value") or 0.0),
                min_spend=0.0 if ms is None or pd.isna(ms) else float(ms),
                category=_text(row.get("category")),
                duration_days=dur,
            )
        )
    return out


def attribute_matrix(
    X: np.ndarray, feature_names: list[str] | None, spec: OfferSpec | None
) -> np.ndarray:
    """(n, m) attribute rows of offer ``spec`` for the n customers of ``X`` (n, p), whose columns
    are ``feature_names`` (``avg_basket`` and ``category_share=<c>`` are read when present);
    ``spec`` None = the control (zeros)."""
    n = len(X)
    A = np.zeros((n, len(ATTRIBUTE_NAMES)))
    if spec is None:
        return A
    col = {c: i for i, c in enumerate(feature_names or [])}
    j = {a: i for i, a in enumerate(ATTRIBUTE_NAMES)}
    if spec.kind in OFFER_KINDS:
        A[:, j[f"offer_kind={spec.kind}"]] = 1.0
    basket = X[:, col["avg_basket"]] if "avg_basket" in col else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_basket = np.where(basket > 0, 1.0 / basket, np.nan)
    if spec.category is None:
        share = np.ones(n)
    elif spec.category.startswith(REC_SCOPE_PREFIX):
        share = np.full(n, np.nan)
    else:
        i = col.get(f"{CATEGORY_SHARE_PREFIX}{spec.category}")
        share = X[:, i] if i is not None else np.full(n, np.nan)
    if spec.kind == "percent_off":
        A[:, j["offer_percent"]] = spec.value
        A[:, j["offer_depth_share"]] = spec.value * share
    else:
        A[:, j["offer_amount"]] = spec.value
        A[:, j["offer_depth_share"]] = spec.value * per_basket
    A[:, j["offer_min_spend"]] = spec.min_spend
    A[:, j["offer_threshold_ratio"]] = spec.min_spend * per_basket
    A[:, j["offer_scoped"]] = float(spec.category is not None)
    A[:, j["offer_scope_share"]] = share
    A[:, j["offer_duration_days"]] = spec.duration_days
    return A


def _monotone(p: int) -> list[int]:
    return [0] * p + [1 if a in MONOTONE_UP else 0 for a in ATTRIBUTE_NAMES]


def fit_attribute_model(
    X: np.ndarray,
    action: np.ndarray,
    specs: list[OfferSpec | None],
    converted: np.ndarray,
    gross_sales: np.ndarray,
    gross_profit: np.ndarray,
    cost: np.ndarray,
    *,
    feature_names: list[str] | None,
    params: dict[str, Any],
    n_estimators: int,
) -> dict[str, lgb.Booster]:
    """Boosters (``attr/conv_base``, ``attr/conv_r0``, ``attr/conv_r1``, ``attr/gross_sales``,
    ``attr/gross_profit``, ``attr/cost``) fitted on n exposures: ``X`` (n, p), ``action`` (n,) codes
    into ``specs`` (code 0 = control, ``specs[0]`` None), outcomes (n,) each in currency except
    ``converted`` (0/1). ``params``: LightGBM parameters
    (:func:`~offerwise.models.metalearners.lgb_params`), seeded."""
    p = X.shape[1]
    A = np.zeros((len(X), len(ATTRIBUTE_NAMES)))
    for k, spec in enumerate(specs):
        rows = action == k
        if spec is not None and rows.any():
            A[rows] = attribute_matrix(X[rows], feature_names, spec)
    Z = np.hstack([X, A])
    ctrl = action == 0
    mono = _monotone(p)
    seed = int(params.get("seed", 0))
    out: dict[str, lgb.Booster] = {}
    base_p = dict(params, objective="binary", seed=seed + 901)
    base, raw = fit_booster_scored(
        X, converted, base_p, n_estimators, int(params.get("num_threads", 2))
    )
    out[f"{ATTR_PREFIX}conv_base"] = base
    rounds = max(20, n_estimators // 3)
    for j, (name, rows, inputs, mc) in enumerate(
        (("conv_r0", ctrl, X[ctrl], None), ("conv_r1", ~ctrl, Z[~ctrl], mono))
    ):
        rp = dict(params, objective="binary", seed=seed + 902 + j, num_leaves=_RESIDUAL_LEAVES)
        if mc is not None:
            rp["monotone_constraints"] = mc
        out[f"{ATTR_PREFIX}{name}"] = fit_booster(
            inputs, converted[rows], rp, rounds, init_score=raw[rows]
        )
    bought = converted > 0
    targets = (gross_sales, gross_profit, cost)
    for j, (name, y) in enumerate(zip(_VALUE_TARGETS, targets, strict=True)):
        vp = dict(params, objective="regression", seed=seed + 910 + j)
        if name == "cost":
            vp["monotone_constraints"] = mono
        out[f"{ATTR_PREFIX}{name}"] = fit_booster(Z[bought], y[bought], vp, n_estimators)
    return out


@dataclass(slots=True)
class AttributeScores:
    """The attribute model's view of one offer for n customers, each (n,): ``dconv`` the
    conversion uplift, ``value``/``value_none`` net profit given conversion under the offer and
    none, ``cost`` discount cost given conversion (>= 0), ``revenue``/``revenue_none`` revenue
    given conversion."""

    dconv: np.ndarray
    value: np.ndarray
    value_none: np.ndarray
    cost: np.ndarray
    revenue: np.ndarray
    revenue_none: np.ndarray


def predict_attribute_model(
    boosters: dict[str, lgb.Booster],
    X: np.ndarray,
    feature_names: list[str] | None,
    specs: list[OfferSpec],
    n_jobs: int = 2,
) -> list[AttributeScores]:
    """:class:`AttributeScores` of each offer in ``specs`` for the n rows of ``X`` (n, p)."""
    from scipy.special import expit

    def b(name: str, inputs: np.ndarray, raw: bool = False) -> np.ndarray:
        return predict_booster(boosters[f"{ATTR_PREFIX}{name}"], inputs, n_jobs, raw=raw)

    base = b("conv_base", X, raw=True)
    q0 = expit(base + b("conv_r0", X, raw=True))
    Z0 = np.hstack([X, attribute_matrix(X, feature_names, None)])
    g0, gp0 = b("gross_sales", Z0), b("gross_profit", Z0)
    j = {a: i for i, a in enumerate(ATTRIBUTE_NAMES)}["offer_depth_share"]
    out = []
    for spec in specs:
        A = attribute_matrix(X, feature_names, spec)
        Zk = np.hstack([X, A])
        gk = np.maximum(b("gross_sales", Zk), 0.0)
        cost = np.maximum(b("cost", Zk), 0.0)
        if spec.kind == "percent_off":  # accounting: the discount is depth x share of the basket
            ds = A[:, j]
            cost = np.where(np.isfinite(ds), gk * np.clip(ds, 0.0, 1.0), cost)
        out.append(
            AttributeScores(
                dconv=expit(base + b("conv_r1", Zk, raw=True)) - q0,
                value=b("gross_profit", Zk) - cost,
                value_none=gp0,
                cost=cost,
                revenue=gk - cost,
                revenue_none=g0,
            )
        )
    return out

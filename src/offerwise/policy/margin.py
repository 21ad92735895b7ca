"""A margin target as a side constraint of the allocation (rules ``margin.target``).

The campaign's expected gross margin after discounts, over the offered customers' expected
orders, with gross profit = ``rate`` × gross sales and gross sales = revenue + the part of the
discount that lowered the price (all of it for a price cut; none for free shipping or a gift,
which leave the order's revenue as it was)::

    margin = Σ_offered (rate·(R + s·C) − C) / Σ_offered R  >= target
    ⇔      Σ_ik a[i,k] x[i,k] >= 0,   a = (rate − target)·R − (1 − s·rate)·C

R (n, K): expected revenue with the offer, C (n, K): its expected discount cost (currency),
s (K,): 1 for an offer whose discount cuts the price, 0 otherwise (:func:`price_cut_offers`). The
constraint is linear, so the allocation enforces it with one more Lagrange multiplier μ >= 0: it
maximises ``V + μ·a`` under its other constraints, μ found by bisection on Σ a x, keeping the
feasible end of the bracket (the plan returned always meets the target in expectation; no offer
at all meets it trivially). :func:`offerwise.policy.lp.solve_lp` takes the same row (``side``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from offerwise.errors import ConfigError
from offerwise.policy.allocation import Allocation
from offerwise.policy.rules import MarginRule

__all__ = [
    "NOT_PRICE_CUTS",
    "MarginResult",
    "margin_coefficients",
    "price_cut_offers",
    "MarginTerms",
    "margin_terms",
    "realised_cost_ratios",
    "share_prior",
    "shrink_share",
    "terms_cost",
    "margin_result",
    "plan_margin",
    "fill_slack",
    "solve_with_margin",
]


#: Offer kinds whose discount does not lower the order's price (revenue stays; gross = revenue).
NOT_PRICE_CUTS = frozenset({"free_shipping", "gift"})


def price_cut_offers(offer_ids: list[str], kinds: dict[str, str] | None) -> np.ndarray:
    """(K,) 1.0 where the offer's discount cuts the price (unknown kind: assumed), 0.0 for
    :data:`NOT_PRICE_CUTS` kinds."""
    kinds = kinds or {}
    return np.array([0.0 if kinds.get(o) in NOT_PRICE_CUTS else 1.0 for o in offer_ids])


def _s(cut: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape[-1]) if cut is None else np.asarray(cut, np.float64)


def margin_coefficients(
    revenue: np.ndarray,
    cost: np.ndarray,
    rate: float,
    target: float,
    cut: np.ndarray | None = None,
) -> np.ndarray:
    """(n, K) ``a = (rate − target)·R − (1 − s·rate)·C``: an offer's contribution to the margin
    constraint ``Σ a x >= 0`` (currency); ``cut`` (K,) = s (None: every offer a price cut)."""
    R, C = np.asarray(revenue, np.float64), np.asarray(cost, np.float64)
    return (rate - target) * R - (1.0 - _s(cut, R.shape)[None, :] * rate) * C


def plan_margin(
    choice: np.ndarray,
    revenue: np.ndarray,
    cost: np.ndarray,
    rate: float,
    cut: np.ndarray | None = None,
) -> float:
    """Expected gross margin after discounts of the customers with an offer (``choice`` (n,)
    index into the K offers, < 0 none): ``Σ (rate·(R + s·C) − C) / Σ R``; NaN with no offer."""
    rows = np.flatnonzero(choice >= 0)
    if len(rows) == 0:
        return float("nan")
    k = choice[rows]
    r, c, s = revenue[rows, k], cost[rows, k], _s(cut, revenue.shape)[k]
    rev = float(r.sum())
    return float((rate * (r + s * c) - c).sum() / rev) if rev > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class MarginResult:
    """How the margin target shaped the plan: ``target`` and ``rate``; ``expected`` the plan's
    expected margin (NaN: no offer), ``unconstrained`` the margin and ``unconstrained_value`` the
    objective of the plan without the target, ``value`` the plan's objective (currency), ``mu``
    the constraint's price (0: the target did not bind) and ``side`` = Σ a x (currency, >= 0)."""

    target: float
    rate: float
    expected: float
    unconstrained: float
    value: float
    unconstrained_value: float
    mu: float
    side: float
    per: str = "campaign"

    @property
    def value_given_up(self) -> float:
        """The objective the target costs (currency, >= 0 up to the solver's tolerance)."""
        return self.unconstrained_value - self.value

    def to_dict(self) -> dict[str, float | str]:
        return {
            "target": self.target,
            "rate": self.rate,
            "expected": self.expected,
            "unconstrained": self.unconstrained,
            "value": self.value,
            "unconstrained_value": self.unconstrained_value,
            "value_given_up": self.value_given_up,
            "mu": self.mu,
            "per": self.per,
        }


@dataclass(frozen=True, slots=True)
class MarginTerms:
    """A margin rule compiled for one plan: ``cost`` (n, K) the discount cost it counts,
    ``a`` (n, K) each offer's contribution to ``Σ a x >= 0`` (:func:`margin_coefficients`),
    ``meets`` (n, K) a >= 0 and R > 0 (the offer's own margin meets the target), ``rate``,
    ``cut`` (K,)."""

    cost: np.ndarray
    a: np.ndarray
    meets: np.ndarray
    rate: float
    cut: np.ndarray
    target: float
    per_customer: bool


def margin_terms(
    revenue: np.ndarray | None,
    cost: np.ndarray,
    margin_cost: np.ndarray | None,
    offer_ids: list[str],
    rule: MarginRule,
    margin_rate: float,
    offers: pd.DataFrame | None,
) -> MarginTerms:
    """Compile ``rule`` for the plan's (n, K) arrays; ``margin_cost`` (None: ``cost``) from
    :func:`terms_cost`; ``offers`` the menu (kinds: which offers cut the price)."""
    if revenue is None:
        raise ConfigError("rules: margin.target needs expected_revenue in the scores")
    rate = margin_rate if rule.rate is None else rule.rate
    kinds = None
    if offers is not None and "kind" in offers:
        kinds = dict(zip(offers["offer_id"].astype(str), offers["kind"].astype(str), strict=True))
    cut = price_cut_offers(offer_ids, kinds)
    mc = cost if margin_cost is None else margin_cost
    a = margin_coefficients(revenue, mc, rate, rule.target, cut)
    R = np.asarray(revenue, np.float64)
    tol = 1e-9 * np.maximum(np.abs(R), 1.0)
    # an order the model expects no revenue from has no margin to meet the target with
    meets = (a >= -tol) & (R > 0)
    return MarginTerms(mc, a, meets, rate, cut, rule.target, rule.per == "customer")


def _side(alloc: Allocation, a: np.ndarray) -> float:
    ch = np.asarray(alloc.choice, np.int64)
    rows = np.flatnonzero(ch >= 0)
    return float(a[rows, ch[rows]].sum())


def solve_with_margin(
    run: Callable[[np.ndarray], Allocation],
    value: np.ndarray,
    a: np.ndarray,
    *,
    offset: float = 0.0,
    iterations: int = 40,
    cost: np.ndarray | None = None,
    budget: float | None = None,
    eligible: np.ndarray | None = None,
) -> tuple[Allocation, float, Allocation]:
    """Allocate under ``Σ a x + offset >= 0``: ``run(values)`` allocates with the other
    constraints fixed; returns (the allocation, its μ, the allocation without the target).

    ``offset``: the side of rows decided outside ``run`` (e.g. the exploration draw's offers).
    Bisection on μ over [0, μ_hi], μ_hi doubled from 1 until the side holds; the allocation
    returned is the feasible end's (the side holds), within ``iterations`` halvings of μ. With
    ``cost``, ``budget`` and ``eligible`` (n, K) (only the budget binds besides the target), the
    slack the feasible end leaves is then filled (:func:`fill_slack`).
    """
    free = run(value)
    if _side(free, a) + offset >= 0:
        return free, 0.0, free
    lo, hi = 0.0, 1.0
    best = run(value + hi * a)
    while _side(best, a) + offset < 0 and hi < 1e9:
        lo, hi = hi, hi * 4.0
        best = run(value + hi * a)
    for _ in range(iterations):
        if hi - lo <= 1e-6 * max(hi, 1e-9):
            break
        mid = 0.5 * (lo + hi)
        got = run(value + mid * a)
        if _side(got, a) + offset >= 0:
            hi, best = mid, got
        else:
            lo = mid
    if cost is not None and budget is not None and eligible is not None:
        best = fill_slack(best, value, a, cost, eligible, budget=budget, offset=offset)
    return best, hi, free


def fill_slack(
    feasible: Allocation,
    value: np.ndarray,
    a: np.ndarray,
    cost: np.ndarray,
    eligible: np.ndarray,
    *,
    budget: float,
    offset: float = 0.0,
) -> Allocation:
    """``feasible`` (``Σ a x + offset >= 0``) improved by moving customers to another eligible
    offer (or none) worth more ``value``, greedily by value gained per unit of the side used, at
    most one move per customer, while the side holds and the cost stays within ``budget``. At the
    bisection's feasible end every such move uses side (otherwise μ's allocation would have made
    it); the slack it leaves is what the LP relaxation fills with a fractional customer."""
    ch = np.asarray(feasible.choice, np.int64).copy()
    n, k = value.shape
    rows = np.arange(n)
    on = ch >= 0
    cur_v = np.where(on, value[rows, np.maximum(ch, 0)], 0.0)
    cur_a = np.where(on, a[rows, np.maximum(ch, 0)], 0.0)
    cur_c = np.where(on, cost[rows, np.maximum(ch, 0)], 0.0)
    # moves to offer j (columns 0..k-1) or to none (column k)
    dv = np.column_stack([value, np.zeros(n)]) - cur_v[:, None]
    da = np.column_stack([a, np.zeros(n)]) - cur_a[:, None]
    dc = np.column_stack([cost, np.zeros(n)]) - cur_c[:, None]
    ok = np.column_stack([eligible, np.ones(n, bool)]) & (dv > 1e-12)
    ok[rows, np.where(on, ch, k)] = False
    ri, cj = np.nonzero(ok)
    if len(ri) == 0:
        return feasible
    side = float(cur_a.sum()) + offset
    spent = float(cur_c.sum())
    ratio = dv[ri, cj] / np.maximum(-da[ri, cj], 1e-12)
    moved = np.zeros(n, bool)
    for m in np.argsort(-ratio, kind="stable"):
        i, j = ri[m], cj[m]
        if moved[i] or side + da[i, j] < 0 or spent + dc[i, j] > budget * (1 + 1e-12):
            continue
        ch[i] = j if j < k else -1
        side += float(da[i, j])
        spent += float(dc[i, j])
        moved[i] = True
    if not moved.any():
        return feasible
    idx = np.flatnonzero(ch >= 0)
    return replace(
        feasible,
        choice=ch.astype(feasible.choice.dtype),
        value=float(value[idx, ch[idx]].sum()),
        cost=spent,
        n_treated=int(len(idx)),
        count_by_offer=np.bincount(ch[idx], minlength=k).astype(np.int64),
        spend_by_offer=np.bincount(ch[idx], weights=cost[idx, ch[idx]], minlength=k),
        value_by_offer=np.bincount(ch[idx], weights=value[idx, ch[idx]], minlength=k),
    )


def share_prior(
    share: np.ndarray, orders: np.ndarray, *, min_rows: int = 30
) -> tuple[float, float]:
    """(μ, τ²): mean and variance of customers' true category shares, from their observed shares
    ``share`` (n,) over ``orders`` (n,) orders each. Method of moments for binomial noise around
    a share p: ``Var(observed) = τ² + (μ(1 − μ) − τ²)·mean(1/orders)``. NaN with fewer than
    ``min_rows`` customers with orders."""
    s, o = np.asarray(share, np.float64), np.asarray(orders, np.float64)
    ok = np.isfinite(s) & np.isfinite(o) & (o > 0)
    if ok.sum() < min_rows:
        return float("nan"), float("nan")
    mu = float(s[ok].mean())
    m = float(np.mean(1.0 / o[ok]))
    tau2 = (float(s[ok].var()) - mu * (1.0 - mu) * m) / max(1.0 - m, 1e-9)
    return mu, float(np.clip(tau2, 1e-6, mu * (1.0 - mu)))


def shrink_share(share: np.ndarray, orders: np.ndarray, mu: float, tau2: float) -> np.ndarray:
    """Observed shares (n,) pulled towards μ by their noise (empirical Bayes):
    ``w·share + (1 − w)·μ``, ``w = τ² / (τ² + (μ(1 − μ) − τ²)/orders)``; unchanged where μ or
    τ² is NaN, NaN where the share is (or orders <= 0)."""
    s, o = np.asarray(share, np.float64), np.asarray(orders, np.float64)
    if not (np.isfinite(mu) and np.isfinite(tau2)):
        return s
    noise = max(mu * (1.0 - mu) - tau2, 0.0) / np.where(o > 0, o, np.nan)
    w = tau2 / (tau2 + noise)
    return np.where(np.isfinite(s) & (o > 0), w * s + (1.0 - w) * mu, np.nan)


def terms_cost(
    revenue: np.ndarray,
    cost: np.ndarray,
    depth: np.ndarray,
    share: np.ndarray,
    ratio: np.ndarray | None = None,
) -> np.ndarray:
    """(n, K) the discount cost the margin target counts, from what fixes it per unit of revenue
    rather than the model's per-customer cost (which a plan that seeks cheap customers selects
    for its errors):

    * ``percent_off`` of depth d (K,) on the share s (n, K) of the order's gross sales it applies
      to (1 site-wide; the customer's share of spend in the scoped category):
      ``C = R·d·s / (1 − d·s)`` (R is after the discount: R = G·(1 − d·s), C = G·d·s); with
      orders in the window that do not use the offer, an upper bound;
    * other offers with a realised ``ratio`` (K,) of cost to revenue on the logged exposures
      (:func:`realised_cost_ratios`): ``C = ratio·R``;
    * else (d and ratio NaN, or s NaN: no history) the model's ``cost``."""
    R = np.asarray(revenue, np.float64)
    C = np.asarray(cost, np.float64)
    ds = np.asarray(depth, np.float64)[None, :] * np.asarray(share, np.float64)
    ok = np.isfinite(ds) & (ds >= 0) & (ds < 1) & np.isfinite(R)
    bound = R * np.where(ok, ds, 0.0) / (1.0 - np.where(ok, ds, 0.0))
    out = np.where(ok, bound, C)
    if ratio is not None:
        r = np.asarray(ratio, np.float64)
        use = ~np.isfinite(np.asarray(depth, np.float64)) & np.isfinite(r)
        out[:, use] = (r[use][None, :] * R[:, use]).astype(np.float64)
    return out


def realised_cost_ratios(
    offer: np.ndarray,
    revenue: np.ndarray,
    cost: np.ndarray,
    weight: np.ndarray,
    offer_ids: list[str],
    *,
    min_rows: int = 30,
) -> np.ndarray:
    """(K,) each offer's realised discount cost per unit of revenue on logged exposures:
    ``Σ w·cost / Σ w·revenue`` over the exposures (n,) of ``offer`` k with revenue > 0 (``w``
    e.g. 1 / propensity); NaN with fewer than ``min_rows`` of them."""
    out = np.full(len(offer_ids), np.nan)
    for j, o in enumerate(offer_ids):
        m = (offer == o) & (revenue > 0)
        if m.sum() >= min_rows:
            out[j] = float((weight[m] * cost[m]).sum() / (weight[m] * revenue[m]).sum())
    return out


def margin_result(
    choice: np.ndarray,
    free_choice: np.ndarray,
    mu: float,
    *,
    value: np.ndarray,
    revenue: np.ndarray,
    cost: np.ndarray,
    rate: float,
    target: float,
    cut: np.ndarray | None = None,
    per: str = "campaign",
) -> MarginResult:
    """The :class:`MarginResult` of the plan ``choice`` (n,) (with the target) vs
    ``free_choice`` (without); both index the K offers, < 0 none."""

    def total(ch: np.ndarray, m: np.ndarray) -> float:
        rows = np.flatnonzero(ch >= 0)
        return float(m[rows, ch[rows]].sum())

    a = margin_coefficients(revenue, cost, rate, target, cut)
    return MarginResult(
        target=target,
        rate=rate,
        expected=plan_margin(choice, revenue, cost, rate, cut),
        unconstrained=plan_margin(free_choice, revenue, cost, rate, cut),
        value=total(choice, value),
        unconstrained_value=total(free_choice, value),
        mu=mu,
        side=total(choice, a),
        per=per,
    )

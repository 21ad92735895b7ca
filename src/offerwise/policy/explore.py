"""Exploration in a plan: a random share of the customers gets a uniformly random eligible arm, and
every row records the probability that the plan's randomization gave it its offer.

The plan is the mixture policy "with probability ``fraction`` a uniform draw over the customer's
eligible arms (``none`` and every offer the rules and the scores allow), else the planner's
choice". :func:`draw_explore` makes the draw; :func:`explore_usage` is what the draw spends
against the budget and the rules' caps (the allocation then runs on the rest);
:func:`plan_propensity` is each row's probability of its offer under the mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from offerwise.errors import InputError

__all__ = [
    "ExploreUsage",
    "draw_explore",
    "explore_share_within",
    "explore_usage",
    "plan_propensity",
    "redemption_costs",
]

#: Spawn key of the exploration's random stream (independent of the holdout's ``seed`` stream).
_EXPLORE_STREAM = 0xE8
_TOL = 1e-9


def _check_fraction(fraction: float) -> float:
    f = float(fraction)
    if not 0.0 <= f <= 1.0:
        raise InputError(f"explore fraction must be in [0, 1]; got {fraction}")
    return f


def draw_explore(
    mask: np.ndarray, candidates: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Who explores and what they get.

    ``mask`` (n, K) bool: the eligible offers of each row; ``candidates`` (n,) bool: the rows that
    may explore (not holdout). Each candidate explores with probability ``fraction``
    (independently; seeded by ``seed``); an explored row gets an arm drawn uniformly from ``none``
    and its eligible offers. Returns ``explored`` (n,) bool and ``arm`` (n,) int64 (offer index,
    -1 = none; -1 on rows that do not explore). The uniforms are drawn for every row, so with one
    seed the explored set of a smaller fraction is a subset of a larger one's.
    """
    f = _check_fraction(fraction)
    n = mask.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _EXPLORE_STREAM]))
    u, v = rng.random(n), rng.random(n)
    explored = np.asarray(candidates, dtype=bool) & (u < f)
    n_arms = 1 + mask.sum(axis=1)
    j = np.minimum((v * n_arms).astype(np.int64), n_arms - 1)  # 0 = none, j = j-th eligible offer
    arm = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(explored & (j > 0))
    if rows.size:
        arm[rows] = (np.cumsum(mask[rows], axis=1) < j[rows, None]).sum(axis=1)
    return explored, arm


@dataclass(frozen=True, slots=True)
class ExploreUsage:
    """What the explored rows spend: ``cost`` (total), ``count`` and ``spend`` per offer (K,),
    ``segment_spend`` per segment (S,)."""

    cost: float
    count: np.ndarray
    spend: np.ndarray
    segment_spend: np.ndarray


def _usage(arm: np.ndarray, cost: np.ndarray, segment: np.ndarray, n_segments: int) -> ExploreUsage:
    rows = np.flatnonzero(arm >= 0)
    c = cost[rows, arm[rows]]
    return ExploreUsage(
        float(c.sum()),
        np.bincount(arm[rows], minlength=cost.shape[1]).astype(np.float64),
        np.bincount(arm[rows], weights=c, minlength=cost.shape[1]),
        np.bincount(segment[rows], weights=c, minlength=n_segments),
    )


def explore_usage(
    arm: np.ndarray,
    cost: np.ndarray,
    segment: np.ndarray,
    segment_names: list[str],
    offer_names: list[str],
    *,
    fraction: float,
    budget: float,
    max_count: np.ndarray,
    max_spend: np.ndarray,
    segment_max_spend: np.ndarray,
) -> ExploreUsage:
    """The explored draw's spend, checked against the budget and the caps it must leave room in.

    Raises InputError when the explored rows alone cost more than the budget, or give an offer
    more often or for more than its cap, or spend more in a segment than its budget share: the
    draw is fixed before the allocation, so nothing could repair it without changing the logged
    probabilities. The message says how small an explore share fits.
    """
    use = _usage(arm, cost, segment, len(segment_names))
    per_unit = use.cost / fraction if fraction > 0 else 0.0  # spend per unit of explore share
    hint = f"; lower --explore (about {budget / per_unit:.3g} fits) or raise the budget"
    if use.cost > budget + _TOL:
        raise InputError(
            f"explore: the explored customers' offers cost {use.cost:,.2f} in expectation, more "
            f"than the budget {budget:,.2f}" + (hint if per_unit > 0 else "")
        )
    for what, used, cap, names in (
        ("max_count", use.count, max_count, offer_names),
        ("max_spend", use.spend, max_spend, offer_names),
        ("max_share", use.segment_spend, segment_max_spend, segment_names),
    ):
        over = np.flatnonzero(used > np.asarray(cap, dtype=np.float64) + _TOL)
        if over.size:
            k = int(over[0])
            where = "segments" if what == "max_share" else "offers"
            raise InputError(
                f"explore: the explored customers alone exceed rules {where}.{names[k]}."
                f"{what} ({used[k]:,.2f} > {float(cap[k]):,.2f}); lower --explore"
            )
    return use


def explore_share_within(
    mask: np.ndarray,
    candidates: np.ndarray,
    cost: np.ndarray,
    segment: np.ndarray,
    *,
    fraction: float,
    budget: float,
    max_count: np.ndarray,
    max_spend: np.ndarray,
    segment_max_spend: np.ndarray,
    z: float = 3.0,
    redemption_rate: float = 1.0,
) -> float:
    """The largest explore share f <= ``fraction`` whose draw stays within the budget and caps
    with a margin of ``z`` standard deviations, computed before the draw (so the share, and with
    it every logged propensity, does not depend on the draw).

    Each candidate explores with probability f and then spends C_i = ``cost[i, k]`` of an arm k
    drawn uniformly from ``none`` and its eligible offers (``mask`` (n, K)); a total
    S(f) = sum of B_i·g_i(arm) (the cost; per offer its count and spend; per segment its spend)
    has mean f·Σμ_i and variance Σ(f·s_i − f²·μ_i²), with μ_i, s_i the mean and second moment of
    g_i over the arms. f is the largest share (bisection, rounded down to 1e-4) with
    mean + z·sd <= limit for every total; a limit of +inf does not bind. With z = 3 the draw
    overshoots in about 1 of 700 plans, and :func:`explore_usage` then refuses it.

    ``redemption_rate`` r in (0, 1]: ``cost`` is each offer's *expected* cost, paid only by the
    offered customers who redeem, each with probability r (their full cost ``cost / r``): the
    spend totals' second moments are then s_i / r (a Bernoulli spend), their means unchanged; the
    counts of offers given do not depend on it.
    """
    f_max = _check_fraction(fraction)
    r = float(redemption_rate)
    if not 0.0 < r <= 1.0:
        raise InputError(f"the redemption rate must be in (0, 1]; got {redemption_rate}")
    m = np.asarray(mask, dtype=bool) & np.asarray(candidates, dtype=bool)[:, None]
    c = np.where(m, np.asarray(cost, dtype=np.float64), 0.0)
    n_arms = 1.0 + np.asarray(mask, dtype=bool).sum(axis=1)
    inv = np.where(np.asarray(candidates, dtype=bool), 1.0 / n_arms, 0.0)[:, None]
    seg = np.asarray(segment, dtype=np.int64)
    n_seg = len(segment_max_spend)
    # the totals: the cost, each offer's count and spend, each segment's spend; per row the mean
    # (mu) and second moment (s2) of its contribution over the arms, summed: a, b, and q = Σmu²
    row_cost, row_cost2 = (c * inv).sum(axis=1), (c * c * inv).sum(axis=1) / r
    cnt, spend = m * inv, c * inv

    def seg_sum(w: np.ndarray) -> np.ndarray:
        return np.bincount(seg, weights=w, minlength=n_seg)[:n_seg]

    a = np.concatenate([[row_cost.sum()], cnt.sum(0), spend.sum(0), seg_sum(row_cost)])
    b = np.concatenate([[row_cost2.sum()], cnt.sum(0), (c * spend).sum(0) / r, seg_sum(row_cost2)])
    q = np.concatenate(
        [[(row_cost**2).sum()], (cnt**2).sum(0), (spend**2).sum(0), seg_sum(row_cost**2)]
    )
    limit = np.concatenate(
        [
            [float(budget)],
            np.asarray(max_count, np.float64),
            np.asarray(max_spend, np.float64),
            np.asarray(segment_max_spend, np.float64),
        ]
    )

    def fits(f: float) -> bool:
        sd = np.sqrt(np.maximum(f * b - f * f * q, 0.0))
        return bool((f * a + float(z) * sd <= limit + _TOL).all())

    if fits(f_max):
        return f_max
    lo, hi = 0.0, f_max
    while hi - lo > 1e-5:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return math.floor(lo * 1e4) / 1e4  # a share people can read back: 0.1083, not 0.10839844


def redemption_costs(
    kind: list[str],
    value: np.ndarray,
    min_spend: np.ndarray,
    basket: np.ndarray,
    scope_share: np.ndarray,
) -> np.ndarray:
    """(n, K) what each offer costs if the customer redeems it once: the cost a plan without a
    model counts (every offered customer redeems).

    ``kind`` (K,) offer kinds; ``value`` (K,) the percent-off depth (fraction) or the currency
    value of the other kinds; ``min_spend`` (K,) currency; ``basket`` (n,) the customer's order
    value (currency); ``scope_share`` (n, K) the share of the order the offer applies to (1
    site-wide). percent-off: ``value · max(basket, min_spend) · share``; every other kind: its
    ``value`` (amount off, a threshold's amount, the shipping, gift or free item's value).
    """
    v = np.asarray(value, dtype=np.float64)[None, :]
    order = np.maximum(
        np.asarray(basket, dtype=np.float64)[:, None], np.asarray(min_spend, np.float64)[None, :]
    )
    pct = np.array([k == "percent_off" for k in kind], dtype=bool)[None, :]
    share = np.asarray(scope_share, dtype=np.float64)
    out: np.ndarray = np.where(pct, v * order * share, np.broadcast_to(v, share.shape))
    return out


def plan_propensity(
    assignment: np.ndarray,
    exploit_choice: np.ndarray,
    mask: np.ndarray,
    explored: np.ndarray,
    holdout: np.ndarray,
    fraction: float,
) -> np.ndarray:
    """(n,) probability of each row's offer under the mixture.

    ``assignment`` (n,) the row's offer (-1 none); ``exploit_choice`` (n,) what the planner gives
    (or would give) the row; ``mask`` (n, K) its eligible offers (``none`` is always an arm).
    P = fraction / (1 + number of eligible offers) + (1 − fraction) · [assignment = exploit choice]
    — for a row that exploits, ``(1 − fraction) + fraction / arms``. Holdout rows get 1: given
    that a customer is held out (a stratified draw before anything else), ``none`` is certain.
    """
    f = _check_fraction(fraction)
    n_arms = 1 + mask.sum(axis=1)
    same = np.asarray(assignment) == np.asarray(exploit_choice)
    p = f / n_arms + (1.0 - f) * same
    p = np.where(explored, p, (1.0 - f) + f / n_arms)
    return np.where(holdout, 1.0, p)

"""Exploration in a plan: a random share of the customers gets a uniformly random eligible arm, and
every row records the probability that the plan's randomization gave it its offer.

The plan is the mixture policy "with probability ``fraction`` a uniform draw over the customer's
eligible arms (``none`` and every offer the rules and the scores allow), else the planner's
choice". :func:`draw_explore` makes the draw; :func:`explore_usage` is what the draw spends
against the budget and the rules' caps (the allocation then runs on the rest);
:func:`plan_propensity` is each row's probability of its offer under the mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerwise.errors import InputError

__all__ = ["ExploreUsage", "draw_explore", "explore_usage", "plan_propensity"]

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

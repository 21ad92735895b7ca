"""The explore share a budget affords (:func:`explore_share_within`) and what an offer costs when
redeemed (:func:`redemption_costs`): the pieces of a plan made without a model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.policy.explore import (
    draw_explore,
    explore_share_within,
    explore_usage,
    redemption_costs,
)
from offerwise.policy.plan import ScoreArrays, solve_plan


def test_redemption_costs_follow_each_kind() -> None:
    cost = redemption_costs(
        ["percent_off", "percent_off", "amount_off", "free_shipping"],
        np.array([0.1, 0.2, 5.0, 4.95]),
        np.array([0.0, 50.0, 20.0, 0.0]),
        basket=np.array([30.0, 80.0]),
        scope_share=np.array([[1.0, 0.5, 1.0, 1.0], [1.0, 0.25, 1.0, 1.0]]),
    )
    # percent-off: depth x max(basket, min spend) x share; the others their value
    np.testing.assert_allclose(cost, [[3.0, 0.2 * 50 * 0.5, 5.0, 4.95], [8.0, 0.2 * 80 * 0.25, 5.0, 4.95]])


def _inputs(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, k)) < 0.7
    cost = rng.gamma(2.0, 3.0, (n, k))
    seg = rng.integers(0, 3, n)
    return mask, cost, seg


def _share(mask, cost, seg, budget, fraction=1.0, **caps):
    k = mask.shape[1]
    return explore_share_within(
        mask, np.ones(len(mask), bool), cost, seg, fraction=fraction, budget=budget,
        max_count=caps.get("max_count", np.full(k, np.inf)),
        max_spend=caps.get("max_spend", np.full(k, np.inf)),
        segment_max_spend=caps.get("segment_max_spend", np.full(3, np.inf)),
    )


def test_the_share_fits_the_budget_on_almost_every_draw_and_is_the_largest_that_does() -> None:
    mask, cost, seg = _inputs(4000, 5, 0)
    budget = 3000.0
    f = _share(mask, cost, seg, budget)
    assert 0 < f < 1
    spent = []
    for s in range(300):  # the share is fixed before the draw; the draws vary with the seed
        explored, arm = draw_explore(mask, np.ones(len(mask), bool), f, s)
        rows = np.flatnonzero(arm >= 0)
        spent.append(cost[rows, arm[rows]].sum())
    spent = np.array(spent)
    assert (spent <= budget).mean() >= 0.99
    # not needlessly small: the mean draw spends most of the budget (3 sd below it)
    assert 0.85 * budget < spent.mean() < budget
    # a larger share than the one returned would not keep the 3-sd margin
    assert _share(mask, cost, seg, budget, fraction=f) == f
    assert _share(mask, cost, seg, budget, fraction=min(1.0, f + 0.01)) == f


def test_an_assumed_redemption_rate_reaches_more_and_the_redeemed_spend_still_fits() -> None:
    """With ``redemption_rate`` r the costs are expected (r x the cost if redeemed) and each offered
    customer redeems with probability r: the share is larger than with every customer counted,
    and the redeemed spend of draws at that share stays within the budget (3-sd margin)."""
    mask, full, seg = _inputs(4000, 5, 0)
    budget, r = 3000.0, 0.4
    f_all = _share(mask, full, seg, budget)
    k = mask.shape[1]
    f = explore_share_within(
        mask, np.ones(len(mask), bool), r * full, seg, fraction=1.0, budget=budget,
        max_count=np.full(k, np.inf), max_spend=np.full(k, np.inf),
        segment_max_spend=np.full(3, np.inf), redemption_rate=r,
    )
    # ~1/r as many, less the wider Bernoulli margin (both shares are rounded down to 1e-4)
    assert 2.0 * f_all < f <= (f_all + 1e-4) / r
    rng = np.random.default_rng(5)
    spent = []
    for s in range(300):
        _, arm = draw_explore(mask, np.ones(len(mask), bool), f, s)
        rows = np.flatnonzero(arm >= 0)
        redeemed = rows[rng.random(len(rows)) < r]
        spent.append(full[redeemed, arm[redeemed]].sum())
    spent = np.array(spent)
    assert (spent <= budget).mean() >= 0.99
    assert 0.8 * budget < spent.mean() < budget
    # the same expected costs counted without the redemption draw's spread: a larger share
    f_naive = explore_share_within(
        mask, np.ones(len(mask), bool), r * full, seg, fraction=1.0, budget=budget,
        max_count=np.full(k, np.inf), max_spend=np.full(k, np.inf),
        segment_max_spend=np.full(3, np.inf),
    )
    assert f < f_naive
    with pytest.raises(InputError, match="redemption rate must be in"):
        explore_share_within(
            mask, np.ones(len(mask), bool), full, seg, fraction=1.0, budget=budget,
            max_count=np.full(k, np.inf), max_spend=np.full(k, np.inf),
            segment_max_spend=np.full(3, np.inf), redemption_rate=0.0,
        )


def test_the_share_is_capped_by_the_request_and_by_every_cap() -> None:
    mask, cost, seg = _inputs(2000, 4, 1)
    assert _share(mask, cost, seg, 1e9, fraction=0.3) == 0.3
    assert _share(mask, cost, seg, 1e9) == 1.0
    # an offer drawn at most 50 times: about 50 / (expected draws of it at share 1)
    per_offer = (mask / (1 + mask.sum(1, keepdims=True))).sum(0)
    f = _share(mask, cost, seg, 1e9, max_count=np.array([50.0, np.inf, np.inf, np.inf]))
    assert f < 50 / per_offer[0] and f > 0.5 * 50 / per_offer[0]
    f_seg = _share(mask, cost, seg, 1e9, segment_max_spend=np.array([np.inf, 500.0, np.inf]))
    assert 0 < f_seg < 1
    assert _share(mask, cost, seg, 0.0) == 0.0


def test_solve_plan_explores_what_the_budget_affords_and_logs_exact_propensities() -> None:
    mask, cost, seg = _inputs(3000, 4, 2)
    ids = pd.Index([f"c{i}" for i in range(3000)])
    offers = [f"o{k}" for k in range(4)]
    arrays = ScoreArrays(ids, offers, np.zeros_like(cost), np.zeros_like(cost), cost, mask)
    cust = pd.DataFrame({"customer_id": ids, "segment": np.array(["a", "b", "c"])[seg]})
    res = solve_plan(arrays, cust, 2500.0, holdout=0.1, seed=3, explore=1.0,
                     explore_within_budget=True)
    assert 0 < res.explore < 1 and res.total_cost <= 2500.0
    # nobody outside the draw is offered anything (no value to rank): their none is the draw's
    assert not (res.assignment[~res.explored] >= 0).any()
    arms = 1 + mask.sum(1)
    on = res.explored & (res.assignment >= 0)
    np.testing.assert_allclose(res.propensity[on], res.explore / arms[on])
    stay = ~res.explored & ~res.holdout
    np.testing.assert_allclose(res.propensity[stay], 1 - res.explore + res.explore / arms[stay])
    # the draw spent what explore_usage counts
    use = explore_usage(np.where(res.explored, res.assignment, -1), cost, seg, ["a", "b", "c"],
                        offers, fraction=res.explore, budget=2500.0, max_count=np.full(4, np.inf),
                        max_spend=np.full(4, np.inf), segment_max_spend=np.full(3, np.inf))
    assert use.cost == pytest.approx(res.total_cost)

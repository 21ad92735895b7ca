"""Whether a plan's checked exposures look drawn by their logged propensities (``plan_support``):
yes on randomized logs; no where the plan treats customers the logs held out, where it picks
customers by what their logged offer did, or where the propensities are wrong."""

from __future__ import annotations

import numpy as np

from offerwise.evaluation.plan_value import SUPPORT_TOLERANCE, plan_support


def _logs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n customers with 2 rounds each; arms 0..3 drawn uniformly (p = 1/4); a plan drawn
    independently of the logs (every arm was possible)."""
    rng = np.random.default_rng(seed)
    customer = np.repeat(np.arange(n), 2)
    action = rng.integers(0, 4, size=2 * n)
    pscore = np.full(2 * n, 0.25)
    plan = np.repeat(rng.integers(0, 4, size=n), 2)
    return customer, action, pscore, plan


def test_randomized_logs_bear_out_any_plan() -> None:
    for seed in range(5):
        s = plan_support(*_logs(3_000, seed))
        assert s is not None and not s.mismatch
        assert abs(s.offer - 1) < 4 * s.offer_se and abs(s.none - 1) < 4 * s.none_se
        assert 0 < s.offer_se < 0.1 and s.n_customers > 2_000


def test_a_plan_over_held_out_customers_is_flagged() -> None:
    """A third of the customers were held out (none, logged with probability 1): the plan's
    offers to them were never possible, so the offer's mass is about 2/3; with the marginal
    probabilities of the same draw nothing is flagged."""
    customer, action, pscore, plan = _logs(3_000, 7)
    plan = np.where(plan == 0, 1, plan)  # the plan offers something to everyone
    held = np.repeat(np.random.default_rng(8).random(3_000) < 1 / 3, 2)
    action = np.where(held, 0, action)
    pscore = np.where(held, 1.0, pscore)
    s = plan_support(customer, action, pscore, plan)
    assert s is not None and s.mismatch
    assert abs(s.offer - 2 / 3) < 0.08 and s.offer + 1.645 * s.offer_se < 1 - SUPPORT_TOLERANCE
    # held out w.p. 1/3, else uniform: P(none) = 1/3 + 2/3 * 1/4 = 1/2, P(offer k) = 1/6
    marginal = np.where(action == 0, 0.5, 1 / 6)
    full = plan_support(customer, action, marginal, plan)
    assert full is not None and not full.mismatch


def test_a_plan_that_follows_the_logged_offer_is_flagged() -> None:
    """Customers the logs gave an offer are treated by the plan more often (as a plan made on
    features that the logged offers changed would): the mass of none among them falls."""
    customer, action, pscore, _ = _logs(3_000, 3)
    got = action[::2] > 0  # an offer in the customer's first round
    rng = np.random.default_rng(4)
    treat = np.where(got, rng.random(3_000) < 0.9, rng.random(3_000) < 0.1)
    plan = np.repeat(np.where(treat, 1 + rng.integers(0, 3, size=3_000), 0), 2)
    s = plan_support(customer, action, pscore, plan)
    assert s is not None and s.mismatch and s.none + 1.645 * s.none_se < 1 - SUPPORT_TOLERANCE


def test_propensities_twice_too_small_are_flagged() -> None:
    customer, action, pscore, plan = _logs(3_000, 5)
    s = plan_support(customer, action, pscore / 2, plan)
    assert s is not None and s.mismatch and s.offer > 1.5


def test_no_treated_customer_means_nothing_to_state() -> None:
    customer, action, pscore, _ = _logs(100, 1)
    assert plan_support(customer, action, pscore, np.zeros_like(action)) is None


def test_too_few_customers_are_not_judged() -> None:
    """Halved propensities on 150 customers: the masses say so, but with so few customers the
    heavy tail of 1/p makes the test unreliable, so no mismatch is declared."""
    from offerwise.evaluation.plan_value import SUPPORT_MIN_CUSTOMERS

    customer, action, pscore, plan = _logs(150, 5)
    s = plan_support(customer, action, pscore / 2, plan)
    assert s is not None and s.offer > 1.5 and s.n_customers < SUPPORT_MIN_CUSTOMERS
    assert not s.mismatch

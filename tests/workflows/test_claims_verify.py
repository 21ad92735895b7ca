"""The experiment a plan prints to verify its profit: sized for what the held-out check vouches
for when the model's verdict is not ``ok``, never below a minimum holdout."""

from __future__ import annotations

import math

import pytest

from offerwise.evaluation.plan_value import PlanValueEstimate
from offerwise.evaluation.power import holdout_to_detect, minimum_detectable_effect
from offerwise.workflows.claims import (
    MIN_HOLDOUT_CUSTOMERS,
    verification_holdout,
    verify_target,
)


def _est(value: float, low: float, high: float) -> PlanValueEstimate:
    return PlanValueEstimate(
        method="dr", value=value, ci_low=low, ci_high=high, level=0.9, n_rounds=5_000,
        n_customers_logged=2_000, n_customers=2_500,
    )


def test_verified_plan_is_sized_for_its_expected_effect() -> None:
    target, basis = verify_target(5.0, _est(1_000.0, -500.0, 2_000.0), 1_000, verified=True)
    assert target == 5.0 and basis == "the expected effect"
    assert verify_target(-1.0, None, 1_000, verified=True)[0] is None


def test_unverified_plan_is_sized_for_the_checks_lower_end() -> None:
    # the model claims +23.6 per customer; the held-out check says 24,232 [11,325, 38,510] over
    # 1,729 treated customers (Complete Journey): the experiment is sized for +6.55, not +23.6
    target, basis = verify_target(23.63, _est(24_232.0, 11_325.0, 38_510.0), 1_729, verified=False)
    assert target == pytest.approx(11_325.0 / 1_729) and "lower end" in basis and "90%" in basis
    # interval includes 0: the check's point estimate
    target, basis = verify_target(23.63, _est(2_000.0, -100.0, 4_000.0), 1_000, verified=False)
    assert target == pytest.approx(2.0) and "includes 0" in basis
    # no positive estimate, or no check at all: nothing to size for
    assert verify_target(23.63, _est(-10.0, -900.0, 800.0), 1_000, verified=False)[0] is None
    assert verify_target(23.63, None, 1_000, verified=False)[0] is None


def test_verification_holdout_detects_its_target_with_at_least_the_minimum() -> None:
    sd, n = 24.0, 2_469
    f = verification_holdout(6.55, sd, n)
    assert f is not None and f * n >= MIN_HOLDOUT_CUSTOMERS - 1e-9
    # the share detects the target: its MDE is at most the target
    assert minimum_detectable_effect(sd, round((1 - f) * n), round(f * n)) <= 6.55 + 1e-6
    # an effect large enough for 8 customers still gets the minimum
    tiny = holdout_to_detect(23.63, sd, n)
    assert tiny is not None and tiny * n < 10
    assert verification_holdout(23.63, sd, n) == pytest.approx(MIN_HOLDOUT_CUSTOMERS / n)
    # where the power calculation alone asks for more than the minimum, it is kept
    big = verification_holdout(1.0, sd, 200_000)
    assert big == pytest.approx(holdout_to_detect(1.0, sd, 200_000))
    assert big * 200_000 > MIN_HOLDOUT_CUSTOMERS
    # not detectable at all, or nothing to detect
    assert verification_holdout(0.01, sd, 1_000) is None
    assert verification_holdout(None, sd, 1_000) is None
    assert verification_holdout(math.nan, sd, 1_000) is None


def test_exploration_advice_is_sized_for_the_effect() -> None:
    """An unverified plan's exploration advice: the share that detects the effect to verify, or
    that one round cannot; the model's own claim only as a lower bound of what is needed."""
    import numpy as np

    from offerwise.workflows.explore_claims import ExploreClaims, explore_advice, explore_target

    def ex(effect: float, share: float | None, at_least: bool = False) -> ExploreClaims:
        return ExploreClaims(customers=0.0, outcome_days=14, per_offer=0.0, none=0.0, n_offers=0,
                             mde=float("nan"), effect=effect, basis="the effect",
                             per_offer_needed=1234.0, share_to_detect=share, at_least=at_least)

    assert "--explore 0.2 " in explore_advice(None)  # nothing to size with: the default
    assert "--explore 0.2 " in explore_advice(ex(float("nan"), None))
    assert "--explore 0.13 (each offer then drawn for about 1,234" in explore_advice(ex(0.4, 0.121))
    assert "--explore 0.01 " in explore_advice(ex(0.4, 0.0004))  # never printed as 0.00
    assert "--explore 0.13 or more" in explore_advice(ex(0.4, 0.121, at_least=True))
    no = explore_advice(ex(0.4, None))
    assert "cannot detect the effect (+0.40 per customer)" in no and "1,234 explored" in no
    # the verifying effect when there is one; else the model's claim, flagged as a lower bound
    assert explore_target(0.3, "the check", 2.0) == (0.3, "the check", False)
    t, basis, at_least = explore_target(None, "no check", 2.0)
    assert t == 2.0 and at_least and "unverified" in basis
    assert explore_target(None, "no check", -1.0)[0] is None
    assert explore_target(None, "no check", float("nan"))[0] is None
    assert np.isnan(ex(float("nan"), None).effect)


def test_an_effect_near_zero_reads_as_such() -> None:
    """An effect below a cent keeps two significant digits (not "+0.00", which reads as none),
    and the customers it needs read as a size (an effect that rounded to +0.00 on a simulator
    market needed 6,626,174,914 explored customers per arm)."""
    from offerwise.workflows.explore_claims import (
        ExploreClaims,
        explore_advice,
        headcount,
        per_customer,
    )

    assert per_customer(0.4) == "+0.40" and per_customer(-0.004) == "-0.004"
    assert per_customer(0.000437) == "+0.00044" and per_customer(0.0) == "+0.00"
    assert headcount(1234.4) == "1,234" and headcount(999_999) == "999,999"
    assert headcount(1_250_000) == "1.2 million" and headcount(6_626_174_914) == "6.6 billion"
    assert headcount(float("inf")) == "unboundedly many"
    tiny = ExploreClaims(customers=1412.0, outcome_days=14, per_offer=176.0, none=176.0, n_offers=8,
                         mde=2.36, effect=0.000437, basis="the held-out check's estimate",
                         per_offer_needed=6_626_174_914.0, share_to_detect=None)
    note = tiny.note()
    assert "(+0.00044 per customer) needs about 6.6 billion explored customers per arm" in note
    assert "+0.00 " not in note and "6,626" not in note
    advice = explore_advice(tiny)
    assert "(+0.00044 per customer)" in advice and "about 6.6 billion explored" in advice
    # the holdout's sizing sentences write effects the same way
    from offerwise.workflows.claims import verify_target

    assert verify_target(-0.0004, None, 100, True) == (
        None, "the expected effect is -0.0004 per customer")
    assert verify_target(-0.4, None, 100, True)[1] == "the expected effect is -0.40 per customer"


def test_holdout_sentence_says_a_flagged_check_sizes_only_a_lower_bound() -> None:
    """Sized from a held-out check whose exposures do not bear it out for the plan's customers
    (support flagged, as on Complete Journey), the verifying holdout is a lower bound: the
    sentence says "at least" and why."""
    from offerwise.workflows.claims import SUPPORT_CAVEAT, holdout_sentence

    basis = "the lower end of the held-out check's 90% interval"
    plain = holdout_sentence(0.081, 2_469, basis, 9.69, at_least=False)
    assert plain == (
        "a random holdout of 8.1% (200 customers) detects the lower end of the held-out "
        "check's 90% interval (+9.69 per customer) with 80% power"
    )
    flagged = holdout_sentence(0.081, 2_469, basis, 9.69, at_least=True)
    assert flagged.startswith("a random holdout of at least 8.1% (200 customers) detects")
    assert flagged.endswith(SUPPORT_CAVEAT) and "true effect may be smaller" in flagged

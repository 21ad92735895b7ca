"""How many randomly explored customers a plan's exploration gives each offer, and the share of
customers whose exploration detects a given per-offer effect (checked by simulating draws)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from offerwise.errors import InputError
from offerwise.evaluation.power import (
    arm_draw_counts,
    explore_to_detect,
    minimum_detectable_effect,
    offer_mdes,
    per_arm_to_detect,
)
from offerwise.policy.explore import draw_explore


def test_arm_draw_counts_match_the_explore_draw() -> None:
    """The expected counts equal what draw_explore draws (members-only offer: fewer arms)."""
    rng = np.random.default_rng(0)
    n = 60_000
    elig = np.ones((n, 3), dtype=bool)
    elig[:, 2] = rng.random(n) < 0.3  # the third offer is open to 30 % of the customers
    expected = arm_draw_counts(elig)
    assert expected.sum() == pytest.approx(n)
    # everyone draws none with 1/3 or 1/4; the restricted offer is rarer than the others
    assert expected[3] < expected[1] == pytest.approx(expected[2])
    explored, arm = draw_explore(elig, np.ones(n, dtype=bool), 1.0, seed=3)
    drawn = np.bincount(arm + 1, minlength=4)
    assert np.allclose(drawn, expected, rtol=0.03)
    with pytest.raises(InputError):
        arm_draw_counts(np.ones(4, dtype=bool))


def test_offer_mdes_and_per_arm_need_agree() -> None:
    sd = 8.0
    n = per_arm_to_detect(0.5, sd)
    # with that many customers per arm, the difference detected is the effect
    assert minimum_detectable_effect(sd, round(n), round(n)) == pytest.approx(0.5, rel=1e-3)
    m = offer_mdes(sd, np.array([400.0, 400.0, 100.0, 0.0]))
    assert m[0] < m[1] and math.isnan(m[2])
    assert per_arm_to_detect(0.0, sd) == math.inf


def test_explore_share_detects_the_effect_at_the_median_offer() -> None:
    sd, n = 8.0, 40_000
    elig = np.ones((n, 4), dtype=bool)  # 4 offers + none: each arm gets n·F/5
    f = explore_to_detect(0.5, sd, elig)
    assert f is not None and 0 < f < 1
    per_arm = f * n / 5
    assert minimum_detectable_effect(sd, round(per_arm), round(per_arm)) == pytest.approx(
        0.5, rel=1e-3
    )
    # a smaller effect needs a quadratically larger share; one too small for every customer: None
    g = explore_to_detect(0.45, sd, elig)
    assert g == pytest.approx(f * (0.5 / 0.45) ** 2)
    assert explore_to_detect(0.1, sd, elig) is None
    # fewer offers on the menu: a smaller share suffices
    assert explore_to_detect(0.5, sd, elig[:, :2]) < f
    assert explore_to_detect(0.5, float("nan"), elig) is None
    assert explore_to_detect(0.5, sd, np.zeros((n, 4), dtype=bool)) is None


def test_offer_mdes_use_expected_counts_as_they_are() -> None:
    """Expected counts are not whole numbers: 1.5 rows are not counted as 1, so the MDE scales
    with the exploration share exactly (what explore_to_detect assumes)."""
    z = 1.959963984540054 + 0.8416212335729143
    got = offer_mdes(2.0, np.array([2.5, 1.5, 0.5]))
    assert got[0] == pytest.approx(z * 2.0 * math.sqrt(1 / 1.5 + 1 / 2.5))
    assert math.isnan(got[1])  # below one row
    counts = np.array([40.7, 13.3, 9.9])
    for f in (0.1, 0.37):
        assert offer_mdes(2.0, f * counts * 10) == pytest.approx(offer_mdes(2.0, counts * 10) / math.sqrt(f))

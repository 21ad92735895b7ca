"""What a round of exploration can teach (``offerwise plan --explore``): the explored customers
each offer gets, the difference from ``none`` they detect, and the share of customers that would
detect the effect worth learning — the arithmetic of :mod:`offerwise.evaluation.power` applied to
a plan (see docs/identification.md, "How much exploration can teach")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from offerwise.evaluation.power import (
    arm_draw_counts,
    explore_to_detect,
    median_offer_mde,
    per_arm_to_detect,
)
from offerwise.policy.plan import PlanResult

__all__ = [
    "ExploreClaims",
    "explore_advice",
    "explore_flag",
    "explore_sizing",
    "explore_target",
    "finite_or_none",
    "headcount",
    "per_customer",
]


def per_customer(x: float) -> str:
    """An effect per customer for people: two decimals, or two significant digits below a
    cent (``+0.0004``, not ``+0.00``, which reads as no effect)."""
    return f"{x:+,.2f}" if abs(x) >= 0.005 or x == 0 else f"{x:+.2g}"


def headcount(n: float) -> str:
    """A number of customers for people: ``12,345``; from a million on ``6.6 billion``."""
    if not math.isfinite(n):
        return "unboundedly many"
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:,.1f} {word}"
    return f"{n:,.0f}"


def finite_or_none(v: float) -> float | None:
    """``v`` as a float, None when not finite (JSON has no NaN)."""
    return float(v) if np.isfinite(v) else None


@dataclass(frozen=True, slots=True)
class ExploreClaims:
    """What a round of exploration can teach: per offer, the difference in net profit per
    customer (over ``outcome_days``) from ``none`` that the randomly drawn customers detect.

    ``customers``: expected explored customers of this plan (0 when it does not explore);
    ``per_offer`` / ``none``: expected explored customers per offer (median over the offers) and
    on ``none``; ``mde``: the median offer's minimum detectable difference from ``none`` (80 %
    power, 5 % level; NaN without exploration); ``effect`` / ``basis``: the effect per customer
    it is sized for (:func:`explore_target`; NaN: none); ``per_offer_needed``: explored
    customers per arm that detect it; ``share_to_detect``: the ``--explore`` share of these
    customers that would (None: no share of them can in one round)."""

    customers: float
    outcome_days: int
    per_offer: float
    none: float
    n_offers: int
    mde: float
    effect: float
    basis: str
    per_offer_needed: float
    share_to_detect: float | None
    #: the effect is an upper bound of the real one (the model's unverified claim): what it
    #: sizes is the least exploration that could detect the real effect
    at_least: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "customers": finite_or_none(self.customers),
            "outcome_days": self.outcome_days,
            "per_offer": finite_or_none(self.per_offer),
            "none": finite_or_none(self.none),
            "n_offers": self.n_offers,
            "mde_per_customer": finite_or_none(self.mde),
            "effect_per_customer": finite_or_none(self.effect),
            "basis": self.basis,
            "per_offer_needed": finite_or_none(self.per_offer_needed),
            "share_to_detect": self.share_to_detect,
            "at_least": self.at_least,
        }

    def note(self) -> str:
        """One sentence for people: what this round detects, and what would detect the effect."""
        head = ""
        if self.customers > 0:
            head = (
                f"about {self.customers:,.0f} customers drawn at random: about "
                f"{self.per_offer:,.0f} per offer ({self.none:,.0f} on none); a difference from "
                f"none is detectable from {self.mde:,.2f} net profit per customer (median offer, "
                f"80% power, {self.outcome_days} days)"
            )
        if not math.isfinite(self.effect):
            return head
        need = (
            f"{self.basis} ({per_customer(self.effect)} per customer) needs about "
            f"{headcount(self.per_offer_needed)} explored customers per arm"
        )
        if self.share_to_detect is None:
            tail = (
                f"{need}, more than one round of these customers gives: pool several randomized "
                "campaigns, explore fewer offers, or measure a longer window"
            )
        elif self.customers > 0 and self.mde <= self.effect:
            tail = f"enough for {self.basis} ({per_customer(self.effect)} per customer)"
        else:
            tail = (
                f"{need}: --explore {explore_flag(self.share_to_detect)}"
                f"{' or more' if self.at_least else ''} of these customers"
            )
        return f"{head}; {tail}" if head else tail


def explore_flag(share: float) -> str:
    """``share`` as an ``--explore`` value, rounded up to a hundredth (at least 0.01)."""
    return f"{max(math.ceil(share * 100 - 1e-9), 1) / 100:.2f}"


def explore_advice(ex: ExploreClaims | None) -> str:
    """The exploration an unverified plan should run so the next ``train`` learns: sized for the
    effect worth verifying when there is one (``ex.share_to_detect``), else the default 0.2."""
    if ex is None or not math.isfinite(ex.effect):
        return "plan with --explore 0.2 so the next `offerwise train` learns from randomized offers"
    if ex.share_to_detect is None:
        return (
            f"one round of exploration of these customers cannot detect {ex.basis} "
            f"({per_customer(ex.effect)} per customer) offer by offer (each offer needs about "
            f"{headcount(ex.per_offer_needed)} explored customers): pool several randomized "
            "campaigns (--explore in each), explore fewer offers, or measure a longer window "
            "before the next `offerwise train`"
        )
    return (
        f"plan with --explore {explore_flag(ex.share_to_detect)}"
        f"{' or more' if ex.at_least else ''} (each offer then drawn for "
        f"about {headcount(ex.per_offer_needed)} customers: enough to detect {ex.basis}) so the "
        "next `offerwise train` learns from randomized offers"
    )


def explore_target(target: float | None, basis: str, per: float) -> tuple[float | None, str, bool]:
    """The effect per customer exploration is sized for, where it comes from, and whether that is
    only a lower bound of what is needed: the verifying effect (the claims' ``verify_target``)
    when there is one, else the model's own expected effect ``per`` when positive — unverified,
    so what is real is likely smaller and the exploration it sizes the least that could detect
    it."""
    if target is not None:
        return target, basis, False
    if np.isfinite(per) and per > 0:
        return per, "even the model's own (unverified) expected effect", True
    return None, basis, False


def explore_sizing(
    res: PlanResult,
    sd: float,
    outcome_days: int,
    target: float | None,
    basis: str,
    at_least: bool = False,
) -> ExploreClaims | None:
    """:class:`ExploreClaims` of the plan ``res`` (its explored rows and the rules' eligibility of
    its non-holdout rows), with net profit per customer over ``outcome_days`` varying by ``sd``;
    None without a spread or an eligibility to size with."""
    elig = res.rules_eligible
    if elig is None or not (np.isfinite(sd) and sd > 0) or not elig.shape[1]:
        return None
    explored = np.zeros(len(res.holdout), dtype=bool) if res.explored is None else res.explored
    counts = arm_draw_counts(elig[explored])
    offered = counts[1:] > 0
    effect = math.nan if target is None or not target > 0 else float(target)
    return ExploreClaims(
        customers=float(counts.sum()),
        outcome_days=outcome_days,
        per_offer=float(np.median(counts[1:][offered])) if offered.any() else 0.0,
        none=float(counts[0]),
        n_offers=int(offered.sum()),
        mde=median_offer_mde(sd, counts),
        effect=effect,
        basis=basis,
        per_offer_needed=per_arm_to_detect(effect, sd) if math.isfinite(effect) else math.nan,
        share_to_detect=explore_to_detect(effect, sd, elig[~res.holdout])
        if math.isfinite(effect)
        else None,
        at_least=at_least,
    )

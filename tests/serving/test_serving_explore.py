"""Exploration inside the rules (issue #16 item 2): the service's ε draw serves only offers the
planner's rules allow the customer (the plan's ``eligible_offers``, written by the planner's own
eligibility), and the logged propensities are the draw's probabilities.

A property test over random rule sets: each is planned with ``make_plan``, loaded by the real
service (SQLite), and every customer asks for an offer with ε = 0.5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from offerwise.config import load_settings
from offerwise.serving import ServeSettings, create_api_key, create_app
from offerwise.serving.pricing import OfferTerms
from offerwise.serving.service import choose_offer, explore_arms
from offerwise.simulator import simulate, write_market
from offerwise.vocab import ELIGIBLE_SEP, NO_OFFER, SEGMENTS
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

EPS = 0.5
PERCENT = {"pct10": 0.10, "pct20": 0.20, "pct30": 0.30, "fresh20": 0.20}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve_explore")
    data = write_market(simulate(n_customers=800, n_exposures=2500, seed=8), root / "shop")
    train(data, root / "model", seed=8, settings=load_settings(threads=1, seed=8), tune_mode="off",
          n_estimators=20, learner="t")
    return {"root": root, "data": data, "model": root / "model"}


def random_rules(rng: np.random.Generator) -> tuple[str, dict[str, set[str]], dict[str, float]]:
    """A TOML rule set, its offer -> allowed segments, and segment -> maximum percent off."""
    offers = ["pct10", "pct20", "pct30", "amt5", "spend50save10", "freeship", "fresh20"]
    lines: list[str] = []
    allowed: dict[str, set[str]] = {}
    for o in rng.choice(offers, size=rng.integers(1, 4), replace=False):
        segs = set(rng.choice(SEGMENTS, size=rng.integers(1, 4), replace=False).tolist())
        allowed[str(o)] = segs
        lines += [f"[offers.{o}]", "segments = [" + ", ".join(f'"{s}"' for s in sorted(segs)) + "]"]
    depth: dict[str, float] = {}
    for s in rng.choice(SEGMENTS, size=rng.integers(0, 3), replace=False):
        depth[str(s)] = float(rng.choice([0.10, 0.20]))
        lines += [f"[segments.{s}]", f"max_percent_off = {depth[str(s)]}"]
    return "\n".join(lines) + "\n", allowed, depth


def _violates(offer: str, segment: str, allowed: dict[str, set[str]], depth: dict[str, float]) -> bool:
    if offer == NO_OFFER:
        return False
    if offer in allowed and segment not in allowed[offer]:
        return True
    return offer in PERCENT and segment in depth and PERCENT[offer] > depth[segment] + 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_exploration_never_serves_an_offer_the_rules_forbid(shop: dict[str, Path], seed: int) -> None:
    rng = np.random.default_rng(seed)
    text, allowed, depth = random_rules(rng)
    root = shop["root"] / f"r{seed}"
    root.mkdir()
    (root / "rules.toml").write_text(text)
    make_plan(shop["model"], shop["data"], 400.0, root / "plan.parquet", rules=root / "rules.toml",
              frontier=False, settings=load_settings(threads=1, seed=seed), overspend_risk=None,
              holdout=0.1)
    plan = pd.read_parquet(root / "plan.parquet")
    assert plan["eligible_offers"].notna().all()
    # the planner's eligibility obeys the rules (an independent reading of the two rule kinds)
    for elig, seg in zip(plan["eligible_offers"], plan["segment"], strict=True):
        assert not any(_violates(o, seg, allowed, depth) for o in elig.split(ELIGIBLE_SEP) if o)
    db = f"sqlite:///{root}/ow.db"
    s = ServeSettings(plan=root / "plan.parquet", model_dir=shop["model"], db_url=db, epsilon=EPS,
                      seed=seed, rate_per_s=1e6, rate_burst=1e6)
    with TestClient(create_app(s)) as client:
        key = {"X-API-Key": create_api_key(db, "pos", ["decide"])}
        got = [client.get(f"/v1/customers/{c}/offer", headers=key).json() for c in plan["customer_id"]]
    with TestClient(create_app(s)) as client:  # after a restart: every decision is written
        camp = client.get(f"/v1/campaigns/{got[0]['campaign_id']}",
                          headers={"X-API-Key": create_api_key(db, "adm", ["admin"])}).json()
    served = pd.DataFrame({
        "offer": [g["offer"]["offer_id"] if g["offer"] else NO_OFFER for g in got],
        "p": [g["propensity"] for g in got],
        "explored": [g["explored"] for g in got],
    })
    both = pd.concat([plan.reset_index(drop=True), served], axis=1)
    treat = both[both["group"] == "treatment"]
    assert treat["explored"].sum() > 50 and camp["epsilon"] == EPS
    assert camp["explored"] == int(treat["explored"].sum())
    # never an offer the rules forbid, and only the planner's eligible offers (or its choice)
    for r in treat.itertuples():
        ok = set(r.eligible_offers.split(ELIGIBLE_SEP)) | {NO_OFFER, r.offer_id}
        assert r.offer in ok, (r.customer_id, r.offer, r.eligible_offers)
        assert not _violates(r.offer, r.segment, allowed, depth)
    # exact propensities: K arms = none + the eligible offers (with the plan's choice)
    k = np.array([1 + len(set(e.split(ELIGIBLE_SEP)) - {""} | ({o} - {NO_OFFER}))
                  for e, o in zip(treat["eligible_offers"], treat["offer_id"], strict=True)])
    same = (treat["offer"] == treat["offer_id"]).to_numpy()
    want = np.where(same, (1 - EPS) + EPS / k, EPS / k)
    np.testing.assert_allclose(treat["p"].to_numpy(), want, rtol=1e-12)
    # ... and the empirical draw frequencies agree with them
    p_same = (1 - EPS) + EPS / k
    z = (same.sum() - p_same.sum()) / np.sqrt((p_same * (1 - p_same)).sum())
    assert abs(z) < 4, z
    assert (both.loc[both["group"] == "holdout", "offer"] == NO_OFFER).all()


def test_explore_arms_without_the_planners_eligibility() -> None:
    """A customer without a plan row (or an older plan): the active menu, members-only out."""
    menu = {
        "a": OfferTerms("a", "percent_off", 0.1),
        "m": OfferTerms("m", "percent_off", 0.2, members_only=True),
        "t": OfferTerms("t", "percent_off", 0.2, category="rec:1"),
    }
    assert explore_arms(menu, NO_OFFER, None, 0.0) == ["a"]
    assert explore_arms(menu, "m", None, 0.0) == ["a", "m"]
    assert explore_arms(menu, "a", "m|t", 0.0) == ["a", "m"]  # a template only as the choice
    assert explore_arms(menu, NO_OFFER, "", 0.0) == []
    offer, p, explored = choose_offer(NO_OFFER, [], 0.3, 0.1, 0.9)
    assert offer == NO_OFFER and p == 1.0 and explored

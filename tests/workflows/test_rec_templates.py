"""Recommendation-scoped offer templates through ``plan`` (issue #14): instantiation from a
recommendations file, the plan's ``category`` column, human output, and a rank beyond the list
refused (exit 2, nothing written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from offerwise.config import load_settings
from offerwise.simulator import OfferSpec, SimulatorConfig, simulate, write_market
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

MENU = (
    OfferSpec("pct20", "percent_off", 0.20),
    OfferSpec("fresh20", "percent_off", 0.20, category="fresh"),
    OfferSpec("rec1_20", "percent_off", 0.20, category="rec:1"),
    OfferSpec("rec23_20", "percent_off", 0.20, category="rec:2..3"),
)


def ow(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"OPENBLAS_NUM_THREADS": "1", "OFFERWISE_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small market whose menu has templates, its model and a k = 3 recommendations file."""
    root = tmp_path_factory.mktemp("templates")
    data = write_market(simulate(SimulatorConfig(n_customers=800, n_exposures=2500, seed=3,
                                                 offers=MENU)), root / "shop")
    settings = load_settings(threads=1, seed=3)
    train(data, root / "model", seed=3, settings=settings, tune_mode="off", n_estimators=40)
    r = ow("recommend", "--data", data, "--out", root / "recs.parquet", "--k", "3")
    assert r.returncode == 0, r.stderr
    return {"root": root, "data": data, "model": root / "model", "recs": root / "recs.parquet"}


def test_plan_instantiates_templates_from_the_recommendations(shop: dict[str, Path]) -> None:
    out = shop["root"] / "plan.parquet"
    run = make_plan(shop["model"], shop["data"], 300.0, out, recs=shop["recs"], frontier=False,
                    settings=load_settings(threads=1, seed=3), overspend_risk=None)
    assert run.templates is not None and run.templates.k == 3
    assert run.templates.to_dict()["templates"] == {"rec1_20": "rec:1", "rec23_20": "rec:2..3"}
    res = run.result
    assert res.categories is not None and res.arrays is not None
    recs = pd.read_parquet(shop["recs"]).set_index(["customer_id", "rank"])["item"]
    ids = res.arrays.customer_ids
    for offer, rank in (("rec1_20", 1), ("rec23_20", 2), ("fresh20", None), ("pct20", None)):
        j = res.arrays.offer_ids.index(offer)
        want = [None if rank is None else recs[(c, rank)] for c in ids]
        if offer == "fresh20":
            want = ["fresh"] * len(ids)
        assert res.categories[:, j].tolist() == want, offer
    plan = pd.read_parquet(out)  # the file carries the assigned offer's category
    assert list(plan.columns)[-3:] == ["category", "eligible_offers", "drivers"]
    j = {o: i for i, o in enumerate(res.arrays.offer_ids)}
    for cid, oid, cat in plan[["customer_id", "offer_id", "category"]].itertuples(index=False):
        row = ids.get_loc(cid)
        assert (None if pd.isna(cat) else cat) == (None if oid == "none" else res.categories[row, j[oid]])


def test_plan_human_output_names_the_templates(shop: dict[str, Path]) -> None:
    out = shop["root"] / "plan_cli.parquet"
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "300", "--out", out,
           "--recs", shop["recs"], "--no-frontier")
    assert r.returncode == 0, r.stderr
    assert "templates: rec1_20 = rec:1 (0 without); rec23_20 = rec:2..3 (0 without); " \
           f"recommendations {shop['recs']}, 3 ranks" in r.stdout.replace("\n", " ")
    assert "…" not in r.stdout


def test_template_beyond_the_recommended_ranks_exits_2_and_writes_nothing(
    shop: dict[str, Path]
) -> None:
    short = shop["root"] / "recs_k2.parquet"
    recs = pd.read_parquet(shop["recs"])
    recs[recs["rank"] <= 2].to_parquet(short, index=False)
    out = shop["root"] / "never.parquet"
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "300", "--out", out,
           "--recs", short)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "offer 'rec23_20' is scoped to rec:2..3, beyond the 2 ranks" in r.stderr.replace("\n", " ")
    assert not out.exists() and not list(shop["root"].glob("never*"))

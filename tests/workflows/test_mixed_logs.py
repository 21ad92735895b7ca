"""Mixed logs: a shop's targeted history (no propensities) merged with exposures that carry them
(offers served with exploration), as ``offerwise cycle`` writes them and a user merges them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.simulator import SimulatorConfig, simulate, write_market


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory):
    """A randomized market whose older 60 % of exposures lost their propensities."""
    mk = simulate(SimulatorConfig(n_customers=3000, n_exposures=9000, seed=5, logging="random"))
    d = write_market(mk, tmp_path_factory.mktemp("mixed") / "data")
    ex = pd.read_parquet(d / "exposures.parquet")
    cut = ex["ts"].quantile(0.6)
    ex["propensity"] = ex["propensity"].where(ex["ts"] > cut)
    ex.to_parquet(d / "exposures.parquet", index=False)
    return d, int(ex["propensity"].notna().sum()), len(ex)


def test_mixed_logs_train_and_plan_value_on_the_logged_rows(mixed_dir, tmp_path):
    from offerwise.cli import app

    d, n_logged, n = mixed_dir
    assert 200 < n_logged < n
    r = CliRunner()
    out = r.invoke(app, ["train", "--data", str(d), "--out", str(tmp_path / "m")])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "(logging: mixed)" in text and "the logged rows alone" in text
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    ident = card["identification"]
    assert ident["logging"] == "mixed" and ident["verdict"] != "ok"
    assert ident["logging_reason"].startswith(f"{n_logged:,} of {n:,} exposures")
    assert card["propensity"]["source"] == (
        f"logged on {n_logged:,} rows, estimated on {n - n_logged:,} (mixed logs)")
    assert card["tuning"]["propensities"].startswith(card["propensity"]["source"])
    assert "mixed" in (tmp_path / "m" / "model_card.md").read_text()

    plan = r.invoke(app, ["plan", "--model", str(tmp_path / "m"), "--data", str(d),
                          "--budget", "2000", "--out", str(tmp_path / "p.parquet")])
    assert plan.exit_code == 0, plan.output
    assert "exposures with logged propensities only (mixed logs" in " ".join(plan.output.split())
    claims = json.loads((tmp_path / "p.summary.json").read_text())["claims"]
    assert claims["verified"] is False and np.isfinite(claims["estimate"]["value"])
    assert "logged propensities only" in claims["estimate_note"]
    # the logged rows span about 17 days: the plan is re-made as of their first day's features
    first = pd.to_datetime(pd.read_parquet(d / "exposures.parquet").dropna(subset=["propensity"])["ts"]).min()
    assert f"re-made from the features as of {first.date()}" in claims["estimate_note"]
    assert f"as of {first.date()}" in " ".join(plan.output.split())
    # the logged rows carry the simulator's exact (uniform) propensities: no false alarm
    sup = claims["support"]
    assert sup is not None and not sup["mismatch"], sup
    assert "do not look drawn by their propensities" not in " ".join(plan.output.split())

    # the same logs with every logged propensity halved (a logging bug): the check says so
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in d.glob("*.parquet"):
        df = pd.read_parquet(f)
        if f.name == "exposures.parquet":
            df["propensity"] = df["propensity"] / 2
        df.to_parquet(bad / f.name, index=False)
    # (every positive gain and a large budget: the mismatch is judged on >= 200 treated customers)
    plan2 = r.invoke(app, ["plan", "--model", str(tmp_path / "m"), "--data", str(bad),
                           "--budget", "20000", "--min-gain", "off", "--holdout", "0.05",
                           "--out", str(tmp_path / "p2.parquet")])
    assert plan2.exit_code == 0, plan2.output
    sup2 = json.loads((tmp_path / "p2.summary.json").read_text())["claims"]["support"]
    assert sup2["mismatch"] and sup2["offer"] > 1.5, (sup2["n_customers"], sup2["mismatch"])
    text2 = " ".join(plan2.output.split())
    assert "do not look drawn by their propensities" in text2
    assert "the interval rests partly on the model" in text2

    ev = r.invoke(app, ["evaluate", "--decisions", str(tmp_path / "p.parquet"), "--data", str(d)])
    assert ev.exit_code == 0, ev.output
    text = " ".join(ev.output.split())
    assert f"the {n_logged:,} with logged propensities (mixed logs: {n - n_logged:,} observational" in text

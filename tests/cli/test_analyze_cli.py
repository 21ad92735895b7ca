"""`offerwise analyze` end to end on a simulated campaign: plan -> simulated run -> analysis.

The plan comes from the real planner on the simulator's true scores, the campaign's outcomes from
the simulator's response model, the analysis from the transactions a shop would have afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.policy.plan import solve_plan, write_plan
from offerwise.simulator import run_campaign, simulate, write_campaign_data

runner = CliRunner()


def _json(res) -> dict:  # noqa: ANN001
    out = res.stdout
    return json.loads(out[out.index("{"): out.rindex("}") + 1])


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("campaign")
    market = simulate(n_customers=6000, n_exposures=0, seed=5)
    scores = market.truth[market.truth["offer_id"] != "none"]
    segments = market.latent[["customer_id", "favourite_category"]].rename(
        columns={"favourite_category": "segment"})
    start = pd.Timestamp(market.config.start_date) + pd.Timedelta(days=market.config.history_days)
    res = solve_plan(scores, segments, 3000.0, holdout=0.3, seed=5, as_of=start)
    plan_path = root / "plan.parquet"
    write_plan(res, plan_path, campaign_id="c1")
    plan = pd.read_parquet(plan_path)
    run = run_campaign(market, plan, seed=11, start=start)
    data = write_campaign_data(market, run, root / "after")
    return {"root": root, "market": market, "plan": plan, "plan_path": plan_path, "run": run,
            "data": data, "start": start}


def test_run_campaign_draws_what_the_plan_says(campaign: dict) -> None:
    run, plan = campaign["run"], campaign["plan"]
    tx = run.transactions
    assert len(tx) > 0 and (tx["ts"] >= run.start).all() and (tx["ts"] < run.end).all()
    hold = set(plan.loc[plan["group"] == "holdout", "customer_id"])
    assert (tx.loc[tx["customer_id"].isin(hold), "discount"] == 0).all()  # holdout got no offer
    treated_with_offer = plan[(plan["group"] == "treatment") & (plan["offer_id"] != "none")]
    assert len(treated_with_offer) > 100
    assert tx.loc[tx["customer_id"].isin(set(treated_with_offer["customer_id"])), "discount"].sum() > 0
    assert run.n_holdout == len(hold) and run.n_treatment == len(plan) - len(hold)
    # holdout customers carry the offer they would have got
    held = plan[plan["group"] == "holdout"]
    assert (held["offer_id"] == "none").all() and (held["planned_offer_id"] != "none").mean() > 0.1
    # the campaign as logged exposures: every plan customer once, the arm served, the plan's
    # propensity (holdout rows: none, 1), converters are the customers with order lines
    ex = run.exposures.set_index("customer_id")
    assert len(ex) == len(plan) and (ex["ts"] == run.start).all()
    p = plan.set_index("customer_id")
    assert (ex["offer_id"] == p["offer_id"].reindex(ex.index)).all()
    assert (ex.loc[list(hold), "propensity"] == 1).all()
    assert set(ex.index[ex["converted"] == 1]) == set(tx["customer_id"])
    assert (ex["discount_cost"] <= ex["revenue"] + ex["discount_cost"]).all()


def test_analyze_cli_covers_the_true_lift(campaign: dict, tmp_path: Path) -> None:
    out = tmp_path / "analysis.json"
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", str(campaign["data"]),
                              "--days", "14", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    got = _json(res)
    assert json.loads(out.read_text())["results"] == got["results"]
    assert got["campaign"]["start"].startswith(str(campaign["start"].date()))
    assert got["campaign"]["expected_holdout_fraction"] == pytest.approx(0.3)
    assert got["srm"]["mismatch"] is False
    overall = {r["metric"]: r for r in got["results"] if r["dimension"] == "overall"}
    truth = campaign["run"].true_lift
    for m in ("converted", "revenue", "discount_cost"):
        r = overall[m]
        assert r["abs_ci_low"] <= truth[m] <= r["abs_ci_high"], (m, r, truth[m])
    # pre-period spend predicts spend in the window: CUPED narrows the revenue interval
    assert overall["revenue"]["variance_reduction"] > 0.02
    assert {r["dimension"] for r in got["results"]} == {"overall", "offer", "segment"}
    offers = {r["level"] for r in got["results"] if r["dimension"] == "offer"}
    assert len(offers) >= 3  # per-offer rows compare like with like (holdout's planned offer)
    assert got["roi"]["n_treatment"] == campaign["run"].n_treatment

    # the human-readable output names the sections
    text = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data",
                               str(campaign["data"]), "--days", "14"])
    assert text.exit_code == 0, text.output
    assert "treatment vs holdout" in text.output and "sample ratio" in text.output


def test_analyze_flags_sample_ratio_mismatch(campaign: dict, tmp_path: Path) -> None:
    plan = campaign["plan"]
    hold = plan.index[plan["group"] == "holdout"]
    broken = plan.drop(index=hold[: len(hold) // 2])  # half the holdout lost in a join
    path = tmp_path / "broken.parquet"
    broken.to_parquet(path)
    res = runner.invoke(app, ["analyze", "--decisions", str(path), "--data", str(campaign["data"]),
                              "--start", str(campaign["start"].date()), "--days", "14",
                              "--holdout-fraction", "0.3", "--json"])
    assert res.exit_code == 0, res.output
    got = _json(res)
    assert got["srm"]["mismatch"] is True and got["srm"]["p_value"] < 1e-3
    assert any("sample ratio mismatch" in w for w in got["warnings"])


def test_analyze_degenerate_and_bad_input(campaign: dict, tmp_path: Path) -> None:
    plan, data = campaign["plan"], str(campaign["data"])
    # everyone treated, no holdout planned: a result with a reason, not a crash
    everyone = plan.assign(group="treatment")
    p0 = tmp_path / "everyone.parquet"
    everyone.to_parquet(p0)
    res = runner.invoke(app, ["analyze", "--decisions", str(p0), "--data", data, "--start",
                              str(campaign["start"].date()), "--holdout-fraction", "0", "--json"])
    assert res.exit_code == 0, res.output
    overall = [r for r in _json(res)["results"] if r["dimension"] == "overall"]
    assert overall and all(r["reason"] and r["reason"].startswith("empty_group") for r in overall)

    # no group column: exit 2 naming the column and the fix
    p1 = tmp_path / "nogroup.csv"
    plan.drop(columns=["group"]).to_csv(p1, index=False)
    res = runner.invoke(app, ["analyze", "--decisions", str(p1), "--data", data, "--start", "2026-01-01"])
    assert res.exit_code == 2 and "group" in res.output and "--holdout" in res.output
    # no summary sidecar and no --start
    res = runner.invoke(app, ["analyze", "--decisions", str(p0), "--data", data])
    assert res.exit_code == 2 and "--start" in res.output
    # a plan without rows: exit 2 naming the file, nothing written
    p3 = tmp_path / "empty.parquet"
    plan.iloc[:0].to_parquet(p3)
    res = runner.invoke(app, ["analyze", "--decisions", str(p3), "--data", data, "--start", "2026-01-01",
                              "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 2 and f"{p3}: the plan has no rows" in res.output
    assert not (tmp_path / "e.json").exists()
    # a row without a customer: the column, the count and the row named (it read as 'None')
    p4 = tmp_path / "holes.csv"
    plan.assign(customer_id=plan["customer_id"].where(plan.index != 4)).to_csv(p4, index=False)
    res = runner.invoke(app, ["analyze", "--decisions", str(p4), "--data", data, "--start", "2026-01-01"])
    assert res.exit_code == 2 and "holes.csv, column 'customer_id': 1 of" in res.output
    assert "rows have no value (e.g. row 5)" in res.output
    # bad group values, bad dates, both --end and --days
    p2 = tmp_path / "badgroup.csv"
    plan.assign(group=np.where(plan["group"] == "holdout", "control", "treatment")).to_csv(p2, index=False)
    res = runner.invoke(app, ["analyze", "--decisions", str(p2), "--data", data, "--start", "2026-01-01",
                              "--holdout-fraction", "0.3"])
    assert res.exit_code == 2 and "'control'" in res.output
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", data,
                              "--start", "not-a-date"])
    assert res.exit_code == 2 and "not a date" in res.output
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", data,
                              "--end", "2027-01-01", "--days", "3"])
    assert res.exit_code == 2
    # data source without transactions
    empty = tmp_path / "notx"
    empty.mkdir()
    pd.read_parquet(Path(data) / "customers.parquet").to_parquet(empty / "customers.parquet")
    out = tmp_path / "a.json"
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", str(empty),
                              "--out", str(out)])
    assert res.exit_code == 2 and "transactions" in res.output and not out.exists()


def test_report_reads_the_analysis_json(campaign: dict, tmp_path: Path) -> None:
    """`offerwise analyze --out` feeds `offerwise report --analysis`: the campaign section is real."""
    from offerwise.report.tables import campaign_results

    out = tmp_path / "analysis.json"
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", str(campaign["data"]),
                              "--days", "14", "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = campaign_results(json.loads(out.read_text()))
    m = got.metrics.set_index("metric")
    assert list(m.index) == ["converted", "revenue", "discount_cost", "net_profit"]
    truth = campaign["run"].true_lift
    assert m.loc["converted", "ci_low"] <= truth["converted"] <= m.loc["converted", "ci_high"]
    assert set(got.breakdown["dimension"]) == {"offer", "segment"}
    assert got.roi.n_treatment == campaign["run"].n_treatment and got.srm_warning is None


def test_analyze_warns_when_the_data_predates_the_campaign(campaign: dict, tmp_path: Path) -> None:
    market = campaign["market"]
    before = tmp_path / "before"
    before.mkdir()
    for name in ("customers", "products", "offers"):
        getattr(market, name).to_parquet(before / f"{name}.parquet", index=False)
    tx = market.transactions
    tx[tx["ts"] < campaign["start"]].to_parquet(before / "transactions.parquet", index=False)
    res = runner.invoke(app, ["analyze", "--decisions", str(campaign["plan_path"]), "--data", str(before),
                              "--days", "14", "--json"])
    assert res.exit_code == 0, res.output
    got = _json(res)
    assert any("no plan customer bought in the campaign window" in w for w in got["warnings"])
    overall = [r for r in got["results"] if r["dimension"] == "overall"]
    assert all(r["reason"] and r["reason"].startswith("zero_variance") for r in overall)

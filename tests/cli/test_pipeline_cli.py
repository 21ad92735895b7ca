"""End to end through the CLI: simulate -> train -> plan -> evaluate, and bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app

runner = CliRunner()


def _json(res) -> dict:  # noqa: ANN001
    out = res.stdout
    return json.loads(out[out.index("{"): out.rindex("}") + 1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pipe")
    shop, model = root / "shop", root / "model"
    res = runner.invoke(app, ["simulate", "--customers", "3000", "--exposures", "9000", "--seed", "3",
                              "--out", str(shop), "--json"])
    assert res.exit_code == 0, res.output
    assert (shop / "truth.parquet").exists()
    res = runner.invoke(app, ["train", "--data", str(shop), "--out", str(model), "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    return shop, model


@pytest.mark.slow
def test_plan_respects_budget_and_holdout(trained: tuple[Path, Path], tmp_path: Path) -> None:
    shop, model = trained
    out = tmp_path / "plan.parquet"
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(out), "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    plan = pd.read_parquet(out)
    customers = pd.read_parquet(shop / "customers.parquet")
    assert len(plan) == len(customers) and plan["customer_id"].is_unique
    treat = plan[plan["group"] == "treatment"]
    assert treat["expected_cost"].sum() <= 500 + 1e-6
    assert (plan.loc[plan["group"] == "holdout", "offer_id"] == "none").all()
    assert 0.07 < (plan["group"] == "holdout").mean() < 0.13
    summary = json.loads((tmp_path / "plan.summary.json").read_text())
    assert summary["budget"] == 500 and len(summary["data_fingerprint"]) == 16
    assert summary["model_dir"] == str(model.resolve())
    assert (tmp_path / "plan.frontier.parquet").exists() and (tmp_path / "plan.frontier.png").exists()
    # the plan's summary names its model: `copy` finds the offer terms there (no --data/--model)
    res = runner.invoke(app, ["copy", "--plan", str(out), "--out", str(tmp_path / "copy.csv")])
    assert res.exit_code == 0, res.output
    assert "every message states its offer's terms" in res.output and (tmp_path / "copy.csv").exists()
    res = runner.invoke(app, ["report", "--plan", str(out), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "report written to" in res.output and (tmp_path / "r.html").stat().st_size > 10_000
    res = runner.invoke(app, ["report", "--out", str(tmp_path / "r2.html")])
    assert res.exit_code == 2 and "--model MODEL_DIR is needed" in res.output
    # same seed -> same plan
    out2 = tmp_path / "again.parquet"
    runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                        "--out", str(out2), "--seed", "1", "--json"])
    pd.testing.assert_frame_equal(plan, pd.read_parquet(out2))

    ev = runner.invoke(app, ["evaluate", "--decisions", str(out), "--data", str(shop), "--model", str(model),
                             "--json"])
    assert ev.exit_code == 0, ev.output


@pytest.mark.slow
def test_plan_with_risk(trained: tuple[Path, Path], tmp_path: Path) -> None:
    shop, model = trained
    out = tmp_path / "plan.parquet"
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(out), "--seed", "1", "--risk", "3", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "plan.summary.json").read_text())
    assert summary["risk"] == 3 and summary["expected_cost"] <= 500 + 1e-6
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(tmp_path / "bad.parquet"), "--risk", "-1"])
    assert res.exit_code == 2 and not (tmp_path / "bad.parquet").exists()


@pytest.mark.slow
def test_plan_bad_input_writes_nothing(trained: tuple[Path, Path], tmp_path: Path) -> None:
    shop, model = trained
    bad_rules = tmp_path / "rules.toml"
    bad_rules.write_text("[offers.pct10]\nmax_count = 'many'\n")
    out = tmp_path / "plan.parquet"
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "100",
                              "--out", str(out), "--rules", str(bad_rules)])
    assert res.exit_code == 2
    assert "max_count" in res.output
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(tmp_path / "missing"),
                              "--budget", "100", "--out", str(out)])
    assert res.exit_code == 2
    assert not out.exists() and list(tmp_path.glob("plan*")) == []


def test_profile_bad_input_writes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"]}).to_csv(d / "customers.csv", index=False)
    pd.DataFrame({"offer_id": ["p"], "kind": ["percent_off"], "value": [0.1]}).to_csv(d / "offers.csv", index=False)
    pd.DataFrame({"customer_id": ["a"], "order_id": ["o"], "product_id": ["x"], "ts": ["not a date"],
                  "quantity": [1], "amount": [2.0], "discount": [0.0]}).to_csv(d / "transactions.csv", index=False)
    out = tmp_path / "profiles.parquet"
    res = runner.invoke(app, ["profile", "--data", str(d), "--out", str(out)])
    assert res.exit_code == 2
    assert "transactions.csv" in res.output and "ts" in res.output and "not a date" in res.output
    assert not out.exists()


@pytest.mark.slow
def test_plan_with_a_margin_target_prints_and_states_it(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """rules margin.target: the plan's expected margin after discounts holds it, in the summary
    and in the human output; a target of 1 or more is refused (exit 2) naming the key."""
    shop, model = trained
    rules = tmp_path / "rules.toml"
    free = tmp_path / "free.parquet"
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(free), "--no-frontier", "--json"])
    assert res.exit_code == 0, res.output
    # a target just above what the plan would do without one, so that it binds
    rules.write_text("[margin]\ntarget = 0.2\n")
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(tmp_path / "probe.parquet"), "--no-frontier", "--rules", str(rules),
                              "--json"])
    assert res.exit_code == 0, res.output
    free_margin = _json(res)["margin"]["unconstrained"]
    target = round(min(free_margin + 0.01, 0.29), 3)
    rules.write_text(f"[margin]\ntarget = {target}\n")
    out = tmp_path / "plan.parquet"
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(out), "--no-frontier", "--rules", str(rules)])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "plan.summary.json").read_text())["margin"]
    assert m["target"] == target and m["expected"] >= target - 1e-9 and m["value_given_up"] >= 0
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("margin target"))
    assert f"margin target {target:.1%} for every offered customer" in line and m["per"] == "customer"
    assert f"expected margin after discounts {m['expected']:.1%}" in line
    assert f"without the target {free_margin:.1%}" in line and "value given up" in line
    # the plan at each offer's realised cost per unit of revenue on the logged exposures
    mc = json.loads((tmp_path / "plan.summary.json").read_text())["margin_check"]
    ex = pd.read_parquet(shop / "exposures.parquet")
    ex = ex[ex["revenue"] > 0].assign(w=lambda d: 1 / d["propensity"])
    for o, r in mc["realised_cost_ratio"].items():
        e = ex[ex["offer_id"] == o]
        assert r == pytest.approx((e["w"] * e["discount_cost"]).sum() / (e["w"] * e["revenue"]).sum())
    check = next(ln for ln in res.stdout.splitlines() if ln.startswith("check: at each offer's realised"))
    assert f"the plan's margin would be {mc['at_realised_ratios']:.1%}" in check
    assert ("below the target" in check) == mc["below_target"] and 0 < mc["at_realised_ratios"] < 0.3
    # customers the plan does not list (the service's online and newcomer decisions) get the same
    # per-customer margin rule: the same customers, decided online, have the plan's eligibility
    from offerwise.config import default_settings
    from offerwise.features.model_inputs import build_features
    from offerwise.models.persist import load_model
    from offerwise.workflows._common import open_data
    from offerwise.workflows.newcomer import DecisionContext, best_offers, newcomer_rows

    summary = json.loads((tmp_path / "plan.summary.json").read_text())
    plan = pd.read_parquet(out).sample(300, random_state=0)
    ds = open_data(shop, default_settings(), ("customers",))
    lm = load_model(model)
    ctx = DecisionContext.from_dict(summary["online"], ds.frame("offers"))
    assert ctx.rules is not None and ctx.rules.margin is not None and ctx.margin_ratios
    ids = plan["customer_id"].astype(str).tolist()
    X, _ = build_features(ds, pd.DataFrame({"customer_id": ids, "as_of": ctx.as_of}), default_settings(),
                          spec=lm.features)
    rows = newcomer_rows(ids, ctx.customer_columns).assign(segment=plan["segment"].to_numpy())
    online = [sorted(d.eligible) for d in best_offers(lm, X, rows, ctx)]
    planned = [sorted(e.split("|")) if isinstance(e, str) and e else [] for e in plan["eligible_offers"]]
    assert online == planned
    # the plan's minimum gain travels with it: an offer decided online must be worth more than it
    from dataclasses import replace

    assert ctx.min_gain == summary["min_gain"]
    decided = best_offers(lm, X, rows, ctx)
    assert all(d.value > ctx.min_gain for d in decided if d.offer_id != "none")
    assert {d.offer_id for d in best_offers(lm, X, rows, replace(ctx, min_gain=1e9))} == {"none"}
    assert len({len(e) for e in planned}) > 1  # the rule left different offers to different customers
    rules.write_text("[margin]\ntarget = 1.5\n")
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(tmp_path / "bad.parquet"), "--rules", str(rules)])
    assert res.exit_code == 2 and "margin.target" in res.output and not (tmp_path / "bad.parquet").exists()
    rules.write_text('[margin]\ntarget = 0.2\nper = "store"\n')
    res = runner.invoke(app, ["plan", "--model", str(model), "--data", str(shop), "--budget", "500",
                              "--out", str(tmp_path / "bad.parquet"), "--rules", str(rules)])
    assert res.exit_code == 2 and "margin.per" in res.output and "campaign" in res.output
    assert not (tmp_path / "bad.parquet").exists()


def _with_inventory(shop: Path, dest: Path, fresh_on_hand: float) -> Path:
    """A copy of ``shop`` with an inventory table: fresh products hold ``fresh_on_hand`` units
    each, every other product a normal 4 weeks of its sales."""
    import shutil

    shutil.copytree(shop, dest)
    products = pd.read_parquet(shop / "products.parquet")
    tx = pd.read_parquet(shop / "transactions.parquet")
    last = tx["ts"].max()
    weekly = tx[tx["ts"] > last - pd.Timedelta(days=28)].groupby("product_id")["quantity"].sum() / 4
    on_hand = products["product_id"].map(weekly).fillna(1.0) * 4
    on_hand[products["category"] == "fresh"] = fresh_on_hand
    pd.DataFrame({"product_id": products["product_id"], "ts": last - pd.Timedelta(days=1),
                  "on_hand": on_hand.round()}).to_parquet(dest / "inventory.parquet", index=False)
    return dest


@pytest.mark.slow
def test_plan_weighs_category_offers_by_stock(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """rules [stock]: fresh food out of stock -> nobody gets the fresh-food offer; overstocked ->
    at least as many as without weights. The stated profit stays the model's (unweighted) and the
    summary and human output give the per-category table and where demand came from."""
    shop, model = trained
    rules = tmp_path / "rules.toml"
    rules.write_text("[stock]\nscarce_weeks = 2\noverstock_weeks = 8\n")
    base = ["--model", str(model), "--budget", "800", "--no-frontier", "--drivers", "0"]
    res = runner.invoke(app, ["plan", *base, "--data", str(shop), "--out", str(tmp_path / "free.parquet")])
    assert res.exit_code == 0, res.output
    n_free = int((pd.read_parquet(tmp_path / "free.parquet")["offer_id"] == "fresh20").sum())
    assert "per category the offers are scoped to" in res.stdout
    assert "stock did not weigh the offers (no [stock] rules)" in res.stdout
    # without an inventory table the [stock] rules are refused, nothing written
    res = runner.invoke(app, ["plan", *base, "--data", str(shop), "--rules", str(rules),
                              "--out", str(tmp_path / "no.parquet")])
    assert res.exit_code == 2 and "no inventory table" in res.output
    assert not (tmp_path / "no.parquet").exists()

    scarce = _with_inventory(shop, tmp_path / "scarce", fresh_on_hand=0.0)
    out = tmp_path / "scarce.parquet"
    res = runner.invoke(app, ["plan", *base, "--data", str(scarce), "--rules", str(rules), "--out", str(out)])
    assert res.exit_code == 0, res.output
    plan = pd.read_parquet(out)
    assert not (plan["offer_id"] == "fresh20").any()
    summary = json.loads((tmp_path / "scarce.summary.json").read_text())
    cats = summary["categories"]
    assert cats["stock_weights"] is True and cats["demand_source"] == "history"
    # customers without a plan row (cold start, online) are decided with the same weights
    assert summary["online"]["offer_weights"] == {"fresh20": 0.0}
    assert summary["newcomer"]["offer_id"] != "fresh20"
    assert summary["expected_incremental_profit"] == pytest.approx(plan["incremental_profit"].sum())
    assert "offers weighed by stock cover (rules [stock]: scarce below 2 weeks" in res.stdout
    # what protecting the scarce stock costs: the same plan without the weights, stated
    sc = cats["stock_cost"]
    assert sc["expected_incremental_profit"] == pytest.approx(summary["expected_incremental_profit"])
    assert sc["value_given_up"] == pytest.approx(sc["without_weights"] - sc["expected_incremental_profit"])
    assert sc["value_given_up"] >= -1e-6 and f"given up for it {sc['value_given_up']:,.2f}" in res.stdout

    over = _with_inventory(shop, tmp_path / "over", fresh_on_hand=1e6)
    out = tmp_path / "over.parquet"
    res = runner.invoke(app, ["plan", *[b for b in base if b != "--no-frontier"], "--data", str(over),
                              "--rules", str(rules), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["category"]: r for r in _json(res)["categories"]["rows"]}
    # the frontier stays in money: the LP of the unweighted values bounds the plan without the
    # weights from above and sits near it (weighted values, fresh food counted twice, would not)
    free_profit = _json(res)["categories"]["stock_cost"]["without_weights"]
    fr = pd.read_parquet(tmp_path / "over.frontier.parquet")
    at = float(np.interp(_json(res)["planning_budget"], fr["budget"], fr["value"]))
    assert free_profit - 1e-6 <= at <= 1.1 * free_profit
    n_over = int((pd.read_parquet(out)["offer_id"] == "fresh20").sum())
    assert n_over >= n_free and n_over > 0
    assert rows["fresh"]["weight"] == 2.0 and rows["fresh"]["stock_status"] == "overstock"
    assert rows["fresh"]["customers"] == n_over

"""A shop that never logged offers: ``offerwise plan`` without ``--model`` draws a randomized first
campaign within the budget and the rules, with every row's exact propensity; the campaign (run in
the simulator) is what the first ``offerwise train`` learns from, identified."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.simulator import SimulatorConfig, run_campaign, simulate, write_market
from offerwise.workflows.first_campaign import make_first_campaign


def ow(*args: object, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``offerwise ARGS`` as a user runs it (a subprocess, stdout a pipe)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    res = subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=600)
    if ok:
        assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
        assert "…" not in res.stdout, res.stdout
    return res


@pytest.fixture(scope="module")
def new_shop(tmp_path_factory: pytest.TempPathFactory):
    """A simulated shop with orders and a menu but no logged offers (no exposures table)."""
    mk = simulate(SimulatorConfig(n_customers=4000, n_exposures=0, seed=7, logging="random"))
    d = write_market(mk, tmp_path_factory.mktemp("first") / "shop")
    assert not (d / "exposures.parquet").exists()
    return mk, d


def test_train_on_a_shop_without_exposures_says_to_run_a_first_campaign(new_shop, tmp_path) -> None:
    _, d = new_shop
    res = ow("train", "--data", d, "--out", tmp_path / "m", ok=False)
    assert res.returncode == 2
    assert "A shop that never logged offers gets them from a first campaign" in " ".join(
        res.stderr.split())
    assert "`offerwise plan` without --model draws one" in " ".join(res.stderr.split())


def test_plan_without_a_model_human_output(new_shop, tmp_path) -> None:
    _, d = new_shop
    out = tmp_path / "first.parquet"
    res = ow("plan", "--data", d, "--budget", "3000", "--out", out)
    text = " ".join(res.stdout.split())
    assert "customers drawn per offer" in text and "cost_if_all_redeem" in text
    summary = json.loads((tmp_path / "first.summary.json").read_text())
    fc = summary["first_campaign"]
    share = fc["explore_share"]
    assert 0 < share < 1 and fc["explore_requested"] == 1.0  # 3,000 does not pay for everyone
    assert (f"first campaign (no model yet): {summary['n_explore']:,} of "
            f"{summary['n_treatment']:,} customers drawn at random (explore share {share:g}, "
            "the most the budget affords; asked 1)") in text
    assert f"budget 3,000.00; cost if every offered customer redeems once {summary['expected_cost']:,.2f}" in text
    assert summary["expected_cost"] <= 3000
    assert "incremental profit: unknown until a model learns it from this campaign" in text
    assert "exploration: about" in text and "detectable from" in text
    assert f"next: serve it (offerwise serve --plan {out} --db URL" in text
    assert (tmp_path / "first.offers.parquet").exists()
    assert fc["incremental_profit"] is None and fc["model"] is None
    # --json: the same numbers for scripts
    js = ow("plan", "--data", d, "--budget", "3000", "--out", tmp_path / "j.parquet", "--json")
    got = json.loads(js.stdout)
    assert got["ok"] and got["first_campaign"]["explore_share"] == share
    assert got["n_explore"] == summary["n_explore"]


def test_an_assumed_redemption_rate_reaches_more_customers(new_shop, tmp_path) -> None:
    """``--redeem-rate 0.4``: costs counted at 40 % redeeming, so the budget explores more
    customers; the output says so, warns what happens if more redeem, and keeps the cost if all
    redeem beside the expected one."""
    _, d = new_shop
    all_redeem = json.loads(ow("plan", "--data", d, "--budget", "3000", "--out",
                               tmp_path / "a.parquet", "--json").stdout)
    out = tmp_path / "r.parquet"
    res = ow("plan", "--data", d, "--budget", "3000", "--out", out, "--redeem-rate", "0.4")
    text = " ".join((res.stdout + res.stderr).split())
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    fc = summary["first_campaign"]
    assert fc["redemption_rate"] == 0.4
    assert 2 * all_redeem["first_campaign"]["explore_share"] < fc["explore_share"]
    assert summary["expected_cost"] <= 3000
    assert fc["cost_if_all_redeem"] == pytest.approx(summary["expected_cost"] / 0.4)
    assert fc["cost_if_all_redeem"] > 3000  # if every one redeemed, the budget would not do
    assert fc["cost_basis"].startswith("an assumed 40% of offered customers redeem once")
    assert (f"budget 3,000.00; expected cost if 40% of offered customers redeem once "
            f"{summary['expected_cost']:,.2f} (if all redeem: {fc['cost_if_all_redeem']:,.2f})") in text
    assert "expected_cost" in text and "cost_if_all_redeem" in text  # both per offer
    assert ("--redeem-rate 0.4: the budget holds if at most about 40% of offered customers "
            "redeem; the service refuses redemptions past the budget") in text
    # a model predicts who redeems: the option is refused with one
    bad = ow("plan", "--data", d, "--budget", "3000", "--out", tmp_path / "b.parquet",
             "--model", tmp_path / "no-model", "--redeem-rate", "0.4", ok=False)
    assert bad.returncode == 2
    assert "--redeem-rate is for a first campaign" in " ".join(bad.stderr.split())
    with pytest.raises(InputError, match="redeem-rate must be a share"):
        make_first_campaign(d, 3000, tmp_path / "z.parquet", redemption_rate=1.5)


def test_options_that_need_a_model_are_refused(new_shop, tmp_path) -> None:
    _, d = new_shop
    res = ow("plan", "--data", d, "--budget", "3000", "--out", tmp_path / "p.parquet",
             "--risk", "2", "--objective", "revenue", ok=False)
    assert res.returncode == 2
    assert "--objective revenue, --risk 2.0: needs --model" in " ".join(res.stderr.split())
    assert not (tmp_path / "p.parquet").exists()


def test_the_draw_obeys_rules_and_logs_exact_propensities(new_shop, tmp_path) -> None:
    _, d = new_shop
    rules = tmp_path / "rules.toml"
    rules.write_text('[offers.pct30]\nmax_count = 40\n[offers.amt5]\nsegments = ["dormant"]\n')
    run = make_first_campaign(d, 1e7, tmp_path / "p.parquet", rules=rules, seed=3)
    res = run.result
    plan = pd.read_parquet(tmp_path / "p.parquet")
    k = {o: i for i, o in enumerate(res.offer_ids)}
    # a cap binds the share: pct30 is drawn for at most 40 customers
    assert 0 < run.share < 1 and (plan["offer_id"] == "pct30").sum() <= 40
    assert set(plan.loc[plan["offer_id"] == "amt5", "segment"]) <= {"dormant"}
    arms = 1 + res.rules_eligible.sum(axis=1)
    treat = plan["group"].eq("treatment").to_numpy()
    offered = plan["offer_id"].ne("none").to_numpy()
    np.testing.assert_allclose(plan["propensity"][offered], run.share / arms[offered])
    none_t = treat & ~offered
    drawn = res.explored[none_t]
    np.testing.assert_allclose(plan["propensity"][none_t][drawn], 1 - run.share + run.share / arms[none_t][drawn])
    np.testing.assert_allclose(plan["propensity"][none_t][~drawn], 1 - run.share + run.share / arms[none_t][~drawn])
    assert plan.loc[~treat, "propensity"].eq(1).all() and plan.loc[~treat, "offer_id"].eq("none").all()
    # a dormant-only offer among a non-dormant customer's arms never counts
    non_dormant = plan["segment"].ne("dormant").to_numpy()
    assert not res.rules_eligible[non_dormant, k["amt5"]].any()


def test_an_explicit_share_the_budget_cannot_pay_is_refused(new_shop, tmp_path) -> None:
    _, d = new_shop
    with pytest.raises(InputError, match="lower --explore"):
        make_first_campaign(d, 500, tmp_path / "p.parquet", explore=1.0)
    assert not (tmp_path / "p.parquet").exists()
    with pytest.raises(InputError, match="does not pay for exploring any customer"):
        make_first_campaign(d, 0.0, tmp_path / "p.parquet")


def test_percent_off_without_any_order_is_refused(tmp_path) -> None:
    mk = simulate(SimulatorConfig(n_customers=300, n_exposures=0, seed=1))
    d = write_market(mk, tmp_path / "shop")
    (d / "transactions.parquet").unlink()
    with pytest.raises(InputError, match="percent-off offers .* cost a share of an order"):
        make_first_campaign(d, 1000, tmp_path / "p.parquet")


def test_the_first_train_on_the_campaign_is_identified(new_shop, tmp_path) -> None:
    mk, d = new_shop
    run = make_first_campaign(d, 20000, tmp_path / "first.parquet", seed=7)
    assert run.share > 0.5
    camp = run_campaign(mk, run.result.to_frame(), seed=7, start=run.result.as_of or None)
    shop = tmp_path / "after"
    shop.mkdir()
    tables = mk.tables()
    tables["exposures"] = camp.exposures  # as `offerwise export-exposures` writes them
    tables["transactions"] = pd.concat([mk.transactions, camp.transactions], ignore_index=True)
    for name, df in tables.items():
        if len(df):
            df.to_parquet(shop / f"{name}.parquet", index=False)
    ow("train", "--data", shop, "--out", tmp_path / "m")
    ident = json.loads((tmp_path / "m" / "model_card.json").read_text())["identification"]
    assert ident["logging"] == "logged_propensities" and ident["verdict"] == "ok", ident


def test_a_shop_with_logged_exposures_is_warned_that_train_could_learn_from_them(tmp_path) -> None:
    mk = simulate(SimulatorConfig(n_customers=500, n_exposures=800, seed=4))
    d = write_market(mk, tmp_path / "shop")
    res = ow("plan", "--data", d, "--budget", "2000", "--out", tmp_path / "p.parquet")
    text = " ".join((res.stdout + res.stderr).split())
    assert ("no --model: this is a randomized first campaign, although the data has 800 logged "
            "exposures that `offerwise train` can learn from") in text

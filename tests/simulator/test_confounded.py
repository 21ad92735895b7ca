"""Confounded logging (a hidden in-market state drives both the offers and the purchases) and
exposures without propensities."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from offerwise.data.contract import load_data
from offerwise.errors import ConfigError, InputError
from offerwise.simulator import SimulatorConfig, logging_probabilities, simulate, write_market
from offerwise.simulator.confounding import PRE_DAYS

N, M, SEED = 8000, 20000, 7


@pytest.fixture(scope="module")
def legacy():
    return simulate(n_customers=N, n_exposures=M, seed=SEED, logging="legacy")


@pytest.fixture(scope="module")
def confounded():
    return simulate(n_customers=N, n_exposures=M, seed=SEED, logging="confounded")


def _pre_net_profit(market, margin: float = 0.30) -> np.ndarray:
    """Per exposure row: net profit of the customer's transactions in [ts − PRE_DAYS, ts)."""
    ex = market.exposures[["customer_id", "ts"]].reset_index(drop=True)
    ex = ex.assign(row=np.arange(len(ex)))
    tx = market.transactions[["customer_id", "ts", "amount", "discount"]]
    j = ex.merge(tx, on="customer_id", suffixes=("", "_t"))
    j = j[(j["ts_t"] < j["ts"]) & (j["ts_t"] >= j["ts"] - pd.Timedelta(days=PRE_DAYS))]
    y = (margin * (j["amount"] + j["discount"]) - j["discount"]).groupby(j["row"]).sum()
    out = np.zeros(len(ex))
    out[y.index.to_numpy()] = y.to_numpy()
    return out


def _stratified_difference(y, offered, score, bins=10):
    """Offered − not offered, within deciles of ``score`` (weighted by the decile's size)."""
    d = pd.DataFrame({"q": pd.qcut(score, bins, labels=False, duplicates="drop"), "o": offered})
    d["y"] = y
    g = d.groupby(["q", "o"])["y"].agg(["mean", "var", "count"]).unstack()
    w = g["count"][True] + g["count"][False]
    w = w / w.sum()
    diff = float(((g["mean"][True] - g["mean"][False]) * w).sum())
    var = (w**2 * (g["var"][True] / g["count"][True] + g["var"][False] / g["count"][False])).sum()
    return diff, float(np.sqrt(var))


def test_same_customers_truth_and_exposed_slots_as_legacy(legacy, confounded):
    pd.testing.assert_frame_equal(legacy.customers, confounded.customers)
    pd.testing.assert_frame_equal(legacy.truth, confounded.truth)
    pd.testing.assert_frame_equal(legacy.latent, confounded.latent)
    for c in ("customer_id", "ts"):
        assert (legacy.exposures[c].to_numpy() == confounded.exposures[c].to_numpy()).all()
    # the history is the same up to PRE_DAYS before the first campaign
    cut = pd.Timestamp("2025-01-01") + pd.Timedelta(days=365 - PRE_DAYS)
    a = legacy.transactions[legacy.transactions["ts"] < cut].reset_index(drop=True)
    b = confounded.transactions[confounded.transactions["ts"] < cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert not legacy.exposure_truth["in_market"].any()


def test_confounded_logging_targets_the_latent_in_market_state(confounded):
    et, ex = confounded.exposure_truth, confounded.exposures
    im = et["in_market"].to_numpy()
    offered = (ex["offer_id"] != "none").to_numpy()
    assert 0.17 < im.mean() < 0.23  # in_market_share = 0.20 of the slots
    # offered rows are far more often in market than the controls
    assert im[offered].mean() > 2.5 * im[~offered].mean()
    assert offered[im].mean() > offered[~im].mean() + 0.25
    # the recorded propensity is the exact probability of the logged arm, floored
    np.testing.assert_allclose(ex["propensity"], et["propensity"])
    probs = confounded.logging_probs
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert probs.to_numpy().min() >= confounded.config.min_propensity - 1e-12
    assert (probs.loc[im, "none"].mean()) < probs.loc[~im, "none"].mean() - 0.2


def test_pre_exposure_purchases_are_higher_for_offered_customers_with_the_same_features(
    legacy, confounded
):
    # the legacy policy's probability of an offer is a function of the observed features only
    # (recency, orders, average basket at the end of the history): within its deciles, who gets
    # an offer is random under legacy logging, and picked on the hidden state under confounded
    score = 1 - legacy.logging_probs["none"].to_numpy()
    results = {}
    for name, mk in (("legacy", legacy), ("confounded", confounded)):
        y = _pre_net_profit(mk)
        results[name] = _stratified_difference(
            y, (mk.exposures["offer_id"] != "none").to_numpy(), score
        )
    d_leg, se_leg = results["legacy"]
    d_con, se_con = results["confounded"]
    assert abs(d_leg) < 3 * se_leg
    assert d_con > 4 * se_con and d_con > 1.0  # ≈ +2 of net profit per exposure at the defaults
    # the bias comes from the hidden state: in-market slots buy more before the exposure
    y = _pre_net_profit(confounded)
    im = confounded.exposure_truth["in_market"].to_numpy()
    assert y[im].mean() - y[~im].mean() > 8.0


def test_in_market_orders_leave_the_offer_effects_as_the_truth_says(confounded):
    """E[logged net profit | row] = truth(customer, offer) + in_market · q · margin · basket."""
    cfg, ex = confounded.config, confounded.exposures
    q = 1 - np.exp(-cfg.confounding_strength * cfg.attribution_days / 30)
    tr = confounded.truth.set_index(["customer_id", "offer_id"])["expected_net_profit"]
    expect = tr.reindex(pd.MultiIndex.from_arrays([ex["customer_id"], ex["offer_id"]])).to_numpy()
    basket = confounded.latent.set_index("customer_id")["basket"].reindex(ex["customer_id"])
    im = confounded.exposure_truth["in_market"].to_numpy()
    expect = expect + im * q * cfg.margin_rate * basket.to_numpy()
    resid = (ex["gross_profit"] - ex["discount_cost"]).to_numpy() - expect
    for sel in (ex["offer_id"].to_numpy() == "none", ex["offer_id"].to_numpy() != "none", im):
        r = resid[sel]
        assert abs(r.mean()) < 3.5 * r.std() / np.sqrt(r.size), r.mean()
    # the in-market orders carry no discount: the logged discount is the offer's alone
    assert (ex.loc[ex["offer_id"] == "none", "discount_cost"] == 0).all()


def test_confounding_strength_zero_is_legacy_targeting(legacy):
    m = simulate(
        n_customers=N, n_exposures=M, seed=SEED, logging="confounded", confounding_strength=0.0
    )
    pd.testing.assert_frame_equal(m.logging_probs, legacy.logging_probs)
    pd.testing.assert_frame_equal(m.exposures, legacy.exposures)


def test_no_propensity_exposures(tmp_path):
    m = simulate(
        n_customers=1000, n_exposures=2500, seed=3, logging="confounded", record_propensity=False
    )
    assert "propensity" not in m.exposures.columns
    assert m.exposure_truth["propensity"].between(0, 1).all()
    out = write_market(m, tmp_path / "sim")
    assert "propensity" not in pd.read_parquet(out / "exposures.parquet").columns
    back = pd.read_parquet(out / "exposure_truth.parquet")
    assert list(back.columns) == ["customer_id", "ts", "offer_id", "propensity", "in_market"]
    ds = load_data(out, required=("customers", "products", "transactions", "offers", "exposures"))
    assert ds.warnings == []
    assert ds.row_counts["exposures"] == 2500


def test_config_and_input_errors():
    with pytest.raises(ConfigError, match="confounded"):
        SimulatorConfig(logging="greedy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="in_market_share"):
        SimulatorConfig(in_market_share=1.5)
    with pytest.raises(ConfigError, match="confounding_strength"):
        SimulatorConfig(confounding_strength=-1)
    cfg = SimulatorConfig(logging="confounded")
    snap = {"n_orders": np.array([3, 0]), "recency_days": np.array([5.0, 90.0])}
    snap["avg_basket"] = np.array([30.0, np.nan])
    with pytest.raises(InputError, match="in-market"):
        logging_probabilities(snap, cfg)
    p = logging_probabilities(snap, cfg, np.array([True, False]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_cli_simulate_confounded_without_propensities(tmp_path):
    out = tmp_path / "shop"
    r = subprocess.run(
        [sys.executable, "-m", "offerwise.cli", "simulate", "--customers", "600", "--exposures",
         "1500", "--seed", "2", "--out", str(out), "--logging", "confounded", "--no-propensity"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"simulated shop written to {out}" in r.stdout
    assert "confounded logging, no propensities recorded" in r.stdout
    assert "propensity" not in pd.read_parquet(out / "exposures.parquet").columns
    assert pd.read_parquet(out / "exposure_truth.parquet")["in_market"].any()
    bad = subprocess.run(
        [sys.executable, "-m", "offerwise.cli", "simulate", "--customers", "600", "--exposures",
         "1500", "--out", str(tmp_path / "bad"), "--logging", "greedy"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "logging" in bad.stderr
    assert not (tmp_path / "bad").exists()

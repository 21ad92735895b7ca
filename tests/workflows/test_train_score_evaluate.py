"""train / score / evaluate from a data directory, the model directory, and bad inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from models_testdata import write_dir
from scipy.stats import spearmanr
from typer.testing import CliRunner

from offerwise.errors import DataContractError, InputError, ModelError
from offerwise.models.persist import load_model
from offerwise.models.response import SCORE_COLUMNS
from offerwise.workflows.evaluate import evaluate_plan
from offerwise.workflows.score import score
from offerwise.workflows.train import train

KW = {"n_estimators": 40, "min_treated": 50}


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(data_dir, out, learner="t", seed=3, **KW)
    return res


def test_model_directory_and_card(trained, logs):
    d = trained.model_dir
    for f in ("model.json", "offers.parquet", "model_card.json", "model_card.md", "oof.parquet"):
        assert (d / f).exists(), f
    meta = json.loads((d / "model.json").read_text())
    assert meta["format_version"] == 1 and meta["data_fingerprint"]
    assert "age" not in " ".join(meta["feature_list"])  # protected attribute left out
    assert "cust_x1" in meta["feature_list"] and "region=north" in meta["feature_list"]
    card = json.loads((d / "model_card.json").read_text())
    # cross-fitted: metrics on every exposure out of fold; the saved model refit on all of them
    assert card["n_holdout"] == card["n_train"] == len(logs.exposures)
    assert "out of fold" in card["metrics_source"] and card["tuning"]["chosen"]["learner"] == "t"
    for o in ("p10", "p20"):
        m = card["holdout"]["per_offer"][o]
        assert -1 <= m["qini_normalized"] <= 1 and 0.5 < m["conversion_auc"] <= 1
        assert m["cost_mae"] >= 0
    assert card["propensity"]["n_clipped"] == 0
    md = (d / "model_card.md").read_text()
    assert "Out-of-fold metrics" in md and "p10" in md and "rows clipped" in md
    assert "uplift@10% is an amount" in md  # how to read the table, under it
    assert not list(d.parent.glob(".model.*"))  # no temporary folder left behind


def test_score_rows_and_round_trip(trained, data_dir, logs, tmp_path):
    out = tmp_path / "scores.parquet"
    res = score(trained.model_dir, data_dir, out=out)
    df = pd.read_parquet(out)
    assert list(df.columns) == [*SCORE_COLUMNS, "extrapolated"]
    assert not df["extrapolated"].any()
    assert len(df) == 2 * len(logs.customers) and set(df["offer_id"]) == {"p10", "p20"}
    assert res.as_of == pd.Timestamp(logs.exposures["ts"].max()).normalize() + pd.Timedelta(days=1)
    m = df.merge(logs.truth, on=["customer_id", "offer_id"], suffixes=("", "_true"))
    for o, g in m.groupby("offer_id"):
        assert spearmanr(g["incremental_profit"], g["incremental_profit_true"])[0] >= 0.5, o
    # save/load round trip: a reloaded model predicts exactly the same
    again = score(load_model(trained.model_dir), data_dir).scores
    pd.testing.assert_frame_equal(again, res.scores)


def test_train_is_reproducible(data_dir, trained, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(data_dir, tmp_path / "m2", learner="t", seed=3, **KW)
    a = score(res.model_dir, data_dir).scores
    b = score(trained.model_dir, data_dir).scores
    pd.testing.assert_frame_equal(a, b)


def test_menu_offer_without_exposures_is_extrapolated(logs, tmp_path, monkeypatch):
    """Offers the logs never show are scored from their attributes, flagged, and kept out of a
    plan unless the rules allow them; a deeper discount converts and costs at least as much."""
    from offerwise.cli import app

    new = pd.DataFrame({"offer_id": ["p30", "p40"], "kind": "percent_off", "value": [0.3, 0.4],
                        "min_spend": 0.0})
    d = write_dir(logs, tmp_path / "d", offers=pd.concat([logs.offers, new]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = train(d, tmp_path / "m", **KW)
    assert {"p30", "p40"} <= {str(w.message).split()[1] for w in caught
                              if "extrapolated" in str(w.message)}
    assert [e["offer_id"] for e in res.card["extrapolated_offers"]] == ["p30", "p40"]
    assert "no exposures of this offer" in res.card["extrapolated_offers"][0]["reason"]
    assert res.card["skipped_offers"] == []
    assert "Extrapolated offers" in (res.model_dir / "model_card.md").read_text()
    sc = score(res.model_dir, d).scores
    assert sc.groupby("offer_id")["extrapolated"].all().to_dict() == {
        "p10": False, "p20": False, "p30": True, "p40": True}
    p30, p40 = (sc[sc["offer_id"] == o].set_index("customer_id") for o in ("p30", "p40"))
    assert (p40["incremental_conversion"] >= p30["incremental_conversion"] - 1e-12).all()
    assert (p40["expected_cost"] >= p30["expected_cost"] - 1e-12).all()
    assert p30["expected_cost"].mean() > 0 and p30["incremental_conversion"].mean() > 0
    # the same model loaded again gives the same scores (the attribute model is saved)
    again = score(load_model(res.model_dir), d).scores
    pd.testing.assert_frame_equal(sc, again)
    # the compiled trees and arithmetic (used from 4,096 rows) next to extrapolated offers
    from offerwise.models import forest

    monkeypatch.setattr(forest, "MIN_ROWS", 0)
    pd.testing.assert_frame_equal(score(res.model_dir, d).scores, sc, rtol=1e-12, atol=1e-12)
    monkeypatch.undo()

    r = CliRunner()
    out = r.invoke(app, ["score", "--model", str(tmp_path / "m"), "--data", str(d),
                         "--out", str(tmp_path / "s.parquet")])
    assert out.exit_code == 0, out.output
    assert "p30 (extrapolated)" in out.output and "allow_extrapolated_offers" in out.output
    plan = r.invoke(app, ["plan", "--model", str(tmp_path / "m"), "--data", str(d),
                          "--budget", "1000000", "--out", str(tmp_path / "p.parquet")])
    assert plan.exit_code == 0, plan.output
    assert "extrapolated offers (scored from their attributes): p30, p40: not offered" in (
        " ".join(plan.output.split()))
    p = pd.read_parquet(tmp_path / "p.parquet")
    assert not p["offer_id"].isin(["p30", "p40"]).any()
    assert not p["eligible_offers"].fillna("").str.contains("p30|p40").any()
    summary = json.loads((tmp_path / "p.summary.json").read_text())
    assert summary["extrapolated_offers"] == {"offers": ["p30", "p40"], "allowed": False}
    (tmp_path / "rules.toml").write_text("allow_extrapolated_offers = true\n")
    plan = r.invoke(app, ["plan", "--model", str(tmp_path / "m"), "--data", str(d),
                          "--budget", "1000000", "--out", str(tmp_path / "p2.parquet"),
                          "--rules", str(tmp_path / "rules.toml")])
    assert plan.exit_code == 0, plan.output
    assert "planned like the others" in plan.output
    p2 = pd.read_parquet(tmp_path / "p2.parquet")
    assert p2["eligible_offers"].fillna("").str.contains("p40").any()


def test_plan_min_gain_option(data_dir, tmp_path):
    """``plan --min-gain``: auto reads the model card's out-of-fold choice; an amount keeps
    smaller gains out and says how many customers that left without an offer."""
    from offerwise.cli import app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(data_dir, tmp_path / "m", **KW)
    mg = res.card["min_gain"]
    assert mg["share"] in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    r = CliRunner()
    base = ["plan", "--model", str(tmp_path / "m"), "--data", str(data_dir), "--budget", "1e9"]
    auto = r.invoke(app, [*base, "--out", str(tmp_path / "a.parquet"), "--json"])
    assert auto.exit_code == 0, auto.output
    assert json.loads(auto.stdout[auto.stdout.index("{"):])["min_gain"] == mg["threshold"]
    summary = json.loads((tmp_path / "a.summary.json").read_text())
    assert summary["min_gain_source"].startswith(("the model's out-of-fold choice", "none"))
    out = r.invoke(app, [*base, "--out", str(tmp_path / "b.parquet"), "--min-gain", "5"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    p = pd.read_parquet(tmp_path / "b.parquet")
    n_low = int((p["reason"] == "below_min_gain").sum())
    assert n_low > 0 and f"minimum predicted gain 5.00 per offer (--min-gain): {n_low:,} " in text
    off = r.invoke(app, [*base, "--out", str(tmp_path / "c.parquet"), "--min-gain", "off"])
    assert off.exit_code == 0 and "minimum predicted gain" not in off.output
    bad = r.invoke(app, [*base, "--out", str(tmp_path / "d.parquet"), "--min-gain", "lots"])
    assert bad.exit_code == 2 and "--min-gain must be auto, off or a number" in bad.output
    assert not (tmp_path / "d.parquet").exists()
    # a model whose out-of-fold values say no reach pays (as `train` writes it then): no
    # floor, and the plan, its summary and the model card say why
    from offerwise.models.persist import render_card

    card_path = tmp_path / "m" / "model_card.json"
    card = json.loads(card_path.read_text())
    losses = {k: -0.05 - 0.01 * i for i, k in enumerate(mg["value_by_share"])}
    card["min_gain"] = {**mg, "value_by_share": losses, "pays": False, "share": 1.0,
                        "threshold": 0.0, "share_best": 1.0, "threshold_best": 0.0}
    card_path.write_text(json.dumps(card))
    none = r.invoke(app, [*base, "--out", str(tmp_path / "e.parquet")])
    assert none.exit_code == 0, none.output
    text = " ".join(none.output.split())
    assert ("minimum predicted gain: none: out of fold no reach of the model's predicted gains "
            "paid (the least loss -0.050 per customer, at a reach of 2%)") in text
    assert (pd.read_parquet(tmp_path / "e.parquet")["reason"] != "below_min_gain").all()
    summary = json.loads((tmp_path / "e.summary.json").read_text())
    assert summary["min_gain_source"].startswith("none: out of fold no reach")
    assert ("Minimum predicted gain for `plan --min-gain auto`: none: out of fold no reach of the "
            "model's predicted gains paid (the least loss -0.050 per customer, at a reach of 2%), "
            "which is no evidence for a cut") in " ".join(render_card(card).split())
    # the best reach is 5 % but 30 % is within one paired standard error: the floor is 30 %'s,
    # and the plan and the card say both
    card["min_gain"] = {**mg, "pays": True, "share": 0.3, "threshold": 0.01, "share_best": 0.05,
                        "threshold_best": 0.5, "z_best_vs_share": 0.4}
    card_path.write_text(json.dumps(card))
    cut = r.invoke(app, [*base, "--out", str(tmp_path / "f.parquet")])
    assert cut.exit_code == 0, cut.output
    text = " ".join(cut.output.split())
    assert ("per offer (the model's out-of-fold choice: the doubly-robust plan value is best at a "
            "reach of 5%; 30% is the largest reach within one standard error of it (paired over "
            "customers))") in text
    assert ("0.01 per offer (reaching 30% of the customers): out of fold the doubly-robust plan "
            "value is best at a reach of 5%; 30% is the largest reach within one standard error "
            "of it (paired over customers)") in " ".join(render_card(card).split())
    # every positive gain is within one standard error of the best: no floor, said why
    card["min_gain"] = {**card["min_gain"], "share": 1.0, "threshold": 0.0}
    card_path.write_text(json.dumps(card))
    full = r.invoke(app, [*base, "--out", str(tmp_path / "g.parquet")])
    assert full.exit_code == 0, full.output
    assert ("minimum predicted gain: none: out of fold the doubly-robust plan value is best at a "
            "reach of 5%, and reaching every positive gain is within one standard error of it "
            "(paired over customers): no evidence for a cut") in " ".join(full.output.split())
    assert (pd.read_parquet(tmp_path / "g.parquet")["reason"] != "below_min_gain").all()
    assert "Minimum predicted gain for `plan --min-gain auto`: none: every positive gain" in (
        render_card(card))


def test_bad_inputs(logs, tmp_path):
    ex = logs.exposures.copy()
    ex.loc[3, "offer_id"] = "mystery"
    with pytest.raises(DataContractError, match="mystery"):
        train(write_dir(logs, tmp_path / "a", exposures=ex), tmp_path / "ma", **KW)
    ex = logs.exposures.assign(offer_id="none")
    with pytest.raises(InputError, match="no treated exposures"):
        train(write_dir(logs, tmp_path / "b", exposures=ex), tmp_path / "mb", **KW)
    ctrl = logs.exposures.index[logs.exposures["offer_id"] == "none"]
    ex = logs.exposures.drop(ctrl[3:])  # 3 control rows: a fold would train on one or none
    with pytest.raises(InputError, match=r"exposures\.parquet: only 3 of [\d,]+ exposures are the control"):
        train(write_dir(logs, tmp_path / "e", exposures=ex), tmp_path / "me", **KW)
    assert not (tmp_path / "me").exists()
    ex = logs.exposures.copy()
    ex.loc[7, "propensity"] = 0.0
    with pytest.raises(InputError, match=r"propensit.*\(0, 1\]"):  # contract or model check
        train(write_dir(logs, tmp_path / "c", exposures=ex), tmp_path / "mc", **KW)
    assert not (tmp_path / "mc").exists()  # nothing written on bad input
    ex = logs.exposures.assign(propensity=1.0)
    with pytest.raises(InputError, match=r"exposures\.parquet, column 'propensity': all \d+ rows with a propensity are 1"):
        train(write_dir(logs, tmp_path / "d", exposures=ex), tmp_path / "md", **KW)
    assert not (tmp_path / "md").exists()
    with pytest.raises(ModelError, match="not a model directory"):
        load_model(tmp_path)


def test_load_validates_version_and_features(trained, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(trained.model_dir, d)
    meta = json.loads((d / "model.json").read_text())
    meta["feature_list"] = meta["feature_list"][:-1]
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="feature list"):
        load_model(d)
    meta["format_version"] = 99
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format version"):
        load_model(d)


def test_evaluate_plan_uses_out_of_fold_rewards(trained, data_dir, logs):
    sc = score(trained.model_dir, data_dir).scores
    best = sc.loc[sc.groupby("customer_id")["incremental_profit"].idxmax()]
    plan = best.assign(offer_id=np.where(best["incremental_profit"] > 0, best["offer_id"], "none"))
    res = evaluate_plan(plan[["customer_id", "offer_id"]], data_dir, model=trained.model_dir,
                        n_bootstrap=50)
    assert res.rows.startswith("every exposure, rewards predicted out of fold")
    assert "estimated optimistically" in res.rows  # the saved model saw these exposures
    assert res.n_rounds == trained.card["n_holdout"] == len(logs.exposures)
    names = {e.estimator.lower() for e in res.estimates}
    assert {"ipw", "dr"} <= names
    for e in res.estimates:
        assert e.ci_low <= e.value <= e.ci_high


def test_cli_train_score_evaluate(data_dir, tmp_path):
    from offerwise.cli import app

    r = CliRunner()
    res = r.invoke(app, ["train", "--data", str(data_dir), "--out", str(tmp_path / "m"),
                         "--learner", "t", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{"):])
    assert out["ok"] and out["learner"] == "t"
    res = r.invoke(app, ["score", "--model", str(tmp_path / "m"), "--data", str(data_dir),
                         "--out", str(tmp_path / "s.parquet"), "--as-of", "2024-04-01", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout[res.stdout.index("{"):])["as_of"].startswith("2024-04-01")
    s = pd.read_parquet(tmp_path / "s.parquet")
    s.groupby("customer_id").head(1)[["customer_id", "offer_id"]].to_csv(tmp_path / "plan.csv", index=False)
    res = r.invoke(app, ["evaluate", "--decisions", str(tmp_path / "plan.csv"), "--data", str(data_dir),
                         "--model", str(tmp_path / "m"), "--bootstrap", "20", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout[res.stdout.index("{"):])["estimates"]) == 4
    res = r.invoke(app, ["train", "--data", str(data_dir), "--out", str(tmp_path / "m2"),
                         "--learner", "q"])
    assert res.exit_code == 2 and "unknown learner" in res.output
    # the default learner with --bags: the card and the model directory carry the bags
    res = r.invoke(app, ["train", "--data", str(data_dir), "--out", str(tmp_path / "m3"),
                         "--bags", "2", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "m3" / "model_card.json").read_text())
    assert card["learner"] == "ptb" and card["n_bags"] == 2
    assert "2 seed bags" in (tmp_path / "m3" / "model_card.md").read_text()
    assert "control/conv_base@1" in json.loads((tmp_path / "m3" / "model.json").read_text())["booster_files"]
    res = r.invoke(app, ["train", "--data", str(data_dir), "--out", str(tmp_path / "m4"), "--bags", "0"])
    assert res.exit_code == 2 and not (tmp_path / "m4").exists()
    # the help states the pipeline's default (a literal there: the CLI imports no models at startup)
    from offerwise.models.defaults import DEFAULT_BAGS

    help_text = " ".join(r.invoke(app, ["train", "--help"], terminal_width=200).output.split())
    assert f"(default: {DEFAULT_BAGS})" in help_text


def test_simulated_market_with_transactions(tmp_path):
    """Transaction features (point in time) + category shares, end to end on the simulator."""
    from offerwise.simulator import SimulatorConfig, simulate, write_market

    market = simulate(SimulatorConfig(n_customers=800, n_exposures=3000, seed=5, logging="legacy"))
    d = write_market(market, tmp_path / "sim")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(d, tmp_path / "m", n_estimators=30, min_child_samples=50)
    feats = res.card["features"]
    assert "recency_days" in feats and "category_share=fresh" in feats
    assert res.card["propensity"]["source"].startswith("logged")
    sc = score(res.model_dir, d).scores
    assert sc["customer_id"].nunique() == len(market.customers)
    assert np.isfinite(sc[SCORE_COLUMNS[2:]].to_numpy()).all()


def test_known_share_matches_the_cards_hashes(trained, data_dir, logs):
    """The vectorized check of the model's customer sample gives what hashing every id does,
    also for ids outside ASCII and for a sample only partly found."""
    from offerwise.data.contract import load_data
    from offerwise.workflows.score import known_share
    from offerwise.workflows.train import customer_sample, hash_id

    ds = load_data(data_dir)
    ids = pd.Series(["c1", "Kundé-7", "客户42", "c 9", *[f"x{i}" for i in range(50)]])
    sample = [*customer_sample(ids.iloc[:20]), hash_id("not-a-customer")]
    expected = sum(h in {hash_id(c) for c in ids} for h in sample) / len(sample)
    assert known_share(ds, ids, sample) == pytest.approx(expected)
    assert 0 < expected < 1
    meta = json.loads((trained.model_dir / "model.json").read_text())
    scored = pd.Series(logs.customers["customer_id"].astype(str))
    assert known_share(ds, scored, meta["customer_sample"]) == 1.0


def test_join_unique_names_a_repeated_key():
    from offerwise.features._join import join_unique

    left = pd.DataFrame({"customer_id": ["a", "b", "a"]})
    right = pd.DataFrame({"customer_id": ["a", "b"], "v": [1.0, 2.0]})
    out = join_unique(left, right, ["customer_id"], "features")
    assert out["v"].tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(ModelError, match="features: 1 extra rows.*'customer_id': 'b'"):
        join_unique(left, pd.concat([right, right.iloc[[1]]]), ["customer_id"], "features")

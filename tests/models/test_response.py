"""The multi-offer response model on simulated logs with known effects."""

from __future__ import annotations

import numpy as np
import pytest
from models_testdata import OFFERS, make_logs
from scipy.stats import spearmanr

from offerwise.errors import InputError, NotFittedError
from offerwise.models.response import SCORE_COLUMNS, OfferResponseModel

FAST = {"n_estimators": 60, "learning_rate": 0.1, "min_child_samples": 300, "n_jobs": 1}
MENU = list(OFFERS)


def _xy(logs):
    ex = logs.exposures.merge(logs.customers, on="customer_id", how="left")
    X = ex[["x1", "x2", "x3"]].to_numpy()
    return ex, X


def _fit(logs, **kw):
    ex, X = _xy(logs)
    m = OfferResponseModel(**{**FAST, **kw})
    return m.fit(X, ex["offer_id"], ex["converted"], ex["revenue"], ex["discount_cost"],
                 ex["gross_profit"], menu=MENU, propensity=kw.pop("_p", None))


@pytest.mark.parametrize(("learner", "profit"), [
    ("t", "composed"), ("x", "composed"), ("dr", "composed"), ("tb", "composed"),
    ("t", "direct"), ("t", "hurdle"), ("tb", "hurdle"), ("dr", "hurdle"), ("ptb", "hurdle"),
])
def test_recovers_incremental_profit(logs, learner, profit):
    m = _fit(logs, learner=learner, profit=profit)
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    sc = m.predict(X)
    df = sc.to_frame(logs.customers["customer_id"])
    assert list(df.columns) == SCORE_COLUMNS
    assert len(df) == len(logs.customers) * len(OFFERS)
    merged = df.merge(logs.truth, on=["customer_id", "offer_id"], suffixes=("", "_true"))
    for o, g in merged.groupby("offer_id"):
        rho = spearmanr(g["incremental_profit"], g["incremental_profit_true"])[0]
        assert rho >= 0.5, (learner, profit, o, rho)
    # identities between the columns
    np.testing.assert_allclose(sc.p_convert - sc.p_convert_none, sc.incremental_conversion)
    assert (sc.expected_cost >= 0).all() and ((sc.p_convert >= 0) & (sc.p_convert <= 1)).all()
    # the deeper discount costs more
    assert sc.expected_cost[:, 1].mean() > sc.expected_cost[:, 0].mean()


def test_targeted_logging_with_logged_and_estimated_propensities():
    logs = make_logs(n_exposures=5000, seed=1, logging="targeted")
    ex, X = _xy(logs)
    for prop in (ex["propensity"].to_numpy(), None):
        m = OfferResponseModel(learner="dr", **FAST).fit(
            X, ex["offer_id"], ex["converted"], ex["revenue"], ex["discount_cost"],
            ex["gross_profit"], menu=MENU, propensity=prop)
        assert m.propensity_.source == ("logged" if prop is not None else "estimated")
        sc = m.predict(logs.customers[["x1", "x2", "x3"]].to_numpy())
        truth = logs.truth[logs.truth.offer_id == "p20"]["incremental_profit"].to_numpy()
        assert spearmanr(sc.incremental_profit[:, 1], truth)[0] >= 0.4


def test_not_fitted_and_bad_inputs(logs):
    ex, X = _xy(logs)
    with pytest.raises(NotFittedError):
        OfferResponseModel().predict(X)
    args = (ex["converted"], ex["revenue"], ex["discount_cost"], ex["gross_profit"])
    bad = ex["offer_id"].where(ex.index != 5, "mystery")
    with pytest.raises(InputError, match="not on the menu.*mystery"):
        OfferResponseModel(**FAST).fit(X, bad, *args, menu=MENU)
    with pytest.raises(InputError, match="no treated exposures"):
        OfferResponseModel(**FAST).fit(X, np.full(len(ex), "none"), *args, menu=MENU)
    with pytest.raises(InputError, match="no control exposures"):
        OfferResponseModel(**FAST).fit(X, np.full(len(ex), "p10"), *args, menu=MENU)
    p = ex["propensity"].to_numpy().copy()
    p[0] = 0.0
    with pytest.raises(InputError, match="propensity of 0"):
        OfferResponseModel(learner="dr", **FAST).fit(X, ex["offer_id"], *args, menu=MENU,
                                                     propensity=p)
    with pytest.raises(InputError, match=r"unknown learner 'q'; choose one of \['dr', 'ptb', 't', 'tb', 'x'\]"):
        OfferResponseModel(learner="q").fit(X, ex["offer_id"], *args, menu=MENU)
    with pytest.raises(InputError, match="profit must be one of"):
        OfferResponseModel(profit="q").fit(X, ex["offer_id"], *args, menu=MENU)


@pytest.mark.parametrize("learner", ["tb", "ptb"])
def test_hurdle_state_round_trip(logs, learner):
    import lightgbm as lgb

    m = _fit(logs, learner=learner, profit="hurdle")
    meta, boosters = m.to_state()
    assert {"pooled/net_profit", "pooled/cost"} <= set(boosters)
    if learner == "ptb":  # one pooled conversion model, per-offer learners only for revenue
        assert {"control/conv_base", "control/conv_r0", "pooled/conv_r1"} <= set(boosters)
        assert all("conversion" not in per for per in m.learners_.values())
    again = OfferResponseModel.from_state(
        meta, {k: lgb.Booster(model_str=b.model_to_string()) for k, b in boosters.items()})
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    np.testing.assert_allclose(again.predict(X).incremental_profit, m.predict(X).incremental_profit)
    np.testing.assert_allclose(again.predict_net_profit(X), m.predict_net_profit(X))


def test_rare_and_missing_offers_are_skipped(logs):
    ex, X = _xy(logs)
    keep = (ex["offer_id"] != "p20") | (np.arange(len(ex)) % 100 == 0)  # ~20 p20 rows left
    ex, X = ex[keep], X[keep.to_numpy()]
    m = OfferResponseModel(**FAST).fit(
        X, ex["offer_id"], ex["converted"], ex["revenue"], ex["discount_cost"],
        ex["gross_profit"], menu=[*MENU, "p30"])
    assert m.offers_ == ["p10"]
    reasons = {s["offer_id"]: s["reason"] for s in m.skipped_}
    assert "min_treated" in reasons["p20"] and "no exposures" in reasons["p30"]
    assert m.predict(X[:5]).incremental_profit.shape == (5, 1)
    with pytest.raises(InputError, match="no offer has enough"):
        OfferResponseModel(**{**FAST, "min_treated": 10**6}).fit(
            X, ex["offer_id"], ex["converted"], ex["revenue"], ex["discount_cost"],
            ex["gross_profit"], menu=MENU)


def test_pooled_conversion_bags_round_trip_and_old_models(logs):
    import lightgbm as lgb

    m = _fit(logs, learner="ptb", profit="hurdle", n_bags=2)
    meta, boosters = m.to_state()
    assert {"control/conv_base@1", "control/conv_r0@1", "pooled/conv_r1@1"} <= set(boosters)
    again = OfferResponseModel.from_state(
        meta, {k: lgb.Booster(model_str=b.model_to_string()) for k, b in boosters.items()})
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    np.testing.assert_allclose(again.predict(X).incremental_profit, m.predict(X).incremental_profit)
    # a model saved before bagging (no n_bags parameter, no '@' boosters) loads and predicts as
    # the one-bag model: bag 0 is fitted with the same seeds
    old_meta = {**meta, "params": {k: v for k, v in meta["params"].items() if k != "n_bags"}}
    old = OfferResponseModel.from_state(old_meta, {k: v for k, v in boosters.items() if "@" not in k})
    single = _fit(logs, learner="ptb", profit="hurdle", n_bags=1)
    np.testing.assert_allclose(old.predict(X).p_convert, single.predict(X).p_convert)
    assert not np.allclose(m.predict(X).p_convert, single.predict(X).p_convert)
    with pytest.raises(InputError, match="n_bags"):
        _fit(logs, learner="ptb", profit="hurdle", n_bags=0)


def test_bag_spread_of_incremental_profit(logs):
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    two = _fit(logs, learner="ptb", profit="hurdle", n_bags=2).predict(X)
    one = _fit(logs, learner="ptb", profit="hurdle", n_bags=1).predict(X)
    assert (two.incremental_profit_sd >= 0).all() and (two.incremental_profit_sd > 0).mean() > 0.9
    assert (one.incremental_profit_sd == 0).all()  # one bag: nothing to compare
    # the spread is small next to the gains it qualifies
    assert np.median(two.incremental_profit_sd) < np.median(np.abs(two.incremental_profit))
    assert "incremental_profit_sd" in two.to_frame(logs.customers["customer_id"]).columns


@pytest.mark.parametrize(("learner", "profit"), [("ptb", "hurdle"), ("tb", "composed")])
def test_compiled_tree_kernels_give_lightgbm_scores(logs, monkeypatch, learner, profit):
    pytest.importorskip("numba")
    from offerwise.models import forest

    m = _fit(logs, learner=learner, profit=profit, n_bags=2)
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    X[::7, 1] = np.nan  # rows with a missing feature take the splits' NaN side
    monkeypatch.setattr(forest, "MIN_ROWS", 0)
    assert forest._kernels() is not None
    fast, fast_np = m.predict(X), m.predict_net_profit(X)
    monkeypatch.setenv("OFFERWISE_FAST_TREES", "0")
    assert forest._kernels() is None
    slow, slow_np = m.predict(X), m.predict_net_profit(X)
    for c in SCORE_COLUMNS[2:]:
        np.testing.assert_allclose(getattr(fast, c), getattr(slow, c), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast_np, slow_np, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("bags", "jobs"), [(1, 1), (3, 1), (3, 2)])
def test_compiled_pooled_arithmetic_gives_numpys_numbers_bit_for_bit(logs, monkeypatch, bags, jobs):
    """The pooled hurdle model's arithmetic compiled (one pass over the rows) gives the numpy
    code's numbers exactly, serial and parallel, one bag and three (the spread), with missing
    features and rows far outside the training range (clipping: tests/models/test_score_kernels.py)."""
    pytest.importorskip("numba")
    from offerwise.models import forest, response

    m = _fit(logs, learner="ptb", profit="hurdle", n_bags=bags)
    m.n_jobs = jobs
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    X = np.vstack([X, X * 40.0])  # far outside the training range: probabilities near 0 or 1
    X[::7, 1] = np.nan
    monkeypatch.setattr(forest, "MIN_ROWS", 0)
    assert forest.compiled_arithmetic(len(X)) is not None
    fast, fast_base = m._predict(X)
    monkeypatch.setattr(response, "compiled_arithmetic", lambda n: None)  # numpy, same trees
    slow, slow_base = m._predict(X)
    np.testing.assert_array_equal(fast.block, slow.block)
    np.testing.assert_array_equal(fast_base, slow_base)


def test_scores_frame_from_one_block_equals_the_column_by_column_frame() -> None:
    """``predict`` lays the score arrays out as planes of one block, which ``to_frame`` uses
    without a copy; the frame equals the one built from separate arrays, and an array replaced
    after predicting is not read from the stale block."""
    import dataclasses

    import pandas as pd

    from offerwise.models.response import ResponseScores

    rng = np.random.default_rng(0)
    n, k = 7, 3
    cols = SCORE_COLUMNS[2:]
    blk = rng.normal(size=(len(cols), n, k))
    ids = [f"c{i}" for i in range(n)]
    shared = ResponseScores(["a", "b", "c"], **{c: blk[i] for i, c in enumerate(cols)}, block=blk)
    apart = ResponseScores(["a", "b", "c"], **{c: blk[i].copy() for i, c in enumerate(cols)})
    df = shared.to_frame(ids)
    assert list(df.columns) == list(SCORE_COLUMNS)
    assert np.shares_memory(df["incremental_profit"].to_numpy(), blk)
    pd.testing.assert_frame_equal(df, apart.to_frame(ids))
    changed = dataclasses.replace(shared, expected_cost=blk[5] + 1.0)
    assert np.array_equal(changed.to_frame(ids)["expected_cost"], blk[5].reshape(-1) + 1.0)

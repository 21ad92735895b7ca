"""Forecast maths on hand-computable cases, and statsforecast picking the model a series obeys."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from offerwise.demand.forecast import (
    FORECAST_COLUMNS,
    backtest_plan,
    coverage,
    fit_forecast,
    mase,
    naive_scale,
    score_backtest,
    seasonality,
    select_models,
)
from offerwise.errors import InputError


def test_mase_and_coverage_by_hand() -> None:
    scale = naive_scale(np.array([1.0, 3.0, 2.0, 4.0]))  # |2|, |1|, |2| -> 5/3
    assert scale == pytest.approx(5 / 3)
    assert mase(np.array([4.0, 4.0]), np.array([3.0, 5.0]), scale) == pytest.approx(0.6)
    assert math.isnan(mase(np.array([1.0]), np.array([2.0]), naive_scale(np.array([3.0, 3.0]))))
    assert coverage(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.5, 3.0]), np.array([2.0, 3.0, 3.0])) == pytest.approx(2 / 3)


def test_backtest_plan_and_seasonality() -> None:
    assert backtest_plan(40, 12) == backtest_plan(40, 12)  # frozen dataclass
    p = backtest_plan(40, 12)
    assert (p.n_windows, p.step) == (3, 4)
    assert backtest_plan(25, 12).n_windows == 1
    with pytest.raises(InputError, match="at least 24 weeks"):
        backtest_plan(20, 12)
    with pytest.raises(InputError, match="--horizon 0"):
        backtest_plan(40, 0)
    assert (seasonality(103).auto, seasonality(103).naive) == (1, 4)
    assert (seasonality(104).auto, seasonality(104).naive) == (52, 52)


def test_select_models_by_mean_absolute_error_ties_to_the_first() -> None:
    cv = pd.DataFrame({
        "unique_id": ["a", "a", "b", "b"],
        "y": [1.0, 2.0, 5.0, 5.0],
        "Naive": [1.0, 3.0, 5.0, 5.0],   # a: MAE 0.5; b: 0
        "AutoETS": [1.0, 2.0, 5.0, 5.0],  # a: 0;      b: 0 (tie -> Naive)
    })
    assert select_models(cv, ["Naive", "AutoETS"]).to_dict() == {"a": "AutoETS", "b": "Naive"}


def test_select_models_keeps_the_level_model_unless_clearly_beaten() -> None:
    # AutoETS is the level's model (relative MAE 1, 1, 1.05 vs Naive 1.5, 1.3, 1)
    cv = pd.DataFrame({
        "unique_id": ["a", "b", "c", "d"],
        "y": [10.0, 10.0, 10.0, 10.0],
        "Naive": [13.0, 11.3, 10.95, 8.0],  # MAE 3, 1.3, 0.95, 2
        "AutoETS": [12.0, 11.0, 11.0, 11.0],  # MAE 2, 1, 1, 1
    })
    got = select_models(cv, ["Naive", "AutoETS"], margin=0.1).to_dict()
    assert got == {"a": "AutoETS", "b": "AutoETS", "c": "AutoETS", "d": "AutoETS"}  # c: 5 % < 10 %
    cv.loc[2, "Naive"] = 10.5  # c: MAE 0.5, half of AutoETS's
    assert select_models(cv, ["Naive", "AutoETS"], margin=0.1)["c"] == "Naive"
    assert select_models(cv, ["Naive", "AutoETS"], margin=0.0).to_dict()["c"] == "Naive"


def test_score_backtest_by_hand() -> None:
    w = pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"])
    train = pd.DataFrame({"series": "s", "week": w[:3], "y": [1.0, 3.0, 2.0]})  # scale 1.5
    test = pd.DataFrame({"series": "s", "week": w[3:], "y": [5.0]})
    fc = pd.DataFrame({"series": "s", "week": w[3:].repeat(2), "model": ["Naive", "AutoETS"], "yhat": [2.0, 5.0],
                       "lo80": [1.0, 4.0], "hi80": [3.0, 6.0], "lo95": [0.0, 3.0], "hi95": [6.0, 7.0]})
    bt = score_backtest(train, test, fc, pd.Series({"s": "AutoETS"})).metrics.set_index("model")
    assert bt.loc["Naive", "mase"] == pytest.approx(2.0) and bt.loc["Naive", "coverage80"] == 0.0
    assert bt.loc["Naive", "coverage95"] == 1.0
    assert bt.loc["selected", "mase"] == 0.0 and bt.loc["selected", "coverage80"] == 1.0


def test_statsforecast_picks_seasonal_naive_for_a_period_four_series() -> None:
    weeks = pd.date_range("2024-01-01", periods=32, freq="7D")
    rng = np.random.default_rng(0)
    sales = pd.concat([
        pd.DataFrame({"series": "cycle", "week": weeks, "y": np.tile([10.0, 20.0, 30.0, 40.0], 8)}),
        pd.DataFrame({"series": "noise", "week": weeks, "y": 100 + rng.normal(0, 5, 32)}),
    ])
    fit = fit_forecast(sales, 4, n_jobs=1)
    assert list(fit.frame.columns) == list(FORECAST_COLUMNS) and len(fit.frame) == 8
    assert fit.chosen["cycle"] == "SeasonalNaive"
    cyc = fit.frame[fit.frame["series"] == "cycle"]
    assert cyc["yhat"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert list(cyc["week"]) == list(pd.date_range("2024-08-12", periods=4, freq="7D"))
    f = fit.frame
    assert ((f["lo95"] <= f["lo80"]) & (f["lo80"] <= f["yhat"]) & (f["yhat"] <= f["hi80"]) & (f["hi80"] <= f["hi95"])).all()
    assert (f[["yhat", "lo80", "lo95"]] >= 0).all().all()

"""Statistical forecasts of weekly sales (statsforecast), chosen per series by backtest.

The candidates are statsforecast's ``Naive``, ``SeasonalNaive``, ``AutoETS``, ``AutoTheta`` and
``AutoARIMA``. Seasonality: with at least two years of weeks every model uses a 52-week season;
with less, a yearly season cannot be estimated, so the automatic models are non-seasonal and
``SeasonalNaive`` repeats the last 4 weeks (a month: pay-day and benefit cycles).

Per series a model is chosen by its mean absolute error over a rolling-origin backtest on the
history (``cross_validation``: up to 3 origins, ``horizon`` weeks each, parameters fitted at the
first origin): the level's best model unless another beats it on that series by more than
:data:`SWITCH_MARGIN` (:func:`select_models`). It is then refitted on the whole history for the
forecast with 80 % and 95 % prediction intervals. Sales are never negative: forecasts and bounds
are clipped at 0.

Default candidates: :data:`DEFAULT_MODELS`, without ``AutoARIMA``: statsforecast's AutoARIMA fits
each candidate order by numerical optimisation, about 0.1 s per weekly series on one core, 15x
slower than the other four together, for a small gain in the Complete Journey backtest
(docs/demand.md); ``--models all`` adds it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from offerwise.errors import InputError, require

__all__ = [
    "FORECAST_COLUMNS",
    "MIN_TRAIN_WEEKS",
    "DEFAULT_MODELS",
    "MODEL_NAMES",
    "Backtest",
    "BacktestPlan",
    "ForecastFit",
    "Seasonality",
    "backtest_plan",
    "check_models",
    "coverage",
    "fit_forecast",
    "mase",
    "naive_scale",
    "score_backtest",
    "seasonality",
    "SWITCH_MARGIN",
    "backtest_mae",
    "choose_models",
    "select_models",
]

#: Candidate models, simplest first (ties in the backtest go to the simpler model).
MODEL_NAMES: tuple[str, ...] = ("Naive", "SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA")
#: Candidates when none are named (AutoARIMA is slow; see the module docstring).
DEFAULT_MODELS: tuple[str, ...] = ("Naive", "SeasonalNaive", "AutoETS", "AutoTheta")
#: Columns of a forecast file.
FORECAST_COLUMNS = ("series", "week", "model", "yhat", "lo80", "hi80", "lo95", "hi95")
#: Fewest weeks a model is fitted on in the backtest.
MIN_TRAIN_WEEKS = 12
_LEVELS = [80, 95]


class _Model(Protocol):
    alias: str


@dataclass(frozen=True, slots=True)
class Seasonality:
    """Season lengths in weeks: ``auto`` for AutoETS/AutoTheta/AutoARIMA, ``naive`` for
    SeasonalNaive."""

    auto: int
    naive: int

    @property
    def note(self) -> str:
        if self.auto == 52:
            return "52-week season (two years of history or more)"
        return (
            "less than two years of history: no yearly season; automatic models non-seasonal, "
            f"SeasonalNaive repeats the last {self.naive} weeks"
        )


def seasonality(n_weeks: int) -> Seasonality:
    """52-week seasons with ``n_weeks`` >= 104, else non-seasonal models and a 4-week
    SeasonalNaive."""
    return Seasonality(52, 52) if n_weeks >= 104 else Seasonality(1, 4)


def check_models(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` in the order of :data:`MODEL_NAMES`; :class:`InputError` on an unknown one."""
    bad = [n for n in names if n not in MODEL_NAMES]
    if bad or not names:
        raise InputError(f"--models: unknown model(s) {bad} (use some of {', '.join(MODEL_NAMES)})")
    return tuple(n for n in MODEL_NAMES if n in names)


def _models(names: Sequence[str], s: Seasonality) -> list[_Model]:
    require("statsforecast", "demand")  # a missing package names the extra
    m = require("statsforecast.models", "demand")
    make = {
        "Naive": lambda: m.Naive(),
        "SeasonalNaive": lambda: m.SeasonalNaive(season_length=s.naive),
        "AutoETS": lambda: m.AutoETS(season_length=s.auto),
        "AutoTheta": lambda: m.AutoTheta(season_length=s.auto),
        "AutoARIMA": lambda: m.AutoARIMA(season_length=s.auto),
    }
    return [make[n]() for n in names]


@dataclass(frozen=True, slots=True)
class BacktestPlan:
    """Rolling origins of the model choice: ``n_windows`` origins ``step`` weeks apart, each
    forecasting ``horizon`` weeks; the first is fitted on ``n_weeks - horizon - (n_windows-1) *
    step`` weeks."""

    horizon: int
    n_windows: int
    step: int


def backtest_plan(n_weeks: int, horizon: int, max_windows: int = 3) -> BacktestPlan:
    """Up to ``max_windows`` origins ``max(1, horizon // 3)`` weeks apart that leave at least
    :data:`MIN_TRAIN_WEEKS` weeks to fit; :class:`InputError` when even one does not."""
    if horizon < 1:
        raise InputError(f"--horizon {horizon}: must be at least 1 week")
    room = n_weeks - horizon - MIN_TRAIN_WEEKS
    if room < 0:
        raise InputError(
            f"{n_weeks} weeks of history are too few for a {horizon}-week horizon: the backtest "
            f"that picks each series' model needs at least {horizon + MIN_TRAIN_WEEKS} weeks"
        )
    step = max(1, horizon // 3)
    return BacktestPlan(horizon, min(max_windows, room // step + 1), step)


def _sf(models: list[_Model], n_jobs: int) -> object:
    core = require("statsforecast", "demand")
    fallback = require("statsforecast.models", "demand").Naive()
    return core.StatsForecast(models=models, freq="7D", n_jobs=n_jobs, fallback_model=fallback)


def _long(sales: pd.DataFrame) -> pd.DataFrame:
    return sales.rename(columns={"series": "unique_id", "week": "ds"})[["unique_id", "ds", "y"]]


#: A series leaves the level's best model only for one whose backtest error is this much lower.
SWITCH_MARGIN = 0.10


def backtest_mae(cv: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """(series x model) mean absolute error of each model of ``names`` (columns of ``cv``, a
    ``cross_validation`` frame with ``y``) over its backtest points; index ``unique_id`` as
    strings, sorted."""
    err = cv[list(names)].sub(cv["y"], axis=0).abs()
    err["unique_id"] = cv["unique_id"].astype(str).to_numpy()
    return err.groupby("unique_id", sort=True)[list(names)].mean()


def select_models(
    cv: pd.DataFrame, names: Sequence[str], margin: float = SWITCH_MARGIN
) -> pd.Series:
    """Per series (``unique_id``) a model of ``names`` by :func:`backtest_mae`."""
    return choose_models(backtest_mae(cv, names), margin)


def choose_models(mae_frame: pd.DataFrame, margin: float = SWITCH_MARGIN) -> pd.Series:
    """Per series (rows of the :func:`backtest_mae` frame) a model (its columns).

    The level's model ``G`` is the one with the lowest mean over series of MAE / (the series'
    smallest MAE); a series keeps ``G`` unless another model's MAE is lower by more than
    ``margin`` (a share) — a few backtest origins pick noisily, and a small win there does not
    carry to the future. Ties go to the first column.
    """
    mae = mae_frame.fillna(np.inf).to_numpy()
    best = np.argmin(mae, axis=1)
    low = mae[np.arange(len(mae)), best]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(low[:, None] > 0, mae / low[:, None], np.where(mae > 0, np.inf, 1.0))
    rel = np.where(np.isfinite(rel), rel, np.nan)
    g = int(np.nanargmin(np.nanmean(rel, axis=0))) if np.isfinite(rel).any() else 0
    pick = np.where(low >= (1.0 - margin) * mae[:, g], g, best)
    return pd.Series(np.asarray(mae_frame.columns, dtype=object)[pick], index=mae_frame.index)


@dataclass(frozen=True, slots=True)
class ForecastFit:
    """A forecast: ``frame`` with :data:`FORECAST_COLUMNS`; ``chosen`` the model per series;
    ``backtest_mae`` (series x model) the mean absolute error of each candidate in the model
    choice; ``all_models`` (only when asked) every candidate's forecast, long, same columns."""

    frame: pd.DataFrame
    chosen: pd.Series
    backtest_mae: pd.DataFrame
    plan: BacktestPlan
    seasonality: Seasonality
    all_models: pd.DataFrame | None = None


def _tidy(fc: pd.DataFrame, name: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "series": fc["unique_id"].astype(str).to_numpy(),
            "week": pd.to_datetime(fc["ds"]).to_numpy(),
            "model": name,
            "yhat": fc[name].to_numpy(dtype=np.float64),
            "lo80": fc[f"{name}-lo-80"].to_numpy(dtype=np.float64),
            "hi80": fc[f"{name}-hi-80"].to_numpy(dtype=np.float64),
            "lo95": fc[f"{name}-lo-95"].to_numpy(dtype=np.float64),
            "hi95": fc[f"{name}-hi-95"].to_numpy(dtype=np.float64),
        }
    )
    num = ["yhat", "lo80", "hi80", "lo95", "hi95"]
    out[num] = out[num].clip(lower=0.0)
    return out


def fit_forecast(
    sales: pd.DataFrame,
    horizon: int,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    n_jobs: int = 1,
    keep_all: bool = False,
) -> ForecastFit:
    """Forecast ``horizon`` weeks after the last week of ``sales`` (long: ``series``, ``week``,
    ``y``; every series on the same weekly grid), each series with its backtest-chosen model.

    ``keep_all``: also forecast every candidate for every series (for evaluation), otherwise only
    the chosen model is refitted.
    """
    names = check_models(models)
    n_weeks = int(sales.groupby("series").size().max())
    plan = backtest_plan(n_weeks, horizon)
    seas = seasonality(n_weeks)
    df = _long(sales)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = _sf(_models(names, seas), n_jobs).cross_validation(  # type: ignore[attr-defined]
            h=horizon, df=df, n_windows=plan.n_windows, step_size=plan.step, refit=False
        )
        mae = backtest_mae(cv, names)
        chosen = choose_models(mae)
        all_frame: pd.DataFrame | None = None
        if keep_all:
            fc = _sf(_models(names, seas), n_jobs).forecast(  # type: ignore[attr-defined]
                h=horizon, df=df, level=_LEVELS
            )
            all_frame = pd.concat([_tidy(fc, n) for n in names], ignore_index=True)
            key = all_frame["series"].map(chosen)
            parts = [all_frame[all_frame["model"] == key]]
        else:
            parts = []
            for name in names:
                ids = chosen.index[chosen == name]
                if len(ids) == 0:
                    continue
                sub = df[df["unique_id"].astype(str).isin(ids)]
                fc = _sf(_models([name], seas), n_jobs).forecast(  # type: ignore[attr-defined]
                    h=horizon, df=sub, level=_LEVELS
                )
                parts.append(_tidy(fc, name))
    frame = pd.concat(parts, ignore_index=True).sort_values(["series", "week"], kind="stable")
    return ForecastFit(
        frame.reset_index(drop=True)[list(FORECAST_COLUMNS)], chosen, mae, plan, seas, all_frame
    )


# ---- accuracy ---------------------------------------------------------------------------------


def naive_scale(y_train: np.ndarray) -> float:
    """MASE scale of one series: mean |y_t - y_{t-1}| over its training weeks (NaN if < 2)."""
    y = np.asarray(y_train, dtype=np.float64)
    return float(np.mean(np.abs(np.diff(y)))) if y.size >= 2 else math.nan


def mase(y_true: np.ndarray, y_pred: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: mean |y - yhat| / ``scale`` (NaN when ``scale`` is 0)."""
    if not scale > 0:
        return math.nan
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))) / scale)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of ``y`` inside ``[lo, hi]`` (bounds included)."""
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean((y >= np.asarray(lo)) & (y <= np.asarray(hi)))) if y.size else math.nan


@dataclass(frozen=True, slots=True)
class Backtest:
    """Held-out accuracy: ``metrics`` one row per model (``selected`` first): ``mase`` (mean over
    series), ``mase_median``, ``coverage80``, ``coverage95``, ``n_series`` (series with a MASE),
    ``no_scale`` (series constant in training, no MASE); ``points``: the held-out forecasts of
    every model with the actual ``y``."""

    metrics: pd.DataFrame
    points: pd.DataFrame
    holdout_weeks: int
    train_weeks: int


def score_backtest(
    train: pd.DataFrame, test: pd.DataFrame, forecasts: pd.DataFrame, chosen: pd.Series
) -> Backtest:
    """Score ``forecasts`` (long, :data:`FORECAST_COLUMNS`, every model) on ``test`` (``series``,
    ``week``, ``y``); the MASE scale of each series comes from ``train``. The ``selected`` rows
    are each series' ``chosen`` model."""
    scale = train.groupby("series")["y"].apply(lambda s: naive_scale(s.to_numpy()))
    pts = forecasts.merge(test[["series", "week", "y"]], on=["series", "week"], how="inner")
    sel = pts[pts["model"] == pts["series"].map(chosen)].assign(model="selected")
    pts = pd.concat([sel, pts], ignore_index=True)
    rows = []
    for model, g in pts.groupby("model", sort=False):
        per = g.groupby("series").apply(
            lambda s: mase(s["y"].to_numpy(), s["yhat"].to_numpy(), float(scale[s.name])),
            include_groups=False,
        )
        rows.append(
            {
                "model": str(model),
                "mase": float(per.mean()),
                "mase_median": float(per.median()),
                "coverage80": coverage(g["y"], g["lo80"], g["hi80"]),
                "coverage95": coverage(g["y"], g["lo95"], g["hi95"]),
                "n_series": int(per.notna().sum()),
                "no_scale": int(per.isna().sum()),
            }
        )
    n_train = int(train.groupby("series").size().max())
    n_test = int(test.groupby("series").size().max())
    return Backtest(pd.DataFrame(rows), pts, n_test, n_train)

"""``offerwise forecast``: weekly sales per category or top product, each series with the
statistical model its backtest chose, 80 % and 95 % prediction intervals; ``evaluate`` adds a
held-out backtest (MASE, interval coverage) against naive and seasonal-naive forecasts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.demand.forecast import (
    DEFAULT_MODELS,
    Backtest,
    check_models,
    fit_forecast,
    score_backtest,
    seasonality,
)
from offerwise.demand.weekly import WEEK, Level, Target, check_level, check_target, weekly_sales
from offerwise.errors import InputError, Problem
from offerwise.vocab import parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data

__all__ = ["FORECAST_ATTRS_KEYS", "ForecastRun", "load_lines", "run_forecast", "transactions_as_of"]

#: Marks a forecast file written by ``offerwise forecast`` (Parquet metadata; with level, target,
#: as_of).
FORECAST_ATTRS_KEYS: dict[str, str] = {"offerwise": "forecast"}


@dataclass(slots=True)
class ForecastRun:
    """What ``offerwise forecast`` did: the forecast (``frame``, forecast-file columns; empty when
    only evaluating), the model chosen per series, the optional ``backtest``, timings (s)."""

    frame: pd.DataFrame
    chosen: pd.Series
    level: Level
    target: Target
    horizon: int
    as_of: pd.Timestamp
    n_series: int
    n_weeks: int
    zero_filled: int
    seasonality: str
    out: str | None
    backtest: Backtest | None = None
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def series_per_second(self) -> float:
        """Series forecast per second of model fitting (backtest choice + refit)."""
        s = self.timings.get("forecast", 0.0)
        return self.n_series / s if s > 0 and len(self.frame) else float("nan")

    def model_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.chosen.value_counts().items()}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (not the forecast rows)."""
        bt = self.backtest
        return {
            "out": self.out,
            "level": self.level,
            "target": self.target,
            "horizon": self.horizon,
            "as_of": self.as_of.isoformat(),
            "n_series": self.n_series,
            "history_weeks": self.n_weeks,
            "zero_filled_weeks": self.zero_filled,
            "seasonality": self.seasonality,
            "models_chosen": self.model_counts(),
            "series_per_second": round(self.series_per_second, 1)
            if self.series_per_second == self.series_per_second
            else None,
            "backtest": None
            if bt is None
            else {
                "holdout_weeks": bt.holdout_weeks,
                "train_weeks": bt.train_weeks,
                "metrics": bt.metrics.to_dict("records"),
            },
            "warnings": [w.to_dict() for w in self.warnings],
            "seconds": self.timings,
        }


def transactions_as_of(ds: DataSet, as_of: object) -> pd.Timestamp:
    """``as_of`` parsed, or the midnight after the last transaction."""
    if as_of is not None:
        return parse_as_of(as_of)
    last = ds.last_ts("transactions")
    if last is None:
        raise InputError(f"{ds.root}: the transactions table is empty")
    return (pd.Timestamp(last) + pd.Timedelta(days=1)).normalize()


def load_lines(ds: DataSet, with_category: bool) -> pd.DataFrame:
    """Transaction lines (``product_id``, ``ts``, ``quantity``, ``amount``, ``discount`` and,
    when asked, the product's ``category``) from the validated source."""
    if with_category and not ds.has("products"):
        raise InputError(
            f"{ds.root}: the products table is missing: category level needs each product's "
            "category"
        )
    cols = "t.product_id, t.ts, t.quantity, t.amount, t.discount"
    if with_category:
        join = "LEFT JOIN products p USING (product_id)"
        sql = f"SELECT {cols}, p.category FROM transactions t {join}"
    else:
        sql = f"SELECT {cols} FROM transactions t"
    df = ds.con.execute(sql).df()
    df["product_id"] = df["product_id"].astype(str)
    return df


def run_forecast(
    data: DataArg,
    *,
    level: str,
    horizon: int,
    out: str | Path | None = None,
    as_of: object = None,
    target: str = "amount",
    top: int = 200,
    evaluate: bool = False,
    holdout_weeks: int = 12,
    models: tuple[str, ...] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ForecastRun:
    """Forecast ``horizon`` weeks of sales (``target`` amount or units) per ``level`` series
    (categories, or the ``top`` products by sales) from the history before ``as_of`` (default:
    midnight after the last transaction) and write it atomically to ``out``; with ``evaluate``
    also (or only, without ``out``) backtest on the last ``holdout_weeks`` weeks. ``models``: the
    candidates (default: :data:`~offerwise.demand.forecast.DEFAULT_MODELS`, without AutoARIMA)."""
    settings = settings or default_settings()
    names = DEFAULT_MODELS if models is None else check_models(models)
    lvl, tgt = check_level(level), check_target(target)
    if horizon < 1:
        raise InputError(f"--horizon {horizon}: must be at least 1 week")
    if top < 1:
        raise InputError(f"--top {top}: must be at least 1")
    if evaluate and holdout_weeks < 1:
        raise InputError(f"--holdout-weeks {holdout_weeks}: must be at least 1")
    if out is None and not evaluate:
        raise InputError("--out is required (or --evaluate for the backtest only)")
    n_jobs = max(1, min(2, settings.threads))
    t0 = time.perf_counter()
    note(progress, "reading transactions")
    ds = open_data(data, settings, ("transactions",))
    ts = transactions_as_of(ds, as_of)
    lines = load_lines(ds, lvl == "category")
    file = str(ds.files.get("transactions", "transactions"))
    top_n = top if lvl == "product" else None
    timings: dict[str, float] = {"load": round(time.perf_counter() - t0, 3)}
    backtest = None
    if evaluate:
        note(progress, f"backtest on the last {holdout_weeks} weeks")
        t1 = time.perf_counter()
        cut = ts - holdout_weeks * WEEK
        sales = weekly_sales(
            lines, level=lvl, target=tgt, as_of=ts, top=top_n, rank_before=cut, file=file
        )
        train = sales.frame[sales.frame["week"] < cut]
        test = sales.frame[sales.frame["week"] >= cut]
        fit = fit_forecast(train, holdout_weeks, models=names, n_jobs=n_jobs, keep_all=True)
        assert fit.all_models is not None
        backtest = score_backtest(train, test, fit.all_models, fit.chosen)
        timings["backtest"] = round(time.perf_counter() - t1, 3)
    sales = weekly_sales(lines, level=lvl, target=tgt, as_of=ts, top=top_n, file=file)
    frame = pd.DataFrame(columns=["series", "week", "model", "yhat"])
    chosen = pd.Series(dtype=object)
    if out is not None:
        note(progress, f"forecasting {sales.n_series:,} series")
        t2 = time.perf_counter()
        fit = fit_forecast(sales.frame, horizon, models=names, n_jobs=n_jobs)
        timings["forecast"] = round(time.perf_counter() - t2, 3)
        frame, chosen = fit.frame, fit.chosen
        # what the rows are, kept in the Parquet file's metadata (``offerwise plan --forecast``
        # checks that it reads category units)
        frame.attrs = {**FORECAST_ATTRS_KEYS, "level": lvl, "target": tgt, "as_of": ts.isoformat()}
        write_table(frame, out)
    elif backtest is not None:
        chosen = fit.chosen
    timings["total"] = round(time.perf_counter() - t0, 3)
    return ForecastRun(
        frame=frame,
        chosen=chosen,
        level=lvl,
        target=tgt,
        horizon=horizon,
        as_of=ts,
        n_series=sales.n_series,
        n_weeks=sales.n_weeks,
        zero_filled=sales.zero_filled,
        seasonality=seasonality(sales.n_weeks).note,
        out=None if out is None else str(out),
        backtest=backtest,
        warnings=list(ds.warnings),
        timings=timings,
    )

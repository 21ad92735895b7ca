"""The report's demand and price plots: forecasts with intervals, elasticities with intervals,
the price index against competitors. Same conventions as :mod:`offerwise.report.plots`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.report.plots import _figure, _styled
from offerwise.report.tables import require_columns

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_elasticities", "plot_forecasts", "plot_price_index", "top_series"]


def top_series(forecast: pd.DataFrame, n: int = 6) -> list[str]:
    """The ``n`` series with the largest summed forecast (``yhat``)."""
    s = pd.to_numeric(forecast["yhat"], errors="coerce").groupby(forecast["series"].astype(str))
    return [str(k) for k in s.sum().sort_values(ascending=False).index[:n]]


@_styled
def plot_forecasts(
    forecast: pd.DataFrame, *, history: pd.DataFrame | None = None, n: int = 6
) -> Figure:
    """Small multiples of the ``n`` largest series of a forecast file (``series``, ``week``,
    ``yhat``; bands ``lo95``-``hi95`` and ``lo80``-``hi80`` where present); ``history``
    (``series``, ``week``, ``y``) is drawn before the forecast when given."""
    require_columns(forecast, "forecast", ["series", "week", "yhat"])
    names = top_series(forecast, n)
    if not names:
        raise InputError("forecast: no rows")
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = _figure(4.0 * cols, 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, name in zip(axes, names, strict=False):
        f = forecast[forecast["series"].astype(str) == name].sort_values("week")
        wk = pd.to_datetime(f["week"])
        if history is not None:
            h = history[history["series"].astype(str) == name].sort_values("week")
            ax.plot(pd.to_datetime(h["week"]), h["y"], color="#546e7a", lw=1.2, label="history")
        for lo, hi, alpha, label in (("lo95", "hi95", 0.15, "95 %"), ("lo80", "hi80", 0.3, "80 %")):
            if {lo, hi} <= set(f.columns):
                ax.fill_between(wk, f[lo], f[hi], color="#1f77b4", alpha=alpha, lw=0, label=label)
        ax.plot(wk, f["yhat"], color="#1f77b4", lw=2, marker="o", ms=3, label="forecast")
        model = str(f["model"].iloc[0]) if "model" in f.columns and len(f) else ""
        ax.set_title(f"{name}" + (f" ({model})" if model else ""), fontsize=10)
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_ylim(bottom=0)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Weekly sales forecast with 80 % and 95 % prediction intervals")
    return fig


@_styled
def plot_elasticities(table: pd.DataFrame, n: int = 15) -> Figure:
    """Own-price elasticity per category with its 90 % interval (the first ``n`` estimated rows
    of an elasticity file: ``category``, ``elasticity``, ``ci_low``, ``ci_high``)."""
    require_columns(table, "elasticity", ["category", "elasticity", "ci_low", "ci_high"])
    t = table[pd.to_numeric(table["elasticity"], errors="coerce").notna()].head(n)
    if t.empty:
        raise InputError("elasticity: no category has an estimate")
    t = t.iloc[::-1]
    fig = _figure(8, 0.35 * len(t) + 1.4)
    ax = fig.subplots()
    y = np.arange(len(t))
    est = t["elasticity"].to_numpy(float)
    err = np.vstack([est - t["ci_low"].to_numpy(float), t["ci_high"].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color="#1f77b4", capsize=3, lw=1.5)
    ax.axvline(0, color="#546e7a", lw=1)
    ax.axvline(-1, color="#c62828", lw=0.8, ls="--")
    ax.set_yticks(y, [str(c)[:30] for c in t["category"]])
    ax.set_xlabel("own-price elasticity of units (d log units / d log price); −1: unit elastic")
    ax.set_title("Price elasticity per category, 90 % intervals")
    return fig


@_styled
def plot_price_index(outlook: pd.DataFrame, n: int = 15) -> Figure:
    """Our price index against competitors per category (``category``, ``price_index``; the
    first ``n`` rows with an index), 1 = the market's median."""
    require_columns(outlook, "categories", ["category", "price_index"])
    t = outlook[pd.to_numeric(outlook["price_index"], errors="coerce").notna()].head(n)
    if t.empty:
        raise InputError("categories: no category has a competitor price")
    t = t.iloc[::-1]
    fig = _figure(8, 0.35 * len(t) + 1.4)
    ax = fig.subplots()
    idx = t["price_index"].to_numpy(float)
    colors = np.where(idx > 1, "#c62828", "#2e7d32")
    y = np.arange(len(t))
    ax.barh(y, idx - 1.0, left=1.0, color=colors, height=0.6)
    ax.axvline(1.0, color="#546e7a", lw=1)
    ax.set_yticks(y, [str(c)[:30] for c in t["category"]])
    ax.set_xlabel("our shelf price / competitors' median (units-weighted); > 1: dearer")
    ax.set_title("Price index against competitors per category")
    return fig

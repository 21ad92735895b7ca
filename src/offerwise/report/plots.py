"""The report's plots: one pure function per plot, each returning a matplotlib ``Figure``.

matplotlib (the ``report`` extra) is imported inside the functions, never at import time. Figures
are built with ``matplotlib.figure.Figure`` on an Agg canvas: no pyplot, no global state, nothing
to close. Conventions: titles say what the plot shows, axes carry units (currency, %), bars are
sorted, each offer keeps its colour across plots (:func:`offerwise.report.tables.offer_colors`,
``none`` grey). Missing required columns raise :class:`~offerwise.errors.InputError` naming them.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from offerwise.errors import InputError, require
from offerwise.report.tables import (
    MISSING,
    NONE_COLOR,
    CampaignResults,
    offer_colors,
    require_columns,
    treated_rows,
)
from offerwise.vocab import NO_OFFER

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PROFILE_FEATURES",
    "figure_to_png",
    "importance_shares",
    "metric_kind",
    "metric_label",
    "normalize_curves",
    "plot_budget_frontier",
    "plot_campaign_breakdown",
    "plot_campaign_results",
    "plot_fairness",
    "plot_feature_importance",
    "plot_offer_mix",
    "plot_segment_profiles",
    "plot_uplift_curves",
    "wrap_title",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Shared look: readable fonts, light grid, no top/right spines.
STYLE: dict[str, Any] = {
    "text.parse_math": False,  # currency signs like "$" are text, never mathtext
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
}
#: Segment colours (qualitative, distinct from the offer palette's order).
SEGMENT_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
#: Profile features shown per segment: column, title, unit kind (count|days|money|pct).
PROFILE_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("recency_days", "Days since last order", "days"),
    ("frequency", "Orders in the look-back window", "count"),
    ("monetary", "Spend in the look-back window", "money"),
    ("avg_basket", "Average basket", "money"),
    ("discount_share", "Share of spend discounted", "pct"),
    ("churn_risk", "Churn risk", "pct"),
    ("clv_expected", "Expected customer value", "money"),
)
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#546e7a"


def _styled(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a plot function inside the shared rc style (matplotlib imported lazily)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        mpl = require("matplotlib", "report")
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    """A new Figure on an Agg canvas (size in inches)."""
    require("matplotlib", "report")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _money(currency: str) -> Any:
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: Any = None) -> str:
        sign = "−" if v < 0 else ""
        a = abs(v)
        if a >= 1e6:
            return f"{sign}{currency}{a / 1e6:,.1f}M"
        if a >= 1e4:
            return f"{sign}{currency}{a / 1e3:,.0f}k"
        if a >= 100 or a == 0:
            return f"{sign}{currency}{a:,.0f}"
        return f"{sign}{currency}{a:,.2f}".rstrip("0").rstrip(".")

    return FuncFormatter(fmt)


def _pct(decimals: int | None = None) -> Any:
    """Percent axis for data given as fractions (0.25 -> 25%)."""
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=decimals)


def _format_value(v: float, kind: str, currency: str) -> str:
    if not np.isfinite(v):
        return "–"
    if kind == "money":
        return f"{currency}{v:,.2f}" if abs(v) < 100 else f"{currency}{v:,.0f}"
    if kind == "pct":
        return f"{v:.0%}" if abs(v) >= 0.1 else f"{v:.1%}"
    if kind == "days":
        return f"{v:,.0f} d"
    return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"


def _set_formatter(axis: Any, kind: str, currency: str) -> None:
    if kind == "money":
        axis.set_major_formatter(_money(currency))
    elif kind == "pct":
        axis.set_major_formatter(_pct())


def _unit_label(kind: str, currency: str) -> str:
    return {"money": f"{currency}", "pct": "%", "days": "days", "count": "count"}.get(kind, "")


def wrap_title(text: str, width_in: float, fontsize: float = 11.0) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize`` points.

    Estimates a character as 0.6 em wide (bold sans-serif runs a little wider than 0.5 em), so a
    title never runs past the figure's edge, where savefig would clip it.
    """
    per_line = max(12, int(width_in * 72 / (fontsize * 0.6)))
    return "\n".join(textwrap.wrap(text, per_line, break_long_words=True)) or text


def _suptitle(fig: Figure, text: str) -> None:
    """A left-aligned figure title wrapped to the figure's width."""
    size = float(fig.get_figwidth()) - 0.2
    fs = 13.0
    fig.suptitle(wrap_title(text, size, fs), x=0.01, ha="left", fontsize=fs)


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return (n + ncols - 1) // ncols, ncols


def _hide_unused(axes: np.ndarray, n: int) -> None:
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (Agg)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})  # no URL in the file
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# segment profiles
# --------------------------------------------------------------------------------------------


@_styled
def plot_segment_profiles(
    profiles: pd.DataFrame,
    *,
    currency: str = "$",
    features: Sequence[tuple[str, str, str]] = PROFILE_FEATURES,
    ncols: int = 4,
) -> Figure:
    """Customers per segment and the mean of each profile feature per segment.

    ``profiles`` (n_customers rows): ``segment`` and any of the ``features`` columns (numeric).
    Segments are sorted by size (largest on top) in every panel; each keeps its colour.
    """
    require_columns(profiles, "profiles", ["segment"])
    if profiles.empty:
        raise InputError("profiles: the table has no rows")
    seg = profiles["segment"].astype(str)
    sizes = seg.value_counts()
    order = list(sizes.sort_values().index)  # barh draws bottom-up: largest on top
    colors = {
        s: SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)]
        for i, s in enumerate(sizes.sort_values(ascending=False).index)
    }
    panels: list[tuple[str, pd.Series, str]] = [
        ("Customers per segment", sizes.reindex(order), "share")
    ]
    for col, title, kind in features:
        if col in profiles.columns:
            v = pd.to_numeric(profiles[col], errors="coerce")
            if v.notna().any():
                panels.append((title, v.groupby(seg).mean().reindex(order), kind))
    nrows, nc = _grid(len(panels), ncols)
    fig = _figure(3.0 * nc + 1.2, 0.32 * len(order) * nrows + 1.3 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, nc, sharey=True, squeeze=False))
    total = float(sizes.sum())
    for ax, (title, values, kind) in zip(axes.ravel(), panels, strict=False):
        y = np.arange(len(order))
        vals = values.to_numpy(dtype=float)
        ax.barh(y, np.nan_to_num(vals), color=[colors[s] for s in order], height=0.7)
        ax.set_yticks(y, order)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", visible=False)
        if kind == "share":
            ax.set_xlabel("customers")
            labels = [f"{int(v):,} ({v / total:.0%})" for v in vals]
        else:
            _set_formatter(ax.xaxis, kind, currency)
            ax.set_xlabel(f"mean per customer ({_unit_label(kind, currency)})")
            labels = [_format_value(v, kind, currency) for v in vals]
        ax.bar_label(ax.containers[0], labels=labels, padding=2, fontsize=8)
        ax.margins(x=0.28)
    _hide_unused(axes, len(panels))
    _suptitle(fig, f"Segment profiles ({int(total):,} customers)")
    return fig


# --------------------------------------------------------------------------------------------
# uplift / Qini curves
# --------------------------------------------------------------------------------------------


def _pick(df: pd.DataFrame, names: Sequence[str]) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def normalize_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Uplift curves as ``offer_id, kind, x, y, random`` (x in 0..1, sorted).

    Accepts ``fraction``/``x``/``share`` for x, ``value``/``qini``/``uplift``/``y`` for y,
    ``random``/``baseline``/``random_baseline`` for the baseline (default: the straight line from
    (0, 0) to the curve's end) and ``curve``/``kind`` for the curve kind (Qini preferred when both
    kinds are present).
    """
    require_columns(curves, "uplift curves", ["offer_id"])
    xcol = _pick(curves, ("fraction", "x", "share", "frac"))
    ycol = _pick(curves, ("value", "qini", "uplift", "y", "gain", "cumulative_uplift"))
    if xcol is None or ycol is None:
        raise InputError(
            "uplift curves: need an x column (fraction) and a value column (value/qini/uplift); "
            f"has {', '.join(map(str, curves.columns))}"
        )
    rcol = _pick(curves, ("random", "baseline", "random_baseline", "random_value"))
    kcol = _pick(curves, ("curve", "kind", "curve_kind", "metric"))
    df = pd.DataFrame(
        {
            "offer_id": curves["offer_id"].astype(str),
            "kind": curves[kcol].astype(str) if kcol else ycol,
            "x": pd.to_numeric(curves[xcol], errors="coerce"),
            "y": pd.to_numeric(curves[ycol], errors="coerce"),
            "random": pd.to_numeric(curves[rcol], errors="coerce") if rcol else np.nan,
        }
    ).dropna(subset=["x", "y"])
    if kcol and df["kind"].nunique() > 1:
        qini = df["kind"].str.lower().str.contains("qini")
        if qini.any():
            df = df[qini]
    df = df.sort_values(["offer_id", "x"], kind="stable")
    if rcol is None or df["random"].isna().all():
        end = df.groupby("offer_id")["y"].transform("last")
        df["random"] = df["x"] * end
    return df.reset_index(drop=True)


@_styled
def plot_uplift_curves(
    curves: pd.DataFrame,
    *,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    colors: Mapping[str, str] | None = None,
    currency: str = "$",
    value_label: str | None = None,
    ncols: int = 3,
) -> Figure:
    """One panel per offer: the model's Qini/uplift curve on the holdout against random targeting.

    ``curves``: see :func:`normalize_curves` (x = share of customers targeted, best-first by
    predicted uplift; y = cumulative incremental outcome, net profit in currency by default).
    ``metrics`` (offer -> holdout metrics from the model card) adds the normalised Qini and AUUC
    to the panel titles (wrapped to the panel's width). The legend sits below the panels, never
    on a curve.
    """
    df = normalize_curves(curves)
    if df.empty:
        raise InputError("uplift curves: no rows with numeric fraction and value")
    offers = sorted(df["offer_id"].unique())
    colors = dict(colors or offer_colors(offers))
    kind = str(df["kind"].iloc[0]).lower()
    name = "Qini" if "qini" in kind else "Uplift"
    nrows, nc = _grid(len(offers), ncols)
    panel_w = 3.8
    fig = _figure(panel_w * nc + 0.4, 3.1 * nrows + 1.1)
    axes = np.atleast_1d(fig.subplots(nrows, nc, squeeze=False))
    for ax, o in zip(axes.ravel(), offers, strict=False):
        g = df[df["offer_id"] == o]
        ax.plot(g["x"], g["y"], color=colors.get(o, NEUTRAL), lw=2, label="model ranking")
        ax.plot(g["x"], g["random"], color="#777777", lw=1.2, ls="--", label="random targeting")
        ax.fill_between(g["x"], g["random"], g["y"], color=colors.get(o, NEUTRAL), alpha=0.12)
        m = (metrics or {}).get(o) or {}
        scores = [
            f"{lab} {float(v):.2f}"
            for lab, v in (
                ("normalised Qini", m.get("qini_normalized", m.get("normalized"))),
                ("AUUC", m.get("auuc_normalized")),
            )
            if v is not None and np.isfinite(float(v))
        ]
        title = wrap_title(o, panel_w - 0.3, 10) + ("\n" + ", ".join(scores) if scores else "")
        ax.set_title(title, loc="left", fontsize=10)
        ax.xaxis.set_major_formatter(_pct())
        ax.yaxis.set_major_formatter(_money(currency))
        ax.set_xlabel("customers targeted (% of holdout, best first)", fontsize=9)
        ax.set_ylabel(
            wrap_title(value_label or f"cumulative incremental profit ({currency})", 2.6, 9),
            fontsize=9,
        )
        ax.axhline(0, color="#333333", lw=0.6)
    _hide_unused(axes, len(offers))
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    _suptitle(fig, f"{name} curves per offer: does the model find the customers who respond?")
    return fig


# --------------------------------------------------------------------------------------------
# budget frontier
# --------------------------------------------------------------------------------------------


@_styled
def plot_budget_frontier(
    frontier: pd.DataFrame,
    *,
    budget: float | None = None,
    plan_value: float | None = None,
    currency: str = "$",
) -> Figure:
    """Expected incremental profit (and customers treated) against the campaign budget.

    ``frontier`` (one row per budget): ``budget``, ``value`` (expected incremental profit),
    optional ``cost`` (expected spend at that budget) and ``n_treated``. ``budget`` draws a
    vertical line at the plan's budget; with ``plan_value`` (the plan summary's expected
    incremental profit) a diamond marks the plan's own point, labelled with those numbers — not
    the frontier's value there, which may differ (e.g. when the frontier ignores the plan's rules).
    """
    require_columns(frontier, "budget frontier", ["budget", "value"])
    f = frontier.assign(
        budget=pd.to_numeric(frontier["budget"], errors="coerce"),
        value=pd.to_numeric(frontier["value"], errors="coerce"),
    )
    f = f.dropna(subset=["budget", "value"]).sort_values("budget")
    if f.empty:
        raise InputError("budget frontier: no rows with numeric budget and value")
    has_n = (
        "n_treated" in f.columns and pd.to_numeric(f["n_treated"], errors="coerce").notna().any()
    )
    fig = _figure(10, 3.8)
    axes = fig.subplots(1, 2 if has_n else 1, squeeze=False).ravel()
    ax = axes[0]
    ax.plot(
        f["budget"],
        f["value"],
        marker="o",
        ms=3.5,
        lw=2,
        color="#1f77b4",
        label="expected incremental profit",
    )
    if "cost" in f.columns:
        ax.plot(
            f["budget"],
            pd.to_numeric(f["cost"], errors="coerce"),
            lw=1.2,
            ls="--",
            color="#ff7f0e",
            label="expected discount cost",
        )
    if budget is not None and np.isfinite(budget):
        ax.axvline(budget, color=BAD, lw=1, ls=":")
        if plan_value is not None and np.isfinite(plan_value):
            label = (
                f"this plan: {_format_value(budget, 'money', currency)} → "
                f"{_format_value(plan_value, 'money', currency)}"
            )
            ax.plot(
                [budget], [plan_value], marker="D", ms=7, ls="", color=BAD, label=label, zorder=5
            )
    ax.xaxis.set_major_formatter(_money(currency))
    ax.yaxis.set_major_formatter(_money(currency))
    ax.set_xlabel(f"campaign budget ({currency})")
    ax.set_ylabel(f"expected amount ({currency})")
    ax.set_title("Profit at each budget", loc="left")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    if has_n:
        ax2 = axes[1]
        ax2.plot(
            f["budget"],
            pd.to_numeric(f["n_treated"], errors="coerce"),
            marker="o",
            ms=3.5,
            lw=2,
            color="#2ca02c",
        )
        if budget is not None and np.isfinite(budget):
            ax2.axvline(budget, color=BAD, lw=1, ls=":")
        ax2.xaxis.set_major_formatter(_money(currency))
        ax2.set_xlabel(f"campaign budget ({currency})")
        ax2.set_ylabel("customers offered a discount")
        ax2.set_title("Customers reached at each budget", loc="left")
    _suptitle(fig, "Budget frontier: what each extra unit of budget buys")
    return fig


# --------------------------------------------------------------------------------------------
# offer mix
# --------------------------------------------------------------------------------------------


@_styled
def plot_offer_mix(plan: pd.DataFrame, *, colors: Mapping[str, str] | None = None) -> Figure:
    """Share of customers receiving each offer, per segment (treatment group only).

    ``plan``: ``offer_id`` and optional ``segment`` and ``group``. Bars are stacked to 100%;
    segments sorted by size (largest on top); ``none`` is grey and drawn last.
    """
    require_columns(plan, "plan", ["offer_id"])
    p = treated_rows(plan)
    if p.empty:
        raise InputError("plan: no rows to show")
    seg = (
        p["segment"].astype(str)
        if "segment" in p.columns
        else pd.Series("all customers", index=p.index)
    )
    offer = p["offer_id"].astype(str)
    ct = pd.crosstab(seg, offer)
    sizes = ct.sum(axis=1).sort_values()
    ct = ct.loc[sizes.index]
    offers = sorted(c for c in ct.columns if c != NO_OFFER) + (
        [NO_OFFER] if NO_OFFER in ct.columns else []
    )
    ct = ct[offers]
    share = ct.div(ct.sum(axis=1), axis=0)
    colors = dict(colors or offer_colors(offers))
    fig = _figure(10, 0.42 * len(ct) + 1.9)
    ax = fig.subplots()
    left = np.zeros(len(ct))
    y = np.arange(len(ct))
    for o in offers:
        w = share[o].to_numpy()
        ax.barh(
            y,
            w,
            left=left,
            color=colors.get(o, NEUTRAL),
            label="no offer" if o == NO_OFFER else o,
            height=0.7,
            edgecolor="white",
            linewidth=0.5,
        )
        for yi, (l0, wi) in enumerate(zip(left, w, strict=True)):
            if wi >= 0.06:
                ax.text(
                    l0 + wi / 2,
                    yi,
                    f"{wi:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if o != NO_OFFER else "#222222",
                )
        left += w
    ax.set_yticks(y, [f"{s} (n={int(sizes[s]):,})" for s in ct.index])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(_pct())
    ax.set_xlabel("share of the segment's customers (%)")
    ax.grid(axis="y", visible=False)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14 if len(ct) > 3 else -0.3),
        ncols=min(len(offers), 6),
    )
    ax.set_title("Offer mix by segment (treatment group)", loc="left")
    return fig


# --------------------------------------------------------------------------------------------
# fairness
# --------------------------------------------------------------------------------------------


@_styled
def plot_fairness(audit: pd.DataFrame, *, currency: str = "$") -> Figure:
    """Offer rate and average discount per group of each protected attribute.

    ``audit``: :func:`offerwise.report.tables.fairness_audit`'s table. One row of two panels per
    attribute; bars sorted by offer rate; groups failing the four-fifths rule (rate below 80% of
    the highest group's) are red, a dashed line marks 80% of the highest rate, and the
    ``(missing)`` group is grey (shown, not judged).
    """
    require_columns(
        audit,
        "fairness audit",
        ["attribute", "group", "offer_rate", "avg_discount", "ratio_to_max"],
    )
    if audit.empty:
        raise InputError("fairness audit: no protected attribute found in the customer data")
    attrs = list(dict.fromkeys(audit["attribute"]))
    heights = [max(1.6, 0.3 * (audit["attribute"] == a).sum() + 0.9) for a in attrs]
    fig = _figure(10, sum(heights) + 0.6)
    axes = fig.subplots(len(attrs), 2, squeeze=False, gridspec_kw={"height_ratios": heights})
    for (ax_r, ax_d), a in zip(axes, attrs, strict=True):
        g = audit[audit["attribute"] == a].sort_values("offer_rate")
        y = np.arange(len(g))
        known = (g["group"] != MISSING).to_numpy()
        ok = ~(g["ratio_to_max"].to_numpy(dtype=float) < 0.8) | ~known
        col = [NEUTRAL if o else BAD for o in ok]
        col = [c if k else NONE_COLOR for c, k in zip(col, known, strict=True)]
        rates = g["offer_rate"].to_numpy(dtype=float)
        kr = rates[known] if known.any() else rates
        top = float(np.nanmax(kr)) if len(kr) else 0.0
        ax_r.barh(y, rates, color=col, height=0.7)
        ax_r.axvline(0.8 * top, color=BAD, ls="--", lw=1)
        ax_r.bar_label(
            ax_r.containers[0], labels=[f"{v:.1%}" for v in rates], padding=2, fontsize=8
        )
        ax_r.set_yticks(y, [str(v) for v in g["group"]])
        ax_r.xaxis.set_major_formatter(_pct())
        ax_r.set_xlabel("customers offered a discount (%)")
        ratio = float(np.nanmin(kr) / top) if top > 0 else float("nan")
        flag = "below 0.8: check" if ratio < 0.8 else "ok"
        ax_r.set_title(
            f"{a}: offer rate (four-fifths ratio {ratio:.2f}, {flag})",
            loc="left",
            fontsize=10,
            color=BAD if ratio < 0.8 else "#222222",
        )
        ax_r.margins(x=0.2)
        ax_r.grid(axis="y", visible=False)
        disc = g["avg_discount"].to_numpy(dtype=float)
        ax_d.barh(y, np.nan_to_num(disc), color=col, height=0.7, alpha=0.85)
        ax_d.bar_label(
            ax_d.containers[0],
            labels=[_format_value(v, "money", currency) for v in disc],
            padding=2,
            fontsize=8,
        )
        ax_d.set_yticks(y, [str(v) for v in g["group"]])
        ax_d.xaxis.set_major_formatter(_money(currency))
        ax_d.set_xlabel(f"avg expected discount per offered customer ({currency})", fontsize=9)
        ax_d.set_title(f"{a}: average discount", loc="left", fontsize=10)
        ax_d.margins(x=0.2)
        ax_d.grid(axis="y", visible=False)
    _suptitle(
        fig, "Fairness audit by protected attribute (red: below four-fifths of the top group)"
    )
    return fig


# --------------------------------------------------------------------------------------------
# feature importance
# --------------------------------------------------------------------------------------------


def importance_shares(importance: pd.DataFrame) -> pd.DataFrame:
    """Importance as share of each offer's total: feature × offer table (columns offers, 0..1).

    Rows sorted by the mean share over offers, largest first.
    """
    require_columns(importance, "feature importance", ["feature", "importance"])
    fi = importance.assign(
        importance=pd.to_numeric(importance["importance"], errors="coerce").fillna(0.0).abs(),
        offer_id=(
            importance["offer_id"].astype(str) if "offer_id" in importance.columns else "all offers"
        ),
        feature=importance["feature"].astype(str),
    )
    t = fi.pivot_table(
        index="feature", columns="offer_id", values="importance", aggfunc="sum", fill_value=0.0
    )
    tot = t.sum(axis=0).replace(0.0, np.nan)
    share = (t / tot).fillna(0.0)
    return share.loc[share.mean(axis=1).sort_values(ascending=False, kind="stable").index]


@_styled
def plot_feature_importance(
    importance: pd.DataFrame,
    *,
    colors: Mapping[str, str] | None = None,
    top: int = 15,
) -> Figure:
    """The ``top`` features by mean share of model importance over offers: one bar per feature.

    ``importance``: ``feature``, ``importance`` and optional ``offer_id`` (long format; ``all`` =
    boosters shared by every offer). Each offer's importances are scaled to shares of its total;
    a bar is the mean of those shares over the offers (its label the value), sorted with the
    largest on top. With several offers a dot per offer marks that offer's own share, so an
    offer that leans on a feature the others ignore stays visible.
    """
    share = importance_shares(importance)
    if share.empty:
        raise InputError("feature importance: the table has no rows")
    share = share.head(top).iloc[::-1]
    offers = list(share.columns)
    colors = dict(colors or offer_colors(offers))
    mean = share.mean(axis=1).to_numpy()
    fig = _figure(10, 0.32 * len(share) + 2.2)
    ax = fig.subplots()
    y = np.arange(len(share))
    ax.barh(y, mean, color="#90a4ae", height=0.7, label="mean over offers")
    # the bar values as a column right of the axes, clear of the bars and the dots
    from matplotlib.transforms import blended_transform_factory

    right = blended_transform_factory(ax.transAxes, ax.transData)
    for yi, v in zip(y, mean, strict=True):
        ax.text(1.01, float(yi), f"{v:.1%}", transform=right, va="center", fontsize=8)
    ax.text(1.01, len(y) - 0.4, "mean", transform=right, va="bottom", fontsize=8, fontweight="bold")
    if len(offers) > 1:
        for o in offers:
            ax.scatter(
                share[o].to_numpy(),
                y,
                s=22,
                color=colors.get(o, NEUTRAL),
                edgecolor="white",
                linewidth=0.5,
                zorder=4,
                label=f"{o} (shared boosters)" if o == "all" else o,
            )
    ax.set_yticks(y, list(share.index))
    ax.xaxis.set_major_formatter(_pct())
    ax.set_xlabel("share of the model's importance (%): bar = mean over offers, dot = one offer")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.12)
    if len(offers) > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=min(len(offers) + 1, 6))
    ax.set_title(
        f"What drives the predicted response (top {len(share)} features, mean over "
        f"{len(offers)} offer{'s' if len(offers) != 1 else ''})",
        loc="left",
    )
    return fig


# --------------------------------------------------------------------------------------------
# campaign results
# --------------------------------------------------------------------------------------------


_METRIC_NAMES = {
    "converted": "conversion rate",
    "conversion": "conversion rate",
    "conversion_rate": "conversion rate",
    "revenue": "revenue per customer",
    "discount_cost": "discount cost per customer",
    "net_profit": "net profit per customer",
    "gross_profit": "gross profit per customer",
}


def metric_kind(metric: str, unit: str | None = None) -> str:
    """Unit of a campaign metric: ``money``, ``pct`` (a rate; lifts in points) or ``plain``."""
    u = (unit or "").lower()
    if u in ("currency", "money", "usd", "eur", "gbp", "$", "€", "£"):
        return "money"
    if u in ("rate", "share", "%", "percent", "fraction"):
        return "pct"
    m = metric.lower()
    if m in ("converted", "conversion", "conversion_rate") or m.endswith("_rate"):
        return "pct"
    if any(w in m for w in ("revenue", "profit", "cost", "spend", "discount", "amount", "value")):
        return "money"
    return "plain"


def metric_label(metric: str) -> str:
    """Readable metric name: ``net_profit`` -> ``net profit per customer``."""
    return _METRIC_NAMES.get(metric, metric.replace("_", " "))


def _lift_axis(ax: Axes, kind: str, currency: str, what: str) -> None:
    if kind == "money":
        ax.xaxis.set_major_formatter(_money(currency))
        ax.set_xlabel(f"{what}, treatment − holdout ({currency} per customer)")
    elif kind == "pct":
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p=None: f"{v * 100:+.1f} pp"))
        ax.set_xlabel(f"{what}, treatment − holdout (percentage points)")
    else:
        ax.set_xlabel(f"{what}, treatment − holdout")


def _forest(
    ax: Axes,
    labels: list[str],
    est: npt.ArrayLike,
    lo: npt.ArrayLike,
    hi: npt.ArrayLike,
    cuped: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> None:
    """Point estimates with CIs, one row per label, top down; green/red if the CI excludes 0."""
    est, lo, hi = (np.asarray(a, dtype=float) for a in (est, lo, hi))
    y = np.arange(len(labels))[::-1].astype(float)
    col = np.array(
        [GOOD if a > 0 else BAD if b < 0 else NEUTRAL for a, b in zip(lo, hi, strict=True)]
    )
    if cuped is not None:
        c_lo, c_hi = (np.asarray(a, dtype=float) for a in cuped)
        okc = np.isfinite(c_lo) & np.isfinite(c_hi)
        if okc.any():
            ax.hlines(
                y[okc] - 0.22,
                c_lo[okc],
                c_hi[okc],
                color="#7e57c2",
                lw=5,
                alpha=0.55,
                label="95% CI with CUPED",
            )
    okci = np.isfinite(lo) & np.isfinite(hi)
    if okci.any():
        ax.hlines(y[okci], lo[okci], hi[okci], color=col[okci].tolist(), lw=2.2, label="95% CI")
    ok = np.isfinite(est)
    ax.scatter(est[ok], y[ok], color=col[ok].tolist(), s=42, zorder=5, label="estimate")
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    ax.set_ylim(-0.7, len(labels) - 0.3)


def _ci_text(e: float, lo: float, hi: float, kind: str, currency: str) -> str:
    if not np.isfinite(e):
        return ""
    if kind == "pct":
        f = lambda v: f"{v * 100:+.2f} pp"  # noqa: E731
    elif kind == "money":
        f = lambda v: ("+" if v >= 0 else "−") + _format_value(abs(v), "money", currency)  # noqa: E731
    else:
        f = lambda v: f"{v:+,.3g}"  # noqa: E731
    ci = f" [{f(lo)}, {f(hi)}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{f(e)}{ci}"


@_styled
def plot_campaign_results(results: CampaignResults, *, currency: str = "$") -> Figure:
    """One panel per metric: absolute lift (treatment − holdout per customer) with its 95% CI.

    Money metrics in currency, rates in percentage points (:func:`metric_kind`); the CUPED CI is
    drawn below when given, and the relative lift is printed beside the estimate. Green: CI above
    0, red: below 0.
    """
    m = results.metrics
    if m.empty:
        raise InputError("campaign analysis: no metric results")
    fig = _figure(10, 1.15 * len(m) + 1.0)
    axes = fig.subplots(len(m), 1, squeeze=False).ravel()
    for ax, (_, r) in zip(axes, m.iterrows(), strict=True):
        name = str(r["metric"])
        kind = metric_kind(name)
        _forest(
            ax,
            [metric_label(name)],
            [r["lift"]],
            [r["ci_low"]],
            [r["ci_high"]],
            cuped=([r["cuped_ci_low"]], [r["cuped_ci_high"]]),
        )
        _lift_axis(ax, kind, currency, "lift")
        txt = _ci_text(r["lift"], r["ci_low"], r["ci_high"], kind, currency)
        if np.isfinite(r["rel_lift"]):
            txt += f"   ({r['rel_lift']:+.1%} vs holdout)"
        if r["reason"]:
            txt = f"not estimable: {r['reason']}"
        ax.set_title(txt, loc="right", fontsize=9, fontweight="normal", color="#333333")
        ax.margins(x=0.15)
        ax.set_xlabel(ax.get_xlabel(), fontsize=9)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    if handles:
        fig.legend(
            list(handles.values()), list(handles), loc="outside lower center", ncols=len(handles)
        )
    level = f"{1 - results.analysis.alpha:.0%}"
    _suptitle(fig, f"Campaign results: lift over the holdout with {level} confidence intervals")
    return fig


@_styled
def plot_campaign_breakdown(
    results: CampaignResults,
    *,
    metric: str | None = None,
    currency: str = "$",
) -> Figure:
    """Lift of one metric (default: net profit if present, else the first) by offer, segment, ...

    Absolute lift per customer with 95% CIs; rows grouped by dimension, each sorted by lift
    (largest on top); comparisons without an estimate are left out.
    """
    b = results.breakdown
    b = b[np.isfinite(b["lift"].to_numpy(dtype=float))] if len(b) else b
    if b.empty:
        raise InputError("campaign analysis: no breakdown by offer or segment with an estimate")
    names = list(dict.fromkeys(b["metric"].astype(str)))
    metric = metric or ("net_profit" if "net_profit" in names else names[0])
    b = b[b["metric"].astype(str) == metric]
    if b.empty:
        raise InputError(f"campaign analysis: no breakdown rows for metric {metric!r}")
    kind = metric_kind(metric)
    parts = [g.sort_values("lift", ascending=False) for _, g in b.groupby("dimension", sort=False)]
    b = pd.concat(parts)
    labels = [f"{d}: {lv}" for d, lv in zip(b["dimension"], b["level"], strict=True)]
    fig = _figure(10, 0.36 * len(b) + 1.9)
    ax = fig.subplots()
    _forest(ax, labels, b["lift"].to_numpy(), b["ci_low"].to_numpy(), b["ci_high"].to_numpy())
    _lift_axis(ax, kind, currency, f"lift of {metric_label(metric)}")
    ax.margins(x=0.1)
    ax.set_title(f"Campaign results by offer and segment: {metric_label(metric)}", loc="left")
    return fig

"""Each plot function on small synthetic inputs: a Figure whose axes hold the data, sorted,
labelled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_testdata import (
    OFFERS,
    make_analysis,
    make_curves,
    make_frontier,
    make_importance,
    make_plan,
    make_profiles,
)

from offerwise.errors import InputError
from offerwise.report import campaign_results, fairness_audit, offer_colors, plots

pytest.importorskip("matplotlib")


def _axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _bars(ax):
    return [p for p in ax.patches if p.get_width() != 0 or p.get_height() != 0]


def test_segment_profiles_bars_sorted_by_size_with_units():
    prof = make_profiles()
    fig = plots.plot_segment_profiles(prof, currency="€")
    axes = _axes(fig)
    assert len(axes) == 1 + len(plots.PROFILE_FEATURES)
    sizes = prof["segment"].value_counts()
    first = axes[0]
    widths = [p.get_width() for p in first.patches]
    assert widths == sorted(widths)  # drawn bottom-up: the largest segment is on top
    assert widths[-1] == sizes.max() and sum(widths) == len(prof)
    assert [t.get_text() for t in first.get_yticklabels()][-1] == sizes.idxmax()
    spend = next(ax for ax in axes if ax.get_title(loc="left") == "Spend in the look-back window")
    assert "€" in spend.get_xlabel()
    means = prof.groupby("segment")["monetary"].mean()
    order = [t.get_text() for t in first.get_yticklabels()]  # y axis shared by all panels
    assert [p.get_width() for p in spend.patches] == pytest.approx(list(means[order]))
    assert fig._suptitle.get_text().startswith("Segment profiles")


def test_segment_profiles_uses_only_present_features_and_needs_segment():
    prof = make_profiles()[["customer_id", "segment", "monetary"]]
    assert len(_axes(plots.plot_segment_profiles(prof))) == 2
    with pytest.raises(InputError, match="profiles: missing column"):
        plots.plot_segment_profiles(prof.drop(columns="segment"))


def test_uplift_curves_one_panel_per_offer_with_random_baseline():
    curves = make_curves()
    colors = offer_colors(["none", *OFFERS])
    metrics = {o: {"qini_normalized": 0.3 + i} for i, o in enumerate(OFFERS)}
    fig = plots.plot_uplift_curves(curves, metrics=metrics, colors=colors)
    axes = _axes(fig)
    assert len(axes) == len(OFFERS)
    for ax, o in zip(axes, sorted(OFFERS), strict=True):
        model, random = ax.get_lines()[:2]
        g = curves[curves["offer_id"] == o]
        np.testing.assert_allclose(model.get_ydata(), g["value"])
        np.testing.assert_allclose(random.get_ydata(), g["random"])
        assert model.get_color() == colors[o]
        assert o in ax.get_title(loc="left") and "Qini" in ax.get_title(loc="left")
        assert "%" in ax.get_xlabel() and "$" in ax.get_ylabel()
        assert ax.get_legend() is None  # no legend drawn over a curve
    assert len(fig.legends) == 1  # one legend for all panels, outside the axes


def _fits(fig) -> None:
    """Every visible text of the saved figure lies inside the canvas and no legend overlaps an
    axes (the checks that the old layout failed: clipped titles, legend over the curves)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    texts = [t for ax in fig.axes if ax.get_visible() for t in (ax.title, ax._left_title)]
    texts += [fig._suptitle] if fig._suptitle is not None else []
    for t in texts:
        if not t.get_text():
            continue
        bb = t.get_window_extent(r)
        assert bb.x0 >= -1 and bb.x1 <= W + 1 and bb.y1 <= H + 1, (t.get_text(), bb, W)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    for leg in legends:
        lb = leg.get_window_extent(r)
        for ax in fig.axes:
            if ax.get_visible():
                assert not lb.overlaps(ax.get_window_extent(r)), leg


def test_uplift_curve_titles_fit_and_the_legend_is_outside():
    curves = make_curves()
    long = "a-very-long-offer-identifier-for-the-spring-campaign-2026"
    curves.loc[curves["offer_id"] == "pct10", "offer_id"] = long
    metrics = {long: {"qini_normalized": 0.31, "auuc_normalized": -0.2}}
    for one in (False, True):
        c = curves[curves["offer_id"] == long] if one else curves
        fig = plots.plot_uplift_curves(c, metrics=metrics)
        _fits(fig)
        ax = _axes(fig)[0]
        assert "normalised Qini 0.31, AUUC -0.20" in ax.get_title(loc="left")
        assert "\n" in fig._suptitle.get_text() or one is False


def test_wrap_title():
    assert plots.wrap_title("short", 5) == "short"
    lines = plots.wrap_title("word " * 40, 3.0, 11).split("\n")
    assert len(lines) > 1 and all(len(x) <= int(3.0 * 72 / (11 * 0.6)) for x in lines)


def test_uplift_curves_alternative_columns_and_default_baseline():
    x = np.linspace(0, 1, 5)
    df = pd.DataFrame(
        {
            "offer_id": "a",
            "x": np.r_[x, x],
            "qini": np.r_[x * 10, x],
            "curve": ["qini"] * 5 + ["uplift"] * 5,
        }
    )
    norm = plots.normalize_curves(df)
    assert len(norm) == 5 and (norm["kind"] == "qini").all()
    np.testing.assert_allclose(norm["random"], x * 10)  # straight line to the curve's end
    with pytest.raises(InputError, match="uplift curves"):
        plots.normalize_curves(pd.DataFrame({"offer_id": ["a"], "foo": [1]}))


def test_budget_frontier_marks_the_plan_at_its_own_numbers():
    f = make_frontier()
    on_curve = float(np.interp(1500, f["budget"], f["value"]))
    fig = plots.plot_budget_frontier(f, budget=1500.0, plan_value=987.0)
    ax = _axes(fig)[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["expected incremental profit"].get_xdata(), f["budget"])
    chosen = lines["this plan: $1,500 → $987"]  # labelled with the summary's numbers
    assert chosen.get_xdata()[0] == 1500.0
    assert chosen.get_ydata()[0] == 987.0 != pytest.approx(on_curve)
    _fits(fig)  # the legend sits below the axes, not on the curves
    # without the plan's value, only the budget line: no point made up from the curve
    bare = _axes(plots.plot_budget_frontier(f, budget=1500.0))[0]
    assert not any(ln.get_label().startswith("this plan") for ln in bare.get_lines())
    assert len(_axes(fig)) == 2  # n_treated panel
    assert len(_axes(plots.plot_budget_frontier(f.drop(columns="n_treated")))) == 1
    with pytest.raises(InputError, match="budget frontier"):
        plots.plot_budget_frontier(f.drop(columns="value"))


def test_offer_mix_shares_sum_to_one_per_segment_with_offer_colours():
    plan = make_plan(make_profiles())
    colors = offer_colors(["none", *OFFERS])
    fig = plots.plot_offer_mix(plan, colors=colors)
    ax = _axes(fig)[0]
    treated = plan[plan["group"] == "treatment"]
    n_seg = treated["segment"].nunique()
    by_label = {}
    for c in ax.containers:
        by_label[c.get_label()] = c
    assert set(by_label) == {*OFFERS, "no offer"}
    total = sum(np.array([p.get_width() for p in c.patches]) for c in ax.containers)
    np.testing.assert_allclose(total, np.ones(n_seg))
    assert by_label["pct10"].patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(colors["pct10"][i : i + 2], 16) / 255 for i in (1, 3, 5))
    )
    labels = [t.get_text() for t in ax.get_yticklabels()]
    top = treated["segment"].value_counts().idxmax()
    assert labels[-1].startswith(top)
    share = (treated[treated["segment"] == top]["offer_id"] == "pct20").mean()
    assert by_label["pct20"].patches[-1].get_width() == pytest.approx(share)
    _fits(fig)


def test_fairness_plot_flags_groups_below_four_fifths():
    prof = make_profiles()
    plan = make_plan(prof)
    audit = fairness_audit(plan, prof, ["age", "income"])
    fig = plots.plot_fairness(audit)
    axes = _axes(fig)
    assert len(axes) == 4
    rate_ax = axes[0]
    assert rate_ax.get_title(loc="left").startswith("age: offer rate")
    age = audit[audit["attribute"] == "age"].sort_values("offer_rate")
    widths = [p.get_width() for p in _bars(rate_ax)]
    assert widths == pytest.approx(list(age["offer_rate"]))
    red = [
        p
        for p in _bars(rate_ax)
        if p.get_facecolor()[:3] == pytest.approx((0xC6 / 255, 0x28 / 255, 0x28 / 255))
    ]
    assert len(red) == int((~age["four_fifths_ok"]).sum()) >= 1  # 65+ gets fewer offers by design
    assert "below 0.8" in rate_ax.get_title(loc="left")
    assert "$" in axes[1].get_xlabel()
    with pytest.raises(InputError, match="no protected attribute"):
        plots.plot_fairness(audit.iloc[0:0])


def test_feature_importance_one_bar_per_feature_is_the_mean_over_offers():
    fi = make_importance()
    fig = plots.plot_feature_importance(fi, top=5)
    ax = _axes(fig)[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 5
    shares = plots.importance_shares(fi)
    assert labels[::-1] == list(shares.index[:5])  # largest on top
    assert len(ax.containers) == 1  # one bar per feature, not stacked by offer
    widths = np.array([p.get_width() for p in ax.containers[0].patches])
    np.testing.assert_allclose(widths[::-1], shares.mean(axis=1).to_numpy()[:5])
    assert np.all(np.diff(widths) >= 0)
    assert "mean over offers" in ax.get_xlabel() and "mean over 3 offers" in ax.get_title(loc="left")
    # one dot per offer and feature at that offer's own share
    dots = {c.get_label(): c.get_offsets() for c in ax.collections}
    assert set(dots) == set(OFFERS)
    np.testing.assert_allclose(dots["pct10"][:, 0][::-1], shares["pct10"].to_numpy()[:5])
    _fits(fig)  # legend below the axes, title inside the canvas


def test_campaign_results_panels_per_metric_with_units():
    res = campaign_results(make_analysis())
    fig = plots.plot_campaign_results(res)
    axes = _axes(fig)
    assert len(axes) == 4
    labels = [ax.get_yticklabels()[0].get_text() for ax in axes]
    assert labels == [
        "conversion rate",
        "revenue per customer",
        "discount cost per customer",
        "net profit per customer",
    ]
    assert "percentage points" in axes[0].get_xlabel()
    assert "$" in axes[3].get_xlabel()
    # the estimate is the scatter point; its CI a line collection
    offsets = axes[3].collections[-1].get_offsets()
    assert offsets[0][0] == pytest.approx(2.1)
    assert "+21.0% vs holdout" in axes[3].get_title(loc="right")
    assert any("CUPED" in (c.get_label() or "") for c in axes[3].collections)


def test_campaign_breakdown_defaults_to_net_profit_and_skips_missing_estimates():
    res = campaign_results(make_analysis())
    fig = plots.plot_campaign_breakdown(res)
    ax = _axes(fig)[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3 + 5  # the 'tiny' segment has no estimate
    assert "segment: tiny" not in labels
    assert labels[0].startswith(
        "offer:"
    )  # first dimension drawn at the top (labels listed top-down)
    assert "net profit" in ax.get_title(loc="left")
    only_overall = make_analysis()
    only_overall["results"] = [r for r in only_overall["results"] if r["dimension"] == "overall"]
    with pytest.raises(InputError, match="no breakdown"):
        plots.plot_campaign_breakdown(campaign_results(only_overall))


def test_figure_to_png_is_a_png():
    png = plots.figure_to_png(plots.plot_feature_importance(make_importance()), dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert b"http" not in png  # no software URL in the metadata


def test_metric_kind():
    assert plots.metric_kind("converted") == "pct"
    assert plots.metric_kind("net_profit") == "money"
    assert plots.metric_kind("visits") == "plain"
    assert plots.metric_kind("visits", "currency") == "money"

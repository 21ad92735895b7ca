"""Pure data preparation of the report: fairness audit, key numbers, campaign results, colours."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from report_testdata import make_analysis

from offerwise.errors import InputError
from offerwise.evaluation.analyze import AnalyzeResult
from offerwise.evaluation.experiment import CampaignAnalysis
from offerwise.report import (
    campaign_results,
    fairness_audit,
    four_fifths_summary,
    key_numbers,
    offer_colors,
)
from offerwise.report.tables import (
    NONE_COLOR,
    expected_vs_measured,
    id_overlap,
    minimum_detectable_effect,
    parse_analysis,
    sd_from_se,
)


@pytest.fixture()
def hand_plan() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group A: 4 treated, 3 offered (costs 2, 4, 6); group B: 4 treated, 1 offered (cost 10);
    c9 has no customer row; two holdout rows that must not count."""
    plan = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "h1", "h2"],
            "offer_id": [
                "p10",
                "p10",
                "p20",
                "none",
                "p20",
                "none",
                "none",
                "none",
                "p10",
                "p10",
                "p10",
            ],
            "expected_cost": [2.0, 4.0, 6.0, 0.0, 10.0, 0.0, 0.0, 0.0, 3.0, 5.0, 5.0],
            "group": ["treatment"] * 9 + ["holdout"] * 2,
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "h1", "h2"],
            "age": ["A", "A", "A", "A", "B", "B", "B", "B", "B", "B"],
            "kids": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
        }
    )
    return plan, customers


def test_fairness_audit_numbers_on_a_hand_made_example(hand_plan):
    plan, customers = hand_plan
    audit = fairness_audit(plan, customers, ["age", "kids", "not_a_column"])
    age = audit[audit["attribute"] == "age"].set_index("group")
    assert list(age.index) == ["A", "B", "(missing)"]
    assert age.loc["A", "n"] == 4 and age.loc["B", "n"] == 4 and age.loc["(missing)", "n"] == 1
    assert age.loc["A", "offer_rate"] == pytest.approx(0.75)
    assert age.loc["B", "offer_rate"] == pytest.approx(0.25)
    assert age.loc["(missing)", "offer_rate"] == pytest.approx(1.0)
    assert age.loc["A", "avg_discount"] == pytest.approx(4.0)  # (2 + 4 + 6) / 3 offered
    assert age.loc["B", "avg_discount"] == pytest.approx(10.0)
    # the (missing) group (c9 is not in the customers table) is shown but sets no maximum
    assert age.loc["A", "ratio_to_max"] == pytest.approx(1.0)
    assert age.loc["B", "ratio_to_max"] == pytest.approx(1 / 3)
    assert age.loc["A", "four_fifths_ok"] and not age.loc["B", "four_fifths_ok"]
    assert age.loc["(missing)", "four_fifths_ok"]
    kids = audit[audit["attribute"] == "kids"].set_index("group")
    # kids 0: c1 c3 c5 c7 -> 3 of 4 offered; kids 1: c2 c4 c6 c8 -> 1 of 4
    assert kids.loc["0", "offer_rate"] == pytest.approx(0.75)
    assert kids.loc["1", "offer_rate"] == pytest.approx(0.25)
    assert set(audit["attribute"]) == {"age", "kids"}
    assert list(audit.columns) == [
        "attribute",
        "group",
        "n",
        "offer_rate",
        "avg_discount",
        "ratio_to_max",
        "four_fifths_ok",
    ]

    summ = four_fifths_summary(audit).set_index("attribute")
    assert summ.loc["age", "ratio"] == pytest.approx(1 / 3)  # min 0.25 / max 0.75
    assert summ.loc["age", "min_rate_group"] == "B" and summ.loc["age", "max_rate_group"] == "A"
    assert summ.loc["age", "groups"] == 2
    assert summ.loc["kids", "ratio"] == pytest.approx(1 / 3)
    assert summ["flagged"].all()


def test_fairness_audit_passes_when_rates_are_close():
    plan = pd.DataFrame({"customer_id": list("abcdefghij"), "offer_id": ["x"] * 9 + ["none"]})
    cust = pd.DataFrame({"customer_id": list("abcdefghij"), "sex": list("fffffmmmmm")})
    audit = fairness_audit(plan, cust, ["sex"]).set_index("group")
    assert audit.loc["f", "offer_rate"] == 1.0 and audit.loc["m", "offer_rate"] == pytest.approx(
        0.8
    )
    assert audit["four_fifths_ok"].all()  # 0.8 is not below 0.8
    assert math.isnan(audit.loc["f", "avg_discount"])  # no expected_cost column


def test_fairness_audit_bins_continuous_attributes():
    rng = np.random.default_rng(0)
    n = 500
    income = rng.uniform(10_000, 200_000, n)
    plan = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "offer_id": np.where(income > 100_000, "p10", "none"),
            "expected_cost": 1.0,
        }
    )
    cust = pd.DataFrame(
        {"customer_id": np.arange(n), "income": income}
    )  # int ids are matched as str
    audit = fairness_audit(plan, cust, ["income"])
    assert len(audit) == 5
    assert audit["n"].sum() == n
    assert audit["group"].str.contains("k–").all()
    rates = audit["offer_rate"].to_numpy()
    assert rates[0] == 0.0 and rates[-1] == 1.0  # bins in income order
    assert not audit["four_fifths_ok"].iloc[0]


def test_fairness_audit_rejects_bad_input_and_handles_no_attribute(hand_plan):
    plan, customers = hand_plan
    with pytest.raises(InputError, match="customers: missing column"):
        fairness_audit(plan, customers.drop(columns="customer_id"), ["age"])
    with pytest.raises(InputError, match="plan: missing column"):
        fairness_audit(plan.drop(columns="offer_id"), customers, ["age"])
    empty = fairness_audit(plan, customers, ["religion"])
    assert empty.empty and "ratio_to_max" in empty.columns


def test_key_numbers_from_plan_without_summary(hand_plan):
    plan, _ = hand_plan
    plan = plan.assign(incremental_profit=plan["expected_cost"] * 2)
    k = key_numbers(plan, None)
    assert k.customers == 11 and k.holdout == 2 and k.offered == 5  # treatment rows with an offer
    assert k.expected_cost == pytest.approx(2 + 4 + 6 + 10 + 3)
    assert k.expected_incremental_profit == pytest.approx(2 * 25)
    assert k.roi == pytest.approx(2.0)
    s = key_numbers(
        plan,
        {
            "n_customers": 100,
            "budget": 50,
            "expected_cost": 40,
            "expected_incremental_profit": 10,
            "lambda": 0.3,
        },
    )
    assert (s.customers, s.budget, s.roi, s.lam) == (100, 50.0, 0.25, 0.3)


def test_offer_colors_are_stable_and_none_is_grey():
    a = offer_colors(["b", "a", "none", "c"])
    b = offer_colors(["c", "a", "b"])
    assert a == b
    assert a["none"] == NONE_COLOR
    assert len({a["a"], a["b"], a["c"], a["none"]}) == 4


def test_campaign_results_reads_the_typed_analysis():
    typed = CampaignAnalysis.from_dict(make_analysis())
    res = campaign_results(typed)
    assert res.analysis is typed and res.meta is None
    m = res.metrics.set_index("metric")
    assert list(m.index) == ["converted", "revenue", "discount_cost", "net_profit"]
    assert m.loc["net_profit", "lift"] == pytest.approx(2.1)
    assert m.loc["net_profit", "ci_low"] == pytest.approx(0.4)
    assert m.loc["net_profit", "cuped_ci_high"] == pytest.approx(2.1 + 0.85)
    assert m.loc["revenue", "treatment_mean"] == pytest.approx(43.5)
    assert math.isnan(m.loc["converted", "cuped_ci_low"])
    assert set(res.breakdown["dimension"]) == {"offer", "segment"}
    assert len(res.breakdown) == 3 + 5 + 1
    tiny = res.breakdown[res.breakdown["level"] == "tiny"].iloc[0]
    assert tiny["reason"] == "too_few_units" and math.isnan(tiny["lift"])
    assert res.srm_p_value == pytest.approx(0.0004)
    assert res.srm_warning and "7.9%" in res.srm_warning and "10.0%" in res.srm_warning
    assert res.roi.roi == pytest.approx(1.05) and res.roi.cuped
    assert len(res.warnings) == 1
    # a JSON mapping is parsed once into the same typed result
    again = campaign_results(make_analysis())
    pd.testing.assert_frame_equal(again.metrics, res.metrics)


def test_parse_analysis_reads_what_offerwise_analyze_writes():
    typed = CampaignAnalysis.from_dict(make_analysis())
    meta = AnalyzeResult(typed, "plan.parquet", "shop/", pd.Timestamp("2026-03-01"),
                         pd.Timestamp("2026-03-15"), 90, 0.1, "abc", ["no pre-period"])
    d = json.loads(json.dumps(meta.to_dict()))
    back = parse_analysis(d)
    assert isinstance(back, AnalyzeResult)
    assert back.to_dict() == d  # a round trip writes the same JSON
    assert back.start == pd.Timestamp("2026-03-01") and back.plan == "plan.parquet"
    assert back.analysis.warnings[0] == "no pre-period"
    res = campaign_results(back)
    assert res.meta is back and res.analysis.n_treatment == 921
    assert isinstance(parse_analysis(make_analysis()), CampaignAnalysis)


def test_parse_analysis_names_what_is_missing():
    with pytest.raises(InputError, match="missing key.*'results'"):
        campaign_results({"something": 1})
    with pytest.raises(InputError, match="expected a JSON object"):
        campaign_results([1, 2])  # type: ignore[arg-type]
    bad = make_analysis()
    del bad["results"][0]["metric"]
    with pytest.raises(InputError, match="lift result: missing key.*'metric'"):
        parse_analysis(bad)
    bad = make_analysis()
    bad["results"][0]["n_treatment"] = "many"
    with pytest.raises(InputError, match="'n_treatment'"):
        parse_analysis(bad)
    with pytest.raises(InputError, match="'campaign' lacks 'plan'"):
        parse_analysis({**make_analysis(), "campaign": {"data": "x"}})
    no_overall = make_analysis()
    no_overall["results"] = [r for r in no_overall["results"] if r["dimension"] != "overall"]
    with pytest.raises(InputError, match="no overall result"):
        campaign_results(no_overall)


def test_minimum_detectable_effect_formula():
    # (z_.975 + z_.8) · sd · sqrt(1/n_T + 1/n_H) = 2.8016 · 10 · sqrt(1/900 + 1/100)
    mde = minimum_detectable_effect(10.0, 900, 100)
    assert mde == pytest.approx((1.959964 + 0.841621) * 10 * math.sqrt(1 / 900 + 1 / 100), rel=1e-5)
    assert minimum_detectable_effect(10.0, 900, 100, power=0.9) > mde
    assert minimum_detectable_effect(10.0, 9000, 1000) == pytest.approx(mde / math.sqrt(10))
    assert math.isnan(minimum_detectable_effect(10.0, 900, 0))
    with pytest.raises(InputError, match="power"):
        minimum_detectable_effect(1.0, 10, 10, power=1.0)
    # the SD implied by a standard error gives back MDE = (z + z) · se
    sd = sd_from_se(0.5, 900, 100)
    assert minimum_detectable_effect(sd, 900, 100) == pytest.approx(2.801585 * 0.5, rel=1e-5)


def test_minimum_detectable_effect_has_the_stated_power():
    """Simulated: a true lift equal to the MDE is detected about 80% of the time."""
    rng = np.random.default_rng(0)
    n_t, n_h, sd = 400, 100, 3.0
    mde = minimum_detectable_effect(sd, n_t, n_h)
    hits = 0
    reps = 2000
    for _ in range(reps):
        t = rng.normal(mde, sd, n_t)
        h = rng.normal(0.0, sd, n_h)
        se = math.sqrt(t.var(ddof=1) / n_t + h.var(ddof=1) / n_h)
        hits += abs(t.mean() - h.mean()) / se > 1.959964
    assert hits / reps == pytest.approx(0.8, abs=0.03)


def test_expected_vs_measured_compares_per_treatment_customer():
    a = make_analysis()
    summary = {"expected_incremental_profit": 4500.0, "n_treatment": 900}
    ev = expected_vs_measured(summary, CampaignAnalysis.from_dict(a))
    assert ev is not None
    assert ev.expected == pytest.approx(5.0) and ev.n_expected == 900  # 4500 / 900
    # net_profit overall: lift 2.1, CUPED CI ±0.85 (it narrows the plain ±1.7)
    assert ev.cuped and (ev.measured, ev.ci_low, ev.ci_high) == pytest.approx((2.1, 1.25, 2.95))
    se = 0.85 / 1.96
    assert ev.mde == pytest.approx(2.801585 * se, rel=1e-5)
    assert not ev.contains  # 5.0 is above the interval
    assert ev.detectable  # 5.0 > MDE ≈ 1.21
    text = " ".join(ev.sentences("$"))
    assert "does not contain the plan's expected $5.00" in text
    assert "earned less than planned" in text and "large enough" in text
    # an expectation below the interval and below the MDE; one inside the interval
    typed = CampaignAnalysis.from_dict(a)
    small = expected_vs_measured({"expected_incremental_profit": 900.0, "n_treatment": 900}, typed)
    assert small is not None and small.expected == pytest.approx(1.0)
    assert not small.contains and not small.detectable
    inside = expected_vs_measured({"expected_incremental_profit": 1800.0, "n_treatment": 900}, typed)
    assert inside is not None and inside.contains
    assert "contains the plan's expected $2.00" in " ".join(inside.sentences("$"))
    assert "too small" in " ".join(small.sentences("$"))
    assert expected_vs_measured({}, typed) is None


def test_id_overlap():
    a = pd.DataFrame({"customer_id": ["1", "2", "3"]})
    b = pd.DataFrame({"customer_id": [2, 3, 4, 5]})
    ov = id_overlap(a, b)
    assert (ov.n_left, ov.n_right, ov.n_common, ov.same) == (3, 4, 2, False)
    assert id_overlap(a, a).same


def test_campaign_results_of_a_real_analysis():
    exp = pytest.importorskip("offerwise.evaluation.experiment")
    rng = np.random.default_rng(7)
    n = 2000
    group = np.where(rng.random(n) < 0.2, "holdout", "treatment")
    conv = (rng.random(n) < np.where(group == "treatment", 0.3, 0.2)).astype(float)
    rev = conv * rng.gamma(2.0, 20.0, n)
    disc = np.where(group == "treatment", conv * 3.0, 0.0)
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "group": group,
            "converted": conv,
            "revenue": rev,
            "discount_cost": disc,
            "gross_profit": 0.3 * (rev + disc),
            "offer_id": rng.choice(["p10", "p20"], n),
            "segment": rng.choice(["a", "b"], n),
            "pre_spend": rng.gamma(2.0, 50.0, n),
        }
    )
    analysis = exp.analyze_campaign(df, expected_holdout_fraction=0.2)
    res = campaign_results(analysis)
    direct = analysis.get("net_profit")
    row = res.metrics.set_index("metric").loc["net_profit"]
    assert row["lift"] == pytest.approx(direct.abs_lift)
    assert row["ci_low"] == pytest.approx(direct.abs_ci_low)
    assert row["cuped_ci_high"] == pytest.approx(direct.cuped_ci_high)
    assert set(res.breakdown["dimension"]) == {"offer", "segment"}
    assert res.srm_warning is None


def test_curves_table_from_uplift_metrics_feeds_the_plot():
    uplift = pytest.importorskip("offerwise.evaluation.uplift")
    from offerwise.report import curves_table
    from offerwise.report.plots import normalize_curves

    rng = np.random.default_rng(1)
    n = 3000
    t = (rng.random(n) < 0.5).astype(float)
    tau = rng.normal(0, 1, n)
    y = rng.normal(0, 1, n) + t * tau
    m = {"p10": uplift.uplift_metrics(y, t, tau), "p20": uplift.uplift_metrics(y, t, -tau)}
    table = curves_table(m, max_points=51)
    assert set(table["curve"]) == {"qini", "uplift"}
    assert table.groupby(["offer_id", "curve"]).size().max() <= 51
    q = table[(table["offer_id"] == "p10") & (table["curve"] == "qini")]
    assert q["fraction"].iloc[0] == 0.0 and q["fraction"].iloc[-1] == 1.0
    assert q["value"].iloc[-1] == pytest.approx(m["p10"].qini_curve.y[-1])
    # area above random for the good ranking, below for the inverted one
    norm = normalize_curves(table)
    gain = norm.assign(d=norm["y"] - norm["random"]).groupby("offer_id")["d"].mean()
    assert gain["p10"] > 0 > gain["p20"]


def test_expected_per_customer_uses_the_plan_treatment_group():
    # the plan's own treatment group divides the plan's total, not the analysis' group size
    ev = expected_vs_measured({"expected_incremental_profit": 1000.0, "n_treatment": 400},
                              CampaignAnalysis.from_dict(make_analysis()))
    assert ev is not None and ev.expected == pytest.approx(2.5) and ev.n_expected == 400
    assert ev.n_treatment == 900  # the net-profit comparison's treatment group

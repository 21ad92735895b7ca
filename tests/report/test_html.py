"""The HTML report: self-contained, escaped, every section present or explained; loading; CLI."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_testdata import make_card

from offerwise.config import Settings
from offerwise.errors import InputError, ModelError
from offerwise.report import ReportInputs, build_report, load_inputs, render_html
from offerwise.report.html import HINTS

pytest.importorskip("matplotlib")

PLOTS = {
    "segment_profiles",
    "uplift_curves",
    "budget_frontier",
    "offer_mix",
    "fairness",
    "feature_importance",
    "campaign_results",
    "campaign_breakdown",
    "price_index",
    "forecasts",
    "elasticities",
}
SECTIONS = ["summary", "trust", "segments", "model", "frontier", "mix", "categories", "demand", "fairness", "drivers",
            "results"]


class _Collect(HTMLParser):
    """Every start tag with its attributes; ``open`` counts unclosed non-void tags."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.mismatched: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):  # noqa: ANN001
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.mismatched.append(tag)

    def handle_data(self, data):  # noqa: ANN001
        self.text.append(data)


def parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    p.close()
    return p


def test_full_report_is_self_contained_and_well_formed(full_report: Path):
    html = full_report.read_text()
    assert html.isascii()  # non-ASCII written as character references
    doc = parse(html)
    assert not doc.mismatched and not doc.stack
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            v = (attrs.get(name) or "").strip().lower()
            assert not v.startswith(("http:", "https:", "//", "ftp:")), (tag, name, v[:80])
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html
    imgs = [a for t, a in doc.tags if t == "img"]
    assert {a["data-plot"] for a in imgs} == PLOTS
    from PIL import Image

    for a in imgs:
        assert a["src"].startswith("data:image/png;base64,")
        im = Image.open(io.BytesIO(base64.b64decode(a["src"].split(",", 1)[1])))
        assert im.size == (int(a["width"]), int(a["height"]))
        assert a.get("alt")
    ids = [a.get("id") for t, a in doc.tags if t == "section"]
    assert ids == SECTIONS


def test_full_report_content(full_report: Path):
    html = full_report.read_text()
    text = " ".join(parse(html).text)
    # the identification verdict and the placebo, from the model card
    assert "Can these numbers be trusted?" in text and "Verdict: unreliable" in text
    assert "+4.25" in text and "3.10 to" in text and "placebo failed" in text
    assert "Could not be drawn" not in text
    # only note: the configured protected attribute that the profiles lack
    assert text.count("Not available") == 0
    assert "Not in the customer data: marital_status." in text
    for needle in (
        "Customers",
        "Offered a discount",
        "Budget",
        "Expected discount cost",
        "Expected incremental profit",
        "ROI (profit / cost)",
        "abcdef0123456789",
        "spring-2026",
        "t-learner",
        "four-fifths ratio",
        "Reason codes",
        "Example decisions",
        "Sample ratio mismatch",
        "Realised ROI",
        "95% CI with CUPED",
    ):
        assert needle in text, needle
    assert "$1,500" in text  # budget


def test_data_is_escaped(full_report: Path):
    html = full_report.read_text()
    # the model card's warning and the analysis warning contain markup
    assert "&lt;b&gt;(escaped?)&lt;/b&gt;" in html
    assert "<b>(escaped?)" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script" not in html


def test_escape_in_tables_and_titles(tmp_path: Path):
    plan = pd.DataFrame(
        {
            "customer_id": ["<i>c1</i>", "c2"],
            "offer_id": ["p&q", "none"],
            "expected_cost": [1.0, 0.0],
            "incremental_profit": [2.0, 0.0],
            "group": ["treatment", "treatment"],
            "segment": ['"seg"', "s"],
            "reason": ["<img src=x onerror=alert(1)>", "r"],
        }
    )
    html = render_html(ReportInputs(plan=plan, title="<Report & co>"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;i&gt;c1&lt;/i&gt;" in html and "p&amp;q" in html
    assert "<title>&lt;Report &amp; co&gt;</title>" in html


def test_every_section_explains_a_missing_input(tmp_path: Path):
    out = build_report(ReportInputs(), tmp_path / "empty.html")
    doc = parse(out.read_text())
    text = " ".join(doc.text)
    assert not [a for t, a in doc.tags if t == "img"]
    for hint in ("profiles", "model", "plan", "analysis"):
        assert HINTS[hint] in text
    assert text.count("Not available") >= 7
    assert "Could not be drawn" not in text


def test_model_dir_without_curves_says_so(tmp_path: Path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "model_card.json").write_text(json.dumps(make_card()))
    inp = load_inputs(d, settings=Settings())
    assert inp.uplift_curves is None and inp.feature_importance is None
    text = " ".join(parse(render_html(inp)).text)
    assert HINTS["curves"] in text and HINTS["importance"] in text
    assert "Holdout metrics per offer" in text and "0.310" in text
    assert "uplift@10% is an amount" in text  # the legend under the metrics table


def test_bad_input_gives_a_note_not_a_crash(tmp_path: Path):
    plan = pd.DataFrame({"customer_id": ["a", "b"], "offer": ["x", "y"]})  # no offer_id
    curves = pd.DataFrame({"offer_id": ["x"], "nonsense": [1.0]})
    inp = ReportInputs(
        plan=plan, uplift_curves=curves, sources={"model": "m"}, analysis={"unexpected": True}
    )
    text = " ".join(parse(render_html(inp)).text)
    assert "Could not be drawn: plan: missing column(s) 'offer_id'" in text
    assert "Could not be drawn: uplift curves: need an x column" in text
    assert "Could not be drawn: campaign analysis: missing key(s) 'n_customers'" in text


def test_load_inputs_reads_every_file(report_files: dict[str, Path]):
    inp = load_inputs(
        report_files["model"],
        plan=report_files["plan"],
        analysis=report_files["analysis"],
        profiles=report_files["profiles"],
        settings=Settings(protected_attributes=["age"]),
    )
    assert inp.plan is not None and inp.plan_summary["campaign_id"] == "spring-2026"
    assert inp.frontier is not None and len(inp.frontier) == 13
    assert inp.uplift_curves is not None and inp.feature_importance is not None
    assert inp.model_card["learner"] == "t-learner" and inp.model_meta["offers"][0] == "none"
    assert inp.profiles is not None and inp.customers is None
    assert inp.protected_attributes == ["age"]
    assert inp.data_fingerprint == "abcdef0123456789"
    assert set(inp.sources) == {"model", "plan", "analysis", "profiles"}


def test_load_inputs_customers_from_a_table_file(report_files: dict[str, Path], tmp_path: Path):
    cust = pd.DataFrame({"customer_id": [1, 2], "age": ["19-24", "65+"]})
    cust.to_csv(tmp_path / "customers.csv", index=False)
    inp = load_inputs(None, customers=tmp_path / "customers.csv", settings=Settings())
    assert inp.customers is not None and list(inp.customers["customer_id"]) == ["1", "2"]


def test_load_inputs_errors_name_the_path(tmp_path: Path):
    with pytest.raises(ModelError, match="model directory not found"):
        load_inputs(tmp_path / "nope")
    with pytest.raises(InputError, match="plan file not found"):
        load_inputs(None, plan=tmp_path / "plan.parquet")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(InputError, match="campaign analysis file .* cannot parse JSON"):
        load_inputs(None, analysis=tmp_path / "a.json")
    # the old alias spellings are no longer guessed at: the file must be an analysis
    (tmp_path / "b.json").write_text(json.dumps({"metrics": [{"name": "m", "diff": 1.0}]}))
    with pytest.raises(InputError, match=r"campaign analysis file .*b\.json: .*missing key"):
        load_inputs(None, analysis=tmp_path / "b.json")
    (tmp_path / "p.parquet").write_text("not parquet")
    with pytest.raises(InputError, match=r"p\.parquet: cannot read the plan"):
        load_inputs(None, plan=tmp_path / "p.parquet")
    # another table given as the plan: refused (a report of nothing was written before)
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "junk.csv", index=False)
    with pytest.raises(InputError, match=r"junk\.csv: required column\(s\) \['customer_id', "
                                         r"'offer_id'\] missing \(a plan from .*found: a, b"):
        load_inputs(None, plan=tmp_path / "junk.csv")


def test_build_report_writes_atomically(tmp_path: Path):
    out = tmp_path / "sub" / "r.html"
    assert build_report(ReportInputs(), out) == out
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary left behind


def test_importing_the_report_does_not_import_matplotlib():
    code = (
        "import sys, offerwise.report, offerwise.report.plots, offerwise.cli; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_report(report_files: dict[str, Path], tmp_path: Path):
    from typer.testing import CliRunner

    from offerwise.cli import app

    out = tmp_path / "cli.html"
    r = CliRunner().invoke(
        app,
        [
            "report",
            "--model",
            str(report_files["model"]),
            "--out",
            str(out),
            "--plan",
            str(report_files["plan"]),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["ok"] and payload["out"] == str(out) and out.exists()
    assert 'data-plot="offer_mix"' in out.read_text()
    bad = CliRunner().invoke(
        app, ["report", "--model", str(tmp_path / "missing"), "--out", str(out)]
    )
    assert bad.exit_code == 2
    assert "model directory not found" in bad.output


def test_load_inputs_customers_from_a_data_directory(tmp_path: Path):
    d = tmp_path / "data"
    d.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "age": ["19-24", "65+"]}).to_csv(
        d / "customers.csv", index=False
    )
    pd.DataFrame({"offer_id": ["p10"], "kind": ["percent_off"], "value": [0.1]}).to_csv(
        d / "offers.csv", index=False
    )
    inp = load_inputs(None, customers=d, settings=Settings())
    assert inp.customers is not None
    assert sorted(inp.customers["customer_id"]) == ["a", "b"] and "age" in inp.customers.columns
    assert inp.sources["customers"] == str(d)


def test_expected_vs_measured_block(full_report: Path, report_files: dict[str, Path]):
    text = " ".join(parse(full_report.read_text()).text)
    summary = json.loads((report_files["root"] / "plan.summary.json").read_text())
    expected = summary["expected_incremental_profit"] / summary["n_treatment"]
    assert "Expected vs measured" in text
    assert f"${expected:,.2f}" in text  # the plan's expectation per treatment customer
    # measured 2.1 with the CUPED CI [1.25, 2.95]; MDE = 2.80 · se = 2.80 · 0.85/1.96
    assert "measured lift of $2.10 per customer (95% CI $1.25 to $2.95)" in text
    verdict = "contains" if 1.25 <= expected <= 2.95 else "does not contain"
    assert f"{verdict} the plan's expected ${expected:,.2f}" in text
    assert "$1.21 per customer" in text and "holdout was large enough" in text


def test_frontier_label_is_the_plan_summary_point(full_report: Path, report_files: dict[str, Path]):
    text = " ".join(parse(full_report.read_text()).text)
    summary = json.loads((report_files["root"] / "plan.summary.json").read_text())
    v = summary["expected_incremental_profit"]
    assert (
        f"The diamond is this plan as its summary states it: budget $1,500, expected "
        f"incremental profit ${v:,.0f}." in text
    )
    assert "The frontier curve reads" in text  # the synthetic frontier disagrees with the plan


def test_segment_profiles_state_their_population_and_warn_on_other_customers(
    report_files: dict[str, Path],
):
    from report_testdata import make_profiles

    settings = Settings(protected_attributes=[])
    same = load_inputs(None, plan=report_files["plan"], profiles=report_files["profiles"],
                       settings=settings)
    text = " ".join(parse(render_html(same)).text)
    assert f"Population: 400 customers, profiles from {report_files['profiles']}." in text
    assert "These are the plan's 400 customers." in text
    assert "not the plan's customers" not in text
    other = make_profiles(n=250, seed=5)
    other["customer_id"] = "cj-" + other["customer_id"]  # e.g. Complete Journey households
    inp = load_inputs(None, plan=report_files["plan"], profiles=other, settings=settings)
    text = " ".join(parse(render_html(inp)).text)
    assert "Population: 250 customers, profiles from (in memory)." in text
    assert "These profiles are not the plan's customers: the 250 profiled customers include none of the plan's customers." in text
    half = make_profiles()
    half = half[half.index % 2 == 0]
    inp = load_inputs(None, plan=report_files["plan"], profiles=half, settings=settings)
    text = " ".join(parse(render_html(inp)).text)
    assert "include 200 of the plan's 400 customers (50%)" in text


def test_load_inputs_takes_the_typed_analysis(report_files: dict[str, Path]):
    from report_testdata import make_analysis

    from offerwise.evaluation.experiment import CampaignAnalysis

    typed = CampaignAnalysis.from_dict(make_analysis())
    inp = load_inputs(None, analysis=typed, settings=Settings())
    assert inp.analysis is typed and inp.sources["analysis"] == "(in memory)"
    from_file = load_inputs(None, analysis=report_files["analysis"], settings=Settings())
    assert isinstance(from_file.analysis, CampaignAnalysis)
    assert from_file.analysis.to_dict() == typed.to_dict()
    with pytest.raises(InputError, match="expected a path, AnalyzeResult or CampaignAnalysis"):
        load_inputs(None, analysis={"results": []}, settings=Settings())  # type: ignore[arg-type]
    text = " ".join(parse(render_html(inp)).text)
    assert "Realised ROI" in text and "Could not be drawn" not in text


def test_category_section_matches_the_plan_and_profiles(full_report: Path, report_files: dict[str, Path]):
    """#14 item 6: the plan's targeted-category mix and each segment's top categories."""
    from offerwise.report.tables import category_mix, top_categories_by_segment

    text = " ".join(parse(full_report.read_text()).text)
    assert "What is discounted: categories" in text and "The plan's targeted categories" in text
    plan = pd.read_parquet(report_files["plan"])
    mix = category_mix(plan)
    treated = plan[(plan["group"] == "treatment") & (plan["offer_id"] != "none")]
    assert set(mix["category"]) == {"dairy", "site-wide"}
    assert int(mix["customers"].sum()) == len(treated)
    dairy = int(mix.loc[mix["category"] == "dairy", "customers"].iloc[0])
    assert dairy == int((treated["category"] == "dairy").sum()) and f"{dairy:,}" in text
    top = top_categories_by_segment(pd.read_parquet(report_files["profiles"]))
    assert (top.groupby("segment")["rank"].max() <= 3).all()
    assert np.allclose(top.groupby("segment")["share"].sum().clip(upper=1), top.groupby("segment")["share"].sum())
    first = top[top["rank"] == 1].iloc[0]
    assert "Top categories per segment" in text and f"{first['share']:.1%}" in text


def test_demand_section_matches_its_inputs(full_report: Path, report_files: dict[str, Path]):
    """#15 item 6: margin vs target (plan summary), price index and stock (categories file),
    forecasts with intervals, elasticities with intervals: figures equal the files'."""
    doc = parse(full_report.read_text())
    text = " ".join(doc.text)
    plots = {a.get("data-plot") for t, a in doc.tags if t == "img"}
    assert {"price_index", "forecasts", "elasticities"} <= plots
    assert "Demand, prices and margin" in text and "Margin against the target" in text
    assert "22.0%" in text and "22.3%" in text and "21.1%" in text and "$32" in text
    assert "offers were weighed by stock cover (rules [stock])" in text and "19.3%" in text
    cat = pd.read_parquet(report_files["categories"])
    top = cat.iloc[0]
    assert f"{top['price_index']:.3f}" in text and str(top["stock_status"]) in text
    fc = pd.read_parquet(report_files["forecast"])
    first = fc.sort_values("week").groupby("series").first()
    s = first["yhat"].idxmax()
    assert f"{first.loc[s, 'yhat']:,.1f}" in text and f"{first.loc[s, 'hi80']:,.1f}" in text
    el = pd.read_parquet(report_files["elasticity"])
    row = el.iloc[0]
    assert f"{row['elasticity']:+.2f}" in text and f"{row['ci_low']:+.2f}" in text
    assert f"{row['competitor_effect']:+.2f}" in text


def test_demand_section_says_what_is_missing(tmp_path: Path):
    out = build_report(ReportInputs(), tmp_path / "none.html")
    text = " ".join(parse(out.read_text()).text)
    for hint in ("forecast", "elasticity", "categories"):
        assert HINTS[hint] in text


def test_identification_section_states_the_plans_claims_and_exploration(
    report_files: dict[str, Path], tmp_path: Path
):
    """The plan's claims (as `offerwise plan` writes them into its summary) reach the section
    "Can these numbers be trusted?": the experiment and what the plan's exploration detects."""
    from offerwise.workflows.claims import PlanClaims
    from offerwise.workflows.explore_claims import ExploreClaims

    ex = ExploreClaims(customers=1414.0, outcome_days=14, per_offer=177.0, none=177.0, n_offers=7, mde=2.32,
                       effect=0.28, basis="the held-out check's estimate", per_offer_needed=11725.0,
                       share_to_detect=None)
    claims = PlanClaims(verdict="unreliable", verified=False, experiment="launch with a holdout",
                        explore=ex)
    summary = json.loads(report_files["plan"].with_suffix(".summary.json").read_text())
    summary["claims"] = claims.to_dict()
    plan = tmp_path / "plan.parquet"
    pd.read_parquet(report_files["plan"]).to_parquet(plan, index=False)
    plan.with_suffix(".summary.json").write_text(json.dumps(summary))
    inp = load_inputs(report_files["model"], plan=plan, settings=Settings())
    text = " ".join(parse(build_report(inp, tmp_path / "r.html").read_text()).text)
    text = " ".join(text.split())
    assert "Exploration: about 1,414 customers drawn at random: about 177 per offer" in text
    assert "detectable from 2.32 net profit per customer" in text
    assert "needs about 11,725 explored customers per arm" in text
    assert "launch with a holdout." in text
    # a plan that did not explore says nothing about exploration
    summary["claims"] = PlanClaims(verdict="ok", verified=True, experiment="x", explore=ExploreClaims(
        customers=0.0, outcome_days=14, per_offer=0.0, none=0.0, n_offers=0, mde=float("nan"), effect=0.5,
        basis="the expected effect", per_offer_needed=500.0, share_to_detect=0.3)).to_dict()
    plan.with_suffix(".summary.json").write_text(json.dumps(summary))
    inp = load_inputs(report_files["model"], plan=plan, settings=Settings())
    assert "Exploration:" not in build_report(inp, tmp_path / "r2.html").read_text()


def test_a_first_campaign_report_says_there_is_no_model_yet(tmp_path: Path):
    from offerwise.simulator import SimulatorConfig, simulate, write_market
    from offerwise.workflows.first_campaign import make_first_campaign
    from offerwise.workflows.report import write_report

    shop = write_market(simulate(SimulatorConfig(n_customers=400, n_exposures=0, seed=3)), tmp_path / "shop")
    plan = tmp_path / "first.parquet"
    run = make_first_campaign(shop, 3000, plan, seed=3)
    rep = write_report(None, tmp_path / "r.html", plan=plan, data=str(shop))  # no --model needed
    page = rep.path.read_text()
    assert "No model yet: this plan is a randomized first campaign." in page
    assert f"{int(run.result.explored.sum()):,} customers (share {run.share:.4f} of the treatment group)" in page
    assert "unknown (first campaign)" in page and "Discount cost if every offered customer redeems" in page
    assert "has no identification report" not in page
    assert "What these customers can show: about" in page
    # the offer mix counts the cost if all redeem and claims no incremental profit
    assert "cost if every offered customer redeems ($)" in page
    assert "expected incremental profit ($)" not in page
    # and so does the reason-code table (an average per customer of each reason)
    assert "avg discount cost if every offered customer redeems ($)" in page
    assert "avg expected cost" not in page
    # an assumed redemption rate: the figures are the expected cost at that rate, and say so
    make_first_campaign(shop, 3000, tmp_path / "rate.parquet", seed=3, redemption_rate=0.4)
    page = write_report(None, tmp_path / "r2.html", plan=tmp_path / "rate.parquet",
                        data=str(shop)).path.read_text()
    assert "Expected discount cost if 40% of offered customers redeem" in page
    assert "expected discount cost if 40% of offered customers redeem ($)" in page
    assert "every offered customer redeems" not in page
    assert "Cost counted against the budget: an assumed 40% of offered customers redeem once" in page

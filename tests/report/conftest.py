"""Fixtures of the report tests: every input on disk, and the report built from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_testdata import (
    OFFERS,
    make_analysis,
    make_card,
    make_curves,
    make_frontier,
    make_importance,
    make_plan,
    make_profiles,
    make_summary,
)


@pytest.fixture(scope="session")
def report_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model directory, plan with sidecars, analysis JSON and profiles file on disk."""
    root = tmp_path_factory.mktemp("report_inputs")
    prof = make_profiles()
    plan = make_plan(prof)
    model = root / "model"
    model.mkdir()
    (model / "model.json").write_text(
        json.dumps(
            {
                "version": "0.1.0",
                "data_fingerprint": "abcdef0123456789",
                "offers": ["none", *OFFERS],
            }
        )
    )
    (model / "model_card.json").write_text(json.dumps(make_card()))
    make_curves().to_parquet(model / "uplift_curves.parquet", index=False)
    make_importance().to_parquet(model / "feature_importance.parquet", index=False)
    plan.to_parquet(root / "plan.parquet", index=False)
    (root / "plan.summary.json").write_text(json.dumps(make_summary(plan)))
    make_frontier().to_parquet(root / "plan.frontier.parquet", index=False)
    (root / "analysis.json").write_text(json.dumps(make_analysis()))
    prof.to_parquet(root / "profiles.parquet", index=False)
    demand = make_demand_files(root)
    return {
        "model": model,
        "plan": root / "plan.parquet",
        "analysis": root / "analysis.json",
        "profiles": root / "profiles.parquet",
        "root": root,
        **demand,
    }


def make_demand_files(root: Path) -> dict[str, Path]:
    """Forecast, elasticity and categories files made by the real commands' workflows on the
    synthetic shop with known elasticities, rivals and a stock room."""
    from offerwise.demand.synthetic import DemandConfig, simulate_demand
    from offerwise.workflows.categories import category_outlook, write_outlook
    from offerwise.workflows.elasticity import run_elasticity
    from offerwise.workflows.forecast import run_forecast

    shop = root / "demand_shop"
    simulate_demand(DemandConfig(competitors=3, seed=2)).write(str(shop))
    out = {k: root / f"{k}.parquet" for k in ("forecast", "elasticity", "categories")}
    run_forecast(shop, level="category", horizon=8, target="units", out=out["forecast"])
    run_elasticity(shop, out=out["elasticity"])
    write_outlook(category_outlook(shop, forecast=out["forecast"]), out["categories"])
    return {**out, "demand_shop": shop}


@pytest.fixture(scope="session")
def full_report(report_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report built from every input (written once per session)."""
    from offerwise.config import Settings
    from offerwise.report import build_report, load_inputs

    inp = load_inputs(
        report_files["model"],
        plan=report_files["plan"],
        analysis=report_files["analysis"],
        profiles=report_files["profiles"],
        settings=Settings(protected_attributes=["age", "income", "marital_status"]),
        forecast=report_files["forecast"],
        elasticity=report_files["elasticity"],
        categories=report_files["categories"],
    )
    return build_report(inp, tmp_path_factory.mktemp("report_out") / "report.html")

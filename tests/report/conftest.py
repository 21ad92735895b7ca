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
    return {
        "model": model,
        "plan": root / "plan.parquet",
        "analysis": root / "analysis.json",
        "profiles": root / "profiles.parquet",
        "root": root,
    }


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
    )
    return build_report(inp, tmp_path_factory.mktemp("report_out") / "report.html")

"""``plan --overspend-risk``: the plan states its true cost's interval and keeps the chance of
exceeding the budget at most the risk asked for, with the model's out-of-fold cost calibration."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest

from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train


@pytest.fixture(scope="module")
def model(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pc") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(data_dir, out, learner="t", seed=5, n_estimators=40, tune_mode="off").model_dir


def _plan(model_dir, data_dir, path, risk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_plan(model_dir, data_dir, 150.0, path, seed=1, frontier=False,
                         overspend_risk=risk)


def test_card_has_an_out_of_fold_cost_calibration(model):
    cal = json.loads((model / "model_card.json").read_text())["cost_calibration"]
    assert cal["n_rows"] >= 30 and cal["ratio"] > 0 and cal["se"] >= 0
    assert "out of fold" in cal["scope"]


def test_overspend_risk_shrinks_the_planning_budget_when_costs_run_high(model, data_dir, tmp_path):
    # a model whose costs run 50 % over their predictions (on its out-of-fold rows)
    hot = tmp_path / "hot"
    shutil.copytree(model, hot)
    card = json.loads((hot / "model_card.json").read_text())
    card["cost_calibration"] = {"ratio": 1.5, "se": 0.05, "n_rows": 400, "scope": "test"}
    (hot / "model_card.json").write_text(json.dumps(card))
    plain = _plan(hot, data_dir, tmp_path / "p0.parquet", None)
    safe = _plan(hot, data_dir, tmp_path / "p1.parquet", 0.1)
    assert plain.planning_budget == 150.0 and plain.cost.calibration.ratio == 1.0
    assert safe.cost.calibration.ratio == 1.5
    assert safe.cost.p_over_budget <= 0.1 + 1e-9
    assert safe.planning_budget < 150.0 / 1.5  # the mean alone would need 1/1.5 of it
    assert safe.result.total_cost <= safe.planning_budget + 1e-6
    assert safe.cost.expected + 1.2 * safe.cost.sd <= 150.0 + 1e-6
    summary = json.loads((tmp_path / "p1.summary.json").read_text())
    assert summary["budget"] == 150.0 and summary["cost"]["overspend_risk"] == 0.1
    assert summary["cost"]["planning_budget"] == pytest.approx(safe.planning_budget)


def test_bad_overspend_risk_is_an_input_error(model, data_dir, tmp_path):
    from offerwise.errors import InputError

    with pytest.raises(InputError, match="--overspend-risk must be a probability"):
        _plan(model, data_dir, tmp_path / "p.parquet", 0.7)


def test_the_plan_is_checked_by_the_audit_model_on_customers_it_never_saw(model, data_dir, tmp_path):
    from offerwise.models.persist import load_model

    audit = load_model(model / "audit")  # a full model directory inside the model
    assert audit.meta["audit_fold"] == 0 and audit.meta["data_fingerprint"]
    run = _plan(model, data_dir, tmp_path / "p.parquet", 0.1)
    c = run.claims
    assert c is not None and c.estimate is not None
    assert "re-made by a model fitted without" in c.estimate_note
    assert c.estimate.ci_low <= c.estimate.value <= c.estimate.ci_high
    # the audit fold's exposures only: about a third of them
    import pandas as pd

    oof = pd.read_parquet(model / "oof.parquet")
    assert c.estimate.n_rounds <= int((oof["fold"] == 0).sum()) < len(oof)

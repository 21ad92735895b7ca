"""The plan's held-out check on a history longer than one campaign: the exposures are split into
spans of at most CHECK_WINDOW_DAYS days, and each span's rows are checked against the plan re-made
from the features as of its first exposure (``offerwise.workflows.check_spans.check_windows``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from offerwise.simulator import SimulatorConfig, simulate, write_market


@pytest.fixture(scope="module")
def six_weeks(tmp_path_factory):
    """A legacy market (logged propensities) whose exposures span six weeks, and its model."""
    from offerwise.workflows.train import train

    mk = simulate(SimulatorConfig(n_customers=3000, n_exposures=9000, seed=11, logging="legacy"))
    d = write_market(mk, tmp_path_factory.mktemp("spans") / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = train(d, tmp_path_factory.mktemp("spans") / "m", seed=3, tune_mode="off")
    return d, tr.model_dir


def test_features_at_several_dates_are_those_of_each_date(six_weeks):
    from offerwise.data.contract import load_data
    from offerwise.features.model_inputs import customer_features, customer_features_at
    from offerwise.models.persist import load_model

    d, model = six_weeks
    spec = load_model(model).features
    ds = load_data(d)
    dates = [pd.Timestamp("2026-01-01 08:00"), pd.Timestamp("2026-02-01 09:30")]
    ids, Xs = customer_features_at(ds, spec, dates)
    assert len(Xs) == 2 and not np.array_equal(Xs[0], Xs[1], equal_nan=True)
    for when, X in zip(dates, Xs, strict=True):
        ids1, X1, _ = customer_features(ds, spec, as_of=when)
        assert ids.tolist() == ids1.tolist()
        np.testing.assert_array_equal(X, X1)


def test_a_six_week_history_is_checked_span_by_span(six_weeks, tmp_path):
    from offerwise.workflows.check_spans import CHECK_WINDOW_DAYS
    from offerwise.workflows.plan import make_plan

    d, model = six_weeks
    ts = pd.to_datetime(pd.read_parquet(d / "exposures.parquet")["ts"])
    assert ts.max() - ts.min() > pd.Timedelta(days=CHECK_WINDOW_DAYS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = make_plan(model, d, 300.0, tmp_path / "p.parquet", seed=2, frontier=False)
    c = run.claims
    assert c is not None and c.estimate is not None, c
    note = " ".join(c.estimate_note.split())
    assert f"each of 2 spans of at most {CHECK_WINDOW_DAYS} days" in note
    assert f"({ts.min().date()} to " in note and "not checked" not in note
    assert c.estimate.ci_low <= c.estimate.value <= c.estimate.ci_high
    # exact propensities and plans that cannot depend on the logged offers: no mismatch flagged
    assert c.support is not None and not c.support.mismatch, c.support


def test_evaluate_says_a_plan_made_after_the_exposures_is_valued_optimistically(six_weeks, tmp_path):
    """`offerwise evaluate` of an offerwise plan made after the exposures it values: a warning
    naming the plan's date and quoting the plan's own held-out check, in --json and on screen."""
    import json

    from typer.testing import CliRunner

    from offerwise.cli import app
    from offerwise.workflows.evaluate import evaluate_plan
    from offerwise.workflows.plan import make_plan

    d, model = six_weeks
    path = tmp_path / "p.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = make_plan(model, d, 300.0, path, seed=2, frontier=False)
    est = run.claims.estimate
    res = evaluate_plan(path, d, model=model, n_bootstrap=20)
    msg = [w for w in res.warnings if w.startswith("the plan was made as of")]
    assert len(msg) == 1, res.warnings
    n = len(pd.read_parquet(d / "exposures.parquet"))
    assert f"after {n:,} of the {n:,} exposures" in msg[0]
    assert f"incremental profit {est.value:,.0f}, 90% interval [{est.ci_low:,.0f}, " in msg[0]
    # the same decisions as a frame (no plan summary to date them): no such warning
    frame = pd.read_parquet(path)[["customer_id", "offer_id"]]
    assert not [w for w in evaluate_plan(frame, d, n_bootstrap=20).warnings if "made as of" in w]
    r = CliRunner()
    out = r.invoke(app, ["evaluate", "--decisions", str(path), "--data", str(d), "--model",
                         str(model), "--bootstrap", "20"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "warning: the plan was made as of" in text and "these estimates are optimistic" in text
    js = r.invoke(app, ["evaluate", "--decisions", str(path), "--data", str(d), "--bootstrap",
                        "20", "--json"])
    assert js.exit_code == 0, js.output
    got = json.loads(js.stdout[js.stdout.index("{"):])
    assert any(w.startswith("the plan was made as of") for w in got["warnings"])

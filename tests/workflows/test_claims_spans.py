"""The plan's held-out check on a history longer than one campaign: the exposures are split into
spans of at most CHECK_WINDOW_DAYS days, and each span's rows are checked against the plan re-made
from the features as of its first exposure (``offerwise.workflows.claims.check_windows``)."""

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
    from offerwise.workflows.claims import CHECK_WINDOW_DAYS
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

"""The spans a plan's held-out check is made on (``offerwise.workflows.check_spans``)."""

import numpy as np
import pandas as pd

from offerwise.workflows.check_spans import (
    CHECK_WINDOW_DAYS,
    MAX_CHECK_WINDOWS,
    check_windows,
    window_note,
)


def test_check_windows_split_the_history_into_campaign_spans_before_the_plan():
    """One campaign's exposures (a few days) are one span re-made as of their first day; a longer
    history splits into consecutive spans of at most CHECK_WINDOW_DAYS days, each starting at the
    first exposure after the previous one ends; spans from the plan's date on, and those before
    the MAX_CHECK_WINDOWS latest, are not checked."""
    plan_day = pd.Timestamp("2026-06-01")
    camp = pd.Series(pd.to_datetime(["2026-05-03 10:00", "2026-05-01 08:00", "2026-05-09 00:00"]))
    w = check_windows(camp, plan_day)
    assert w is not None and w.starts == [pd.Timestamp("2026-05-01 08:00")]
    assert w.label.tolist() == [0, 0, 0] and w.dropped == 0
    aware = check_windows(camp.dt.tz_localize("UTC"), plan_day)  # served exports carry UTC times
    assert aware is not None and aware.starts == w.starts
    day = pd.Timestamp("2026-01-01")
    end = day + pd.Timedelta(days=CHECK_WINDOW_DAYS)
    long = pd.Series([day, end - pd.Timedelta(seconds=1), end, end + pd.Timedelta(days=3)])
    w = check_windows(long, plan_day)
    assert w is not None and w.starts == [day, end]
    assert w.label.tolist() == [0, 0, 1, 1]
    # a span that starts on the plan's date is not checked; one before it is, whole
    w = check_windows(long, end)
    assert w is not None and w.starts == [day] and w.label.tolist() == [0, 0, -1, -1]
    assert w.dropped == 2
    assert check_windows(camp, pd.Timestamp("2026-05-01")) is None  # the plan is not later
    # mixed logs: spans drawn from the logged rows; every row labelled by its time
    w = check_windows(long, plan_day, rows=np.array([False, False, True, True]))
    assert w is not None and w.starts == [end] and w.label.tolist() == [-1, -1, 0, 0]
    assert w.dropped == 0  # the unlogged rows are not counted as dropped
    # a history longer than MAX_CHECK_WINDOWS spans keeps the latest
    many = pd.Series([day + pd.Timedelta(days=40 * k) for k in range(MAX_CHECK_WINDOWS + 2)])
    w = check_windows(many, plan_day + pd.Timedelta(days=2000))
    assert w is not None and len(w.starts) == MAX_CHECK_WINDOWS
    assert w.starts[0] == many.iloc[2] and w.label[:2].tolist() == [-1, -1] and w.dropped == 2
    assert check_windows(pd.Series([], dtype="datetime64[ns]"), plan_day) is None
    assert check_windows(pd.Series(["2026-05-01", "not a date"]), plan_day) is None


def test_window_note_names_the_spans_and_the_rows_left_out():
    """The check's note says from which date(s) the plan was re-made and how many rows it left out."""
    day = pd.Timestamp("2026-01-01")
    one = check_windows(pd.Series([day, day + pd.Timedelta(days=2)]), day + pd.Timedelta(days=60))
    assert one is not None
    note = window_note(one)
    assert "as of 2026-01-01, the checked exposures' first day" in note and "not checked" not in note
    end = day + pd.Timedelta(days=CHECK_WINDOW_DAYS)
    two = check_windows(pd.Series([day, end, end + pd.Timedelta(days=40)]), end + pd.Timedelta(days=40))
    assert two is not None and len(two.starts) == 2 and two.dropped == 1
    note = window_note(two)
    assert f"each of 2 spans of at most {CHECK_WINDOW_DAYS} days (2026-01-01 to {end.date()})" in note
    assert "; 1 exposure outside them (older, or from the plan's date on) not checked" in note

"""The spans a plan's held-out check is made on: a history of exposures split into campaigns of at
most :data:`CHECK_WINDOW_DAYS` days, each checked against the plan re-made from the features as of
its first exposure (:func:`check_windows`), and how the check's note says so (:func:`window_note`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CHECK_WINDOW_DAYS", "MAX_CHECK_WINDOWS", "CheckWindows", "check_windows", "window_note"]

#: Checked exposures are split into spans of at most this many days (a campaign), each checked
#: against the plan re-made as of its first exposure (:func:`check_windows`).
CHECK_WINDOW_DAYS = 31
#: At most this many spans (the latest) are checked: each re-makes the plan over every customer.
MAX_CHECK_WINDOWS = 6


@dataclass(frozen=True, slots=True)
class CheckWindows:
    """The checked exposures in spans of at most :data:`CHECK_WINDOW_DAYS` days.

    ``starts``: each span's first exposure (naive timestamps, oldest first); ``label``: (n,) the
    span index of each row, -1 for a row in none of them (before the :data:`MAX_CHECK_WINDOWS`
    latest spans, or in a span that starts on or after the plan's date); ``dropped``: how many
    rows that is (of those the spans were drawn from).
    """

    starts: list[pd.Timestamp]
    label: np.ndarray
    dropped: int


def check_windows(
    ts: pd.Series, as_of: pd.Timestamp | None, rows: np.ndarray | None = None
) -> CheckWindows | None:
    """Spans of the exposures at ``ts`` (n,) to re-make the plan at, each as of its first exposure;
    None when a time is missing or no span starts before the plan's date ``as_of``.

    A plan made from features as of its own date may pick customers partly for what happened after
    the exposures it is checked on (a customer the last campaign's offer made buy looks different
    now), and a DR estimate needs the plan's choice not to depend on the logged offer. Re-made from
    the features as of a span's first exposure, the plan's choice cannot depend on the offers that
    span's rows record. A span is at most :data:`CHECK_WINDOW_DAYS` days (a campaign; over a
    longer one the plan's date would be stale for its later rows): a shop's history splits into
    consecutive spans, each starting at the first exposure after the previous one ends.
    ``rows``: (n,) bool, the rows the spans are drawn from (mixed logs: the logged ones); every
    row is labelled by the span its time falls in.
    """
    t = pd.to_datetime(ts, errors="coerce", utc=True)
    if not len(t) or t.isna().any():
        return None
    naive = t.dt.tz_localize(None).to_numpy()
    pick = naive if rows is None else naive[np.asarray(rows, dtype=bool)]
    if not len(pick):
        return None
    width = np.timedelta64(CHECK_WINDOW_DAYS, "D")
    order = np.sort(pick)
    starts: list[np.datetime64] = []
    k = 0
    while k < len(order):
        starts.append(order[k])
        k = int(np.searchsorted(order, order[k] + width, side="left"))
    if as_of is not None:
        limit = np.datetime64(pd.Timestamp(as_of).tz_localize(None).to_datetime64())
        starts = [s for s in starts if s < limit]
    if not starts:
        return None
    starts = starts[-MAX_CHECK_WINDOWS:]
    st = np.array(starts)
    idx = np.searchsorted(st, naive, side="right") - 1
    inside = (idx >= 0) & (naive < st[np.maximum(idx, 0)] + width)
    label = np.where(inside, idx, -1).astype(np.int64)
    counted = np.ones(len(naive), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    return CheckWindows(
        starts=[pd.Timestamp(s) for s in starts],
        label=label,
        dropped=int((counted & (label < 0)).sum()),
    )


def window_note(win: CheckWindows) -> str:
    """How the check re-made the plan for the spans of :func:`check_windows` (a note's tail)."""
    if len(win.starts) == 1:
        out = (
            f"; the plan re-made from the features as of {win.starts[0].date()}, the checked "
            "exposures' first day (so it cannot pick customers for what those offers did)"
        )
    else:
        out = (
            f"; the plan re-made from the features as of the first day of each of "
            f"{len(win.starts)} spans of at most {CHECK_WINDOW_DAYS} days "
            f"({win.starts[0].date()} to {win.starts[-1].date()}) and checked on that span's "
            "exposures (so it cannot pick customers for what those offers did)"
        )
    if win.dropped:
        out += (
            f"; {win.dropped:,} exposure{'' if win.dropped == 1 else 's'} outside them (older, "
            "or from the plan's date on) not checked"
        )
    return out

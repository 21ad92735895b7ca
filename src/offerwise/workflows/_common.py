"""Shared pieces of the workflows: progress callbacks and opening a data source once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from offerwise._io import read_parquet
from offerwise.config import Settings
from offerwise.data.contract import DataSet, load_data

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.models.persist import LoadedModel

__all__ = [
    "STALE_AS_OF_DAYS",
    "DataArg",
    "HeldOut",
    "Progress",
    "as_of_warnings",
    "held_out_exposures",
    "note",
    "open_data",
]

#: A progress callback: receives a short text of the step being run.
Progress = Callable[[str], None]
#: A data source as given by a user (folder, .duckdb file, postgresql:// URL) or already opened.
DataArg = str | Path | DataSet


def note(progress: Progress | None, msg: str) -> None:
    """Tell ``progress`` (if any) which step runs now."""
    if progress is not None:
        progress(msg)


def open_data(data: DataArg, settings: Settings, required: Sequence[str] = ()) -> DataSet:
    """``data`` validated against the contract (opened once; an open DataSet is reused as is)."""
    if isinstance(data, DataSet):
        missing = [t for t in required if not data.has(t)]
        if missing:
            from offerwise.errors import InputError

            raise InputError(f"{data.root}: required table(s) missing: {', '.join(missing)}")
        return data
    return load_data(data, settings=settings, required=tuple(required))


#: An ``--as-of`` more than this many days after the last transaction is warned about.
STALE_AS_OF_DAYS = 365


NO_HISTORY = (
    "no transactions: recency, frequency, spend, discount share, churn risk and CLV need a "
    "purchase history, so every customer is profiled as 'new' (no order yet) with churn risk "
    "1; the customers' own columns are kept as they are"
)


def history_warnings(ds: DataSet) -> list[str]:
    """:data:`NO_HISTORY` when ``ds`` has no ``transactions`` table (an empty one is fatal)."""
    return [] if ds.has("transactions") else [NO_HISTORY]


def as_of_warnings(ds: DataSet, as_of: pd.Timestamp) -> list[str]:
    """Warnings when ``as_of`` lies outside the transactions' history: on or before the first
    one (no customer has bought anything yet: every one looks new, with no history) or more than
    :data:`STALE_AS_OF_DAYS` after the last (every customer looks lapsed)."""
    got = ds.ts_range("transactions")
    if got is None:
        return []
    first, last = pd.Timestamp(got[0]), pd.Timestamp(got[1])
    when = pd.Timestamp(as_of)
    if when <= first:
        return [
            f"as of {when.date()}, on or before the first transaction ({first.date()}): no "
            "customer has a purchase history then, so every one looks new; give an --as-of "
            "inside the data's history"
        ]
    gap = (when - last).days
    if gap > STALE_AS_OF_DAYS:
        return [
            f"as of {when.date()}, {gap:,} days after the last transaction ({last.date()}): "
            "every customer looks lapsed then; give an --as-of near the data's end, or newer "
            "data"
        ]
    return []


@dataclass(slots=True)
class HeldOut:
    """Exposures a model was not fitted on (``rows``, contract columns) and why these; ``q``: (n, A)
    out-of-fold expected net profit of ``arms`` for those rows (``none`` first), when the model kept
    them (``oof.parquet``), else ``None`` (predict with the model)."""

    rows: pd.DataFrame
    note: str
    arms: list[str] = field(default_factory=list)
    q: np.ndarray | None = None
    fold: np.ndarray | None = None  # (n,) cross-fitting fold of each row (oof.parquet)

    def rewards(self, arms: list[str]) -> np.ndarray | None:
        """(n, len(arms)) columns of ``q`` for ``arms``, or None if some arm has no column."""
        if self.q is None or not set(arms) <= set(self.arms):
            return None
        return self.q[:, [self.arms.index(a) for a in arms]]


def _rows_match(ex: pd.DataFrame, keys: pd.DataFrame) -> bool:
    pos = keys["row"].to_numpy(dtype=np.int64)
    return bool(
        len(pos)
        and pos.max() < len(ex)
        and (
            ex["customer_id"].astype(str).to_numpy()[pos]
            == keys["customer_id"].astype(str).to_numpy()
        ).all()
    )


def held_out_exposures(
    lm: LoadedModel, ds: DataSet, ex: pd.DataFrame
) -> tuple[HeldOut | None, str]:
    """The exposures of ``ex`` (``ds``'s exposures table, in order) that ``lm`` was not fitted on.

    On the model's own training data (same fingerprint): every exposure with its out-of-fold
    prediction (``oof.parquet``, from a cross-fitted model that never saw that customer), or, for
    a model saved before cross-fitting, its held-out rows (``holdout.parquet``); row positions and
    customer ids must match. On other data every row (the model predicts them). ``None`` with the
    reason when the model's own data has no usable held-out rows.
    """
    if lm.meta.get("data_fingerprint") != ds.fingerprint:
        why = "all exposures (the model was trained on other data)"
        return HeldOut(ex, why), why
    op = lm.path / "oof.parquet"
    if op.exists():
        keys = read_parquet(op)
        if not _rows_match(ex, keys) or len(keys) != len(ex):
            return None, "the model's out-of-fold rows do not match the data"
        cols = [c for c in keys.columns if c.startswith("q:")]
        why = (
            "every exposure, rewards predicted out of fold (by a model that never saw the "
            "customer); the saved model saw them all, so a plan it made is estimated optimistically"
        )
        return HeldOut(
            ex.reset_index(drop=True),
            why,
            arms=[c[2:] for c in cols],
            q=keys[cols].to_numpy(dtype=np.float64),
            fold=keys["fold"].to_numpy(dtype=np.int64),
        ), why
    hp = lm.path / "holdout.parquet"
    if not hp.exists():
        return None, "the model kept no held-out exposures"
    keys = read_parquet(hp)
    if not _rows_match(ex, keys):
        return None, "the model's held-out rows do not match the data"
    pos = keys["row"].to_numpy(dtype=np.int64)
    why = "held-out exposures of the model"
    return HeldOut(ex.iloc[pos].reset_index(drop=True), why), why

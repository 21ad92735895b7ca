"""Shared pieces of the workflows: progress callbacks and opening a data source once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet, load_data
from offerwise.models.persist import LoadedModel

__all__ = ["DataArg", "Progress", "held_out_exposures", "note", "open_data"]

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


def held_out_exposures(
    lm: LoadedModel, ds: DataSet, ex: pd.DataFrame
) -> tuple[pd.DataFrame | None, str]:
    """The exposures of ``ex`` (``ds``'s exposures table, in order) that ``lm`` was not fitted on.

    On the model's own training data (same fingerprint) these are its held-out rows
    (``holdout.parquet``: row positions and customer ids, which must match); on other data every
    row. ``None`` with the reason when the model's own data has no usable held-out rows.
    """
    if lm.meta.get("data_fingerprint") != ds.fingerprint:
        return ex, "all exposures (the model was trained on other data)"
    hp = lm.path / "holdout.parquet"
    if not hp.exists():
        return None, "the model kept no held-out exposures"
    keys = pd.read_parquet(hp)
    pos = keys["row"].to_numpy(dtype=np.int64)
    if not (
        len(pos)
        and pos.max() < len(ex)
        and (
            ex["customer_id"].astype(str).to_numpy()[pos]
            == keys["customer_id"].astype(str).to_numpy()
        ).all()
    ):
        return None, "the model's held-out rows do not match the data"
    return ex.iloc[pos].reset_index(drop=True), "held-out exposures of the model"

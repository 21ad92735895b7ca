"""Shared pieces of the workflows: progress callbacks and opening a data source once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from offerwise.config import Settings
from offerwise.data.contract import DataSet, load_data

__all__ = ["DataArg", "Progress", "note", "open_data"]

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

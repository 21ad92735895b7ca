"""Validation results remembered per data version, so unchanged files are checked once.

A user runs several commands on the same folder (``profile``, ``train``, ``score``, ``plan``);
each validated every table again: about 7 of the 74 s a score of 1M customers (20M transaction
lines) took in an ad-hoc profile. The result of :func:`offerwise.data.contract.validate_source`
(problems, row filters, row counts, the text columns taken as stored) depends only on the files'
bytes, the location (problems name the file), the settings, the offerwise version and the
checks' own (:data:`CHECKS_VERSION`), so it is
stored under a hash of those in the user's cache folder and reused when all of them match.

* Only sources whose fingerprint hashes every byte (a folder of files, a DuckDB file, the CSV
  bytes a PostgreSQL server sent) are cached; in-memory tables are validated every time.
* A result that warns of dates after today is as of the day it was made: on a later day the
  source is validated again (today's date may have caught up with them).
* Only results without fatal problems are stored (a fatal one stops the command anyway).
* Folder: ``$OFFERWISE_CACHE_DIR``, else ``$XDG_CACHE_HOME/offerwise``, else
  ``~/.cache/offerwise``; ``OFFERWISE_VALIDATION_CACHE=0`` turns the cache off. An unreadable or
  unwritable cache is ignored: the data is then validated as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from offerwise import __version__
from offerwise._io import write_json
from offerwise.errors import Problem

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from offerwise.config import Settings
    from offerwise.data.readers import Source

__all__ = ["FUTURE_DATES", "Validation", "cache_dir", "cache_key", "load", "store", "usable"]

#: Source kinds whose fingerprint is a hash of every byte (see ``Source.fingerprint``).
CACHED_KINDS = ("dir", "duckdb", "postgres")
#: How the warning about dates after today starts; the date follows, then ``)``.
FUTURE_DATES = "dated after today ("
#: The checks' own version, part of the key: raise it when validation checks something new (a
#: result stored before would pass data the new check refuses). 2: line amounts above 10^12;
#: 3: exposure revenue, discount cost and gross profit beyond 10^12; offer categories no product
#: has (a warning); 4: transactions or exposures dated after today, members-only offers without a
#: customers.member column (warnings); 5: text attribute columns whose every value is a number
#: (``Validation.numeric``).
CHECKS_VERSION = 5


@dataclass(frozen=True, slots=True)
class Validation:
    """What validating a source found: every problem (fatal or not), the row filters of the
    tolerable ones (table -> SQL predicate of the kept rows), each table's row count and the
    text columns whose values need no cleaning (table -> columns; see
    :func:`offerwise.data.contract.cast_expr`)."""

    problems: list[Problem]
    exclude: dict[str, str]
    counts: dict[str, int]
    verbatim: dict[str, list[str]] = field(default_factory=dict)
    #: table -> attribute columns (not in the contract) stored as text whose every value is a
    #: number (a CSV file's): typed as numbers, as the same column of a Parquet file is
    numeric: dict[str, list[str]] = field(default_factory=dict)


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off (``OFFERWISE_VALIDATION_CACHE=0``)."""
    if os.environ.get("OFFERWISE_VALIDATION_CACHE", "1").strip().lower() in ("0", "false", "no"):
        return None
    if os.environ.get("OFFERWISE_CACHE_DIR"):
        return Path(os.environ["OFFERWISE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "offerwise"


def cache_key(source: Source, fingerprint: str, settings: Settings) -> str | None:
    """SHA-256 of everything a stored validation result depends on; None for sources not cached.

    The tables a command requires are not in it: a stored result has no fatal problem, so every
    table some command required was there, and a command requiring one that is missing does not
    use the cache (:func:`usable`)."""
    if source.kind not in CACHED_KINDS:
        return None
    parts = {
        "version": __version__,
        "checks": CHECKS_VERSION,
        "kind": source.kind,
        "location": str(Path(source.location).resolve()),
        "tables": sorted(source.tables),
        "fingerprint": fingerprint,
        "settings": settings.model_dump(mode="json", exclude={"threads"}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def usable(source: Source, required: Iterable[str]) -> bool:
    """Whether a stored result can stand for validating ``source`` for a command that requires
    the tables ``required``: all of them are present (a missing one is a fatal problem that
    validation must report)."""
    return all(t in source.tables for t in required)


def _path(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / "validation" / f"{key}.json"


def load(key: str | None) -> Validation | None:
    """The stored result for ``key``, or None (no key, cache off, not stored, unreadable)."""
    path = None if key is None else _path(key)
    if path is None or not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        if raw.get("key") != key:
            return None
        problems = [Problem(**p) for p in raw["problems"]]
        today = f"{FUTURE_DATES}{datetime.now(UTC).date()})"
        if any(
            p.message.startswith(FUTURE_DATES) and not p.message.startswith(today) for p in problems
        ):
            return None  # warned of dates after another day: today's check may differ
        return Validation(
            problems=problems,
            exclude={str(k): str(v) for k, v in raw["exclude"].items()},
            counts={str(k): int(v) for k, v in raw["counts"].items()},
            # a record written before this field: every column cleaned, as it was then
            verbatim={str(k): [str(c) for c in v] for k, v in raw.get("verbatim", {}).items()},
            numeric={str(k): [str(c) for c in v] for k, v in raw["numeric"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(key: str | None, found: Validation) -> None:
    """Remember ``found`` under ``key`` (atomically); nothing when it has a fatal problem, the
    cache is off or cannot be written."""
    path = None if key is None else _path(key)
    if path is None or any(p.fatal for p in found.problems):
        return
    record = {
        "key": key,
        "version": __version__,
        "problems": [p.to_dict() for p in found.problems],
        "exclude": found.exclude,
        "counts": found.counts,
        "verbatim": found.verbatim,
        "numeric": found.numeric,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(record, path)
    except OSError:
        return

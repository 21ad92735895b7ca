"""Atomic file output, reading one table file, and data fingerprints.

Nothing offerwise writes is ever half-written: each writer writes to a temporary file in the
destination folder and renames it into place (``os.replace`` is atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_parquet(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a DataFrame, read by pyarrow from its path (``columns``: only these).

    Not ``pd.read_parquet``: pandas opens a local path as a Python file object, and pyarrow's
    background reads of a Python file (``pre_buffer``) can outlive the read, so a process that
    exits soon after aborts in C++ ("terminate called without an active exception", exit 134;
    apache/arrow#34314). ``benchmarks/probe_parquet_exit.py`` counts such aborts per reader."""
    import pyarrow.parquet as pq

    return pq.read_table(os.fspath(path), columns=columns).to_pandas()


def read_table(
    path: str | os.PathLike[str],
    what: str = "table",
    required: tuple[str, ...] = (),
    hint: str = "",
) -> pd.DataFrame:
    """One Parquet (``.parquet``) or CSV file; InputError naming the file, the missing columns and
    the columns found (``hint`` is appended to that message)."""
    from offerwise.errors import InputError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} file not found: {p}")
    try:
        df = read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"{p}: cannot read the {what}: {exc}") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"{p}: required column(s) {missing} missing{hint} "
            f"(found: {', '.join(map(str, df.columns[:12]))}; {len(df)} rows)"
        )
    return df


def require_values(
    df: pd.DataFrame, path: str | os.PathLike[str], columns: tuple[str, ...]
) -> None:
    """InputError naming the file, the column, the count and the first row (1-based) when a
    value of one of ``columns`` is missing."""
    from offerwise.errors import InputError

    for col in columns:
        gone = df[col].isna().to_numpy()
        if gone.any():
            raise InputError(
                f"{path}, column {col!r}: {int(gone.sum())} of {len(df):,} rows have no value "
                f"(e.g. row {int(gone.argmax()) + 1})"
            )


#: The suffixes of the tables offerwise writes: Parquet or CSV.
TABLE_SUFFIXES = (".parquet", ".csv")


def table_dest_problem(dest: str | os.PathLike[str]) -> str | None:
    """Why ``dest`` cannot be a table output (a folder, or a suffix not in
    :data:`TABLE_SUFFIXES`), or None when it can."""
    dest = Path(dest)
    if dest.is_dir():
        return _folder_problem(dest)
    if dest.suffix.lower() in TABLE_SUFFIXES:
        return None
    got = f"'{dest.suffix}'" if dest.suffix else "no suffix"
    return (
        f"{dest}: a table is written as .parquet or .csv ({got}); e.g. "
        f"{dest.with_suffix('.parquet')}"
    )


#: The file :func:`atomic_dir` writes into every folder it makes, holding the folder's kind
#: (``model``, ``simulated shop``, ...): a later run writing the same kind may replace it whole.
OWNED = ".offerwise"


@dataclass(frozen=True, slots=True)
class FolderKind:
    """What a folder output is: ``name`` (in messages and in its :data:`OWNED` file) and
    ``legacy``, the files that mark one written before :data:`OWNED` existed."""

    name: str
    legacy: tuple[str, ...] = ()


def _make_parent(dest: Path) -> None:
    """Create ``dest``'s folder; InputError when a part of that path is a file."""
    from offerwise.errors import InputError

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((a for a in reversed(dest.parents) if a.exists() and not a.is_dir()), None)
        raise InputError(
            f"{dest}: cannot write there: {blocker or dest.parent} is a file, not a folder"
        ) from None


def _folder_problem(dest: Path) -> str:
    example = dest / ("out" + (dest.suffix or ".parquet"))
    return f"{dest} is a folder: give a file path (e.g. {example})"


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success rename it onto ``dest``, else delete
    it. InputError (nothing written) when ``dest`` is a folder or its folder path holds a file."""
    from offerwise.errors import InputError

    dest = Path(dest)
    if dest.is_dir():
        raise InputError(_folder_problem(dest))
    _make_parent(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _remove(path: Path) -> None:
    """Remove ``path`` whether it is a folder or a file; nothing when it does not exist."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _kind(folder: Path) -> str | None:
    try:
        return (folder / OWNED).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def check_replaceable(dest: Path, kind: FolderKind) -> None:
    """InputError unless ``dest`` is absent, an empty folder, or an earlier output of the same
    ``kind`` (its :data:`OWNED` file says so, or it holds one of ``kind.legacy``). A user's data,
    notes, another kind of output or any file are never replaced."""
    from offerwise.errors import InputError

    if not dest.exists() and not dest.is_symlink():
        return
    if not dest.is_dir() or dest.is_symlink():
        raise InputError(f"{dest} is a file: give a folder path (nothing was written)")
    if _kind(dest) == kind.name or any((dest / m).exists() for m in kind.legacy):
        return
    names = sorted(p.name for p in dest.iterdir())
    if names:
        other = _kind(dest)
        what = f"a {other} folder" if other else "a folder offerwise did not write"
        raise InputError(
            f"{dest} is {what} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
            f"writing the {kind.name} there would replace it whole, so nothing was written: give a "
            "new folder, or empty this one"
        )


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike[str], kind: FolderKind) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; on success it replaces ``dest`` whole.

    ``dest`` must be absent, empty or an earlier output of the same ``kind``
    (:func:`check_replaceable`), checked before anything is written; the new folder's
    :data:`OWNED` file holds ``kind``."""
    dest = Path(dest)
    check_replaceable(dest, kind)
    _make_parent(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: give the folder the usual mode
    try:
        (tmp / OWNED).write_text(kind.name + "\n", encoding="utf-8")
        yield tmp
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            _remove(old)
            os.replace(dest, old)
            os.replace(tmp, dest)
            _remove(old)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_table(df: pd.DataFrame, dest: str | os.PathLike[str]) -> Path:
    """Write ``df`` atomically as Parquet (``.parquet``) or CSV (``.csv``); InputError, nothing
    written, for any other suffix (:func:`table_dest_problem`).

    Parquet dictionary-encodes every column but the floating-point ones: a float column's
    dictionary is mostly abandoned after its first megabyte of distinct values, and trying cost
    half the time of writing 1M customers' scores (4.1 s against 2.2 s for 7M rows, and the file
    was 4 % larger)."""
    from offerwise.errors import InputError

    dest = Path(dest)
    if problem := table_dest_problem(dest):
        raise InputError(problem)
    with atomic_path(dest) as tmp:
        if dest.suffix.lower() == ".parquet":
            words = [str(c) for c, t in df.dtypes.items() if not pd.api.types.is_float_dtype(t)]
            df.to_parquet(tmp, index=False, use_dictionary=words)
        else:
            df.to_csv(tmp, index=False)
    return dest


def write_json(obj: Any, dest: str | os.PathLike[str]) -> Path:
    """Write ``obj`` atomically as indented JSON."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str, sort_keys=False) + "\n")
    return dest


def write_text(text: str, dest: str | os.PathLike[str]) -> Path:
    """Write ``text`` atomically."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
    return dest


def file_fingerprint(paths: list[Path]) -> str:
    """SHA-256 (first 16 hex digits) over the names, sizes and bytes of ``paths`` in order."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(str(p.stat().st_size).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def frame_fingerprint(df: pd.DataFrame) -> str:
    """Order-sensitive SHA-256 (16 hex digits) of a DataFrame's values and column names."""
    h = hashlib.sha256()
    h.update("|".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]

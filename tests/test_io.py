"""Atomic output: a folder replaces an earlier output of its kind whole, leaving nothing behind;
a user's folder, a file, or another kind of output is never replaced."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from offerwise._io import (
    OWNED,
    FolderKind,
    atomic_dir,
    atomic_path,
    read_parquet,
    read_table,
    require_values,
    table_dest_problem,
    write_table,
)
from offerwise.errors import InputError


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize("before", ["nothing", "empty folder", "same kind", "legacy marker"])
def test_atomic_dir_replaces_an_earlier_output_whole(tmp_path: Path, before: str) -> None:
    dest = tmp_path / "out.parquet"
    if before != "nothing":
        dest.mkdir()
    if before == "same kind":
        with atomic_dir(dest, FolderKind("scores")) as tmp:
            (tmp / "part-0").write_text("old")
    elif before == "legacy marker":  # written before .offerwise existed
        (dest / "_SUCCESS").write_text("")
        (dest / "part-0").write_text("old")
    with atomic_dir(dest, FolderKind("scores", ("_SUCCESS",))) as tmp:
        (tmp / "part-1").write_text("new")
    assert _names(dest) == [OWNED, "part-1"]
    assert (dest / OWNED).read_text().strip() == "scores"
    assert _names(tmp_path) == ["out.parquet"]  # no temp, no .old


@pytest.mark.parametrize("before", ["file", "user folder", "other kind"])
def test_atomic_dir_never_replaces_what_it_did_not_write(tmp_path: Path, before: str) -> None:
    dest = tmp_path / "shop"
    if before == "file":
        dest.write_text("my notes")
    elif before == "user folder":
        dest.mkdir()
        (dest / "customers.parquet").write_text("data")
        (dest / "notes.txt").write_text("mine")
    else:
        with atomic_dir(dest, FolderKind("simulated shop")) as tmp:
            (tmp / "customers.parquet").write_text("data")
    snapshot = {p.name: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    ran = False
    with pytest.raises(InputError) as err, atomic_dir(dest, FolderKind("model", ("model.json",))):
        ran = True
    assert not ran  # refused before the caller's work
    assert str(dest) in str(err.value)
    msg = {"file": "is a file", "user folder": "did not write", "other kind": "simulated shop"}
    assert msg[before] in str(err.value)
    assert "nothing was written" in str(err.value)
    assert {p.name: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


def test_atomic_dir_keeps_the_old_output_when_writing_fails(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with atomic_dir(dest, FolderKind("model")) as tmp:
        (tmp / "keep").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(dest, FolderKind("model")) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")
    assert _names(dest) == [OWNED, "keep"]
    assert _names(tmp_path) == ["out"]


def test_atomic_path_refuses_a_folder_or_a_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "afile").write_text("mine")
    with (
        pytest.raises(InputError, match="is a folder: give a file path"),
        atomic_path(tmp_path / "dir"),
    ):
        pass
    with (
        pytest.raises(InputError, match="afile is a file, not a folder"),
        atomic_path(tmp_path / "afile" / "sub" / "p.parquet"),
    ):
        pass
    assert _names(tmp_path) == ["afile", "dir"] and (tmp_path / "afile").read_text() == "mine"


def test_a_table_is_written_as_parquet_or_csv_only(tmp_path: Path) -> None:
    df = pd.DataFrame({"customer_id": ["a", "b"], "x": [1.0, 2.0]})
    for name in ("t.parquet", "t.csv", "T.PARQUET"):
        assert table_dest_problem(tmp_path / name) is None
        write_table(df, tmp_path / name)
    assert pd.read_parquet(tmp_path / "T.PARQUET").equals(df)  # the suffix read as written
    assert read_table(tmp_path / "T.PARQUET").equals(df)
    for name, got in (("t.xlsx", "('.xlsx')"), ("scores", "(no suffix)")):
        with pytest.raises(InputError, match=re.escape(got)):
            write_table(df, tmp_path / name)
        assert not (tmp_path / name).exists()
    (tmp_path / "dir").mkdir()
    assert "is a folder: give a file path" in str(table_dest_problem(tmp_path / "dir"))


def test_require_values_names_the_column_the_count_and_a_row(tmp_path: Path) -> None:
    df = pd.DataFrame({"customer_id": ["a", None, "c", None], "offer_id": ["x"] * 4})
    require_values(df, tmp_path / "p.csv", ("offer_id",))
    with pytest.raises(InputError, match=r"p.csv, column 'customer_id': 2 of 4 rows have no value "
                                         r"\(e.g. row 2\)"):
        require_values(df, tmp_path / "p.csv", ("offer_id", "customer_id"))



def test_read_parquet_lets_pyarrow_open_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_parquet`` never hands pyarrow a Python file object (``pd.read_parquet`` does for a
    local path): pyarrow's read-ahead of a Python file outlives the read, and a process that
    exits soon after aborts in C++ ("terminate called without an active exception", exit 134;
    apache/arrow#34314; ``benchmarks/probe_parquet_exit.py`` counts the aborts per reader). The
    abort is a race, so this checks its cause."""
    import builtins

    p = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_parquet(p)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if str(file) == str(p):
            raise AssertionError(f"{p} opened as a Python file object")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    with pytest.raises(AssertionError, match="opened as a Python file object"):
        pd.read_parquet(p)  # the guard sees what pandas does
    assert read_parquet(p, ["a"])["a"].tolist() == [1, 2, 3]
    assert read_table(p, "plan", required=("a", "b"))["b"].tolist() == ["x", "y", "z"]

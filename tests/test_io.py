"""Atomic output: a folder replaces whatever was at its path, leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from offerwise._io import atomic_dir


@pytest.mark.parametrize("before", ["nothing", "file", "folder"])
def test_atomic_dir_replaces_a_file_or_folder_whole(tmp_path: Path, before: str) -> None:
    dest = tmp_path / "out.parquet"
    if before == "file":
        dest.write_text("old")
    elif before == "folder":
        dest.mkdir()
        (dest / "part-0").write_text("old")
    with atomic_dir(dest) as tmp:
        (tmp / "part-1").write_text("new")
    assert dest.is_dir() and [p.name for p in dest.iterdir()] == ["part-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]  # no temp, no .old


def test_atomic_dir_keeps_the_old_output_when_writing_fails(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(dest) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")
    assert [p.name for p in dest.iterdir()] == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

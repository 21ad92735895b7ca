"""Where a command writes: it never replaces a user's folder or file, or another command's
output (exit 2, the path and what is there named, nothing written); a bad ``--out`` is an error,
not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_human_output import ow


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_outputs_never_replace_what_they_did_not_write(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "4", "--out", shop)
    (shop / "notes.txt").write_text("my notes")
    (tmp_path / "notes.txt").write_text("mine")
    before = _files(tmp_path)

    r = ow("train", "--data", shop, "--out", shop, "--tune", "off", ok=False)
    assert r.returncode == 2
    assert f"{shop} is a simulated shop folder" in r.stderr
    assert "nothing was written" in r.stderr and "Traceback" not in r.stderr

    r = ow("train", "--data", shop, "--out", tmp_path / "notes.txt", "--tune", "off", ok=False)
    assert r.returncode == 2 and "notes.txt is a file: give a folder path" in r.stderr
    assert _files(tmp_path) == before  # the shop, its notes and the file are as they were

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "plan.xlsx").write_text("a spreadsheet")
    before = _files(tmp_path)
    r = ow("simulate", "--customers", "50", "--exposures", "40", "--out", mine, ok=False)
    assert r.returncode == 2
    assert f"{mine} is a folder offerwise did not write (plan.xlsx)" in r.stderr
    assert _files(tmp_path) == before  # nothing replaced, nothing half-written

    # its own earlier output is replaced as before (a rerun)
    ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "4", "--out",
       tmp_path / "shop2")
    r = ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "5", "--out",
           tmp_path / "shop2")
    assert "simulated shop written to" in r.stdout


def test_a_file_output_given_a_folder_or_a_path_through_a_file(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "4", "--out", shop)
    (tmp_path / "existing").mkdir()
    (tmp_path / "afile").write_text("mine")
    r = ow("profile", "--data", shop, "--out", tmp_path / "existing", ok=False)
    assert r.returncode == 2
    assert f"{tmp_path / 'existing'} is a folder: give a file path" in r.stderr
    r = ow("profile", "--data", shop, "--out", tmp_path / "afile" / "p.parquet", ok=False)
    assert r.returncode == 2
    assert f"{tmp_path / 'afile'} is a file, not a folder" in r.stderr
    assert (tmp_path / "afile").read_text() == "mine"
    assert list((tmp_path / "existing").iterdir()) == []


def test_a_table_output_is_parquet_or_csv_and_number_options_are_finite(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "4", "--out", shop)
    before = _files(tmp_path)
    for cmd, dest, got in (
        ("profile", tmp_path / "p.xlsx", "('.xlsx')"),  # it wrote CSV under that name
        ("categories", tmp_path / "cats", "(no suffix)"),
    ):
        r = ow(cmd, "--data", shop, "--out", dest, ok=False)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"{dest}: a table is written as .parquet or .csv {got}" in r.stderr
    assert _files(tmp_path) == before  # refused before any work: nothing written

    model = tmp_path / "model"
    r = ow("train", "--data", shop, "--out", model, "--tune", "off", "--seed", "-1", ok=False)
    assert r.returncode == 2 and "'--seed'" in r.stderr  # numpy's ValueError (exit 1) before
    assert "greater than or equal to 0" in r.stderr and not model.exists()
    ow("train", "--data", shop, "--out", model, "--tune", "off")
    plan = ("plan", "--model", model, "--data", shop, "--out", tmp_path / "plan.parquet")
    for extra, msg in (
        (("--budget", "inf"), "--budget must be a finite number (got inf)"),  # planned unbounded
        (("--budget", "100", "--overspend-risk", "nan"), "--overspend-risk must be a finite"),
        # options with a range: Typer's range check answered NaN with "greater than or equal to 0"
        (("--budget", "nan"), "--budget must be a finite number (got nan)"),
        (("--budget=NaN",), "--budget must be a finite number (got NaN)"),
        (("--budget", "100", "--holdout", "-inf"), "--holdout must be a finite number (got -inf)"),
    ):
        r = ow(*plan, *extra, ok=False)
        assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not (tmp_path / "plan.parquet").exists()


def test_spark_scores_never_replace_a_users_folder(tmp_path: Path) -> None:
    pytest.importorskip("pyspark", reason="needs the 'spark' extra")
    shop = tmp_path / "shop"
    ow("simulate", "--customers", "300", "--exposures", "600", "--seed", "4", "--out", shop)
    ow("train", "--data", shop, "--out", tmp_path / "model", "--tune", "off")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    r = ow("score", "--model", tmp_path / "model", "--data", shop, "--out", mine, "--engine",
           "spark", "--partitioned", ok=False)
    assert r.returncode == 2 and f"{mine} is a folder offerwise did not write (notes.txt)" in r.stderr
    assert _files(mine) == {"notes.txt": b"mine"}


def test_non_finite_option_reads_only_number_options() -> None:
    from offerwise.cli import non_finite_option

    assert non_finite_option(["plan", "--budget", "nan"]) == ("--budget", "nan")
    assert non_finite_option(["plan", "--holdout=+Infinity"]) == ("--holdout", "+Infinity")
    assert non_finite_option(["plan", "--budget", "5"]) is None
    # a path, a text option or a customer id spelled "nan" is not a number
    assert non_finite_option(["simulate", "--out", "nan"]) is None
    assert non_finite_option(["plan", "--data", "inf", "--out", "nan.parquet"]) is None
    assert non_finite_option(["import", "completejourney", "--out", "nan"]) is None

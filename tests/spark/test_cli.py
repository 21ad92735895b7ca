"""``offerwise profile --engine spark`` as a user runs it (a subprocess, stdout a pipe)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def ow(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "offerwise.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=e,
        timeout=600,
    )


def test_profile_engine_spark_human_output(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "profiles.parquet"
    r = ow(
        "profile", "--data", shop, "--engine", "spark", "--spark-master", "local[2]", "--out", out
    )
    assert r.returncode == 0, r.stderr
    assert "segments as of " in r.stdout and "300 customers" in r.stdout
    assert "features by spark)" in r.stdout and "…" not in r.stdout
    assert f"profiles written to {out}" in r.stdout
    assert "internal error" not in r.stderr
    duck = tmp_path / "duck.parquet"
    r = ow("profile", "--data", shop, "--out", duck, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["engine"] == "duckdb"
    a, b = pd.read_parquet(duck), pd.read_parquet(out)
    assert list(a.columns) == list(b.columns) and (a["segment"] == b["segment"]).all()
    num = [c for c in a.columns if a[c].dtype.kind == "f"]
    assert ((a[num] - b[num]).abs().max() <= 1e-9).all()


@pytest.mark.parametrize("fault", ["orphans", "missing column", "wrong type"])
def test_bad_input_gives_the_same_exit_2_on_both_engines(shop: Path, tmp_path: Path,
                                                         fault: str) -> None:
    """The data is validated by DuckDB before Spark starts: same errors, same exit code."""
    bad = tmp_path / "bad"
    shutil.copytree(shop, bad)
    tx = pd.read_parquet(bad / "transactions.parquet")
    if fault == "orphans":
        tx.loc[: len(tx) // 2, "customer_id"] = "ghost"  # far too many orphans: fatal
        expect = "customer_id not found in customers"
    elif fault == "missing column":
        tx = tx.drop(columns=["amount"])
        expect = "amount"
    else:
        tx["amount"] = "lots"
        expect = "amount"
    tx.to_parquet(bad / "transactions.parquet", index=False)
    for cmd in (["profile"], ["train", "--out", str(tmp_path / "m"), "--tune", "off"]):
        spark = ow(*cmd, "--data", bad, "--json", env={"OFFERWISE_ENGINE": "spark"})
        duck = ow(*cmd, "--data", bad, "--json", "--engine", "duckdb")
        assert spark.returncode == duck.returncode == 2, (spark.stderr, duck.stderr)
        assert json.loads(spark.stdout) == json.loads(duck.stdout)
        assert expect in spark.stderr and "transactions" in spark.stderr
        assert not (tmp_path / "m").exists()  # nothing half-written


def test_unknown_engine_is_a_usage_error(shop: Path) -> None:
    r = ow("profile", "--data", shop, "--engine", "polars")
    assert r.returncode == 2 and "unknown engine 'polars' (known: duckdb, spark)" in r.stderr


def test_score_and_plan_engine_spark(shop: Path, model_dir: Path, tmp_path: Path) -> None:
    """``score --engine spark`` and ``plan`` with OFFERWISE_ENGINE=spark write DuckDB's files."""
    for engine in ("duckdb", "spark"):
        r = ow("score", "--model", model_dir, "--data", shop, "--out", tmp_path / f"s_{engine}.parquet",
               "--engine", engine)
        assert r.returncode == 0, r.stderr
        assert "mean scores per offer as of" in r.stdout and "…" not in r.stdout
        r = ow("plan", "--model", model_dir, "--data", shop, "--budget", "300", "--no-frontier",
               "--out", tmp_path / f"p_{engine}.parquet", env={"OFFERWISE_ENGINE": engine})
        assert r.returncode == 0, r.stderr
        assert "internal error" not in r.stderr
    a, b = pd.read_parquet(tmp_path / "s_duckdb.parquet"), pd.read_parquet(tmp_path / "s_spark.parquet")
    num = [c for c in a.columns if a[c].dtype.kind == "f"]
    assert (a[["customer_id", "offer_id"]] == b[["customer_id", "offer_id"]]).all().all()
    assert ((a[num] - b[num]).abs().max().fillna(0) <= 1e-9).all()
    a, b = pd.read_parquet(tmp_path / "p_duckdb.parquet"), pd.read_parquet(tmp_path / "p_spark.parquet")
    assert (a[["customer_id", "offer_id"]] == b[["customer_id", "offer_id"]]).all().all()


def test_train_engine_spark_builds_the_same_training_rows(shop: Path, tmp_path: Path) -> None:
    """``train --engine spark``: the exposures' features by Spark SQL; the same model."""
    for engine in ("duckdb", "spark"):
        r = ow("train", "--data", shop, "--out", tmp_path / f"m_{engine}", "--tune", "off",
               "--learner", "t", "--engine", engine, "--spark-conf", "spark.driver.memory=2g")
        assert r.returncode == 0, r.stderr
        assert f"training rows' features by {engine})" in r.stdout and "…" not in r.stdout
        r = ow("score", "--model", tmp_path / f"m_{engine}", "--data", shop,
               "--out", tmp_path / f"s_{engine}.parquet")
        assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path / "m_spark" / "model_card.json").read_text())
    assert card["features_engine"] == "spark"
    a, b = pd.read_parquet(tmp_path / "s_duckdb.parquet"), pd.read_parquet(tmp_path / "s_spark.parquet")
    num = [c for c in a.columns if a[c].dtype.kind == "f"]
    assert ((a[num] - b[num]).abs().max().fillna(0) <= 1e-9).all()


def test_spark_conf_must_be_key_value(shop: Path) -> None:
    r = ow("profile", "--data", shop, "--engine", "spark", "--spark-conf", "driver.memory=8g")
    assert r.returncode == 2 and "expected KEY=VALUE with a spark.* key" in r.stderr


def test_validate_engine_spark_reads_every_table(shop: Path) -> None:
    r = ow("validate", "--data", shop, "--engine", "spark")
    assert r.returncode == 0, r.stderr
    assert "valid against data contract v2 (and read by Spark to the same rows)" in r.stdout and "rows_spark" in r.stdout
    assert "…" not in r.stdout
    r = ow("validate", "--data", shop, "--engine", "spark", "--json")
    got = json.loads(r.stdout)
    assert got["engine"] == "spark" and {t["table"] for t in got["tables"]} >= {"customers", "transactions"}
    assert all(t["rows_spark"] == t["rows_used"] > 0 for t in got["tables"])


def test_score_partitioned_folder_written_by_spark(shop: Path, model_dir: Path, tmp_path: Path) -> None:
    """``score --engine spark --partitioned``: Spark writes the scores as a Parquet folder by offer;
    read back, they are the single-node scores."""
    out = tmp_path / "scores.parquet"
    r = ow("score", "--model", model_dir, "--data", shop, "--out", out, "--engine", "spark",
           "--partitioned")
    assert r.returncode == 0, r.stderr
    assert "mean scores per offer as of" in r.stdout and "partitioned by offer_id" in r.stdout
    assert out.is_dir() and any(p.name.startswith("offer_id=") for p in out.iterdir())
    assert not any(p.name.startswith(".scores.parquet") for p in tmp_path.iterdir())  # no temp left
    ref = tmp_path / "duck.parquet"
    assert ow("score", "--model", model_dir, "--data", shop, "--out", ref).returncode == 0
    a = pd.read_parquet(ref)
    b = pd.read_parquet(out)
    b["offer_id"] = b["offer_id"].astype(str)
    b = b.sort_values(["customer_id", "offer_id"]).reset_index(drop=True)
    a = a.sort_values(["customer_id", "offer_id"]).reset_index(drop=True)
    assert len(a) == len(b) and (a["customer_id"].astype(str) == b["customer_id"].astype(str)).all()
    assert set(a.columns) == set(b.columns)  # the same columns as a single-node file, extrapolated too
    assert (a["extrapolated"] == b["extrapolated"].astype(bool)).all()
    num = [c for c in a.columns if a[c].dtype.kind == "f"]
    assert ((a[num] - b[num]).abs().max().fillna(0) <= 1e-9).all()
    j = ow("score", "--model", model_dir, "--data", shop, "--out", out, "--engine", "spark",
           "--partitioned", "--json")
    got = json.loads(j.stdout)
    assert got["partitioned"] and got["rows"] == len(a) and got["customers"] == a["customer_id"].nunique()
    bad = ow("score", "--model", model_dir, "--data", shop, "--out", tmp_path / "x.parquet",
             "--partitioned")
    assert bad.returncode == 2 and "use --engine spark" in bad.stderr

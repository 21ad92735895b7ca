"""Spark SQL computes the same feature table as DuckDB (``feature_sql(dialect="spark")``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from _compare import assert_same_features, max_abs_diff

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.errors import InputError
from offerwise.features.engine import compute_features, profile
from offerwise.spark.features import register_contract, spark_features, spark_profile_features
from offerwise.spark.session import SparkConfig
from offerwise.vocab import default_as_of


def _both(spark, ds, cutoffs_sql: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ds.con.execute(f"CREATE OR REPLACE TEMP VIEW cut AS {cutoffs_sql}")
    duck = compute_features(ds.con, "cut", settings=ds.settings)
    register_contract(spark, ds)
    spark.sql(cutoffs_sql).createOrReplaceTempView("cut")
    return duck, spark_features(spark, "cut", settings=ds.settings)


def test_profile_features_equal_duckdb(spark, shop: Path) -> None:
    ds = load_data(shop)
    lit = default_as_of(ds).strftime("%Y-%m-%d %H:%M:%S")
    duck, sp = _both(spark, ds, f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers")
    assert len(duck) == 300 and duck["frequency"].gt(0).any() and duck["top_brand"].notna().any()
    assert_same_features(duck, sp)


def test_training_cutoffs_equal_duckdb(spark, shop: Path) -> None:
    """Many cutoffs at once (each exposure's own ts), as training computes them."""
    ds = load_data(shop)
    duck, sp = _both(spark, ds, "SELECT customer_id, ts AS as_of FROM exposures")
    assert duck["as_of"].nunique() > 1 and len(duck) > 300
    assert_same_features(duck, sp)


def test_dropped_rows_and_absent_tables_match(spark, shop: Path, tmp_path: Path) -> None:
    """Rare orphan transactions are dropped on both engines; no products table on both."""
    d = tmp_path / "orphans"
    shutil.copytree(shop, d)
    (d / "products.parquet").unlink()
    tx = pd.read_parquet(d / "transactions.parquet")
    extra = tx.head(5).assign(customer_id="ghost")
    pd.concat([tx, extra]).to_parquet(d / "transactions.parquet", index=False)
    ds = load_data(d)
    assert "transactions" in ds._exclude and not ds.has("products")
    lit = default_as_of(ds).strftime("%Y-%m-%d %H:%M:%S")
    duck, sp = _both(spark, ds, f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers")
    assert duck["top_brand"].isna().all()
    assert_same_features(duck, sp)


def test_profile_with_spark_features_equals_duckdb_profile(spark, shop: Path) -> None:
    ds = load_data(shop)
    settings = load_settings()
    duck = profile(ds, None, settings)
    sp = profile(
        ds,
        None,
        settings,
        features=lambda ts: spark_profile_features(ds, ts, settings=settings, config=SparkConfig()),
    )
    assert max(max_abs_diff(duck, sp).values()) <= 1e-9
    pd.testing.assert_series_equal(duck["segment"], sp["segment"])


def test_csv_sources_are_refused_with_the_engine_to_use(spark, shop: Path, tmp_path: Path) -> None:
    d = tmp_path / "csv"
    shutil.copytree(shop, d)
    pd.read_parquet(d / "customers.parquet").to_csv(d / "customers.csv", index=False)
    (d / "customers.parquet").unlink()
    with pytest.raises(InputError, match="Parquet only.*--engine duckdb"):
        register_contract(spark, load_data(d))


def test_nanosecond_timestamps_read_like_duckdb(spark, shop: Path, tmp_path: Path) -> None:
    """Parquet timestamps in nanoseconds (pandas' default unit), which Spark reads only as longs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ns = tmp_path / "ns"
    shutil.copytree(shop, ns)
    for t in ("transactions", "exposures", "customers"):
        tab = pq.read_table(ns / f"{t}.parquet")
        fields = [pa.field(f.name, pa.timestamp("ns")) if pa.types.is_timestamp(f.type) else f
                  for f in tab.schema]
        pq.write_table(tab.cast(pa.schema(fields)), ns / f"{t}.parquet")
    assert pq.read_schema(ns / "transactions.parquet").field("ts").type == pa.timestamp("ns")
    ds = load_data(ns)
    duck, sp = _both(spark, ds, "SELECT customer_id, ts AS as_of FROM exposures")
    assert len(duck) > 300 and duck["frequency"].gt(0).any()
    assert_same_features(duck, sp)

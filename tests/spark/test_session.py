"""The engine switch and the session settings (no JVM needed for most of these)."""

from __future__ import annotations

import pytest

from offerwise.errors import InputError
from offerwise.spark.session import SparkConfig, check_engine


def test_check_engine() -> None:
    assert check_engine(" Spark ") == "spark" and check_engine("duckdb") == "duckdb"
    with pytest.raises(InputError, match="known: duckdb, spark"):
        check_engine("polars")


def test_config_settings_and_validation() -> None:
    conf = SparkConfig(shuffle_partitions=3, driver_memory="2g", conf={"spark.x": "1"}).settings()
    assert conf["spark.sql.shuffle.partitions"] == "3" == conf["spark.default.parallelism"]
    assert conf["spark.sql.session.timeZone"] == "UTC" and conf["spark.driver.memory"] == "2g"
    assert conf["spark.x"] == "1" and conf["spark.sql.ansi.enabled"] == "false"
    with pytest.raises(InputError, match="master"):
        SparkConfig(master=" ")
    with pytest.raises(InputError, match="shuffle_partitions"):
        SparkConfig(shuffle_partitions=0)


def test_session_is_local_utc(spark) -> None:
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"

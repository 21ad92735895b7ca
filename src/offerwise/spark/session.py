"""A ``SparkSession`` for offerwise: local by default, any master URL when given.

``SparkConfig`` is the typed hand-off from the CLI (``--engine spark --spark-master URL``) to the
workflows. The session is small and deterministic by default: ``local[2]``, two shuffle
partitions, UTC session time zone (timestamps in the contract are wall-clock times, read as
UTC by DuckDB too) and ANSI mode off (a failed cast or a division by zero gives NULL, as in
DuckDB).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from offerwise.errors import InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: Engines that compute the customer features.
ENGINES = ("duckdb", "spark")

#: Settings every offerwise session gets unless ``SparkConfig.conf`` overrides them.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}

#: Settings the results depend on, set again on a reused session.
RUNTIME_KEYS = (
    "spark.sql.session.timeZone",
    "spark.sql.ansi.enabled",
    "spark.sql.shuffle.partitions",
)


@dataclass(frozen=True, slots=True)
class SparkConfig:
    """How to reach Spark.

    ``master``: ``local[N]`` (N cores of this machine), ``spark://host:7077``, ``yarn``,
    ``k8s://…``; ``shuffle_partitions``: partitions after a join or group-by (also
    ``spark.default.parallelism``); ``driver_memory``: the driver JVM's heap, e.g. ``"4g"``
    (only applies when this process starts the JVM; in ``local`` mode it holds the executors
    too; ``None`` keeps Spark's 1g); ``conf``: any other ``spark.*`` settings, applied last.
    """

    master: str = "local[2]"
    app_name: str = "offerwise"
    shuffle_partitions: int = 2
    driver_memory: str | None = "4g"
    conf: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.master.strip():
            raise InputError("spark master URL is empty (e.g. local[2] or spark://host:7077)")
        if self.shuffle_partitions < 1:
            raise InputError(
                f"spark shuffle_partitions must be at least 1, got {self.shuffle_partitions}"
            )

    def settings(self) -> dict[str, str]:
        """Every ``spark.*`` setting the session is built with (base, sizes, then ``conf``)."""
        out = dict(BASE_CONF)
        out["spark.sql.shuffle.partitions"] = str(self.shuffle_partitions)
        out["spark.default.parallelism"] = str(self.shuffle_partitions)
        if self.driver_memory:
            out["spark.driver.memory"] = self.driver_memory
        out.update(self.conf)
        return out


def parse_spark_conf(pairs: Sequence[str]) -> dict[str, str]:
    """``["spark.driver.memory=8g", ...]`` (``--spark-conf``) as a dict; :class:`InputError`
    naming the pair when one has no ``=`` or its key does not start with ``spark.``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key.startswith("spark.") or not value:
            raise InputError(
                f"--spark-conf {pair!r}: expected KEY=VALUE with a spark.* key, "
                "e.g. spark.driver.memory=8g"
            )
        out[key] = value
    return out


def check_engine(engine: str) -> str:
    """``engine`` lower-cased, or :class:`InputError` naming the known engines."""
    name = engine.strip().lower()
    if name not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return name


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise InputError(
            "the Spark engine needs Java 17 or later: install a JDK or set JAVA_HOME "
            "(or use --engine duckdb)"
        )


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """A ``SparkSession`` for ``config`` (an active session with the same master is reused;
    its static settings, such as driver memory, then stay as they were)."""
    config = config or SparkConfig()
    require("pyspark", "spark")
    if config.master.startswith("local"):
        _check_java()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(config.master).appName(config.app_name)
    settings = config.settings()
    if config.master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        # local Python workers run this interpreter (its environment has offerwise); PySpark
        # reads the variable when it starts the context
        os.environ["PYSPARK_PYTHON"] = sys.executable
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for key in RUNTIME_KEYS:  # a reused session gets the settings the SQL depends on too
        spark.conf.set(key, settings[key])
    return spark


__all__ = [
    "BASE_CONF",
    "ENGINES",
    "SparkConfig",
    "check_engine",
    "parse_spark_conf",
    "spark_session",
]

"""A shared local Spark session (``local[2]``, two shuffle partitions) and a small simulated shop.

Every test here is marked ``spark``; they are skipped, with the reason, when pyspark (extra
``spark``) or Java is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SKIP = (
    "pyspark is not installed (pip install 'offerwise[spark]')"
    if importlib.util.find_spec("pyspark") is None
    else "Java is not installed (the Spark engine needs Java 17+)"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME")
    else None
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.spark)
            if SKIP:
                item.add_marker(pytest.mark.skip(reason=SKIP))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from offerwise.spark.session import SparkConfig, spark_session

    session = spark_session(SparkConfig(master="local[2]", shuffle_partitions=2))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated shop of 300 customers (contract tables as Parquet)."""
    from offerwise.simulator import simulate
    from offerwise.simulator.market import write_market

    out = tmp_path_factory.mktemp("spark") / "shop"
    write_market(simulate(n_customers=300, n_exposures=600, seed=3), out)
    return out


@pytest.fixture(scope="session")
def model_dir(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model of ``shop`` (T-learner, 10 trees, no tuning)."""
    import warnings

    from offerwise.workflows.train import train

    out = tmp_path_factory.mktemp("spark_model") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(shop, out, learner="t", seed=3, tune_mode="off", n_estimators=10, min_treated=30)
    return out

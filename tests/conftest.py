"""Shared test fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("OFFERWISE_THREADS", "1")
# validation results are remembered per data version in a cache folder: the tests' own, empty at
# the start of every run (the tests of the cache set their own folder)
if "OFFERWISE_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["OFFERWISE_CACHE_DIR"] = tempfile.mkdtemp(prefix="offerwise-test-cache-")
    atexit.register(shutil.rmtree, os.environ["OFFERWISE_CACHE_DIR"], ignore_errors=True)
# Spark's JVM (local mode; the Spark tests' own sessions and every `--engine spark` subprocess)
# with the quick client compiler only and the serial collector: short-lived JVMs on tiny data
# spend most of their time warming up, and these flags cut a 300-customer `score --engine spark`
# from about 42 to 29 s (three runs each, alternating, 2026-12-01). Results do not depend on them.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
# pytest-xdist workers inherit COLUMNS=80 from the controller's terminal; a user piping offerwise's
# output has no COLUMNS (the CLI then prints 200 columns wide), and that is what the human-output
# tests check — so the variable goes before anything imports offerwise.cli
os.environ.pop("COLUMNS", None)

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# the model tests' helpers (small simulated logs with known effects), shared with the workflow tests
sys.path.insert(0, str(Path(__file__).resolve().parent / "models"))
from models_testdata import Logs, make_logs, write_dir  # noqa: E402

# a fresh PostgreSQL cluster for the tests that need one (the data source and the offer service)
sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from serving_testlib import postgres_url  # noqa: E402, F401


@pytest.fixture(scope="session")
def logs() -> Logs:
    return make_logs()


@pytest.fixture(scope="session")
def data_dir(logs: Logs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dir(logs, tmp_path_factory.mktemp("data"))

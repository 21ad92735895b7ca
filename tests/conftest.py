"""Shared test fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("OFFERWISE_THREADS", "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# the model tests' helpers (small simulated logs with known effects), shared with the workflow tests
sys.path.insert(0, str(Path(__file__).resolve().parent / "models"))
from models_testdata import Logs, make_logs, write_dir  # noqa: E402


@pytest.fixture(scope="session")
def logs() -> Logs:
    return make_logs()


@pytest.fixture(scope="session")
def data_dir(logs: Logs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dir(logs, tmp_path_factory.mktemp("data"))

"""Fixtures of the model tests: small simulated logs with known effects."""

from __future__ import annotations

from pathlib import Path

import pytest
from models_testdata import Logs, make_logs, write_dir


@pytest.fixture(scope="session")
def logs() -> Logs:
    return make_logs()


@pytest.fixture(scope="session")
def data_dir(logs: Logs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dir(logs, tmp_path_factory.mktemp("data"))

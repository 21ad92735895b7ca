"""Validation results remembered per data version (offerwise.data.validation_cache): reused only
while the files, their location, the settings and the version are the same."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_contract import make_valid

from offerwise.config import Settings
from offerwise.data import validation_cache
from offerwise.data.contract import load_data
from offerwise.data.readers import open_source
from offerwise.errors import DataContractError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OFFERWISE_CACHE_DIR", str(folder))
    monkeypatch.delenv("OFFERWISE_VALIDATION_CACHE", raising=False)
    return folder


def _records(cache: Path) -> list[Path]:
    return sorted((cache / "validation").glob("*.json")) if (cache / "validation").exists() else []


def _with_orphan(d: Path) -> Path:
    """``d`` with one transaction of an unknown customer among 300: a tolerable problem (the row
    is dropped with a warning)."""
    tx = pd.read_csv(d / "transactions.csv")
    big = pd.concat([tx] * 100, ignore_index=True)
    big.loc[0, "customer_id"] = 999
    big.to_csv(d / "transactions.csv", index=False)
    return d


def test_a_second_load_reuses_the_stored_result(tmp_path: Path, cache: Path) -> None:
    d = _with_orphan(make_valid(tmp_path / "d"))
    first = load_data(d)
    (record,) = _records(cache)
    stored = json.loads(record.read_text())
    assert stored["counts"]["transactions"] == 300 and stored["exclude"]  # the orphan's filter
    second = load_data(d)
    assert second.warnings == first.warnings and second.row_counts == first.row_counts
    assert len(second.frame("transactions")) == 299  # the stored row filter is applied
    # the result is read from the cache, not recomputed: an edited record shows through
    stored["counts"]["transactions"] = 12345
    record.write_text(json.dumps(stored))
    assert load_data(d).row_counts["transactions"] == 12345


def test_changed_bytes_are_validated_again(tmp_path: Path, cache: Path) -> None:
    d = make_valid(tmp_path / "d")
    load_data(d)
    tx = pd.read_csv(d / "transactions.csv")
    tx.loc[1, "ts"] = "not a time"
    tx.loc[2, "ts"] = "nor this"
    tx.to_csv(d / "transactions.csv", index=False)
    with pytest.raises(DataContractError, match="ts"):
        load_data(d)
    assert len(_records(cache)) == 1  # a fatal result is not stored


def test_the_key_covers_location_settings_and_bytes(tmp_path: Path, cache: Path) -> None:
    a = make_valid(tmp_path / "a")
    b = make_valid(tmp_path / "b")  # the same bytes elsewhere: problems would name other files
    s = Settings()
    key = validation_cache.cache_key(open_source(a, s), "f" * 16, s)
    assert key != validation_cache.cache_key(open_source(b, s), "f" * 16, s)
    other = Settings(margin_rate=0.5)
    assert key != validation_cache.cache_key(open_source(a, other), "f" * 16, other)
    assert key != validation_cache.cache_key(open_source(a, s), "e" * 16, s)
    threads = Settings(threads=1)  # DuckDB's threads do not change what validation finds
    assert key == validation_cache.cache_key(open_source(a, threads), "f" * 16, threads)


def test_new_checks_make_stored_results_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = make_valid(tmp_path / "a")
    s = Settings()
    key = validation_cache.cache_key(open_source(a, s), "f" * 16, s)
    monkeypatch.setattr(validation_cache, "CHECKS_VERSION", validation_cache.CHECKS_VERSION + 1)
    assert key != validation_cache.cache_key(open_source(a, s), "f" * 16, s)


def test_a_missing_required_table_is_reported_not_hidden(tmp_path: Path, cache: Path) -> None:
    d = make_valid(tmp_path / "d")
    (d / "exposures.parquet").unlink()
    load_data(d)  # no exposures: valid for a command that needs none, stored
    assert len(_records(cache)) == 1
    with pytest.raises(DataContractError, match="required table .exposures. is missing"):
        load_data(d, required=("customers", "exposures"))


def test_the_cache_can_be_turned_off(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERWISE_VALIDATION_CACHE", "0")
    d = make_valid(tmp_path / "d")
    assert load_data(d).row_counts["customers"] == 3
    assert _records(cache) == []


def test_an_unwritable_or_broken_cache_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OFFERWISE_CACHE_DIR", str(blocker))  # cannot hold a folder
    d = make_valid(tmp_path / "d")
    assert load_data(d).row_counts["customers"] == 3
    folder = tmp_path / "cache"
    monkeypatch.setenv("OFFERWISE_CACHE_DIR", str(folder))
    load_data(d)
    (record,) = _records(folder)
    record.write_text("{ half a record")
    assert load_data(d).row_counts["customers"] == 3  # validated again
    assert json.loads(record.read_text())["counts"]["customers"] == 3  # and stored whole


def test_a_warning_of_dates_after_today_holds_for_the_day_it_was_made(
    tmp_path: Path, cache: Path
) -> None:
    """A stored result warning of transactions dated after today is reused on the same day and
    made again on a later one (the dates may no longer be in the future)."""
    from datetime import UTC, datetime, timedelta

    d = make_valid(tmp_path / "d")
    tx = pd.read_csv(d / "transactions.csv")
    tx.loc[0, "ts"] = str((datetime.now(UTC) + timedelta(days=30)).date())
    tx.to_csv(d / "transactions.csv", index=False)
    first = load_data(d)
    (warn,) = [p for p in first.warnings if p.message.startswith(validation_cache.FUTURE_DATES)]
    assert f"({datetime.now(UTC).date()})" in warn.message
    (record,) = _records(cache)
    key = json.loads(record.read_text())["key"]
    assert validation_cache.load(key) is not None  # today: reused
    stored = json.loads(record.read_text())
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    for p in stored["problems"]:
        p["message"] = p["message"].replace(f"({datetime.now(UTC).date()})", f"({yesterday})")
    record.write_text(json.dumps(stored))
    assert validation_cache.load(key) is None  # made on another day: validated again
    again = load_data(d)
    assert [p.message for p in again.warnings] == [p.message for p in first.warnings]


def test_a_postgres_source_is_validated_once_per_content(postgres_url: str, cache: Path) -> None:
    """The fingerprint of a PostgreSQL source hashes the bytes the server sent, so its result is
    stored and reused like a folder's; a changed row makes a new one."""
    psycopg = pytest.importorskip("psycopg")
    from test_postgres_source import _to_postgres

    db = _to_postgres(postgres_url, make_valid(cache.parent / "d"), "shop_cached")
    first = load_data(db)
    assert len(_records(cache)) == 1
    assert load_data(db).fingerprint == first.fingerprint and len(_records(cache)) == 1
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE transactions SET amount = amount + 1 WHERE amount > 0")
    assert load_data(db).fingerprint != first.fingerprint and len(_records(cache)) == 2

"""Text columns taken as stored when validation proves cleaning would not change them.

The typed views trim ids and text and turn blanks into NULL; validation counts the values that
would change, and a column without any is read as it is (faster feature queries). These tests
check the typed values stay the same either way: padded and blank values are still cleaned,
integer ids are still cast, and a validation result stored before the field existed still
cleans every column.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from offerwise.data import validation_cache
from offerwise.data.contract import TABLES, DataSet, cast_expr, load_data, new_connection
from offerwise.data.readers import open_source
from offerwise.errors import DataContractError, Problem


def _shop(d: Path, *, padded: bool) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {"customer_id": ["c1", "c2", "c3"], "signup_date": pd.to_datetime(["2024-01-01"] * 3)}
    ).to_parquet(d / "customers.parquet", index=False)
    pd.DataFrame(
        {
            "product_id": [1, 2, 3],  # integer ids
            "category": ["DAIRY", "" if padded else "SNACKS", "BAKERY"],
            "brand": ["Private", "National", "National"],
            "price": [2.0, 3.5, 1.0],
        }
    ).to_parquet(d / "products.parquet", index=False)
    pd.DataFrame(
        {
            "customer_id": [" c1" if padded else "c1", "c1", "c2"],
            "order_id": ["o1", "o1", "o2"],
            "product_id": ["1", "2", "3"],
            "ts": pd.to_datetime(["2024-03-01 10:00"] * 2 + ["2024-03-02 11:00"]),
            "quantity": [1.0, 2.0, 1.0],
            "amount": [2.0, 6.0, 1.5],
            "discount": [0.0, 1.0, 0.5],
        }
    ).to_parquet(d / "transactions.parquet", index=False)
    pd.DataFrame({"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1]}).to_parquet(
        d / "offers.parquet", index=False
    )
    return d


def _frames(ds: DataSet) -> dict[str, pd.DataFrame]:
    return {t: ds.frame(t) for t in ("customers", "products", "transactions")}


def test_clean_text_columns_are_taken_as_stored(tmp_path: Path) -> None:
    ds = load_data(_shop(tmp_path / "shop", padded=False))
    assert ds._verbatim["transactions"] == ["customer_id", "order_id", "product_id"]
    assert ds._verbatim["products"] == ["category", "brand"]  # product_id: integers, not text
    sql = ds._typed_select(ds.con, "transactions")
    assert "TRIM" not in sql
    # the same typed values as the cleaning expressions give
    cleaned = DataSet(root="", source=ds.source, files={}, fingerprint="", settings=ds.settings)
    con = new_connection(ds.settings)
    cleaned.register(con)
    for t, got in _frames(ds).items():
        want = con.execute(f"SELECT * FROM {t}").df()
        pd.testing.assert_frame_equal(got, want)
    assert _frames(ds)["products"]["product_id"].tolist() == ["1", "2", "3"]


def test_padded_and_blank_values_are_still_cleaned(tmp_path: Path) -> None:
    ds = load_data(_shop(tmp_path / "shop", padded=True))
    assert "customer_id" not in ds._verbatim["transactions"]  # ' c1'
    assert "category" not in ds._verbatim["products"]  # ''
    assert ds._verbatim["transactions"] == ["order_id", "product_id"]
    tx = ds.frame("transactions")
    assert tx["customer_id"].tolist() == ["c1", "c1", "c2"]
    assert ds.frame("products")["category"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("typ", "values"),
    [("BIGINT", [7, None, -3]), ("INTEGER", [0, 12, None]), ("VARCHAR", ["a", " b ", ""])],
)
def test_cast_of_integer_ids_needs_no_trim(typ: str, values: list[object]) -> None:
    """An integer id's text is its digits: the plain cast equals the trimming one."""
    cs = TABLES["transactions"].column_spec("customer_id")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (x {typ})")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    got = con.execute(f"SELECT {cast_expr(cs, 'x', typ)} FROM t").fetchall()
    full = con.execute("SELECT NULLIF(TRIM(CAST(x AS STRING)), '') FROM t").fetchall()
    assert got == full
    assert ("TRIM" in cast_expr(cs, "x", typ)) == (typ == "VARCHAR")


def test_a_stored_result_without_the_field_cleans_every_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERWISE_CACHE_DIR", str(tmp_path / "cache"))
    shop = _shop(tmp_path / "shop", padded=False)
    first = load_data(shop)
    assert first._verbatim["transactions"]
    key = validation_cache.cache_key(
        open_source(shop, first.settings), first.fingerprint, first.settings
    )
    assert key is not None
    record = tmp_path / "cache" / "validation" / f"{key}.json"
    raw = json.loads(record.read_text())
    assert raw["verbatim"] == first._verbatim  # stored with the result
    del raw["verbatim"]  # as written by the version before
    record.write_text(json.dumps(raw))
    again = load_data(shop)
    assert again._verbatim == {}
    assert "TRIM" in again._typed_select(again.con, "transactions")
    for t, got in _frames(again).items():
        pd.testing.assert_frame_equal(got, _frames(first)[t])


def test_a_column_named_like_the_checks_helper_is_no_problem(tmp_path: Path) -> None:
    shop = _shop(tmp_path / "shop", padded=True)
    cust = pd.read_parquet(shop / "customers.parquet")
    cust["ow_trim_0"] = [" x", "", None]
    cust["customer_id"] = [" c1", "c2", "c3 "]
    cust.to_parquet(shop / "customers.parquet", index=False)
    ds = load_data(shop)
    assert ds._verbatim["customers"] == []
    assert ds.frame("customers", ["customer_id"])["customer_id"].tolist() == ["c1", "c2", "c3"]


@pytest.mark.parametrize(
    "value",
    [
        "a ",
        " a",
        "a\t",  # DuckDB's TRIM keeps tabs: verbatim after the exact pass
        "\ta",
        "é",
        "aé",
        "a\u3000",  # ideographic space
        "\u00a0a",  # no-break space
        "x\u0600 ",  # a Prepend mark joins the trailing space to its grapheme
        "e\u0301 ",
        "a\u0301",
        "",
        "   ",
        "日本",
        "🙂",
        "a b",
    ],
)
def test_the_cheap_first_pass_decides_as_trimming_would(tmp_path: Path, value: str) -> None:
    """Validation first looks only at each text value's first and last code points; whatever
    it decides, the typed values equal the trimming ones and a column is verbatim exactly when
    no value would change."""
    shop = _shop(tmp_path / "shop", padded=False)
    prod = pd.read_parquet(shop / "products.parquet")
    prod["brand"] = ["Private", value, "National"]
    prod.to_parquet(shop / "products.parquet", index=False)
    ds = load_data(shop)
    con = duckdb.connect()
    trimmed, changes = con.execute(
        "SELECT NULLIF(TRIM($1), ''), TRIM($1) <> $1 OR $1 = ''", [value]
    ).fetchone()
    assert ("brand" in ds._verbatim["products"]) == (not changes)
    assert ds.frame("products")["brand"].tolist()[1] == (trimmed if trimmed is not None else None)
    assert ds.frame("products")["brand"].tolist()[0::2] == ["Private", "National"]


def _problems_with(tmp_path: Path, table: str, column: str, values: list[str]) -> list[Problem]:
    """The fatal problems of the test shop with ``table.column`` set to ``values``."""
    shop = _shop(tmp_path / "shop", padded=False)
    df = pd.read_parquet(shop / f"{table}.parquet")
    df[column] = values
    df.to_parquet(shop / f"{table}.parquet", index=False)
    with pytest.raises(DataContractError) as err:
        load_data(shop)
    return err.value.problems


def test_a_blank_id_is_missing_after_the_cheap_first_pass(tmp_path: Path) -> None:
    problems = _problems_with(tmp_path, "transactions", "order_id", ["o1", "\u3000", "o2"])
    assert [(p.column, p.n_rows) for p in problems if p.message == "missing values"] == [
        ("order_id", 1)
    ]


def test_ids_equal_once_trimmed_are_duplicates(tmp_path: Path) -> None:
    """The key's duplicate check reads a verbatim key as stored, and trims one that is not."""
    problems = _problems_with(tmp_path, "customers", "customer_id", ["c1", "c2", "c1\u00a0"])
    assert [(p.table, p.column, p.n_rows, p.example) for p in problems
            if p.message == "duplicate ids"] == [("customers", "customer_id", 1, "customer_id='c1'")]

"""A PostgreSQL database as a data source (``--data postgresql://…``): the contract's tables read
from a real server, validated like files, and the URL reaches the reader whole."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from offerwise.data.contract import load_data
from tests.cli.test_human_output import ow
from tests.data.test_contract import make_valid


def _to_postgres(url: str, folder: Path, name: str) -> str:
    """A fresh database ``name`` holding the contract tables of ``folder``; returns its URL."""
    psycopg = pytest.importorskip("psycopg")
    from serving_testlib import pg_fresh_db

    db = pg_fresh_db(url, name)
    types = {"int64": "BIGINT", "float64": "DOUBLE PRECISION", "bool": "BOOLEAN"}
    with psycopg.connect(db, autocommit=True) as conn:
        for f in sorted(folder.iterdir()):
            df = pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f)
            cols = ", ".join(
                f'"{c}" {"TIMESTAMP" if str(t).startswith("datetime") else types.get(str(t), "TEXT")}'
                for c, t in df.dtypes.items()
            )
            conn.execute(f'CREATE TABLE "{f.stem}" ({cols})')
            with conn.cursor() as cur:
                cur.executemany(
                    f'INSERT INTO "{f.stem}" VALUES ({", ".join(["%s"] * len(df.columns))})',
                    [tuple(None if pd.isna(v) else v for v in row) for row in df.astype(object).itertuples(index=False)],
                )
    return db


def test_postgres_source_validates_like_files(postgres_url: str, tmp_path: Path) -> None:
    folder = make_valid(tmp_path / "d")
    db = _to_postgres(postgres_url, folder, "shop_ok")
    ds = load_data(db)
    assert ds.warnings == [] and ds.source.kind == "postgres"
    assert ds.frame("customers")["customer_id"].tolist() == ["1", "2", "3"]
    assert ds.row_counts == load_data(folder).row_counts

    # the CLI: the URL reaches the reader whole (a Path option folded "//" into "/": "not found")
    r = ow("validate", "--data", db)
    assert "valid against data contract v2" in r.stdout and "transactions" in r.stdout

    # bad rows in the database: exit 2 naming the table, the column and the count
    bad = tmp_path / "bad"
    make_valid(bad)
    tx = pd.read_csv(bad / "transactions.csv")
    tx.loc[1, "amount"] = -3.0
    tx.to_csv(bad / "transactions.csv", index=False)
    r = ow("validate", "--data", _to_postgres(postgres_url, bad, "shop_bad"), ok=False)
    assert r.returncode == 2 and "transactions" in r.stderr and "'amount'" in r.stderr
    assert "negative values (return lines?" in r.stderr and "out) (1 row)" in r.stderr


def test_postgres_tables_in_another_schema_are_named_with_the_url_that_reads_them(
    postgres_url: str, tmp_path: Path
) -> None:
    psycopg = pytest.importorskip("psycopg")
    db = _to_postgres(postgres_url, make_valid(tmp_path / "d"), "shop_schema")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop")
        for t in ("customers", "products", "transactions", "offers", "exposures"):
            conn.execute(f"ALTER TABLE public.{t} SET SCHEMA shop")
    r = ow("validate", "--data", db, ok=False)
    assert r.returncode == 2, r.stderr
    assert "required table 'customers' is missing (expected a table customers in PostgreSQL" in r.stderr
    assert "found shop.customers" in r.stderr and "?options=-csearch_path%3Dshop" in r.stderr
    r = ow("validate", "--data", db + "?options=-csearch_path%3Dshop")  # what the message says
    assert "valid against data contract v2" in r.stdout and "transactions" in r.stdout


def test_postgres_source_that_cannot_be_reached(tmp_path: Path) -> None:
    from serving_testlib import free_port

    port = free_port()
    r = ow("validate", "--data", f"postgresql://svc:s3cret@127.0.0.1:{port}/shop", ok=False)
    assert r.returncode == 2 and f"PostgreSQL 127.0.0.1:{port}/shop" in r.stderr
    assert "s3cret" not in r.stderr and "Traceback" not in r.stderr


def test_postgres_values_arrive_as_stored(postgres_url: str) -> None:
    """Tables are copied out of PostgreSQL as CSV text and typed from the columns' types: ids
    keep their leading zeros, NULL and '' stay apart, quotes, commas and line breaks survive,
    booleans, numerics and time stamps (with or without a zone) keep their values."""
    psycopg = pytest.importorskip("psycopg")
    from serving_testlib import pg_fresh_db

    db = pg_fresh_db(postgres_url, "shop_types")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (customer_id TEXT, signup_date DATE, member BOOLEAN, "
            "region TEXT)"
        )
        conn.execute(
            "INSERT INTO customers VALUES ('007', '2024-01-02', true, 'North, \"upper\"'), "
            "('8', NULL, false, ''), ('9', '2024-02-29', NULL, E'two\\nlines')"
        )
        conn.execute(
            "CREATE TABLE transactions (customer_id TEXT, order_id BIGINT, product_id TEXT, "
            "ts TIMESTAMPTZ, quantity NUMERIC(10, 3), amount DOUBLE PRECISION, discount REAL)"
        )
        conn.execute(
            "INSERT INTO transactions VALUES "
            "('007', 1, 'p1', '2024-03-01 10:00:00+02', 1.5, 0.1, 0.25), "
            "('8', 2, 'p2', '2024-03-02 23:59:59.123456+00', 2, 1e-7, 0)"
        )
        conn.execute("CREATE TABLE offers (offer_id TEXT, kind TEXT, value DOUBLE PRECISION)")
        conn.execute("INSERT INTO offers VALUES ('pct10', 'percent_off', 0.1)")
    ds = load_data(db)
    cust = ds.frame("customers").set_index("customer_id")
    assert cust.index.tolist() == ["007", "8", "9"]
    assert cust["member"].tolist()[:2] == [True, False] and pd.isna(cust["member"].iloc[2])
    assert cust.loc["007", "region"] == 'North, "upper"' and cust.loc["9", "region"] == "two\nlines"
    assert pd.isna(cust.loc["8", "signup_date"])
    raw = ds.con.execute("SELECT region FROM raw_customers WHERE customer_id = '8'").fetchone()
    assert raw == ("",)  # an empty string, not NULL, as stored (typed as missing afterwards)
    tx = ds.frame("transactions").sort_values("order_id")
    assert tx["order_id"].tolist() == ["1", "2"]
    assert tx["ts"].tolist() == [pd.Timestamp("2024-03-01 08:00:00"),
                                 pd.Timestamp("2024-03-02 23:59:59.123456")]
    assert tx["quantity"].tolist() == [1.5, 2.0]
    assert tx["amount"].tolist() == [0.1, 1e-7] and tx["discount"].tolist() == [0.25, 0.0]
    assert ds.fingerprint == load_data(db).fingerprint  # the same bytes, the same fingerprint


def test_postgres_value_duckdb_cannot_type_is_reported_not_a_crash(
    postgres_url: str, tmp_path: Path
) -> None:
    """A time stamp PostgreSQL holds and DuckDB cannot (year 294276): the table is read as text
    and validation names the table, the column and the count (exit 2, not an internal error)."""
    psycopg = pytest.importorskip("psycopg")
    folder = make_valid(tmp_path / "d")
    db = _to_postgres(postgres_url, folder, "shop_far")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE transactions SET ts = '294276-12-31 00:00:00' WHERE ctid IN "
                     "(SELECT ctid FROM transactions LIMIT 1)")
    r = ow("validate", "--data", db, ok=False)
    assert r.returncode == 2, r.stderr
    assert "transactions" in r.stderr and "'ts'" in r.stderr
    assert "unparseable timestamps (write them as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS) (1 row)" in r.stderr and "internal error" not in r.stderr

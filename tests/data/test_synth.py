"""Synthetic transactions generator: exact size, contract-valid, seeded, chunking-invariant in shape."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from offerwise._io import file_fingerprint
from offerwise.config import load_settings
from offerwise.data.contract import load_data
from offerwise.data.synth import generate_synthetic
from offerwise.errors import InputError


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synth") / "d"
    return out, generate_synthetic(out, n_rows=20_000, seed=7, n_products=400, chunk_rows=6_000)


def test_exact_rows_and_valid(synth):
    out, s = synth
    assert s.rows["transactions"] == 20_000
    ds = load_data(out, settings=load_settings(), required=("transactions", "products"))
    assert not [w for w in ds.warnings if w.table == "transactions"]
    assert ds.row_counts["transactions"] == 20_000
    assert ds.row_counts["customers"] == s.rows["customers"]


def test_realistic_shapes(synth):
    out, _ = synth
    con = duckdb.connect()
    freq = con.execute(f"SELECT COUNT(DISTINCT order_id) AS f FROM '{out}/transactions.parquet' "
                       "GROUP BY customer_id").df()["f"]
    assert freq.max() > 5 * freq.median()  # heterogeneous purchase frequency
    lines = con.execute(f"SELECT COUNT(*) AS n FROM '{out}/transactions.parquet' GROUP BY order_id").df()["n"]
    assert lines.mean() > 3 and lines.max() > 10
    disc_share, priv = con.execute(f"""
        SELECT AVG(CASE WHEN discount > 0 THEN 1.0 ELSE 0 END),
               AVG(CASE WHEN p.brand = 'Private' THEN 1.0 ELSE 0 END)
        FROM '{out}/transactions.parquet' t JOIN '{out}/products.parquet' p USING (product_id)""").fetchone()
    assert 0.05 < disc_share < 0.6 and 0.05 < priv < 0.6
    orphans = con.execute(f"SELECT COUNT(*) FROM '{out}/transactions.parquet' WHERE customer_id NOT IN "
                          f"(SELECT customer_id FROM '{out}/customers.parquet')").fetchone()[0]
    assert orphans == 0
    amounts_ok = con.execute(f"""SELECT bool_and(abs(t.amount + t.discount - p.price * t.quantity) < 0.011)
        FROM '{out}/transactions.parquet' t JOIN '{out}/products.parquet' p USING (product_id)""").fetchone()[0]
    assert amounts_ok


def test_seeded(tmp_path, synth):
    out, _ = synth
    again = generate_synthetic(tmp_path / "b", n_rows=20_000, seed=7, n_products=400, chunk_rows=6_000)
    assert again.rows == synth[1].rows
    a = pd.read_parquet(out / "transactions.parquet")
    b = pd.read_parquet(tmp_path / "b" / "transactions.parquet")
    pd.testing.assert_frame_equal(a, b)
    other = generate_synthetic(tmp_path / "c", n_rows=20_000, seed=8, n_products=400, chunk_rows=6_000)
    assert other.rows["transactions"] == 20_000
    assert file_fingerprint([tmp_path / "c" / "transactions.parquet"]) != \
        file_fingerprint([out / "transactions.parquet"])


def test_bad_size(tmp_path):
    with pytest.raises(InputError):
        generate_synthetic(tmp_path / "x", n_rows=0)
    assert not (tmp_path / "x").exists()

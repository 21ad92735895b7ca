"""Contract v2's optional tables, competitor_prices and inventory: typed when valid; every bad
input exits 2 naming file, column, row count and an example, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.data.contract import CONTRACT_VERSION, load_data
from offerwise.errors import DataContractError
from tests.data.test_contract import make_valid

runner = CliRunner()


def make_v2(d: Path) -> Path:
    make_valid(d)
    pd.DataFrame(
        {
            "product_id": ["p1", "p1", "p2", "p2"],
            "ts": ["2024-02-20", "2024-02-27", "2024-02-20", "2024-02-27"],
            "competitor": ["rivalA", "rivalB", "rivalA", "rivalA"],
            "price": [1.8, 2.1, 3.9, 4.0],
        }
    ).to_csv(d / "competitor_prices.csv", index=False)
    pd.DataFrame(
        {
            "product_id": ["p1", "p2", "p1"],
            "ts": pd.to_datetime(["2024-02-25", "2024-02-25", "2024-03-01"]),
            "on_hand": [40.0, 5.0, 30.0],
        }
    ).to_parquet(d / "inventory.parquet", index=False)
    return d


def test_valid_v2_tables_load_typed(tmp_path: Path) -> None:
    ds = load_data(make_v2(tmp_path / "d"))
    assert CONTRACT_VERSION == 2 and ds.warnings == []
    cp = ds.frame("competitor_prices")
    assert cp["product_id"].tolist() == ["p1", "p1", "p2", "p2"]
    assert str(cp["ts"].dtype).startswith("datetime64") and cp["price"].dtype == "float64"
    inv = ds.frame("inventory")
    assert sorted(inv["on_hand"]) == [5.0, 30.0, 40.0]
    res = runner.invoke(app, ["validate", "--data", str(tmp_path / "d"), "--json"])
    payload = json.loads(res.stdout)
    assert res.exit_code == 0 and payload["contract_version"] == 2
    rows = {t["table"]: t["rows"] for t in payload["tables"]}
    assert rows["competitor_prices"] == 4 and rows["inventory"] == 3


def _csv(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        df = pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)
        fn(df).to_csv(d / f"{name}.csv", index=False)

    return apply


def _parquet(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        fn(pd.read_parquet(d / "inventory.parquet")).to_parquet(
            d / "inventory.parquet", index=False
        )

    return apply


def _set(col: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def f(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if df[col].dtype.kind in "iufM" and not isinstance(value, (int, float)):
            df[col] = df[col].astype(object)
        df.loc[row, col] = value
        return df

    return f


BAD = {
    # name: (mutation, file fragment, column, message fragment, example fragment)
    "price_text": (_csv("competitor_prices", _set("price", 1, "cheap")), "competitor_prices.csv",
                   "price", "not numbers", "'cheap'"),
    "price_zero": (_csv("competitor_prices", _set("price", 2, "0")), "competitor_prices.csv",
                   "price", "zero prices", "0"),
    "price_negative": (_csv("competitor_prices", _set("price", 0, "-1.5")),
                       "competitor_prices.csv", "price", "negative values", "-1.5"),
    "competitor_missing": (_csv("competitor_prices", _set("competitor", 3, "")),
                           "competitor_prices.csv", "competitor", "missing values", None),
    "price_ts_bad": (_csv("competitor_prices", _set("ts", 0, "last week")),
                     "competitor_prices.csv", "ts", "unparseable timestamps", "'last week'"),
    "unknown_product": (_parquet(_set("product_id", 2, "p404")), "inventory.parquet",
                        "product_id", "not found in products", "p404"),
    "on_hand_negative": (_parquet(_set("on_hand", 0, -3.0)), "inventory.parquet", "on_hand",
                         "negative values", "-3.0"),
    "on_hand_text": (_parquet(lambda df: _set("on_hand", 1, "plenty")(df.astype({"on_hand": str}))),
                     "inventory.parquet", "on_hand",
                     "not numbers", "'plenty'"),
    "duplicate_snapshot": (_parquet(lambda df: pd.concat([df, df.iloc[[0]]], ignore_index=True)),
                           "inventory.parquet", "ts", "more than one on_hand", "p1"),
    "inventory_no_on_hand": (_parquet(lambda df: df.drop(columns=["on_hand"])),
                             "inventory.parquet", "on_hand", "required column 'on_hand'", None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_v2_input_is_fatal_and_writes_nothing(tmp_path: Path, case: str) -> None:
    mutate, file_frag, column, msg_frag, example_frag = BAD[case]
    d = make_v2(tmp_path / "d")
    mutate(d)
    with pytest.raises(DataContractError) as ei:
        load_data(d)
    found = [p for p in ei.value.problems if msg_frag in p.message]
    assert found, f"expected {msg_frag!r} in: {ei.value}"
    p = found[0]
    assert p.fatal and file_frag in (p.file or "") and p.column == column
    if column is not None and "required column" not in msg_frag:
        assert p.n_rows >= 1
    if example_frag is not None:
        assert p.example and example_frag in p.example
    out = tmp_path / "cat.parquet"
    res = runner.invoke(app, ["categories", "--data", str(d), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert file_frag in res.output and msg_frag.split("'")[0] in res.output
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))

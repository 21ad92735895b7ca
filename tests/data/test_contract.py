"""Data contract validation: every bad-input case exits 2, names file/column/count/example, writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.data.contract import _example, _fetch_row, load_data
from offerwise.errors import DataContractError, InputError, Problem

runner = CliRunner()


def make_valid(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": [1, 2, 3], "signup_date": ["2024-01-01", "2024-02-01", None],
                  "age": ["25-34", "35-44", None]}).to_parquet(d / "customers.parquet", index=False)
    pd.DataFrame({"product_id": ["p1", "p2"], "category": ["DAIRY", "SNACKS"], "brand": ["Private", "National"],
                  "price": [2.0, 3.5]}).to_csv(d / "products.csv", index=False)
    pd.DataFrame({
        "customer_id": ["1", "1", "2"], "order_id": ["o1", "o1", "o2"], "product_id": ["p1", "p2", "p1"],
        "ts": ["2024-03-01 10:00:00", "2024-03-01 10:00:00", "2024-03-02 11:00:00"],
        "quantity": [1, 2, 1], "amount": [2.0, 6.0, 1.5], "discount": [0.0, 1.0, 0.5],
    }).to_csv(d / "transactions.csv", index=False)
    pd.DataFrame({"offer_id": ["pct10", "amt5"], "kind": ["percent_off", "amount_off"], "value": [0.1, 5.0],
                  "min_spend": [0.0, 20.0]}).to_csv(d / "offers.csv", index=False)
    pd.DataFrame({
        "customer_id": ["1", "2", "3"], "offer_id": ["pct10", "none", "amt5"],
        "ts": pd.to_datetime(["2024-04-01"] * 3), "propensity": [0.3, 0.4, 0.3],
        "converted": [1, 0, 1], "revenue": [20.0, 0.0, 30.0], "discount_cost": [2.0, 0.0, 5.0],
    }).to_parquet(d / "exposures.parquet", index=False)
    return d


def _the_problem(d: Path, column: str, required: tuple[str, ...] = ("customers",)) -> Problem:
    """The one fatal problem of ``column`` that loading ``d`` raises."""
    with pytest.raises(DataContractError) as ei:
        load_data(d, required=required)
    (p,) = [p for p in ei.value.problems if p.column == column]
    return p


def _load_error(d: Path) -> DataContractError:
    """The error loading ``d`` raises."""
    with pytest.raises(DataContractError) as ei:
        load_data(d)
    return ei.value


def test_valid_source_loads_typed(tmp_path: Path) -> None:
    ds = load_data(make_valid(tmp_path / "d"))
    assert ds.warnings == []
    cust = ds.frame("customers")
    assert cust["customer_id"].tolist() == ["1", "2", "3"]  # integers cast to strings
    tx = ds.frame("transactions")
    assert str(tx["ts"].dtype).startswith("datetime64")
    exp = ds.frame("exposures")
    # default gross profit = 0.30 * (revenue + discount_cost)
    assert exp["gross_profit"].tolist() == pytest.approx([6.6, 0.0, 10.5])
    offers = ds.frame("offers")
    assert offers["members_only"].tolist() == [False, False]
    assert len(ds.fingerprint) == 16


def test_a_missing_outcome_of_a_converted_exposure_gets_no_not_bought_hint(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    _edit_parquet("exposures", _set("revenue", 0, None))(d)  # customer 1 converted
    p = _the_problem(d, "revenue")
    assert p.message == "missing values" and "customer_id='1'" in (p.example or "")


def test_training_without_exposures_says_how_a_shop_gets_them(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    (d / "exposures.parquet").unlink()
    res = runner.invoke(app, ["train", "--data", str(d), "--out", str(tmp_path / "m")])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "required table 'exposures' is missing (expected exposures.parquet or exposures.csv" in text
    assert "A shop that never logged offers gets them from a first campaign" in text
    assert not (tmp_path / "m").exists()


def test_converted_may_be_a_boolean_column_or_true_false_text(tmp_path: Path) -> None:
    """A pandas/SQL export writes `converted` as booleans: read as 1/0, not 'not numbers'."""
    d = make_valid(tmp_path / "d")
    _edit_parquet("exposures", lambda df: df.assign(converted=[True, False, True]))(d)
    assert load_data(d).frame("exposures")["converted"].tolist() == [1.0, 0.0, 1.0]
    exp = pd.read_parquet(d / "exposures.parquet").assign(converted=["TRUE", " no", "yes"])
    (d / "exposures.parquet").unlink()
    exp.to_csv(d / "exposures.csv", index=False)
    assert load_data(d).frame("exposures")["converted"].tolist() == [1.0, 0.0, 1.0]
    exp.assign(converted=["TRUE", "maybe", "0"]).to_csv(d / "exposures.csv", index=False)
    p = _the_problem(d, "converted")
    assert p.message == "values that are not 0/1 (or true/false)" and "maybe" in (p.example or "")


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    f1 = load_data(d).fingerprint
    tx = pd.read_csv(d / "transactions.csv")
    tx.loc[0, "amount"] = 2.5
    tx.to_csv(d / "transactions.csv", index=False)
    assert load_data(d).fingerprint != f1


def _edit_csv(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        df = pd.read_csv(d / f"{name}.csv", dtype=str, keep_default_na=False)
        fn(df).to_csv(d / f"{name}.csv", index=False)
    return apply


def _edit_parquet(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        df = pd.read_parquet(d / f"{name}.parquet")
        fn(df).to_parquet(d / f"{name}.parquet", index=False)
    return apply


def _set(col: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def f(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        if value is not None and df[col].dtype.kind in "iuf" and not isinstance(value, (int, float)):
            df[col] = df[col].astype(object)
        df.loc[row, col] = value
        return df
    return f


BAD_CASES = {
    # name: (mutation, expected file fragment, column, message fragment, example fragment)
    "missing_table": (lambda d: (d / "customers.parquet").unlink(), "customers", None, "required table 'customers' is missing", None),
    "missing_column": (_edit_csv("transactions", lambda df: df.drop(columns=["amount"])), "transactions.csv", "amount", "required column 'amount' is missing", None),
    "column_in_capitals": (_edit_csv("transactions", lambda df: df.rename(columns={"amount": "AMOUNT"})), "transactions.csv", "amount", "required column 'amount' is missing (found: customer_id, order_id, product_id, ts, quantity, AMOUNT, discount); column names are case-sensitive and exact: rename 'AMOUNT' to 'amount'", None),
    "wrong_type": (_edit_csv("transactions", _set("quantity", 1, "two")), "transactions.csv", "quantity", "not numbers", "'two'"),
    "decimal_comma": (_edit_csv("transactions", _set("amount", 1, "3,5")), "transactions.csv", "amount", "not numbers (decimal commas? write numbers with a '.' decimal mark, or set decimal = \",\" under [csv] in a --config file)", "'3,5'"),
    "percent_sign": (_edit_csv("offers", _set("value", 0, "10%")), "offers.csv", "value", "not numbers (percentages? write 10% as 0.10)", "'10%'"),
    "currency_sign": (_edit_csv("transactions", _set("amount", 2, "$1.50")), "transactions.csv", "amount", "not numbers (currency signs? write plain numbers: 12.50)", "'$1.50'"),
    "currency_after": (_edit_csv("transactions", _set("amount", 2, "1,50 €")), "transactions.csv", "amount", "not numbers (currency signs? write plain numbers: 12.50)", "'1,50 €'"),
    "bad_timestamp": (_edit_csv("transactions", _set("ts", 2, "yesterday")), "transactions.csv", "ts", "unparseable timestamps (write them as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)", "'yesterday'"),
    "negative_amount": (_edit_csv("transactions", _set("amount", 0, "-3.5")), "transactions.csv", "amount", "negative values (return lines? transactions are sales: net each return out of its sale, or leave return lines out)", "-3.5"),
    "negative_discount": (_edit_csv("transactions", _set("discount", 0, "-1")), "transactions.csv", "discount", "negative values", "-1"),
    "amount_too_large": (_edit_csv("transactions", _set("amount", 1, "2e15")), "transactions.csv", "amount", "values above 1,000,000,000,000", "2e15"),
    "exposure_revenue_too_large": (
        _edit_parquet("exposures", _set("revenue", 0, 1e160)),
        "exposures.parquet", "revenue", "values above 1,000,000,000,000", "1e+160",
    ),
    "exposure_loss_too_large": (
        _edit_parquet("exposures", lambda df: df.assign(gross_profit=[-1e160] + [1.0] * (len(df) - 1))),
        "exposures.parquet", "gross_profit", "values beyond ±1,000,000,000,000", "-1e+160",
    ),
    "duplicate_customer": (_edit_parquet("customers", lambda df: pd.concat([df, df.iloc[[0]]])), "customers.parquet", "customer_id", "duplicate ids", "customer_id='1'"),
    "duplicate_offer": (_edit_csv("offers", lambda df: pd.concat([df, df.iloc[[1]]])), "offers.csv", "offer_id", "duplicate ids", "amt5"),
    "unknown_customer_fk": (_edit_parquet("exposures", _set("customer_id", 1, "ghost")), "exposures.parquet", "customer_id", "not found in customers", "ghost"),
    # most ids miss: two spellings of the ids (zero-padded here) rather than orphans; the
    # message shows how the customers table writes them
    "padded_customer_ids": (_edit_parquet("exposures", lambda df: df.assign(customer_id=df["customer_id"].str.zfill(5))), "exposures.parquet", "customer_id", "customers' ids look like '1', '2', '3'", "00001"),
    "unknown_offer_fk": (_edit_parquet("exposures", _set("offer_id", 0, "pct99")), "exposures.parquet", "offer_id", "not in the offer menu (the menu: 'amt5', 'pct10'; a logged control is 'none')", "pct99"),
    # an export that capitalised the ids (or wrote the control 'None'): said so
    "offer_ids_in_capitals": (_edit_parquet("exposures", _set("offer_id", 1, "None")), "exposures.parquet", "offer_id", "not in the offer menu (the menu: 'amt5', 'pct10'; a logged control is 'none'; ids are case-sensitive: write them as the menu does)", "None"),
    "unknown_product_fk": (_edit_csv("transactions", _set("product_id", 2, "p404")), "transactions.csv", "product_id", "not found in products", "p404"),
    "empty_table": (_edit_csv("offers", lambda df: df.iloc[0:0]), "offers.csv", None, "table is empty", None),
    "propensity_zero": (_edit_parquet("exposures", _set("propensity", 0, 0.0)), "exposures.parquet", "propensity", "outside (0, 1]", "0.0"),
    "propensity_above_one": (_edit_parquet("exposures", _set("propensity", 2, 1.5)), "exposures.parquet", "propensity", "outside (0, 1]", "1.5"),
    # an export that leaves the outcome blank where nothing was bought; the example names the row
    "revenue_blank_when_not_converted": (_edit_parquet("exposures", _set("revenue", 1, None)), "exposures.parquet", "revenue", "missing values (all on rows with converted = 0: write 0 where nothing was bought)", "customer_id='2', offer_id='none'"),
    "converted_not_binary": (_edit_parquet("exposures", _set("converted", 1, 2)), "exposures.parquet", "converted", "other than 0/1", "2"),
    "unknown_offer_kind": (_edit_csv("offers", _set("kind", 0, "cashback")), "offers.csv", "kind", "unknown offer kind", "cashback"),
    "reserved_offer_id": (_edit_csv("offers", _set("offer_id", 0, "none")), "offers.csv", "offer_id", "reserved", "none"),
    "percent_not_fraction": (_edit_csv("offers", _set("value", 0, "10")), "offers.csv", "value", "fraction", "10"),
    "missing_id_values": (_edit_csv("transactions", _set("customer_id", 0, "")), "transactions.csv", "customer_id", "missing values", None),
    "blank_id_values": (_edit_csv("transactions", _set("order_id", 1, "   ")), "transactions.csv", "order_id", "missing values", None),
    "fractional_id": (_edit_parquet("exposures", lambda df: df.assign(customer_id=[1.0, 2.5, 3.0])), "exposures.parquet", "customer_id", "neither strings nor integers", "2.5"),
    "both_formats": (lambda d: pd.read_csv(d / "offers.csv").to_parquet(d / "offers.parquet"), "offers", None, "both offers.parquet and offers.csv", None),
    "corrupt_parquet": (lambda d: (d / "exposures.parquet").write_bytes(b"PAR1 not really"), "exposures.parquet", None, "cannot read file", None),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_fatal_with_clear_message(tmp_path: Path, case: str) -> None:
    mutate, file_frag, column, msg_frag, example_frag = BAD_CASES[case]
    d = make_valid(tmp_path / "d")
    mutate(d)
    with pytest.raises(DataContractError) as ei:
        load_data(d, required=("transactions", "exposures"))
    problems = [p for p in ei.value.problems if msg_frag in p.message]
    assert problems, f"expected a problem containing {msg_frag!r}, got: {ei.value}"
    p = problems[0]
    assert p.fatal
    assert file_frag in (p.file or p.table)
    if column is not None:
        assert p.column == column
        assert p.n_rows >= 1
    if example_frag is not None:
        assert p.example and example_frag in p.example

    # the CLI: exit code 2, the message names file and column, JSON lists the problem
    res = runner.invoke(app, ["validate", "--data", str(d), "--json"])
    assert res.exit_code == 2, res.output
    payload = json.loads(res.stdout[: res.stdout.rindex("}") + 1])
    assert payload["ok"] is False
    assert any(msg_frag in q["message"] for q in payload["problems"])


def test_only_a_number_written_with_a_decimal_comma_gets_the_decimal_comma_hint(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    _edit_csv("transactions", _set("quantity", 1, "two"))(d)
    p = _the_problem(d, "quantity", required=("transactions", "exposures"))
    assert p.message == "values that are not numbers", p.message


def test_rare_orphans_are_dropped_with_a_warning(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    tx = pd.read_csv(d / "transactions.csv")
    big = pd.concat([tx] * 100, ignore_index=True)  # 300 rows
    big.loc[0, "customer_id"] = 999  # one orphan: 0.33 % of rows
    big.to_csv(d / "transactions.csv", index=False)
    ds = load_data(d)
    assert [p.column for p in ds.warnings] == ["customer_id"]
    assert ds.warnings[0].n_rows == 1 and "rows dropped" in ds.warnings[0].message
    assert len(ds.frame("transactions")) == 299


def test_an_offer_category_no_product_has_is_a_warning(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    offers = pd.read_csv(d / "offers.csv")
    offers["category"] = ["DAIRYY", "rec:1"][: len(offers)] + [None] * (len(offers) - 2)
    offers.to_csv(d / "offers.csv", index=False)
    ds = load_data(d)  # not fatal: the user may add the products later
    assert [(p.table, p.column, p.n_rows) for p in ds.warnings] == [("offers", "category", 1)]
    text = ds.warnings[0].render()
    assert "offers.csv" in text and "categories no product has" in text and "DAIRYY" in text
    offers["category"] = ["DAIRY", "rec:1"][: len(offers)] + [None] * (len(offers) - 2)
    offers.to_csv(d / "offers.csv", index=False)
    assert load_data(d).warnings == []


def test_a_csv_that_cannot_be_split_or_decoded_says_why(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    products = pd.read_csv(d / "products.csv")
    products["category"] = ["CRÈME", "SNACKS"]
    products.to_csv(d / "products.csv", index=False, encoding="latin-1")  # an old Excel export
    with pytest.raises(DataContractError) as e:
        load_data(d)
    text = str(e.value)
    assert "products.csv: cannot read file: not UTF-8 text" in text and "'CSV UTF-8'" in text
    lines = (d / "products.csv").read_text(encoding="latin-1").splitlines()
    lines[1] += ',"an open quote'  # everything after it is one quoted value: one column
    (d / "products.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataContractError) as e:
        load_data(d)
    assert "the file was read as one column: check its separator and its quotes" in str(e.value)


def test_a_required_table_in_another_format_or_spelling_is_named(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    (d / "customers.parquet").unlink()
    (d / "customers.xlsx").write_bytes(b"PK\x03\x04")  # an Excel workbook
    text = str(_load_error(d))
    assert "required table 'customers' is missing" in text
    assert "found customers.xlsx: offerwise reads only .parquet and .csv files" in text
    (d / "customers.xlsx").unlink()
    pd.DataFrame({"customer_id": ["1", "2", "3"]}).to_csv(d / "Customers.csv", index=False)
    if (d / "customers.csv").exists():  # a case-insensitive file system reads it as it is
        pytest.skip("case-insensitive file system")
    assert "found Customers.csv: file names are lower-case, rename it to customers.csv" in str(
        _load_error(d)
    )


def test_an_unreadable_required_file_is_one_problem_not_two(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    (d / "customers.parquet").unlink()
    (d / "customers.csv").write_bytes("customer_id,city\n1,Besançon\n".encode("latin-1"))
    assert [p.message[:16] for p in _load_error(d).problems] == ["cannot read file"]


def _european_export(d: Path) -> None:
    """The transactions and offers as a spreadsheet in many locales writes them: ';' between
    values, decimal commas (thousands grouped by '.'), day-first dates."""
    tx = pd.read_csv(d / "transactions.csv", dtype=str)
    tx["ts"] = pd.to_datetime(tx["ts"]).dt.strftime("%d/%m/%Y %H:%M")
    tx[["amount", "discount"]] = [["1.206,00", "0"], ["2,00", "1,00"], ["1,5", "0,50"]]
    tx.to_csv(d / "transactions.csv", sep=";", index=False)
    offers = pd.read_csv(d / "offers.csv", dtype=str)
    offers["value"] = offers["value"].str.replace(".", ",")
    offers.to_csv(d / "offers.csv", sep=";", index=False)


def test_a_csv_locale_setting_reads_decimal_commas_and_day_first_dates(tmp_path: Path) -> None:
    from offerwise.config import load_settings

    d = make_valid(tmp_path / "d")
    _european_export(d)
    with pytest.raises(DataContractError) as e:  # the default locale: named, with the fix
        load_data(d)
    text = str(e.value)
    assert "amount='1.206,00'" in text and "set decimal = \",\" under [csv]" in text
    assert "ts='01/03/2024 10:00'" in text and 'set date_format = "%d/%m/%Y" under [csv]' in text
    cfg = tmp_path / "euro.toml"
    cfg.write_text('[csv]\ndecimal = ","\ndate_format = "%d/%m/%Y"\n')
    ds = load_data(d, settings=load_settings(cfg))
    tx = ds.frame("transactions")
    assert tx["amount"].tolist() == [1206.0, 2.0, 1.5] and tx["discount"].tolist() == [0, 1, 0.5]
    assert tx["ts"].tolist() == [pd.Timestamp("2024-03-01 10:00")] * 2 + [pd.Timestamp("2024-03-02 11:00")]
    assert ds.frame("offers")["value"].tolist() == [0.1, 5.0]
    # a value the locale does not read either is reported as written
    tx = pd.read_csv(d / "transactions.csv", sep=";", dtype=str)
    tx.loc[2, "amount"] = "1,5,0"
    tx.to_csv(d / "transactions.csv", sep=";", index=False)
    with pytest.raises(DataContractError) as e:
        load_data(d, settings=load_settings(cfg))
    (p,) = e.value.problems
    assert (p.column, p.message, p.n_rows) == ("amount", "values that are not numbers", 1)
    assert p.example and p.example.startswith("amount='1,5,0'")
    # the CLI: the same file valid with --config
    res = runner.invoke(app, ["validate", "--data", str(d), "--config", str(cfg)])
    assert res.exit_code == 2 and "1,5,0" in res.output
    tx.loc[2, "amount"] = "1,50"
    tx.to_csv(d / "transactions.csv", sep=";", index=False)
    res = runner.invoke(app, ["validate", "--data", str(d), "--config", str(cfg)])
    assert res.exit_code == 0 and "valid against data contract" in res.output, res.output


def test_rows_dated_after_today_are_a_warning(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    tx = pd.read_csv(d / "transactions.csv")
    tx.loc[1, "ts"] = "2099-03-01 10:00:00"  # a typo'd year would become the default --as-of
    tx.to_csv(d / "transactions.csv", index=False)
    ex = pd.read_parquet(d / "exposures.parquet")
    ex.loc[0, "ts"] = pd.Timestamp.now() + pd.Timedelta(days=1)  # tomorrow: a day of slack, kept
    ex.to_parquet(d / "exposures.parquet", index=False)
    ds = load_data(d)  # not fatal: the rows are kept
    assert [(p.table, p.column, p.n_rows) for p in ds.warnings] == [("transactions", "ts", 1)]
    text = ds.warnings[0].render()
    assert "transactions.csv" in text and "dated after today" in text and "--as-of" in text
    assert "ts='2099-03-01 10:00:00'" in text  # the example as the file shows it
    assert len(ds.frame("transactions")) == 3


def test_members_only_offers_without_a_member_column_are_a_warning(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    offers = pd.read_csv(d / "offers.csv")
    offers["members_only"] = [False, True]
    offers.to_csv(d / "offers.csv", index=False)
    ds = load_data(d)  # profile and train need no members; plan refuses such a menu
    assert [(p.table, p.column, p.n_rows) for p in ds.warnings] == [("offers", "members_only", 1)]
    text = ds.warnings[0].render()
    assert "offers.csv" in text and "no 'member' column" in text and "amt5" in text
    cust = pd.read_parquet(d / "customers.parquet")
    cust["member"] = [True, False, True]
    cust.to_parquet(d / "customers.parquet", index=False)
    assert load_data(d).warnings == []


def test_duckdb_file_source(tmp_path: Path) -> None:
    import duckdb

    d = make_valid(tmp_path / "d")
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    for t in ("customers", "offers", "exposures"):
        f = next(d.glob(f"{t}.*"))
        reader = "read_parquet" if f.suffix == ".parquet" else "read_csv_auto"
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM {reader}('{f}')")
    con.close()
    ds = load_data(db)
    assert sorted(ds.source.tables) == ["customers", "exposures", "offers"]
    assert len(ds.frame("exposures")) == 3

    # a table in another schema than main is named, with what to do
    del ds  # its connection holds the file attached
    import gc

    gc.collect()
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA crm")
    con.execute("CREATE TABLE crm.customers AS SELECT * FROM main.customers")
    con.execute("DROP TABLE main.customers")
    con.close()
    with pytest.raises(DataContractError) as e:
        load_data(db)
    assert (
        "required table 'customers' is missing (expected a table customers in DuckDB file "
        f"{db}); found crm.customers: offerwise reads the tables of the schema main "
        "(in DuckDB: CREATE TABLE main.customers AS SELECT * FROM crm.customers)"
    ) in str(e.value)

    # a SQLite file (a common .db) is named as such, with what to do
    import sqlite3

    lite = tmp_path / "shop.db"
    with sqlite3.connect(lite) as c:
        c.execute("CREATE TABLE customers (customer_id TEXT)")
    with pytest.raises(InputError, match=r"shop\.db: cannot open as a DuckDB database \(it is a SQLite "
                                         r"database: export its tables to Parquet or CSV"):
        load_data(lite)


def test_missing_source_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_data(tmp_path / "nope")


def test_cli_exit_codes_in_a_real_process(tmp_path: Path) -> None:
    d = make_valid(tmp_path / "d")
    ok = subprocess.run([sys.executable, "-m", "offerwise.cli", "validate", "--data", str(d)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (d / "customers.parquet").unlink()
    bad = subprocess.run([sys.executable, "-m", "offerwise.cli", "validate", "--data", str(d)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "customers" in bad.stderr and "missing" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "offerwise.cli", "validate"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_validation_queries_leave_no_result_pending() -> None:
    """DuckDB refuses ``register`` on a connection with a result left pending (``fetchone`` on a
    one-row result leaves it so); the workflows register their frames on the validated
    connection, so the checks' one-row queries fetch their results whole."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    assert _fetch_row(con, "SELECT COUNT(*) FROM t") == (1,)
    con.register("ow_probe", pd.DataFrame({"a": [1]}))
    assert _example(con, "t", "a = 1", ["a"]) == "a=1"
    con.register("ow_probe2", pd.DataFrame({"a": [1]}))

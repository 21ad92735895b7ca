"""Data contract v2: table specifications, validation and typed access.

A *data source* is a directory holding ``<table>.parquet`` or ``<table>.csv`` files, a DuckDB
database file (``*.duckdb``) or a PostgreSQL URL (``postgresql://…``) with tables of those names.
Validation runs as SQL in DuckDB straight over the files (no pandas copy), so it scales to tens of
millions of rows. See ``docs/data-contract.md`` for the tables and the handling of each problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.data import validation_cache
from offerwise.data.readers import Source, frames_source, open_source
from offerwise.errors import DataContractError, Problem
from offerwise.vocab import NO_OFFER, OFFER_KINDS, REC_SCOPE_PREFIX

ColumnKind = Literal["id", "timestamp", "number", "binary", "text", "bool", "any"]

#: Orphan rows (unknown customer/product) are dropped when at most this share of a table.
ORPHAN_TOLERANCE = 0.01
#: The largest quantity or money amount of one row: a transaction line's quantity, amount or
#: discount, an exposure's revenue, discount cost or gross profit (a trillion: any currency's real
#: row is far below; the features' exact sums hold up to 10^14, and the plan's power arithmetic
#: overflowed on 10^160).
LINE_LIMIT = 1e12
#: The contract's version: 2 added the optional ``competitor_prices`` and ``inventory`` tables.
CONTRACT_VERSION = 2


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    kind: ColumnKind
    required: bool = True
    nullable: bool = False
    non_negative: bool = False
    #: the largest value allowed (numbers; the largest size, ``|value|``, of a column that may be
    #: negative): features sum amounts as exact decimals (``offerwise.vocab.EXACT_DECIMAL``, up to
    #: 10^14)
    at_most: float | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    key: str | None = None  # unique id column
    extra_columns: bool = True  # other columns allowed (kept as attributes)

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    def column_spec(self, name: str) -> ColumnSpec:
        """The spec of column ``name``, which must be one of this table's columns."""
        cs = self.column(name)
        assert cs is not None, f"{self.name} has no column {name!r}"
        return cs


C = ColumnSpec
TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        "customers",
        (C("customer_id", "id"), C("signup_date", "timestamp", required=False, nullable=True)),
        required=True,
        key="customer_id",
    ),
    "products": TableSpec(
        "products",
        (
            C("product_id", "id"),
            C("category", "text", nullable=True),
            C("brand", "text", required=False, nullable=True),
            C("price", "number", required=False, nullable=True, non_negative=True),
            C("unit_cost", "number", required=False, nullable=True, non_negative=True),
        ),
        key="product_id",
    ),
    "transactions": TableSpec(
        "transactions",
        (
            C("customer_id", "id"),
            C("order_id", "id"),
            C("product_id", "id"),
            C("ts", "timestamp"),
            C("quantity", "number", non_negative=True, at_most=LINE_LIMIT),
            C("amount", "number", non_negative=True, at_most=LINE_LIMIT),
            C("discount", "number", non_negative=True, at_most=LINE_LIMIT),
        ),
    ),
    "offers": TableSpec(
        "offers",
        (
            C("offer_id", "id"),
            C("kind", "text"),
            C("value", "number", non_negative=True),
            C("min_spend", "number", required=False, nullable=True, non_negative=True),
            C("category", "text", required=False, nullable=True),
            C("starts", "timestamp", required=False, nullable=True),
            C("ends", "timestamp", required=False, nullable=True),
            C("members_only", "bool", required=False, nullable=True),
        ),
        required=True,
        key="offer_id",
    ),
    "exposures": TableSpec(
        "exposures",
        (
            C("customer_id", "id"),
            C("offer_id", "id"),
            C("ts", "timestamp"),
            C("propensity", "number", required=False, nullable=True),
            C("converted", "binary"),
            C("revenue", "number", non_negative=True, at_most=LINE_LIMIT),
            C("discount_cost", "number", non_negative=True, at_most=LINE_LIMIT),
            C("gross_profit", "number", required=False, nullable=True, at_most=LINE_LIMIT),
        ),
    ),
    "competitor_prices": TableSpec(
        "competitor_prices",
        (
            C("product_id", "id"),
            C("ts", "timestamp"),
            C("competitor", "text"),
            C("price", "number", non_negative=True),
        ),
    ),
    "inventory": TableSpec(
        "inventory",
        (C("product_id", "id"), C("ts", "timestamp"), C("on_hand", "number", non_negative=True)),
    ),
}

_SQL_TYPE = {"timestamp": "TIMESTAMP", "number": "DOUBLE", "binary": "DOUBLE", "bool": "BOOLEAN"}


def ts_range(con: duckdb.DuckDBPyConnection, table: str) -> tuple[datetime, datetime] | None:
    """The earliest and the latest ``ts`` of ``table`` on ``con`` (None when it is empty). The
    result is read to its end: a pending one makes DuckDB refuse ``register`` on the connection."""
    rows = con.execute(
        f"SELECT MIN(CAST(ts AS TIMESTAMP)), MAX(CAST(ts AS TIMESTAMP)) FROM {table}"
    ).fetchall()
    if not rows or rows[0][0] is None:
        return None
    first, last = (pd.Timestamp(v).to_pydatetime() for v in rows[0])
    return first, last


def max_ts(con: duckdb.DuckDBPyConnection, table: str) -> datetime | None:
    """The latest ``ts`` of ``table`` on ``con`` (None when it is empty)."""
    got = ts_range(con, table)
    return None if got is None else got[1]


@dataclass(slots=True)
class DataSet:
    """A validated data source. Tables are DuckDB views over the files, typed per the contract.

    ``warnings`` holds the tolerable problems found (and how they were handled).
    """

    root: str
    source: Source
    files: dict[str, Path]
    fingerprint: str
    settings: Settings
    warnings: list[Problem] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    _exclude: dict[str, str] = field(default_factory=dict)  # table -> SQL predicate of kept rows
    _verbatim: dict[str, list[str]] = field(default_factory=dict)  # table -> columns as stored
    _numeric: dict[str, list[str]] = field(default_factory=dict)  # table -> numeric text attrs
    _con: duckdb.DuckDBPyConnection | None = None

    def has(self, name: str) -> bool:
        return name in self.source.tables

    def last_ts(self, name: str) -> datetime | None:
        """The latest ``ts`` of table ``name`` (None when absent or empty)."""
        return max_ts(self.con, name) if self.has(name) else None

    def ts_range(self, name: str) -> tuple[datetime, datetime] | None:
        """The earliest and the latest ``ts`` of table ``name`` (None when absent or empty)."""
        return ts_range(self.con, name) if self.has(name) else None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the typed views registered (created on first use)."""
        if self._con is None:
            self._con = new_connection(self.settings)
            self.register(self._con)
        return self._con

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create views ``customers``, ``transactions``, … on ``con``, typed and cleaned."""
        for name in self.source.tables:
            self.source.register_raw(con, name, f"raw_{name}", column_kinds(name))
        for name in self.source.tables:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {self._typed_select(con, name)}")

    def frame(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The typed table as a pandas DataFrame (ids as str, timestamps as datetime64); only
        ``columns`` when given."""
        if not self.has(name):
            raise KeyError(name)
        sel = "*" if columns is None else ", ".join(_q(c) for c in columns)
        return self.con.execute(f"SELECT {sel} FROM {name}").df()

    def _typed_select(self, con: duckdb.DuckDBPyConnection, name: str) -> str:
        spec = TABLES[name]
        cols = _columns(con, f"raw_{name}")
        as_is = set(self._verbatim.get(name, ()))
        numeric = set(self._numeric.get(name, ()))
        parts = []
        for col, typ in cols.items():
            cs = spec.column(col)
            if cs is None and col in numeric:  # a CSV file's numeric attribute
                parts.append(f"TRY_CAST(NULLIF(TRIM({_q(col)}), '') AS DOUBLE) AS {_q(col)}")
            elif cs is None:
                parts.append(_q(col))
            elif name == "exposures" and col == "gross_profit":  # fill gaps with the default rule
                default = default_expr(name, cs, self.settings)
                parts.append(f"COALESCE({_cast_expr(cs, col, typ)}, {default}) AS {_q(col)}")
            else:
                typed = cast_expr(cs, _q(col), typ, verbatim=col in as_is)
                parts.append(f"{typed} AS {_q(col)}")
        for cs in spec.columns:  # optional columns absent from the file
            if cs.name not in cols:
                parts.append(f"{default_expr(name, cs, self.settings)} AS {_q(cs.name)}")
        where = self._exclude.get(name)
        sql = f"SELECT {', '.join(parts)} FROM raw_{name}"
        if where:
            sql = f"SELECT * FROM ({sql}) t WHERE {where}"
        return sql


def new_connection(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection limited to ``settings.threads`` threads."""
    settings = settings or default_settings()
    con = duckdb.connect(config={"threads": settings.threads})
    con.execute("SET enable_progress_bar = false")
    return con


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, rel: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    return {r[0]: str(r[1]).upper() for r in rows}


def _fetch_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The row of a query that returns exactly one (an aggregate without GROUP BY).

    Fetched whole: a result left pending after ``fetchone`` makes DuckDB refuse the connection's
    next ``register`` (ResourceInUseException)."""
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1
    return tuple(rows[0])


def _is_text(typ: str) -> bool:
    return typ in ("VARCHAR", "STRING") or typ.startswith("VARCHAR(")


def _is_numeric(typ: str) -> bool:
    return any(t in typ for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC"))


_INTEGER_TYPE = re.compile(r"U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?")


def _is_integer(typ: str) -> bool:
    return _INTEGER_TYPE.fullmatch(typ) is not None


def cast_expr(cs: ColumnSpec, q: str, typ: str, *, verbatim: bool = False) -> str:
    """SQL turning the raw column ``q`` (already quoted for the dialect) of database type ``typ``
    into the contract type, NULL when it can't. Valid in DuckDB and Spark SQL (``typ`` compared
    upper-case; ``STRING`` is DuckDB's alias of ``VARCHAR``).

    ``verbatim``: validation found no value of this text column that trimming or blank-to-NULL
    would change (:func:`validate_source`), so the column is taken as it is; trimming the three
    ids of 20M transaction lines cost about 4 s of every command's feature query (ad hoc)."""
    typ = typ.upper()
    if verbatim and cs.kind in ("id", "text") and _is_text(typ):
        return q
    if cs.kind == "id":
        if _is_integer(typ):  # an integer's digits: never blank, never padded
            return f"CAST({q} AS STRING)"
        if _is_numeric(typ) and "INT" not in typ:
            # 105.0 -> '105'; non-integral floats stay NULL (reported as wrong type)
            return f"CASE WHEN {q} = FLOOR({q}) THEN CAST(CAST({q} AS BIGINT) AS STRING) END"
        return f"NULLIF(TRIM(CAST({q} AS STRING)), '')"
    if cs.kind == "text":
        return f"NULLIF(TRIM(CAST({q} AS STRING)), '')"
    if cs.kind == "timestamp":
        if "TIMESTAMP" in typ or typ == "DATE":
            return f"CAST({q} AS TIMESTAMP)"
        return f"TRY_CAST(NULLIF(TRIM(CAST({q} AS STRING)), '') AS TIMESTAMP)"
    if cs.kind == "bool":
        if typ == "BOOLEAN":
            return q
        return (
            f"CASE LOWER(TRIM(CAST({q} AS STRING))) WHEN 'true' THEN TRUE WHEN '1' THEN TRUE "
            f"WHEN 'yes' THEN TRUE WHEN 'false' THEN FALSE WHEN '0' THEN FALSE "
            f"WHEN 'no' THEN FALSE END"
        )
    if cs.kind == "binary":  # 0/1, or a boolean column / true-false-yes-no text as 1/0
        if _is_numeric(typ) or typ == "BOOLEAN":
            return f"CAST({q} AS DOUBLE)"
        text = f"LOWER(TRIM(CAST({q} AS STRING)))"
        return (
            f"CASE WHEN {text} IN ('true', 'yes') THEN CAST(1 AS DOUBLE) "
            f"WHEN {text} IN ('false', 'no') THEN CAST(0 AS DOUBLE) "
            f"ELSE TRY_CAST(NULLIF(TRIM(CAST({q} AS STRING)), '') AS DOUBLE) END"
        )
    if cs.kind == "number":
        if _is_numeric(typ):
            return f"CAST({q} AS DOUBLE)"
        return f"TRY_CAST(NULLIF(TRIM(CAST({q} AS STRING)), '') AS DOUBLE)"
    return q


def _cast_expr(cs: ColumnSpec, col: str, typ: str) -> str:
    """:func:`cast_expr` of DuckDB column ``col``."""
    return cast_expr(cs, _q(col), typ)


def default_expr(table: str, cs: ColumnSpec, settings: Settings) -> str:
    """SQL for an optional column absent from ``table``'s file, valid in DuckDB and Spark SQL
    (``STRING`` is DuckDB's alias of ``VARCHAR``): 0 minimum spend, not members-only, gross
    profit = ``margin_rate`` × (revenue + discount cost), else a typed NULL."""
    if table == "offers" and cs.name == "min_spend":
        return "CAST(0 AS DOUBLE)"
    if table == "offers" and cs.name == "members_only":
        return "FALSE"
    if table == "exposures" and cs.name == "gross_profit":
        return (
            f"CAST({settings.margin_rate!r} AS DOUBLE) * "
            "(TRY_CAST(revenue AS DOUBLE) + TRY_CAST(discount_cost AS DOUBLE))"
        )
    return f"CAST(NULL AS {_SQL_TYPE.get(cs.kind, 'STRING')})"


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


#: Added when a command needs ``exposures`` and the source has none: what the table is, and
#: how a shop that never logged its offers gets one.
NO_EXPOSURES_HINT = (
    ": the logged offers and what each customer bought after them (docs/data-contract.md, "
    "`exposures`). A shop that never logged offers gets them from a first campaign: "
    "`offerwise plan` without --model draws one (each menu offer to random customers, random "
    "others with none, each one's probability in 'propensity'); serve it with `offerwise serve` "
    "and `offerwise export-exposures` writes what they bought"
)


def column_kinds(table: str) -> dict[str, str]:
    """Column name -> contract kind (``id``, ``number``, ``timestamp``, …) of ``table``."""
    return {cs.name: cs.kind for cs in TABLES[table].columns}


def needed_tables(required: Iterable[str] = ()) -> set[str]:
    """The contract's required tables plus the ones a command requires (``required``)."""
    return {n for n, s in TABLES.items() if s.required} | set(required)


def load_data(
    path: str | Path,
    *,
    settings: Settings | None = None,
    required: Sequence[str] = ("customers",),
) -> DataSet:
    """Open and validate a data source; raise :class:`DataContractError` on any fatal problem.

    ``required`` names the tables the caller needs beyond the contract's own required ones.
    """
    settings = settings or default_settings()
    source = open_source(path, settings)
    try:
        fingerprint: str | None = source.fingerprint()
    except OSError:  # an unreadable file: validation reports it
        fingerprint = None
    key = None if fingerprint is None else validation_cache.cache_key(source, fingerprint, settings)
    needed = needed_tables(required)
    # unchanged files validated before: not again
    found = validation_cache.load(key) if validation_cache.usable(source, needed) else None
    if found is None:
        con = new_connection(settings)
        try:
            found = validate_source(source, con, required=required)
        finally:
            con.close()
        validation_cache.store(key, found)
    problems, exclude, counts = found.problems, found.exclude, found.counts
    fatal = [p for p in problems if p.fatal]
    if fatal:
        raise DataContractError(
            fatal, header=f"{source.describe()}: {len(fatal)} problem(s) in the input data"
        )
    return DataSet(
        root=str(path),
        source=source,
        files=dict(source.files),
        fingerprint=source.fingerprint() if fingerprint is None else fingerprint,
        settings=settings,
        warnings=[p for p in problems if not p.fatal],
        row_counts=counts,
        _exclude=exclude,
        _verbatim=found.verbatim,
        _numeric=found.numeric,
    )


def dataset_from_frames(
    frames: dict[str, pd.DataFrame], *, settings: Settings | None = None, label: str = "memory"
) -> DataSet:
    """A :class:`DataSet` over in-memory tables the caller built to the contract (no validation
    pass: the caller owns their shape; columns are typed like any source's)."""
    settings = settings or default_settings()
    source = frames_source(frames, settings, label)
    return DataSet(
        root=label,
        source=source,
        files={},
        fingerprint=source.fingerprint(),
        settings=settings,
        row_counts={t: len(f) for t, f in frames.items() if t in source.tables},
    )


def validate_source(
    source: Source, con: duckdb.DuckDBPyConnection, *, required: Sequence[str] = ()
) -> validation_cache.Validation:
    """Run every contract check.

    Returns the problems, the row filters of the tolerable ones, the row counts and the text
    columns taken as stored (see :func:`cast_expr`).
    """
    problems: list[Problem] = list(source.problems)
    needed = needed_tables(required)
    for name in sorted(needed):
        # a table whose file could not be read (or came twice) already has its problem
        if name not in source.tables and not any(p.table == name for p in source.problems):
            problems.append(
                Problem(
                    name,
                    None,
                    f"required table '{name}' is missing "
                    + (
                        f"(expected {name}.parquet or {name}.csv in {source.describe()})"
                        if source.kind == "dir"
                        else f"(expected a table {name} in {source.describe()})"
                    )
                    + (f"; {source.near_misses[name]}" if name in source.near_misses else "")
                    + (NO_EXPOSURES_HINT if name == "exposures" else ""),
                )
            )
    for name in source.tables:
        source.register_raw(con, name, f"raw_{name}", column_kinds(name))

    counts: dict[str, int] = {}
    verbatim: dict[str, list[str]] = {}
    numeric: dict[str, list[str]] = {}
    typed_ok: set[str] = set()
    for name in source.tables:
        spec = TABLES[name]
        file = source.file_label(name)
        cols = _columns(con, f"raw_{name}")
        n = _fetch_row(con, f"SELECT COUNT(*) FROM raw_{name}")[0]
        counts[name] = n
        if n == 0:
            problems.append(Problem(name, None, "table is empty", file=file))
            continue
        missing = [c.name for c in spec.columns if c.required and c.name not in cols]
        # one column whose name holds separators: the CSV reader could not split the lines
        only = next(iter(cols)) if len(cols) == 1 else ""
        split = (
            "; the file was read as one column: check its separator and its quotes (a quote "
            "left open runs on to the end of the file)"
            if any(sep in only for sep in ",;\t|")
            else ""
        )
        found = ", ".join(list(cols)[:12])
        # the same name in other case or with spaces around it ('CUSTOMER_ID', ' ts')
        alike = {c.strip().lower(): c for c in cols}
        for m in missing:
            near = (
                f"; column names are case-sensitive and exact: rename {alike[m]!r} to {m!r}"
                if m in alike
                else ""
            )
            problems.append(
                Problem(
                    name,
                    m,
                    f"required column '{m}' is missing (found: {found}){near}{split}",
                    n_rows=n,
                    file=file,
                )
            )
        if missing:
            continue
        verbatim[name] = []
        problems.extend(_check_columns(con, name, spec, cols, file, n, verbatim[name]))
        typed_ok.add(name)  # values that failed to cast are NULL in the typed view
        if source.kind == "dir" and source.files[name].suffix == ".csv":  # typed elsewhere
            numeric[name] = _numeric_text_attributes(con, name, spec, cols)

    # typed views of the tables with all required columns, for the cross-table checks
    ds = DataSet(
        root="",
        source=source,
        files={},
        fingerprint="",
        settings=source.settings,
        _verbatim=verbatim,
        _numeric=numeric,
    )
    for name in typed_ok:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {ds._typed_select(con, name)}")
    exclude: dict[str, str] = {}
    problems.extend(_check_cross(con, typed_ok, source, counts, exclude))
    return validation_cache.Validation(problems, exclude, counts, verbatim, numeric)


def _numeric_text_attributes(
    con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, cols: dict[str, str]
) -> list[str]:
    """The attribute columns of CSV table ``name`` (not in the contract), with a value and
    every value a number (blanks aside): ``visits`` or ``income``, which the same table in
    Parquet would hold as numbers. (A Parquet or database column's type is the user's: a text
    column of digits, a zip code, stays text.) One pass over the table."""
    text = [c for c, t in cols.items() if spec.column(c) is None and _is_text(t)]
    if not text:
        return []
    sel = []
    for c in text:
        v = f"NULLIF(TRIM({_q(c)}), '')"
        sel += [f"COUNT({v})", f"COUNT({v}) FILTER (WHERE TRY_CAST({v} AS DOUBLE) IS NULL)"]
    row = _fetch_row(con, f"SELECT {', '.join(sel)} FROM raw_{name}")
    return [c for j, c in enumerate(text) if row[2 * j] > 0 and row[2 * j + 1] == 0]


NOT_NUMBERS = "values that are not numbers"
#: Added to :data:`NOT_NUMBERS` when the example reads like a number with a decimal comma
#: (``0,05``: a spreadsheet's export in many locales). Not converted: ``1,234`` may as well be a
#: thousands separator, and guessing wrong would scale the column by 1,000.
DECIMAL_COMMA_HINT = (
    " (decimal commas? write numbers with a '.' decimal mark, or set decimal = \",\" under "
    "[csv] in a --config file)"
)
_DECIMAL_COMMA = re.compile(r"^[^=]+='[+-]?(\d{1,3}(\.\d{3})+|\d*),\d+'")

#: Added to negative transaction values: a shop's export often holds return lines.
RETURNS_HINT = (
    " (return lines? transactions are sales: net each return out of its sale, or leave "
    "return lines out)"
)
#: Added to :data:`NOT_NUMBERS` for ``10%`` (a spreadsheet's percent format) and for a number
#: with a currency sign (``$12.50``, ``12.50 €``).
PERCENT_HINT = " (percentages? write 10% as 0.10)"
CURRENCY_HINT = " (currency signs? write plain numbers: 12.50)"
_PERCENT = re.compile(r"^[^=]+='\s*[+-]?[\d.,]+\s*%\s*'")
_CURRENCY = re.compile(
    r"^[^=]+='\s*[+-]?\s*([$€£¥]|[A-Z]{3}\s)\s*[\d.,]+'"  # $12.50, EUR 12.50
    r"|^[^=]+='[\d.,]+\s*([$€£¥]|\s[A-Z]{3})\s*'"  # 12,50 €, 12.50 USD
)
UNPARSEABLE_TS = "unparseable timestamps (write them as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
#: Added to :data:`UNPARSEABLE_TS` when the example reads like a day-first or month-first date
#: (``16/09/2024``): the CSV locale setting reads them.
DATE_FORMAT_HINT = (
    ' (dates like 16/09/2024? set date_format = "%d/%m/%Y" under [csv] in a --config file)'
)
_LOCAL_DATE = re.compile(r"^[^=]+='\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


#: (check message, table or None for any, pattern of the example, hint): what a bad value that
#: looks like a common export's habit adds to its message (the first match).
_HINTS: tuple[tuple[str, str | None, re.Pattern[str] | None, str], ...] = (
    (NOT_NUMBERS, None, _DECIMAL_COMMA, DECIMAL_COMMA_HINT),
    (NOT_NUMBERS, None, _PERCENT, PERCENT_HINT),
    (NOT_NUMBERS, None, _CURRENCY, CURRENCY_HINT),
    (UNPARSEABLE_TS, None, _LOCAL_DATE, DATE_FORMAT_HINT),
    ("negative values", "transactions", None, RETURNS_HINT),
)


def _hint(table: str, msg: str, example: str) -> str:
    """The hint of :data:`_HINTS` for check ``msg`` of ``table`` with ``example``, or ""."""
    for m, t, pattern, hint in _HINTS:
        if m == msg and t in (None, table) and (pattern is None or pattern.match(example)):
            return hint
    return ""


def _example(
    con: duckdb.DuckDBPyConnection, rel: str, cond: str, cols: Iterable[str]
) -> str | None:
    sel = ", ".join(_q(c) for c in cols)
    rows = con.execute(f"SELECT {sel} FROM {rel} WHERE {cond} LIMIT 1").fetchall()
    if not rows:
        return None
    row = rows[0]
    # a time stamp as the file would show it, not as Python's repr
    shown = (repr(str(v)) if isinstance(v, date) else repr(v) for v in row)
    return ", ".join(f"{c}={v}" for c, v in zip(cols, shown, strict=True))


#: Columns that find a row of a table without a key, shown next to a bad value.
_EXAMPLE_WITH: dict[str, tuple[str, ...]] = {
    "exposures": ("customer_id", "offer_id", "ts"),
    "transactions": ("order_id", "product_id"),
    "competitor_prices": ("product_id", "ts"),
    "inventory": ("product_id", "ts"),
}

#: Added to "missing values" of an exposure outcome when every such row did not convert (an
#: export that leaves revenue blank where nothing was bought).
NOT_BOUGHT_HINT = " (all on rows with converted = 0: write 0 where nothing was bought)"


def _all_unconverted(
    con: duckdb.DuckDBPyConnection,
    rel: str,
    cond: str,
    name: str,
    spec: TableSpec,
    cols: dict[str, str],
) -> bool:
    """Whether every row of ``rel`` meeting ``cond`` (a missing exposure outcome) has
    ``converted`` = 0."""
    if name != "exposures" or "converted" not in cols:
        return False
    conv = _cast_expr(spec.column_spec("converted"), "converted", cols["converted"])
    n_other = _fetch_row(
        con, f"SELECT COUNT(*) FROM {rel} WHERE ({cond}) AND ({conv} IS DISTINCT FROM 0)"
    )[0]
    return not n_other


def _one_column_checks(
    cs: ColumnSpec, typed_as: str, blank: str
) -> list[tuple[str, str, str, bool]]:
    """The checks of one column: (column, condition, message, fatal); ``typed_as`` its type in
    the file, ``blank`` the condition of a blank text value (an integer is never NaN)."""
    raw, typed = _q(cs.name), _cast_expr(cs, cs.name, typed_as)
    checks: list[tuple[str, str, str, bool]] = []
    if not cs.nullable:
        checks.append((cs.name, f"{raw} IS NULL OR {blank}", "missing values", True))
    # a cast that may give NULL on a non-blank value (a text id is any non-blank string, so
    # its check would count nothing, at the price of trimming every id once more)
    can_fail = "CASE" in typed or "TRY_CAST" in typed
    if can_fail and cs.kind in ("timestamp",):
        checks.append(
            (
                cs.name,
                f"{raw} IS NOT NULL AND NOT {blank} AND {typed} IS NULL",
                UNPARSEABLE_TS,
                True,
            )
        )
    elif can_fail and cs.kind in ("number", "binary", "bool", "id"):
        label = {
            "id": "ids that are neither strings nor integers",
            "bool": "values that are not true/false",
            "binary": "values that are not 0/1 (or true/false)",
        }
        checks.append(
            (
                cs.name,
                f"{raw} IS NOT NULL AND NOT {blank} AND {typed} IS NULL",
                label.get(cs.kind, NOT_NUMBERS),
                True,
            )
        )
    if cs.kind in ("number", "binary") and not _is_integer(typed_as):
        checks.append(
            (cs.name, f"isnan({typed}) OR isinf({typed})", "NaN or infinite values", True)
        )
    if cs.non_negative:
        checks.append((cs.name, f"{typed} < 0", "negative values", True))
    if cs.at_most is not None:  # a signed column bounds its size
        size, beyond = (typed, "above ") if cs.non_negative else (f"ABS({typed})", "beyond ±")
        checks.append(
            (cs.name, f"{size} > {cs.at_most!r}", f"values {beyond}{cs.at_most:,.0f}", True)
        )
    if cs.kind == "binary":
        checks.append((cs.name, f"{typed} NOT IN (0, 1)", "values other than 0/1", True))
    return checks


def _table_checks(
    name: str, spec: TableSpec, cols: dict[str, str]
) -> list[tuple[str, str, str, bool]]:
    """The checks of table ``name`` across its columns: (column, condition, message, fatal)."""
    checks: list[tuple[str, str, str, bool]] = []
    if name == "offers":
        checks.append(
            (
                "kind",
                f"NULLIF(TRIM(CAST(kind AS VARCHAR)), '') "
                f"NOT IN ({', '.join(repr(k) for k in OFFER_KINDS)})",
                f"unknown offer kind (allowed: {', '.join(OFFER_KINDS)})",
                True,
            )
        )
        checks.append(
            (
                "offer_id",
                f"LOWER(TRIM(CAST(offer_id AS VARCHAR))) = '{NO_OFFER}'",
                f"offer_id '{NO_OFFER}' is reserved for 'no offer'",
                True,
            )
        )
        checks.append(
            (
                "value",
                "TRIM(CAST(kind AS VARCHAR)) = 'percent_off' AND "
                "(TRY_CAST(value AS DOUBLE) <= 0 OR TRY_CAST(value AS DOUBLE) >= 1)",
                "percent_off value must be a fraction in (0, 1)",
                True,
            )
        )
        if "starts" in cols and "ends" in cols:
            s = _cast_expr(spec.column_spec("starts"), "starts", cols["starts"])
            e = _cast_expr(spec.column_spec("ends"), "ends", cols["ends"])
            checks.append(("ends", f"{e} < {s}", "validity window ends before it starts", True))
    if name == "exposures" and "propensity" in cols:
        p = _cast_expr(spec.column_spec("propensity"), "propensity", cols["propensity"])
        checks.append(("propensity", f"{p} <= 0 OR {p} > 1", "propensities outside (0, 1]", True))
    if name == "competitor_prices":
        checks.append(("price", "TRY_CAST(price AS DOUBLE) = 0", "zero prices", True))
    if name in ("transactions", "exposures") and "ts" in cols:
        # a typo'd year (2099) would become the default --as-of date, and every recency with it
        ts = _cast_expr(spec.column_spec("ts"), "ts", cols["ts"])
        today = datetime.now(UTC).date()
        checks.append(
            (
                "ts",
                f"{ts} >= TIMESTAMP '{today + timedelta(days=2)}'",
                f"{validation_cache.FUTURE_DATES}{today}): the default --as-of is the day after "
                "the latest date; fix the dates, or give --as-of",
                False,
            )
        )
    if name == "transactions":
        checks.append(
            (
                "quantity",
                "TRY_CAST(quantity AS DOUBLE) = 0 AND TRY_CAST(amount AS DOUBLE) = 0",
                "zero-quantity, zero-amount lines (ignored by features)",
                False,
            )
        )
    return checks


def _count_where(con: duckdb.DuckDBPyConnection, rel: str, conds: list[str]) -> tuple[Any, ...]:
    """The number of rows of ``rel`` where each condition holds, in one pass."""
    agg = ", ".join(f"COUNT(*) FILTER (WHERE {cond})" for cond in conds)
    return _fetch_row(con, f"SELECT {agg} FROM {rel}")


def _check_columns(
    con: duckdb.DuckDBPyConnection,
    name: str,
    spec: TableSpec,
    cols: dict[str, str],
    file: str,
    n: int,
    verbatim: list[str],
) -> list[Problem]:
    """Per-column checks: nulls, types, signs, domain, duplicates, computed in one aggregate pass
    (two when a text value may be blank or padded: see below). Appends to ``verbatim`` the text
    columns stored as text whose typed values are the stored ones (no value blank or with spaces
    around it: see :func:`cast_expr`)."""
    # each text column trimmed once, in the relation the checks read (``ow_trim_<j>``)
    prefix = "ow_trim_"
    while any(c.startswith(prefix) for c in cols):  # a name the file does not use
        prefix = "_" + prefix
    trims = {
        cs.name: f"{prefix}{j}"
        for j, cs in enumerate(spec.columns)
        if cs.name in cols and _is_text(cols[cs.name])
    }

    def column_checks(blank_of: Callable[[str], str]) -> list[tuple[str, str, str, bool]]:
        """The checks, with ``blank_of(column)`` the condition of a blank text value."""
        checks: list[tuple[str, str, str, bool]] = []  # (column, condition, message, fatal)
        for cs in spec.columns:
            if cs.name in cols:
                # a column stored as text can hold blanks and unparseable values; a typed one
                # cannot
                checks.extend(_one_column_checks(cs, cols[cs.name], blank_of(cs.name)))
        return checks + _table_checks(name, spec, cols)

    # the text columns whose values trimming, or blank-to-NULL, would change
    as_is = [cs.name for cs in spec.columns if cs.name in trims and cs.kind in ("id", "text")]
    checks = column_checks(lambda c: "FALSE")
    if not trims and not checks:
        return []
    # First a cheap pass: a value that TRIM could change, or a blank one, is empty or starts or
    # ends with a space, and DuckDB's TRIM removes only U+0020 and the Unicode space separators
    # (all >= U+00A0); the first code point of the last grapheme (``reverse`` keeps graphemes
    # whole) is the space itself or a Prepend mark (>= U+0600). So no value with both ends'
    # code points in (32, 160) means no blank value and every text column verbatim, and the
    # checks below are exact with "blank" false. 20M transaction lines: 1.3 s, against 4-5 s
    # for trimming every id (ad hoc). Otherwise the exact pass with the trims follows.
    ends = {c: (f"{t}_first", f"{t}_last") for c, t in trims.items()}
    sel = ", ".join(
        f"ord(CAST({_q(c)} AS VARCHAR)) AS {f}, ord(reverse(CAST({_q(c)} AS VARCHAR))) AS {la}"
        for c, (f, la) in ends.items()
    )
    rel = f"(SELECT *, {sel} FROM raw_{name}) ow_checked" if trims else f"raw_{name}"
    suspect = [f"{f} <= 32 OR {f} >= 160 OR {la} <= 32 OR {la} >= 160" for f, la in ends.values()]
    row = _count_where(con, rel, [c[1] for c in checks] + suspect)
    if any(row[len(checks) :]):
        sel = ", ".join(f"TRIM(CAST({_q(c)} AS VARCHAR)) AS {t}" for c, t in trims.items())
        rel = f"(SELECT *, {sel} FROM raw_{name}) ow_checked"
        checks = column_checks(lambda c: f"{trims[c]} = ''" if c in trims else "FALSE")
        changed = [f"{_q(c)} <> {trims[c]} OR {_q(c)} = ''" for c in as_is]
        row = _count_where(con, rel, [c[1] for c in checks] + changed)
        verbatim.extend(c for c, k in zip(as_is, row[len(checks) :], strict=True) if k == 0)
    else:
        verbatim.extend(as_is)
    out: list[Problem] = []
    for (col, cond, msg, fatal), bad in zip(checks, row[: len(checks)], strict=True):
        if bad:
            # the example names its row: the table's key, or columns that find it
            ident = [spec.key] if spec.key else list(_EXAMPLE_WITH.get(name, ()))
            ex_cols = [col] + [c for c in ident if c != col and c in cols]
            example = _example(con, rel, cond, ex_cols)
            msg += _hint(name, msg, example or "")
            if msg == "missing values" and _all_unconverted(con, rel, cond, name, spec, cols):
                msg += NOT_BOUGHT_HINT
            out.append(Problem(name, col, msg, int(bad), example, fatal=fatal, file=file))
    if spec.key and spec.key in cols:
        key = cast_expr(
            spec.column_spec(spec.key),
            _q(spec.key),
            cols[spec.key],
            verbatim=spec.key in verbatim,
        )
        dup = _fetch_row(
            con,
            f"SELECT COUNT(*), MIN(k) FROM (SELECT {key} AS k FROM raw_{name} "
            f"WHERE {key} IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1)",
        )
        if dup[0]:
            out.append(
                Problem(
                    name,
                    spec.key,
                    "duplicate ids",
                    int(dup[0]),
                    f"{spec.key}={dup[1]!r}",
                    file=file,
                )
            )
    if name == "inventory" and {"product_id", "ts"} <= set(cols):
        pid = _cast_expr(spec.column_spec("product_id"), "product_id", cols["product_id"])
        ts = _cast_expr(spec.column_spec("ts"), "ts", cols["ts"])
        dup = _fetch_row(
            con,
            f"SELECT COUNT(*), MIN(p), MIN(t) FROM (SELECT {pid} AS p, {ts} AS t FROM raw_{name} "
            f"WHERE {pid} IS NOT NULL AND {ts} IS NOT NULL GROUP BY 1, 2 HAVING COUNT(*) > 1)",
        )
        if dup[0]:
            out.append(
                Problem(
                    name,
                    "ts",
                    "more than one on_hand for the same product and time",
                    int(dup[0]),
                    f"product_id={dup[1]!r}, ts={str(dup[2])!r}",
                    file=file,
                )
            )
    return out


def _menu_hint(con: duckdb.DuckDBPyConnection, cond: str) -> str:
    """The menu's ids (eight at most) next to exposures' unknown offer ids (rows ``cond``), and
    whether they differ only in case from a menu id or from the control's ``none``."""
    menu = [r[0] for r in con.execute("SELECT offer_id FROM offers ORDER BY 1 LIMIT 9").fetchall()]
    shown = ", ".join(repr(str(m)) for m in menu[:8]) + (", …" if len(menu) > 8 else "")
    cased = _fetch_row(
        con,
        f"SELECT COUNT(*) FROM exposures WHERE ({cond}) AND (lower(offer_id) = '{NO_OFFER}' "
        "OR lower(offer_id) IN (SELECT lower(offer_id) FROM offers))",
    )[0]
    case = "; ids are case-sensitive: write them as the menu does" if cased else ""
    return f" (the menu: {shown}; a logged control is '{NO_OFFER}'{case})"


def _rows_where(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: str,
    column: str,
    cond: str,
    message: str,
    example: list[str],
    *,
    fatal: bool = True,
) -> list[Problem]:
    """One problem naming the rows of ``table`` where ``cond`` holds (none when no row does)."""
    bad = _fetch_row(con, f"SELECT COUNT(*) FROM {table} WHERE {cond}")[0]
    if not bad:
        return []
    return [
        Problem(
            table,
            column,
            message,
            int(bad),
            _example(con, table, cond, example),
            fatal=fatal,
            file=source.file_label(table),
        )
    ]


def _check_cross(
    con: duckdb.DuckDBPyConnection,
    ok: set[str],
    source: Source,
    counts: dict[str, int],
    exclude: dict[str, str],
) -> list[Problem]:
    """Foreign keys: orphans are dropped when rare (≤ ORPHAN_TOLERANCE of rows), fatal otherwise.

    Exposures naming an offer that is not on the menu are always fatal.
    """
    out: list[Problem] = []
    refs = [
        ("transactions", "customer_id", "customers", "customer_id"),
        ("exposures", "customer_id", "customers", "customer_id"),
        ("transactions", "product_id", "products", "product_id"),
        ("competitor_prices", "product_id", "products", "product_id"),
        ("inventory", "product_id", "products", "product_id"),
    ]
    for child, col, parent, pcol in refs:
        if child not in ok or parent not in ok:
            continue
        cond = f"{col} NOT IN (SELECT {pcol} FROM {parent})"
        bad = _fetch_row(con, f"SELECT COUNT(*) FROM {child} WHERE {cond}")[0]
        if not bad:
            continue
        share = bad / max(counts.get(child, 1), 1)
        tolerable = share <= ORPHAN_TOLERANCE
        msg = f"{col} not found in {parent} ({share:.2%} of rows; " + (
            "rows dropped)" if tolerable else f"more than {ORPHAN_TOLERANCE:.0%} is fatal)"
        )
        if share > 0.5:  # most ids miss: more likely two spellings of the ids than orphans
            seen = con.execute(
                f"SELECT DISTINCT {pcol} FROM {parent} ORDER BY {pcol} LIMIT 3"
            ).fetchall()
            msg += f"; {parent}' ids look like " + ", ".join(repr(str(r[0])) for r in seen)
        out.append(
            Problem(
                child,
                col,
                msg,
                int(bad),
                _example(con, child, cond, [col]),
                fatal=not tolerable,
                file=source.file_label(child),
            )
        )
        if tolerable:
            prev = exclude.get(child)
            keep = f"{col} IN (SELECT {pcol} FROM {parent})"
            exclude[child] = f"({prev}) AND {keep}" if prev else keep
    if "exposures" in ok and "offers" in ok:
        cond = f"offer_id <> '{NO_OFFER}' AND offer_id NOT IN (SELECT offer_id FROM offers)"
        unknown = _rows_where(
            con,
            source,
            "exposures",
            "offer_id",
            cond,
            "offer ids not in the offer menu",
            ["offer_id", "customer_id"],
        )
        # only when there are some: the hint scans the exposures again
        out += [replace(p, message=p.message + _menu_hint(con, cond)) for p in unknown]
    if "offers" in ok and "products" in ok:
        # a category-scoped offer discounts nothing when no product has its category (a typo, or
        # a category the products table spells differently); ``rec:`` templates name none
        cond = (
            f"category IS NOT NULL AND NOT starts_with(category, '{REC_SCOPE_PREFIX}') "
            "AND category NOT IN (SELECT category FROM products WHERE category IS NOT NULL)"
        )
        out += _rows_where(
            con,
            source,
            "offers",
            "category",
            cond,
            "categories no product has (the offer discounts nothing)",
            ["category", "offer_id"],
            fatal=False,
        )
    if "offers" in ok and "customers" in source.tables:
        if "member" not in _columns(con, "raw_customers"):
            out += _rows_where(
                con,
                source,
                "offers",
                "members_only",
                "members_only",
                "members-only offers, but customers has no 'member' column (plan refuses the "
                "menu): add customers.member (true/false)",
                ["offer_id"],
                fatal=False,
            )
    return out


def summarize(ds: DataSet) -> pd.DataFrame:
    """One row per table: file, rows, and how many tolerable problems were handled."""
    rows = []
    for name in TABLES:
        if ds.has(name):
            warn = sum(p.n_rows for p in ds.warnings if p.table == name)
            rows.append(
                {
                    "table": name,
                    "source": ds.source.file_label(name),
                    "rows": ds.row_counts.get(name, 0),
                    "rows_with_warnings": warn,
                }
            )
    return pd.DataFrame(rows)

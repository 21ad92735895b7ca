"""Readers: expose a data source's tables to DuckDB as raw views.

Three kinds of source, one interface (:class:`Source`):

* a directory with ``<table>.parquet`` or ``<table>.csv`` files (CSV read as text, typed later);
* a DuckDB database file (``*.duckdb`` / ``*.db``) with tables of the contract's names;
* a PostgreSQL URL (``postgresql://user@host:port/db``) with tables of the contract's names
  (copied out through psycopg, extra ``serve``, into temporary Parquet files);
* in-memory tables (:func:`frames_source`): pandas DataFrames of the contract's names, e.g. the
  orders the offer service recorded for the customers it scores online.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from offerwise._io import file_fingerprint, frame_fingerprint
from offerwise.config import CsvLocale, Settings
from offerwise.errors import InputError, Problem, require

TABLE_NAMES = (
    "customers",
    "products",
    "transactions",
    "offers",
    "exposures",
    "competitor_prices",
    "inventory",
)


@dataclass
class Source:
    """Where the tables live. ``tables`` lists the contract tables present."""

    kind: str  # "dir" | "duckdb" | "postgres" | "frames"
    location: str
    settings: Settings
    tables: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: PostgreSQL: the tables as read (temporary Parquet files) and SHA-256 of the bytes sent
    _copies: dict[str, Path] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)
    #: table -> what was found that looks like it but is not read (``customers.xlsx``,
    #: ``Customers.csv``, a table in another schema) and what to do; added to the problem of
    #: a missing table
    near_misses: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return {
            "dir": "data directory",
            "duckdb": "DuckDB file",
            "postgres": "PostgreSQL",
            "frames": "in-memory tables",
        }[self.kind] + f" {self.location}"

    def file_label(self, table: str) -> str:
        if table in self.files:
            return str(self.files[table])
        return f"{self.location}#{table}"

    def register_raw(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        view: str,
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        """Create view ``view`` with the untyped rows of ``table``. ``kinds``: the contract's
        column kinds of the table; a CSV file's numbers and dates are then rewritten from the
        settings' CSV locale (:func:`localized_csv`)."""
        if self.kind in ("dir", "postgres"):  # PostgreSQL: its tables' Parquet copies
            f = self.files[table] if self.kind == "dir" else self._copies[table]
            path = str(f).replace("'", "''")
            if f.suffix == ".parquet":
                rel = f"read_parquet('{path}')"
            else:
                rel = f"read_csv('{path}', all_varchar=true, header=true)"
                if kinds is not None and self.kind == "dir":
                    rel = localized_csv(con, rel, kinds, self.settings.csv)
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {rel}")
        elif self.kind == "duckdb":
            dbs = {
                r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
            }
            if "src" not in dbs:
                loc = self.location.replace("'", "''")
                con.execute(f"ATTACH '{loc}' AS src (READ_ONLY)")
            con.execute(f'CREATE OR REPLACE VIEW {view} AS SELECT * FROM src.main."{table}"')
        else:
            con.register(f"_frame_{table}", self._frames[table])
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM _frame_{table}")

    def fingerprint(self) -> str:
        """Content hash of the source (16 hex digits), stored in every artefact made from it."""
        if self.kind == "dir":
            return file_fingerprint([self.files[t] for t in self.tables])
        if self.kind == "duckdb":
            return file_fingerprint([Path(self.location)])
        h = hashlib.sha256()
        for t in sorted(self._digests):  # PostgreSQL: the bytes the server sent
            h.update(t.encode())
            h.update(self._digests[t].encode())
        for t in sorted(self._frames):
            h.update(t.encode())
            h.update(frame_fingerprint(self._frames[t]).encode())
        return h.hexdigest()[:16]


#: A number written with a decimal comma, its thousands grouped by '.' or not: 3,5  1.234,50  12
_COMMA_NUMBER = r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]*)(,[0-9]+)?"


def localized_csv(
    con: duckdb.DuckDBPyConnection, rel: str, kinds: Mapping[str, str], locale: CsvLocale
) -> str:
    """``rel`` (a CSV file read as text) with its number columns (kind ``number``/``binary``,
    and attribute columns: kind None) rewritten from ``locale.decimal`` = ',' (``1.234,50`` →
    ``1234.50``) and its time stamp columns (kind ``timestamp``) from ``locale.date_format``
    (→ ``YYYY-MM-DD HH:MM:SS``). A value that does not read that way is left as written, so
    validation reports it as it is."""
    if locale.decimal == "." and locale.date_format is None:
        return rel
    names = [d[0] for d in con.execute(f"SELECT * FROM {rel} LIMIT 0").description]
    out = []
    for c in names:
        kind, q = kinds.get(c), '"' + c.replace('"', '""') + '"'
        # numbers, and attributes (not in the contract) that read as numbers that way
        if kind in ("number", "binary", None) and locale.decimal == ",":
            t = f"TRIM({q})"
            out.append(
                f"CASE WHEN regexp_full_match({t}, '{_COMMA_NUMBER}') AND {t} <> '' "
                f"THEN replace(replace({t}, '.', ''), ',', '.') ELSE {q} END AS {q}"
            )
        elif kind == "timestamp" and locale.date_format is not None:
            fmt = locale.date_format.replace("'", "''")
            formats = ", ".join(f"'{fmt}{tail}'" for tail in ("", " %H:%M", " %H:%M:%S"))
            out.append(
                f"COALESCE(strftime(try_strptime(TRIM({q}), [{formats}]), "
                f"'%Y-%m-%d %H:%M:%S'), {q}) AS {q}"
            )
    if not out:
        return rel
    return f"(SELECT * REPLACE ({', '.join(out)}) FROM {rel})"


def open_source(path: str | Path, settings: Settings) -> Source:
    """Find the contract tables of ``path``; raise :class:`InputError` when there is nothing
    to read."""
    loc = str(path)
    if loc.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return _open_postgres(loc, settings)
    p = Path(loc)
    if not p.exists():
        raise InputError(f"data source not found: {p}")
    if p.is_file():
        if p.suffix in (".duckdb", ".db"):
            return _open_duckdb(p, settings)
        raise InputError(f"{p}: expected a data directory, a .duckdb file or a postgresql:// URL")
    src = Source("dir", str(p), settings)
    for t in TABLE_NAMES:
        found = [p / f"{t}{ext}" for ext in (".parquet", ".csv") if (p / f"{t}{ext}").exists()]
        if len(found) > 1:
            src.problems.append(
                Problem(
                    t, None, f"both {t}.parquet and {t}.csv exist; keep one", file=str(found[0])
                )
            )
            continue
        if found:
            src.tables.append(t)
            src.files[t] = found[0]
    if len(src.tables) < len(TABLE_NAMES):
        missing = set(TABLE_NAMES) - set(src.tables)
        alike: dict[str, list[str]] = {}
        for other in sorted(p.iterdir()):
            stem = other.name.split(".", 1)[0].lower()
            if stem in missing and other.is_file():
                alike.setdefault(stem, []).append(other.name)
        src.near_misses = {t: _file_hint(t, names) for t, names in alike.items()}
    for f in found_unreadable(src):
        src.problems.append(f)
    return src


def _file_hint(table: str, names: list[str]) -> str:
    """What to do with files that look like ``table`` but are not read: ``customers.xlsx``
    (another format) or ``Customers.csv`` (names are case-sensitive)."""
    shown = ", ".join(names[:3])
    if any(n.lower() in (f"{table}.csv", f"{table}.parquet") for n in names):
        return f"found {shown}: file names are lower-case, rename it to {table}.csv/.parquet"
    return (
        f"found {shown}: offerwise reads only .parquet and .csv files "
        "(save it as Parquet, or in Excel as 'CSV UTF-8')"
    )


def _schema_hints(found: list[tuple[str, str]], present: list[str], fix: str) -> dict[str, str]:
    """Contract tables that exist only in another schema: ``found`` (schema, table) pairs, the
    tables read (``present``), and how to point offerwise at that schema (``fix``, with
    ``{schema}`` and ``{table}``)."""
    out: dict[str, str] = {}
    for schema, table in found:
        if table in TABLE_NAMES and table not in present and table not in out:
            out[table] = f"found {schema}.{table}: " + fix.format(schema=schema, table=table)
    return out


def frames_source(frames: dict[str, pd.DataFrame], settings: Settings, label: str) -> Source:
    """A source over in-memory tables (contract names only; others are ignored), typed and read
    like the other kinds (:class:`offerwise.data.contract.DataSet`)."""
    src = Source("frames", label, settings)
    for t in TABLE_NAMES:
        if t in frames:
            src._frames[t] = frames[t]
            src.tables.append(t)
    return src


def _read_error(text: str) -> str:
    """DuckDB's reader error in one line: its first line and the reason it gives (not its
    settings dump); a file that is not UTF-8 says how to save it."""
    lines = [ln.strip() for ln in text.splitlines()]
    if "not utf-8 encoded" in text:
        return (
            f"not UTF-8 text ({lines[0]}): offerwise reads CSV as UTF-8; save the file as UTF-8 "
            "(in Excel: 'CSV UTF-8')"
        )
    skip = ("Original Line", "Possible Solution", "file =", "LINE ")
    why = [ln for ln in lines[1:] if ln and not ln.startswith(skip) and "=" not in ln][:1]
    return " ".join(lines[:1] + why)[:300]


def found_unreadable(src: Source) -> list[Problem]:
    """Files that DuckDB cannot open at all (corrupt Parquet, binary CSV): fatal, one problem
    each."""
    out = []
    con = duckdb.connect()
    try:
        for t in list(src.tables):
            try:
                src.register_raw(con, t, "probe")
                con.execute("SELECT * FROM probe LIMIT 1").fetchall()
            except duckdb.Error as exc:
                msg = _read_error(str(exc))
                out.append(Problem(t, None, f"cannot read file: {msg}", file=str(src.files[t])))
                src.tables.remove(t)
                src.files.pop(t)
    finally:
        con.close()
    return out


def _open_duckdb(p: Path, settings: Settings) -> Source:
    src = Source("duckdb", str(p), settings)
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as exc:
        try:
            with p.open("rb") as f:
                sqlite = f.read(16) == b"SQLite format 3\x00"
        except OSError:
            sqlite = False
        hint = (
            " (it is a SQLite database: export its tables to Parquet or CSV files in a folder, "
            "or to a DuckDB file or PostgreSQL)"
            if sqlite
            else ""
        )
        raise InputError(
            f"{p}: cannot open as a DuckDB database{hint}: {str(exc).splitlines()[0]}"
        ) from exc
    try:
        found = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    finally:
        con.close()
    names = {t for schema, t in found if schema == "main"}
    src.tables = [t for t in TABLE_NAMES if t in names]
    src.near_misses = _schema_hints(
        [(schema, t) for schema, t in found if schema != "main"],
        src.tables,
        "offerwise reads the tables of the schema main (in DuckDB: "
        "CREATE TABLE main.{table} AS SELECT * FROM {schema}.{table})",
    )
    return src


#: PostgreSQL column types and the DuckDB types their CSV text is read as (others: VARCHAR).
_PG_TYPES = {
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "double precision": "DOUBLE",
    "numeric": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ",
}


def _open_postgres(url: str, settings: Settings) -> Source:
    """Each contract table streamed out of PostgreSQL by ``COPY … TO STDOUT`` (CSV, in chunks: a
    table never sits in Python objects) into a private temporary folder, then written once as
    Parquet by DuckDB with the columns' types, and read from there like a folder's files. The
    fingerprint hashes the bytes the server sent. 1.46M Complete Journey lines: ``validate``
    went from 11-12 s and 1.6 GB (every row fetched into a pandas frame) to the figures in
    docs/data-contract.md."""
    psycopg = require("psycopg", "serve")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    src = Source("postgres", dsn.split("@")[-1], settings)
    folder = Path(tempfile.mkdtemp(prefix="offerwise-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            # text the CSV reader parses as written: ISO dates, UTC offsets, exact floats
            conn.execute("SET DateStyle TO ISO, YMD")
            conn.execute("SET TimeZone TO 'UTC'")
            conn.execute("SET extra_float_digits TO 3")
            cols: dict[str, list[tuple[str, str]]] = {}
            for table, column, typ in conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            ):
                cols.setdefault(table, []).append((column, _PG_TYPES.get(typ, "VARCHAR")))
            if any(t not in cols for t in TABLE_NAMES):
                src.near_misses = _schema_hints(
                    conn.execute(
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_schema <> current_schema() AND table_schema NOT IN "
                        "('pg_catalog', 'information_schema') ORDER BY table_schema"
                    ).fetchall(),
                    list(cols),
                    "offerwise reads the tables of the connection's current schema; add "
                    "?options=-csearch_path%3D{schema} to the URL",
                )
            for t in TABLE_NAMES:
                if t not in cols:
                    continue
                csv, h = folder / f"{t}.csv", hashlib.sha256()
                with conn.cursor() as cur, csv.open("wb") as out:
                    with cur.copy(f'COPY (SELECT * FROM "{t}") TO STDOUT (FORMAT csv)') as cp:
                        for chunk in cp:
                            h.update(chunk)
                            out.write(chunk)
                src._digests[t] = h.hexdigest()
                src._copies[t] = _csv_to_parquet(
                    csv, cols[t], folder / f"{t}.parquet", settings.threads
                )
                csv.unlink()
                src.tables.append(t)
    except psycopg.Error as exc:
        raise InputError(f"PostgreSQL {src.location}: {str(exc).strip().splitlines()[0]}") from exc
    return src


def _csv_to_parquet(csv: Path, columns: list[tuple[str, str]], out: Path, threads: int) -> Path:
    """PostgreSQL's CSV (no header; NULL unquoted and empty, an empty string quoted) as Parquet
    with the given (name, DuckDB type) columns. Text DuckDB cannot read as the column's type
    (a year beyond DuckDB's, say) makes every column text instead: validation then counts
    and names the values the contract cannot type, as for a CSV file."""
    path, dest = (str(p).replace("'", "''") for p in (csv, out))
    con = duckdb.connect(config={"threads": threads})
    try:
        for typed in (True, False):
            spec = ", ".join(
                "'" + name.replace("'", "''") + "': '" + (typ if typed else "VARCHAR") + "'"
                for name, typ in columns
            )
            try:
                con.execute(
                    f"COPY (SELECT * FROM read_csv('{path}', header = false, "
                    "auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                    f"allow_quoted_nulls = false, columns = {{{spec}}})) "
                    f"TO '{dest}' (FORMAT parquet)"
                )
                break
            except duckdb.Error:
                if not typed:
                    raise
    finally:
        con.close()
    return out

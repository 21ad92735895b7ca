"""Database access of the offer service: engine, migrations, tables and plan loading.

SQLAlchemy 2 Core on SQLite (a file in WAL mode, the default) or PostgreSQL (psycopg 3).

Transactions on SQLite: the pysqlite driver's own transaction handling is switched off and every
write transaction starts with ``BEGIN IMMEDIATE`` (an event hook), so two writers never both read
and then race to write; readers use ``BEGIN DEFERRED`` and never block in WAL mode. ``busy_timeout``
makes a writer wait for the lock instead of failing. On PostgreSQL (READ COMMITTED) the ledger is
kept by conditional single-statement updates (see :mod:`offerwise.serving.service`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offerwise.errors import ConfigError, DataContractError, Problem
from offerwise.vocab import (
    ELIGIBLE_SEP,
    NO_OFFER,
    OFFER_KINDS,
    PLAN_COLUMNS,
    summary_path,
    to_cents,
)

if TYPE_CHECKING:
    import asyncio

    import pandas as pd
    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow
    from sqlalchemy import Connection, Engine, Table

log = logging.getLogger("offerwise.serving")

#: Lock id of the advisory lock that serializes migrations and plan loads on PostgreSQL.
_PG_LOCK_ID = 0x0FFE_5715


# --------------------------------------------------------------------------------------------
# engine
# --------------------------------------------------------------------------------------------


def normalize_url(db_url: str) -> str:
    """``postgres://`` and ``postgresql://`` → ``postgresql+psycopg://``; other URLs unchanged."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if db_url.startswith(prefix):
            return "postgresql+psycopg://" + db_url[len(prefix) :]
    return db_url


def redact_url(db_url: str) -> str:
    """``db_url`` with its password (in the authority or a ``password=`` query parameter) shown
    as ``***``, for logs and CLI output."""
    import re

    out = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#]*@", r"\1:***@", db_url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", out, flags=re.IGNORECASE)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a file-backed SQLite engine; None for PostgreSQL, ``:memory:`` and
    ``file:`` URIs."""
    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return db


def make_engine(
    db_url: str,
    *,
    pool_size: int = 10,
    busy_timeout_ms: int = 30_000,
    existing: bool = False,
    background_checkpoints: bool = False,
) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL, ``busy_timeout`` and ``BEGIN IMMEDIATE`` writes.

    ConfigError for a URL that is neither SQLite nor PostgreSQL; with ``existing`` (a command
    that reads what a service wrote), InputError when the SQLite file does not exist, instead of
    creating an empty database at a mistyped path. ``background_checkpoints``: SQLite
    connections do not checkpoint the WAL when they commit (``wal_autocheckpoint=0``); the
    owner runs a :class:`WalCheckpointer` (the service: see its class docstring)."""
    from offerwise.errors import InputError, require

    sa = require("sqlalchemy", "serve")
    url = normalize_url(db_url)
    if not url.startswith(("sqlite:", "sqlite+", "postgresql+psycopg://")):
        raise ConfigError(
            f"db_url {redact_url(db_url)!r}: offerwise keeps its ledger in SQLite "
            "(sqlite:///FILE) or PostgreSQL (postgresql://USER@HOST/DB)"
        )
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ConfigError(
                "db_url: an in-memory SQLite database cannot be shared; use sqlite:///FILE"
            )
        path = url.split(":///", 1)[-1]
        file = path.split("?", 1)[0]
        if existing and file and not path.startswith("file:") and not Path(file).is_file():
            raise InputError(
                f"{db_url}: no such database file ({file}); give the --db the service used"
            )
        if path and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=60,
        )

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            cur.execute("PRAGMA foreign_keys=ON")
            if background_checkpoints:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "DEFERRED" if conn.get_execution_options().get("ow_readonly") else "IMMEDIATE"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    require("psycopg", "serve")
    return sa.create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=60, pool_pre_ping=True
    )


class _WriterLock:
    """Queue the writers of one SQLite file: a thread lock, then an ``flock`` on ``FILE-wlock``.

    SQLite's busy handler polls with sleeps of 1…100 ms, which is what the tail latency of
    concurrent writers from several worker processes was made of; a blocking ``flock`` wakes the
    next writer as soon as the lock is released. Writers that do not take it (other programs)
    still fall back on ``busy_timeout``.
    """

    def __init__(self, db_path: str | None):
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        if db_path:
            try:
                self._fd = os.open(db_path + "-wlock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:  # read-only folder: thread lock + busy_timeout only
                self._fd = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class WalCheckpointer:
    """Checkpoint a SQLite file's WAL from a thread of its own, every ``interval_s`` seconds.

    By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: that
    commit copies the pages into the database file and fsyncs it, and every request waiting on
    it waits too (GET offer for a newcomer at 500/s on SQLite: p99 10–14.5 ms, against 2.8–4.9 ms
    with the checkpoint moved here; ``benchmarks/probe_serving.py --newcomer``, figures in
    docs/serving.md). A ``PASSIVE`` checkpoint waits
    for no reader or writer, so writers go on appending to the WAL while it runs. Use it with an
    engine made by ``make_engine(..., background_checkpoints=True)``. ``last`` holds the last
    run's ``(busy, frames in the WAL, frames checkpointed)``; ``runs`` counts runs.
    """

    def __init__(self, db_path: str, interval_s: float = 0.5):
        import sqlite3

        self.interval_s = interval_s
        self.runs = 0
        self.last: tuple[int, int, int] | None = None
        self._conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="offerwise-wal-checkpoint", daemon=True
        )
        self._thread.start()

    @classmethod
    def for_engine(cls, engine: Engine, interval_s: float = 0.5) -> WalCheckpointer | None:
        """A checkpointer for a file-backed SQLite engine; None for anything else."""
        db = sqlite_file(engine)
        return None if db is None else cls(db, interval_s)

    def checkpoint(self) -> tuple[int, int, int]:
        """One ``PRAGMA wal_checkpoint(PASSIVE)``: (busy, frames in the WAL, checkpointed)."""
        busy, frames, done = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.last = (int(busy), int(frames), int(done))
        self.runs += 1
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.checkpoint()
            except Exception:  # noqa: BLE001 - a failed checkpoint is retried next interval
                log.warning(
                    "WAL checkpoint failed; retrying in %.1f s", self.interval_s, exc_info=True
                )

    def close(self) -> None:
        """Stop the thread (a last checkpoint first) and close its connection."""
        self._stop.set()
        self._thread.join(10)
        try:
            self.checkpoint()
        except Exception:  # noqa: BLE001 - closing anyway; the next open checkpoints
            pass
        self._conn.close()


class AsyncPgReaders:
    """Autocommit PostgreSQL connections used from the event loop (psycopg ``AsyncConnection``),
    for reads on a request's path: no thread between the request and the database.

    A read no longer wakes a thread to send the query and the event loop again for its answer
    (``benchmarks/profile_offer_k6.py`` figures in docs/serving.md). Up to ``size``
    connections are opened lazily on the running loop; a connection whose read failed or was
    cancelled is closed, not reused. A pool is bound to the loop that opened it: used from
    another loop (tests that call ``asyncio.run`` repeatedly), it starts afresh.
    """

    def __init__(self, engine: Engine, size: int = 4):
        self._conninfo = engine.url.render_as_string(hide_password=False).replace(
            "postgresql+psycopg://", "postgresql://", 1
        )
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None  # Semaphore(size) on self._loop
        self._open: list[AsyncConnection[TupleRow]] = []  # idle or in use
        self._idle: list[AsyncConnection[TupleRow]] = []

    async def fetchone(self, sql: str, params: dict[str, object]) -> TupleRow | None:
        """The first row of ``sql`` (psycopg ``%(name)s`` parameters, prepared) or None."""
        import asyncio

        import psycopg

        loop, slots = asyncio.get_running_loop(), self._slots
        if loop is not self._loop or slots is None:
            self.close()
            slots = asyncio.Semaphore(self.size)
            self._loop, self._slots = loop, slots
        async with slots:  # at most `size` reads at once, so at most `size` connections
            if self._idle:
                conn = self._idle.pop()
            else:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                self._open.append(conn)
            try:
                cur = await conn.execute(sql, params, prepare=True)
                row = await cur.fetchone()
            except BaseException:  # failed or cancelled mid-read: its state is unknown
                self._discard(conn)
                raise
            self._idle.append(conn)
            return row

    @property
    def open_count(self) -> int:
        """Connections open now (idle or in use)."""
        return len(self._open)

    def _discard(self, conn: AsyncConnection[TupleRow]) -> None:
        if conn in self._open:
            self._open.remove(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        conn.pgconn.finish()

    def close(self) -> None:
        """Close every connection (no loop needed: libpq's ``PQfinish``)."""
        for conn in list(self._open):
            self._discard(conn)
        self._loop = self._slots = None


_WRITE_LOCKS: dict[int, _WriterLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _writer_lock(engine: Engine) -> _WriterLock:
    lock = _WRITE_LOCKS.get(id(engine))
    if lock is None:
        with _WRITE_LOCKS_GUARD:
            lock = _WRITE_LOCKS.get(id(engine))
            if lock is None:
                lock = _WRITE_LOCKS[id(engine)] = _WriterLock(sqlite_file(engine))
    return lock


@contextlib.contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success, rolls back on error.

    On SQLite the writers of one process queue on a thread lock and those of all processes that
    use this module on an ``flock`` (see :class:`_WriterLock`) before ``BEGIN IMMEDIATE``.
    """
    if engine.dialect.name == "sqlite":
        with _writer_lock(engine).hold(), engine.begin() as conn:
            yield conn
        return
    with engine.begin() as conn:
        yield conn


class RawSQL:
    """A hot-path statement run on the DBAPI cursor of a SQLAlchemy connection (same transaction),
    skipping SQLAlchemy's per-statement work. Written with ``:name`` parameters (sqlite3's named
    style), rewritten once to ``%(name)s`` for psycopg."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, sql: str):
        import re

        if "%" in sql:
            raise ValueError("RawSQL: '%' is not allowed (psycopg placeholders)")
        self.sqlite = sql
        self.postgresql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute in ``conn``'s transaction; returns the DBAPI cursor (rows are tuples)."""
        return self.run_dbapi(conn.connection.dbapi_connection, conn.dialect.name, params)

    def run_dbapi(self, dbapi_conn: Any, dialect: str, params: dict[str, Any]) -> Any:
        """Execute on a DBAPI connection (e.g. an autocommit reader); returns the cursor."""
        cur = dbapi_conn.cursor()
        cur.execute(self.postgresql if dialect == "postgresql" else self.sqlite, params)
        return cur


def insert_ignore(conn: Connection, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` of ``table`` for the connection's dialect.

    Whether a row went in: add ``.returning(col)`` and test ``.first()`` (psycopg's rowcount is -1
    here).
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(conn: Connection, table: Table, keys: list[str]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` of ``table`` for the connection's dialect: a row
    whose ``keys`` exist replaces that row's other columns."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        pg = postgresql.insert(table)
        rest = {c.name: pg.excluded[c.name] for c in table.columns if c.name not in keys}
        return pg.on_conflict_do_update(index_elements=keys, set_=rest)
    from sqlalchemy.dialects import sqlite

    lite = sqlite.insert(table)
    rest = {c.name: lite.excluded[c.name] for c in table.columns if c.name not in keys}
    return lite.on_conflict_do_update(index_elements=keys, set_=rest)


@contextlib.contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (``BEGIN DEFERRED`` on SQLite: never waits for writers in WAL)."""
    with engine.connect() as conn:
        conn = conn.execution_options(ow_readonly=True)
        with conn.begin():
            yield conn


def _lock(conn: Connection) -> None:
    """Serialize schema changes and plan loads between processes (SQLite: BEGIN IMMEDIATE did)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")


# --------------------------------------------------------------------------------------------
# migrations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        body = "\n".join(ln for ln in self.sql.splitlines() if not ln.strip().startswith("--"))
        return [s.strip() for s in body.split(";") if s.strip()]


def list_migrations(dialect: str | None = None) -> list[Migration]:
    """The migrations in version order: ``NNNN_name.sql`` (any database) or, when a change needs
    dialect-specific SQL, ``NNNN_name.sqlite.sql`` / ``NNNN_name.postgresql.sql`` (the file of
    ``dialect`` is taken; ``dialect=None`` lists the dialect-neutral ones and the sqlite ones)."""
    folder = resources.files("offerwise.serving") / "migrations"
    want = dialect or "sqlite"
    out = []
    for entry in folder.iterdir():
        name = entry.name
        if not (name.endswith(".sql") and name[:4].isdigit()):
            continue
        stem = name[5:-4]
        base, _, suffix = stem.rpartition(".")
        if suffix in ("sqlite", "postgresql"):
            if suffix != want:
                continue
            stem = base
        out.append(Migration(int(name[:4]), stem, entry.read_text()))
    return sorted(out, key=lambda m: m.version)


def check_reachable(engine: Engine) -> None:
    """InputError naming the database (password hidden) and the driver's reason when no
    connection can be opened (a server down, a wrong host, port or password)."""
    import sqlalchemy as sa

    from offerwise.errors import InputError

    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        why = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        raise InputError(
            f"cannot connect to the database {engine.url.render_as_string(hide_password=True)}: "
            f"{why[0] if why else type(exc).__name__}"
        ) from None


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations in one locked transaction; returns the versions applied.

    On SQLite the connection runs with ``foreign_keys=OFF`` (a table rebuild needs it; the pragma
    cannot change inside a transaction) and ``PRAGMA foreign_key_check`` must be clean before the
    commit.
    """
    check_reachable(engine)
    applied_now: list[int] = []
    sqlite = engine.dialect.name == "sqlite"
    with contextlib.ExitStack() as stack:
        if sqlite:
            stack.enter_context(_writer_lock(engine).hold())
            conn = stack.enter_context(engine.connect())
            raw = conn.connection.driver_connection
            assert raw is not None  # a checked-out connection has its driver connection
            raw.execute("PRAGMA foreign_keys=OFF")
            stack.callback(raw.execute, "PRAGMA foreign_keys=ON")
            stack.enter_context(conn.begin())
        else:
            conn = stack.enter_context(engine.begin())
        _lock(conn)
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_ts DOUBLE PRECISION NOT NULL)"
        )
        done = {r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_migrations")}
        for m in list_migrations(engine.dialect.name):
            if m.version in done:
                continue
            for stmt in m.statements():
                conn.exec_driver_sql(stmt)
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations (version, name, applied_ts) VALUES (%s, %s, %s)"
                if conn.dialect.name == "postgresql"
                else "INSERT INTO schema_migrations (version, name, applied_ts) VALUES (?, ?, ?)",
                (m.version, m.name, time.time()),
            )
            applied_now.append(m.version)
        if sqlite and applied_now:
            bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise ConfigError(f"migration left foreign key violations: {bad[:5]}")
    return applied_now


# --------------------------------------------------------------------------------------------
# tables (mirror migrations/*.sql; tests check they agree)
# --------------------------------------------------------------------------------------------


class Tables:
    """SQLAlchemy Core ``Table`` objects of the schema (built lazily: no work at import time)."""

    _instance: Tables | None = None

    def __init__(self) -> None:
        import sqlalchemy as sa

        md = sa.MetaData()
        T, C = sa.Table, sa.Column
        txt, big, i, f = sa.Text, sa.BigInteger, sa.Integer, sa.Float
        self.metadata = md
        self.campaigns = T(
            "campaigns",
            md,
            C("campaign_id", txt, primary_key=True),
            C("budget_cents", big),
            C("spent_cents", big),
            C("redemptions", big),
            C("plan_fingerprint", txt),
            C("summary_json", txt),
            C("active", i),
            C("created_ts", f),
            C("model_dir", txt),
        )
        self.offers = T(
            "offers",
            md,
            C("offer_id", txt, primary_key=True),
            C("kind", txt),
            C("value", f),
            C("min_spend_cents", big),
            C("category", txt),
            C("starts_ts", f),
            C("ends_ts", f),
            C("members_only", i),
            C("updated_ts", f),
        )
        self.assignments = T(
            "assignments",
            md,
            C("campaign_id", txt, primary_key=True),
            C("customer_id", txt, primary_key=True),
            C("offer_id", txt),
            C("grp", txt),
            C("segment", txt),
            C("coupon_code", txt),
            C("propensity", f),
            C("category", txt),
            C("reason", txt),
            C("eligible", txt),
            C("drivers", txt),
        )
        self.decisions = T(
            "decisions",
            md,
            C("decision_id", txt, primary_key=True),
            C("campaign_id", txt),
            C("customer_id", txt),
            C("offer_id", txt),
            C("plan_offer_id", txt),
            C("grp", txt),
            C("propensity", f),
            C("explored", i),
            C("coupon_code", txt),
            C("ts", f),
            C("reason", txt),
        )
        self.coupons = T(
            "coupons",
            md,
            C("code", txt, primary_key=True),
            C("campaign_id", txt),
            C("customer_id", txt),
            C("offer_id", txt),
            C("issued_ts", f),
            C("expires_ts", f),
            C("max_uses", i),
            C("uses", i),
        )
        self.customer_usage = T(
            "customer_usage",
            md,
            C("campaign_id", txt, primary_key=True),
            C("customer_id", txt, primary_key=True),
            C("uses", i),
        )
        self.idempotency_keys = T(
            "idempotency_keys",
            md,
            C("api_key_id", txt, primary_key=True),
            C("idem_key", txt, primary_key=True),
            C("request_hash", txt),
            C("status_code", i),
            C("response_json", txt),
            C("created_ts", f),
        )
        self.redemptions = T(
            "redemptions",
            md,
            C("redemption_id", txt, primary_key=True),
            C("coupon_code", txt),
            C("campaign_id", txt),
            C("customer_id", txt),
            C("offer_id", txt),
            C("order_id", txt),
            C("discount_cents", big),
            C("status", txt),
            C("api_key_id", txt),
            C("idem_key", txt),
            C("redeemed_ts", f),
            C("rolled_back_ts", f),
        )
        self.events = T(
            "events",
            md,
            C("order_id", txt, primary_key=True),
            C("customer_id", txt),
            C("ts", f),
            C("revenue_cents", big),
            C("discount_cents", big),
            C("coupon_code", txt),
            C("received_ts", f),
        )
        self.online_scores = T(
            "online_scores",
            md,
            C("campaign_id", txt, primary_key=True),
            C("customer_id", txt, primary_key=True),
            C("offer_id", txt),
            C("eligible", txt),
            C("segment", txt),
            C("reason", txt),
            C("n_orders", big),
            C("scored_ts", f),
        )
        self.api_keys = T(
            "api_keys",
            md,
            C("key_id", txt, primary_key=True),
            C("name", txt),
            C("salt", txt),
            C("key_hash", txt),
            C("scopes", txt),
            C("rate_per_s", f),
            C("burst", i),
            C("created_ts", f),
            C("revoked_ts", f),
        )

    @classmethod
    def get(cls) -> Tables:
        if cls._instance is None:
            cls._instance = Tables()
        return cls._instance


# --------------------------------------------------------------------------------------------
# plan + menu loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """What :func:`load_plan` did: the campaign and whether rows were inserted."""

    campaign_id: str
    budget_cents: int
    n_customers: int
    n_offers: int
    created: bool
    fingerprint: str
    previous_campaign_id: str | None = None  # the campaign that was active before this load
    active: bool = True  # whether the plan's campaign is the active one after the load


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_coupon_codes(n: int) -> list[str]:
    """``n`` random codes ``XXXX-XXXX-XXXX`` (60 bits each, no 0/O/1/I; ``secrets`` randomness)."""
    import secrets

    raw = secrets.token_bytes(12 * n)
    out = []
    for k in range(n):
        s = "".join(
            _CODE_ALPHABET[b & 31] for b in raw[12 * k : 12 * k + 12]
        )  # 32 letters: uniform
        out.append(f"{s[:4]}-{s[4:8]}-{s[8:]}")
    return out


def _reserve_missing_codes(conn: Connection, campaign_id: str) -> int:
    """Give the campaign's plan customers without a reserved code one (plans loaded before
    migration 3); returns how many were reserved."""
    import sqlalchemy as sa

    a = Tables.get().assignments
    missing = list(
        conn.execute(
            sa.select(a.c.customer_id).where(
                a.c.campaign_id == campaign_id, a.c.coupon_code.is_(None)
            )
        ).scalars()
    )
    if missing:
        stmt = (
            a.update()
            .where(a.c.campaign_id == campaign_id, a.c.customer_id == sa.bindparam("cust"))
            .values(coupon_code=sa.bindparam("code"))
        )
        conn.execute(
            stmt, [{"cust": c, "code": k} for c, k in zip(missing, new_coupon_codes(len(missing)))]
        )
    return len(missing)


def _read_frame(
    path: Path, what: str, required: tuple[str, ...] = (), hint: str = ""
) -> pd.DataFrame:
    """:func:`offerwise._io.read_table` (imported here: it loads pandas, which the workers of the
    service never need; only the plan load at startup reads files)."""
    from offerwise._io import read_table

    return read_table(path, what, required, hint)


def _to_epoch(v: Any) -> float | None:
    import pandas as pd

    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return None
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return float(ts.timestamp())


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t")
    try:
        return bool(v) and v == v
    except (TypeError, ValueError):
        return False


def plan_menu(plan: Path) -> Path:
    """The offer menu of a plan made without a model (``offerwise plan`` without ``--model``
    writes it beside the plan); ConfigError when there is none."""
    from offerwise.vocab import menu_path

    menu = menu_path(plan)
    if not menu.exists():
        raise ConfigError(
            f"--model MODEL_DIR is needed with --plan (the offer menu): {plan}'s summary names "
            f"no model directory that still holds one, and there is no {menu.name} beside it"
        )
    return menu


def read_menu(model_dir: Path) -> list[dict[str, Any]]:
    """The offer menu rows of ``MODEL_DIR/offers.parquet`` (or of a menu file: a first
    campaign's ``PLAN.offers.parquet``) as ``offers`` table rows (cents, epochs).

    ``train`` copied the menu from a data source that passed the data contract; these checks
    repeat the ones the ledger relies on (columns, known kinds, unique ids, ``none`` reserved,
    values >= 0) for a file edited since. They do not call :mod:`offerwise.data.contract`: its
    checks are DuckDB SQL over a whole data source (``validate_source`` wants a ``customers``
    table too, the offers checks alone are private), and importing it would load duckdb and the
    settings machinery into the server for one small file.
    """
    path = Path(model_dir) if Path(model_dir).is_file() else Path(model_dir) / "offers.parquet"
    if not path.exists() and (Path(model_dir) / "offers.csv").exists():
        path = Path(model_dir) / "offers.csv"
    df = _read_frame(path, "offers")
    problems: list[Problem] = []
    for col in ("offer_id", "kind", "value"):
        if col not in df.columns:
            problems.append(Problem("offers", col, "required column missing", file=str(path)))
    if problems:
        raise DataContractError(problems)
    bad_kind = df[~df["kind"].isin(OFFER_KINDS)]
    if len(bad_kind):
        problems.append(
            Problem(
                "offers",
                "kind",
                f"unknown offer kind (allowed: {', '.join(OFFER_KINDS)})",
                len(bad_kind),
                str(bad_kind["kind"].iloc[0]),
                file=str(path),
            )
        )
    ids = df["offer_id"].astype(str)
    if ids.duplicated().any():
        problems.append(
            Problem(
                "offers",
                "offer_id",
                "duplicate offer ids",
                int(ids.duplicated().sum()),
                str(ids[ids.duplicated()].iloc[0]),
                file=str(path),
            )
        )
    if (ids == NO_OFFER).any():
        problems.append(
            Problem(
                "offers",
                "offer_id",
                f"'{NO_OFFER}' is reserved for no offer",
                1,
                NO_OFFER,
                file=str(path),
            )
        )
    values = df["value"].astype(float)
    if (values < 0).any() or values.isna().any():
        problems.append(
            Problem(
                "offers",
                "value",
                "values must be numbers >= 0",
                int(((values < 0) | values.isna()).sum()),
                file=str(path),
            )
        )
    if problems:
        raise DataContractError(problems)
    now = time.time()
    rows = []
    for r in df.to_dict("records"):
        cat = r.get("category")
        cat = (
            None
            if cat is None or (isinstance(cat, float) and cat != cat) or str(cat) == ""
            else str(cat)
        )
        ms = r.get("min_spend", 0.0)
        ms = 0.0 if ms is None or ms != ms else float(ms)
        rows.append(
            {
                "offer_id": str(r["offer_id"]),
                "kind": str(r["kind"]),
                "value": float(r["value"]),
                "min_spend_cents": to_cents(ms),
                "category": cat,
                "starts_ts": _to_epoch(r.get("starts")),
                "ends_ts": _to_epoch(r.get("ends")),
                "members_only": int(_truthy(r.get("members_only", False))),
                "updated_ts": now,
            }
        )
    return rows


#: The columns of a plan file (:data:`~offerwise.vocab.PLAN_COLUMNS`) the service loads.
_PLAN_NEEDS = ("customer_id", "offer_id", "group")


def parse_drivers(text: str) -> list[dict[str, Any]] | None:
    """A plan row's ``drivers`` JSON as a list of {feature, value, effect}; None when malformed."""
    try:
        items = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(items, list):
        return None
    out = []
    for d in items:
        if not (
            isinstance(d, dict)
            and isinstance(d.get("feature"), str)
            and isinstance(d.get("effect"), int | float)
            and (d.get("value") is None or isinstance(d.get("value"), str))
        ):
            return None
        out.append({"feature": d["feature"], "value": d.get("value"), "effect": float(d["effect"])})
    return out


def read_plan(plan: Path, menu_ids: set[str]) -> pd.DataFrame:
    """The plan frame (customer_id, offer_id, grp, segment, propensity, category, reason,
    eligible, drivers) after contract checks; ``category`` (the offer's concrete scope for the
    customer), ``reason`` (the plan's reason code), ``eligible`` (the offers the planner's rules
    allowed, joined by ``ELIGIBLE_SEP``; ``""``: none) and ``drivers`` (JSON text,
    :func:`parse_drivers`) are None where absent."""
    import pandas as pd

    df = _read_frame(
        Path(plan),
        "plan",
        _PLAN_NEEDS,
        hint=f" (a plan from `offerwise plan` has {', '.join(PLAN_COLUMNS)})",
    )
    problems: list[Problem] = []
    out = df[list(_PLAN_NEEDS)].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    out["offer_id"] = out["offer_id"].astype(str)
    out["grp"] = out.pop("group").astype(str)
    out["segment"] = df["segment"].astype(str) if "segment" in df.columns else None
    # the plan's probability of each row's offer (`plan --explore`); 1 for a plan without it
    out["propensity"] = (
        pd.to_numeric(df["propensity"], errors="coerce").astype(float)
        if "propensity" in df.columns
        else 1.0
    )
    raw = df["category"] if "category" in df.columns else pd.Series(None, index=df.index)
    out["category"] = pd.Series(
        [None if pd.isna(c) or str(c) == "" else str(c) for c in raw], index=df.index, dtype=object
    )
    why = df["reason"] if "reason" in df.columns else pd.Series(None, index=df.index)
    out["reason"] = pd.Series(
        [None if pd.isna(c) or str(c) == "" else str(c)[:64] for c in why],
        index=df.index,
        dtype=object,
    )
    elig = (
        df["eligible_offers"]
        if "eligible_offers" in df.columns
        else pd.Series(None, index=df.index)
    )
    out["eligible"] = pd.Series(
        [
            None if c is None or (isinstance(c, float) and c != c) or c is pd.NA else str(c)
            for c in elig
        ],
        index=df.index,
        dtype=object,
    )
    drv = df["drivers"] if "drivers" in df.columns else pd.Series(None, index=df.index)
    out["drivers"] = pd.Series(
        [
            None if c is None or c is pd.NA or (isinstance(c, float) and c != c) else str(c)
            for c in drv
        ],
        index=df.index,
        dtype=object,
    )
    badd = out["drivers"].map(lambda d: d is not None and parse_drivers(d) is None)
    if badd.any():
        problems.append(
            Problem(
                "plan",
                "drivers",
                "not a JSON list of {feature, value, effect}",
                int(badd.sum()),
                str(out.loc[badd, "drivers"].iloc[0])[:60],
                file=str(plan),
            )
        )
    known = {str(e) for e in out["eligible"].dropna().unique()}
    unknown = sorted({o for e in known for o in e.split(ELIGIBLE_SEP) if o} - menu_ids)
    if unknown:
        badr = out["eligible"].map(
            lambda e: e is not None and any(o in unknown for o in e.split(ELIGIBLE_SEP))
        )
        problems.append(
            Problem(
                "plan",
                "eligible_offers",
                "offer ids not in the model's offer menu",
                int(badr.sum()),
                unknown[0],
                file=str(plan),
            )
        )
    dup = out["customer_id"].duplicated()
    if dup.any():
        problems.append(
            Problem(
                "plan",
                "customer_id",
                "duplicate customers",
                int(dup.sum()),
                str(out.loc[dup, "customer_id"].iloc[0]),
                file=str(plan),
            )
        )
    bad = ~out["offer_id"].isin(menu_ids | {NO_OFFER})
    if bad.any():
        problems.append(
            Problem(
                "plan",
                "offer_id",
                "offer ids not in the model's offer menu",
                int(bad.sum()),
                str(out.loc[bad, "offer_id"].iloc[0]),
                file=str(plan),
            )
        )
    badp = out["propensity"].isna() | (out["propensity"] <= 0) | (out["propensity"] > 1)
    if badp.any():
        problems.append(
            Problem(
                "plan",
                "propensity",
                "propensities must lie in (0, 1]",
                int(badp.sum()),
                str(out.loc[badp, "propensity"].iloc[0]),
                file=str(plan),
            )
        )
    badg = ~out["grp"].isin(["treatment", "holdout"])
    if badg.any():
        problems.append(
            Problem(
                "plan",
                "group",
                "group must be 'treatment' or 'holdout'",
                int(badg.sum()),
                str(out.loc[badg, "grp"].iloc[0]),
                file=str(plan),
            )
        )
    if problems:
        raise DataContractError(problems)
    return out


def load_plan(
    engine: Engine,
    plan: Path,
    model_dir: Path | None,
    budget: float | None = None,
    *,
    take_over: bool = True,
) -> LoadedPlan:
    """Load the offer menu and the plan as the active campaign; idempotent.

    Re-loading the same plan (same fingerprint) inserts nothing (a ``budget`` override is applied);
    a different plan under an existing ``campaign_id`` is refused. The campaign's budget is
    ``budget`` if given, else ``budget`` of the sidecar summary json. ``model_dir`` None: a plan
    made without a model (a first campaign), whose menu lies beside it (:func:`plan_menu`).

    ``take_over=False`` (a worker process loading its configured plan at startup): a plan that was
    loaded before becomes active only while no campaign is; it does not take the place of a
    campaign swapped in since (a worker started late, or restarted by uvicorn, must not undo
    ``POST /v1/admin/plan``). A new plan is made active either way.
    """
    import sqlalchemy as sa

    from offerwise._io import frame_fingerprint

    plan = Path(plan)
    menu = read_menu(Path(model_dir) if model_dir is not None else plan_menu(plan))
    frame = read_plan(plan, {r["offer_id"] for r in menu})
    keys = ["customer_id", "offer_id", "grp"] + (
        ["category"] if frame["category"].notna().any() else []
    )
    fp = frame_fingerprint(frame[keys])
    summary: dict[str, Any] = {}
    sp = summary_path(plan)
    if sp.exists():
        try:
            summary = json.loads(sp.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{sp}: not valid JSON: {exc}") from exc
        if not isinstance(summary, dict):
            raise ConfigError(f"{sp}: expected a JSON object")
    campaign_id = str(summary.get("campaign_id") or f"plan-{fp}")
    raw_budget = budget if budget is not None else summary.get("budget")
    if raw_budget is None:
        raise ConfigError(f"no campaign budget: {sp} has no 'budget'; pass --budget")
    try:
        budget_cents = to_cents(float(raw_budget))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{sp}: budget must be a number, got {raw_budget!r}") from exc
    if budget_cents < 0:
        raise ConfigError(f"campaign budget must be >= 0, got {raw_budget!r}")
    t = Tables.get()
    with write_tx(engine) as conn:
        _lock(conn)
        for row in menu:  # upsert the menu
            n = conn.execute(
                t.offers.update()
                .where(t.offers.c.offer_id == row["offer_id"])
                .values(**{k: v for k, v in row.items() if k != "offer_id"})
            ).rowcount
            if not n:
                conn.execute(t.offers.insert().values(**row))
        previous = conn.execute(
            sa.select(t.campaigns.c.campaign_id).where(t.campaigns.c.active == 1)
        ).scalar()
        existing = conn.execute(
            sa.select(
                t.campaigns.c.plan_fingerprint,
                t.campaigns.c.spent_cents,
                t.campaigns.c.budget_cents,
            ).where(t.campaigns.c.campaign_id == campaign_id)
        ).first()
        created = existing is None
        if existing is not None:
            if existing.plan_fingerprint != fp:
                raise ConfigError(
                    f"campaign '{campaign_id}' is already loaded from a different plan "
                    f"(fingerprint {existing.plan_fingerprint}, this plan {fp}); give the new plan "
                    "a new campaign_id"
                )
            if budget is not None and budget_cents != existing.budget_cents:
                if budget_cents < existing.spent_cents:
                    raise ConfigError(
                        f"budget {budget_cents / 100:.2f} is below what campaign '{campaign_id}' "
                        f"has already spent ({existing.spent_cents / 100:.2f})"
                    )
                conn.execute(
                    t.campaigns.update()
                    .where(t.campaigns.c.campaign_id == campaign_id)
                    .values(budget_cents=budget_cents)
                )
            else:
                budget_cents = existing.budget_cents
        else:
            conn.execute(
                t.campaigns.insert().values(
                    campaign_id=campaign_id,
                    budget_cents=budget_cents,
                    spent_cents=0,
                    redemptions=0,
                    plan_fingerprint=fp,
                    summary_json=json.dumps(summary, default=str),
                    active=0,
                    created_ts=time.time(),
                    model_dir=None if model_dir is None else str(Path(model_dir).resolve()),
                )
            )
            codes = new_coupon_codes(len(frame))
            records = frame.assign(campaign_id=campaign_id, coupon_code=codes).to_dict("records")
            for i in range(0, len(records), 5000):
                conn.execute(t.assignments.insert(), records[i : i + 5000])
        _reserve_missing_codes(conn, campaign_id)
        active = take_over or created or previous in (None, campaign_id)
        if active and previous != campaign_id:  # already active: no row to change or lock
            conn.execute(
                t.campaigns.update().values(
                    active=sa.case((t.campaigns.c.campaign_id == campaign_id, 1), else_=0)
                )
            )
    return LoadedPlan(
        campaign_id, budget_cents, len(frame), len(menu), created, fp, previous, active
    )


__all__ = [
    "LoadedPlan",
    "RawSQL",
    "Tables",
    "is_sqlite",
    "list_migrations",
    "load_plan",
    "make_engine",
    "migrate",
    "insert_ignore",
    "upsert",
    "new_coupon_codes",
    "normalize_url",
    "read_menu",
    "read_plan",
    "read_tx",
    "redact_url",
    "write_tx",
]

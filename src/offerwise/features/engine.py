"""Point-in-time customer features as SQL (DuckDB by default; the same text runs on Spark SQL).

The definitions live in ``features/sql/*.sql``, one relation per file, chained as CTEs in the
order of :data:`STEPS`. Every feature is computed for a *cutoff* ``(customer_id, as_of)`` from the
transactions with ``ts < as_of`` inside a look-back window of ``settings.feature_window_days``
days, so one definition serves a profile at one date (every customer, same ``as_of``) and
training rows (each exposure's own ``ts``). Formulas: ``docs/features.md``.

The SQL reads four relations that :func:`compute_features` creates on the connection:
``ow_cutoffs``, ``ow_customers``, ``ow_transactions`` and ``ow_products`` (typed views over the
contract tables, or empty stand-ins for absent optional tables). The one piece of date arithmetic,
``DAYS_BETWEEN(a, b)`` = (b − a) in fractional days, is expanded per dialect from :data:`DIALECTS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from string import Template
from typing import TYPE_CHECKING, Any

import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.errors import InputError
from offerwise.features._join import join_unique
from offerwise.features.columns import CATEGORY_SHARE_PREFIX, EXTRA_COLUMNS, FEATURE_COLUMNS
from offerwise.vocab import EXACT_DECIMAL, default_as_of, parse_as_of

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from offerwise.data.contract import DataSet

#: SQL files, in dependency order; each defines the relation of the same name.
STEPS = (
    "cutoff_ages",
    "lines",
    "orders",
    "rfm",
    "category_spend",
    "categories",
    "brands",
    "top_categories",
    "top_brands",
    "features",
)
#: The steps when only the numeric features are wanted (``text=False``): the same numbers
#: without the names of the top categories and brand (no ranking window, no join on the
#: maximum); a step maps to the file that defines it, None leaves it out.
NUMERIC_STEPS: dict[str, str | None] = {
    "categories": None,
    "top_categories": "top_category_shares",
    "top_brands": "top_brand_shares",
}

#: Dialect-specific SQL: the only place with date arithmetic. ``{a}``, ``{b}``: timestamps.
DIALECTS: dict[str, dict[str, str]] = {
    "duckdb": {"DAYS_BETWEEN": "((epoch({b}) - epoch({a})) / 86400.0)"},
    # microseconds, as a DOUBLE literal (``86400.0`` would be a DECIMAL and lose digits in Spark)
    "spark": {"DAYS_BETWEEN": "((unix_micros({b}) - unix_micros({a})) / 86400000000.0D)"},
}

#: Spend trend compares the last TREND_DAYS days with the TREND_DAYS days before.
TREND_DAYS = 90
#: Expected customer value is over the next CLV_HORIZON_DAYS days.
CLV_HORIZON_DAYS = 365
#: Chance that a customer drops out after an order (the p of a BG/NBD model), for churn_risk.
DROPOUT_PER_ORDER = 0.05
#: Purchase rates use at least this many days of exposure (avoids blow-ups for brand-new customers).
MIN_OBSERVED_DAYS = 30

#: The feature query's text columns (names of the top brand and categories).
TEXT_COLUMNS = ("top_brand", "top_category", "top_category_2", "top_category_3")
_TEXT_DTYPE = "str" if int(pd.__version__.split(".")[0]) >= 3 else "string"

_MACRO = re.compile(r"DAYS_BETWEEN\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")


@lru_cache(maxsize=None)
def _sql_file(name: str) -> str:
    return (files("offerwise.features") / "sql" / f"{name}.sql").read_text()


def render_step(name: str, settings: Settings, dialect: str = "duckdb") -> str:
    """The SQL of one step (file ``sql/<name>.sql``) with parameters substituted and macros
    expanded for ``dialect``."""
    if dialect not in DIALECTS:
        raise InputError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    params = {
        "window_days": str(int(settings.feature_window_days)),
        "trend_days": str(TREND_DAYS),
        "exact": EXACT_DECIMAL,
        "clv_horizon_days": str(CLV_HORIZON_DAYS),
        "min_observed_days": str(MIN_OBSERVED_DAYS),
        "margin_rate": repr(float(settings.margin_rate)),
        "dropout": repr(DROPOUT_PER_ORDER),
        "dropout_odds": repr(DROPOUT_PER_ORDER / (1 - DROPOUT_PER_ORDER)),
    }
    sql = Template(_sql_file(name)).substitute(params)
    days = DIALECTS[dialect]["DAYS_BETWEEN"]
    return _MACRO.sub(lambda m: days.format(a=m.group(1), b=m.group(2)), sql)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(text: str) -> str:
    """``text`` as a double-quoted SQL identifier (DuckDB)."""
    return '"' + text.replace('"', '""') + '"'


def _share_step(categories: list[str]) -> str:
    """Per cutoff, the spend of its window lines in each of ``categories`` and in all
    (``ow_window_spend``, unknown categories included), from ``category_spend`` (one row per
    category: a few per cutoff instead of every line; exact decimal sums, as doubles);
    DuckDB's identifiers."""
    sums = ", ".join(
        f"CAST(SUM(CASE WHEN category = {_literal(c)} THEN spend ELSE 0 END) AS DOUBLE) "
        f"AS ow_spend_{j}"
        for j, c in enumerate(categories)
    )
    return (
        f"SELECT customer_id, as_of, CAST(SUM(spend) AS DOUBLE) AS ow_window_spend, {sums}\n"
        "FROM category_spend\nGROUP BY customer_id, as_of"
    )


def feature_sql(
    settings: Settings | None = None,
    dialect: str = "duckdb",
    categories: list[str] | None = None,
    *,
    text: bool = True,
) -> str:
    """The whole feature query: ``WITH <steps> SELECT * FROM features`` (one row per cutoff).

    ``text=False``: the text columns (:data:`TEXT_COLUMNS`) are NULL and the steps that only
    name them are left out (:data:`NUMERIC_STEPS`); every number is the same.

    ``categories`` (DuckDB only): also the share of each one in the cutoff's spend over the
    window, ``category_share=<c>`` = Σ amount of the window's lines in c / Σ amount of all its
    lines (NULL without spend), from the feature query's ``category_spend`` (the separate
    query of :func:`offerwise.features.model_inputs.category_share_features` read the 20M
    transaction lines of a 1M-customer shop again: 4.3 s)."""
    settings = settings or default_settings()
    ctes = []
    for name in STEPS:
        file = NUMERIC_STEPS.get(name, name) if not text else name
        if file is None:
            continue
        body = "\n".join(
            line
            for line in render_step(file, settings, dialect).splitlines()
            if not line.lstrip().startswith("--")
        )
        ctes.append(f"{name} AS (\n{body.strip()}\n)")
    if not categories:
        return "WITH " + ",\n".join(ctes) + "\nSELECT * FROM features"
    if dialect != "duckdb":
        raise InputError("category shares in the feature query: DuckDB only")
    ctes.append(f"ow_shares AS (\n{_share_step(categories)}\n)")
    shares = ", ".join(
        f"s.ow_spend_{j} / NULLIF(s.ow_window_spend, 0) AS {quote_ident(CATEGORY_SHARE_PREFIX + c)}"
        for j, c in enumerate(categories)
    )
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT f.*, {shares}\nFROM features f\n"
        "LEFT JOIN ow_shares s ON s.customer_id = f.customer_id AND s.as_of = f.as_of"
    )


# --------------------------------------------------------------------------------------------
# connection set-up
# --------------------------------------------------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, rel: str) -> dict[str, str] | None:
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    except duckdb.CatalogException:
        return None
    return {r[0]: str(r[1]).upper() for r in rows}


def _col(cols: dict[str, str], name: str, typ: str) -> str:
    if name in cols:
        if typ == "VARCHAR":
            return f"CAST({name} AS VARCHAR) AS {name}"
        return f"CAST({name} AS {typ}) AS {name}"
    return f"CAST(NULL AS {typ}) AS {name}"


def prepare_views(con: duckdb.DuckDBPyConnection, cutoffs: str | pd.DataFrame) -> None:
    """Create the ``ow_*`` input views on ``con`` (see module doc).

    ``cutoffs``: a DataFrame or the name of a relation with columns ``customer_id`` and ``as_of``
    (or ``ts``, e.g. the exposures table, when there is no ``as_of``).
    """
    if isinstance(cutoffs, pd.DataFrame):
        when = "as_of" if "as_of" in cutoffs.columns else "ts"
        missing = {"customer_id", when} - set(cutoffs.columns)
        if missing:
            raise InputError(
                f"cutoffs: missing column(s) {', '.join(sorted(missing))} (need customer_id, as_of)"
            )
        con.register("ow_cutoffs_df", cutoffs[["customer_id", when]])
        rel = "ow_cutoffs_df"
    else:
        rel = cutoffs
    cols = _columns(con, rel)
    when = "as_of" if cols and "as_of" in cols else "ts"
    if cols is None or not {"customer_id", when} <= set(cols):
        raise InputError(f"cutoffs relation {rel!r} needs columns customer_id and as_of")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW ow_cutoffs AS "
        "SELECT CAST(customer_id AS VARCHAR) AS customer_id, "
        f"CAST({when} AS TIMESTAMP) AS as_of FROM {rel} "
        f"WHERE customer_id IS NOT NULL AND {when} IS NOT NULL"
    )

    specs = {
        "customers": [("customer_id", "VARCHAR"), ("signup_date", "TIMESTAMP")],
        "transactions": [
            ("customer_id", "VARCHAR"),
            ("order_id", "VARCHAR"),
            ("product_id", "VARCHAR"),
            ("ts", "TIMESTAMP"),
            ("quantity", "DOUBLE"),
            ("amount", "DOUBLE"),
            ("discount", "DOUBLE"),
        ],
        "products": [("product_id", "VARCHAR"), ("category", "VARCHAR"), ("brand", "VARCHAR")],
    }
    for table, spec in specs.items():
        cols = _columns(con, table)
        if cols is None:  # optional table absent: an empty stand-in of the right shape
            sel = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in spec)
            con.execute(f"CREATE OR REPLACE TEMP VIEW ow_{table} AS SELECT {sel} WHERE 1 = 0")
            continue
        if table == "transactions":
            need = [
                c
                for c, _ in spec
                if c not in cols and c not in ("product_id", "discount", "quantity")
            ]
            if need:
                raise InputError(f"transactions: missing column(s) {', '.join(need)}")
        sel = ", ".join(_col(cols, c, t) for c, t in spec)
        if table == "transactions":
            sel = sel.replace("CAST(NULL AS DOUBLE) AS discount", "CAST(0 AS DOUBLE) AS discount")
            sel = sel.replace("CAST(NULL AS DOUBLE) AS quantity", "CAST(1 AS DOUBLE) AS quantity")
        con.execute(f"CREATE OR REPLACE TEMP VIEW ow_{table} AS SELECT {sel} FROM {table}")


def compute_features(
    con: duckdb.DuckDBPyConnection,
    cutoffs: str | pd.DataFrame,
    *,
    settings: Settings | None = None,
    categories: list[str] | None = None,
    decision_only: bool = False,
) -> pd.DataFrame:
    """Features for each distinct cutoff ``(customer_id, as_of)``, as a DataFrame.

    ``con`` must hold the contract views (``customers``; ``transactions`` and ``products`` when
    present); ``cutoffs`` as in :func:`prepare_views`. Columns: customer_id, as_of,
    :data:`FEATURE_COLUMNS`, :data:`EXTRA_COLUMNS`, then ``category_share=<c>`` for each of
    ``categories`` (see :func:`feature_sql`); rows sorted by (as_of, customer_id).
    ``decision_only``: only customer_id, as_of, :data:`FEATURE_COLUMNS` and the shares (what a
    model reads), from the query without the text columns (``feature_sql(text=False)``): the
    same numbers with less work (no ranking window, no join on the top brand).
    """
    settings = settings or default_settings()
    con.execute("SET enable_progress_bar = false")
    try:
        prepare_views(con, cutoffs)
        sql = feature_sql(settings, categories=categories, text=not decision_only)
        if decision_only:
            shares = [quote_ident(CATEGORY_SHARE_PREFIX + c) for c in categories or []]
            keep = ", ".join(["customer_id", "as_of", *FEATURE_COLUMNS, *shares])
            sql = f"SELECT {keep} FROM ({sql}) ow_f"
        df = con.execute(sql + " ORDER BY as_of, customer_id").df()
    finally:
        if isinstance(cutoffs, pd.DataFrame):
            con.unregister("ow_cutoffs_df")
    for c in ("customer_id", *(() if decision_only else TEXT_COLUMNS)):
        df[c] = df[c].astype(_TEXT_DTYPE)  # same dtype whether or not any value is present
    return df


# --------------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionTables:
    """A DuckDB connection holding the contract's tables as views, seen as a data source
    (what :func:`offerwise.vocab.default_as_of` needs)."""

    con: duckdb.DuckDBPyConnection

    def has(self, table: str) -> bool:
        return _columns(self.con, table) is not None

    def last_ts(self, table: str) -> datetime | None:
        from offerwise.data.contract import max_ts

        return max_ts(self.con, table) if self.has(table) else None


def profile(
    source: DataSet | duckdb.DuckDBPyConnection,
    as_of: Any = None,
    settings: Settings | None = None,
    *,
    segments: bool = True,
    clusters: int | None = None,
    features: Callable[[datetime], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per customer at ``as_of``: features, customer attributes and (by default) segments.

    ``source``: a validated :class:`~offerwise.data.contract.DataSet`, or a DuckDB connection with
    the contract's tables as views. ``as_of`` defaults to :func:`offerwise.vocab.default_as_of`.
    ``clusters``: add a KMeans ``cluster`` column with that many clusters (seeded by
    ``settings.seed``). ``features``: computes every customer's features at the decision date
    elsewhere (e.g. on Spark), returning what :func:`compute_features` would; default DuckDB.
    """
    from offerwise.data.contract import DataSet

    tables = source if isinstance(source, DataSet) else ConnectionTables(source)
    con = tables.con
    con.execute("SET enable_progress_bar = false")
    settings = settings or (source.settings if isinstance(source, DataSet) else default_settings())
    ts = (default_as_of(tables) if as_of is None else parse_as_of(as_of)).to_pydatetime()
    if _columns(con, "customers") is None:
        raise InputError("profile needs a 'customers' table")
    lit = ts.strftime("%Y-%m-%d %H:%M:%S.%f")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW ow_profile_cutoffs AS "
        f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers"
    )
    if features is None:
        feats = compute_features(con, "ow_profile_cutoffs", settings=settings)
    else:
        feats = features(ts)
    attrs = con.execute("SELECT * FROM customers").df()
    attrs["customer_id"] = attrs["customer_id"].astype(str)
    attrs = attrs.drop_duplicates("customer_id")
    clash = [c for c in attrs.columns if c != "customer_id" and c in feats.columns]
    attrs = attrs.rename(columns={c: f"{c}_attr" for c in clash})  # features keep their names
    out = join_unique(feats, attrs, ["customer_id"], "customers")
    if segments:
        from offerwise.features.segments import assign_segments, cluster_customers

        out = assign_segments(out, settings)
        if clusters:
            out["cluster"] = cluster_customers(
                out, k=clusters, seed=settings.seed, threads=settings.threads
            )
    return out


def decision_feature_columns(
    profiles: pd.DataFrame | list[str], settings: Settings | None = None
) -> list[str]:
    """Numeric columns a model may use: :data:`FEATURE_COLUMNS` plus numeric customer attributes.

    Protected attributes (``settings.protected_attributes``) are left out unless
    ``settings.allow_protected_features`` is true. Text attributes are never included.
    """
    settings = settings or default_settings()
    protected = set(settings.protected_attributes)
    if isinstance(profiles, pd.DataFrame):
        cols = list(profiles.columns)
        numeric = {
            c
            for c in cols
            if pd.api.types.is_numeric_dtype(profiles[c])
            and not pd.api.types.is_bool_dtype(profiles[c])
        }
    else:
        cols = list(profiles)
        numeric = set(FEATURE_COLUMNS)
    skip = set(EXTRA_COLUMNS) | {
        "customer_id",
        "as_of",
        "signup_date",
        "segment",
        "segment_reason",
        "cluster",
    }
    out = [c for c in FEATURE_COLUMNS if c in cols]
    for c in cols:
        if c in out or c in skip or c not in numeric:
            continue
        if c in protected and not settings.allow_protected_features:
            continue
        out.append(c)
    return out


__all__ = [
    "CLV_HORIZON_DAYS",
    "DIALECTS",
    "DROPOUT_PER_ORDER",
    "EXTRA_COLUMNS",
    "FEATURE_COLUMNS",
    "MIN_OBSERVED_DAYS",
    "NUMERIC_STEPS",
    "STEPS",
    "TEXT_COLUMNS",
    "TREND_DAYS",
    "ConnectionTables",
    "compute_features",
    "decision_feature_columns",
    "feature_sql",
    "prepare_views",
    "profile",
    "render_step",
]

"""The contract tables as Spark temp views, and the feature SQL run on them.

:func:`register_contract` reads the Parquet files of a validated
:class:`~offerwise.data.contract.DataSet` with Spark and creates a typed view per contract table
(``customers``, ``transactions``, ``products``, ``offers``, ``exposures``: the same casts, defaults
and dropped rows as DuckDB's typed views) and the feature inputs ``ow_customers``,
``ow_transactions``, ``ow_products``.
:func:`spark_features` runs :func:`offerwise.features.engine.feature_sql` (``dialect="spark"``)
for a cutoffs relation and returns the same frame as
:func:`offerwise.features.engine.compute_features`: one row per cutoff, same columns, same dtypes,
sorted by (as_of, customer_id).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.data.contract import TABLES, ColumnSpec, DataSet, cast_expr, default_expr
from offerwise.errors import InputError
from offerwise.features.columns import EXTRA_COLUMNS, FEATURE_COLUMNS
from offerwise.features.engine import feature_sql

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from offerwise.spark.session import SparkConfig

#: Contract tables the features read (the others are registered too, e.g. exposures as cutoffs).
FEATURE_TABLES = ("customers", "transactions", "products")

#: The ``ow_*`` feature inputs: (column, Spark SQL type) per table (cf. ``prepare_views``).
INPUT_SPECS: dict[str, list[tuple[str, str]]] = {
    "customers": [("customer_id", "STRING"), ("signup_date", "TIMESTAMP")],
    "transactions": [
        ("customer_id", "STRING"),
        ("order_id", "STRING"),
        ("product_id", "STRING"),
        ("ts", "TIMESTAMP"),
        ("quantity", "DOUBLE"),
        ("amount", "DOUBLE"),
        ("discount", "DOUBLE"),
    ],
    "products": [("product_id", "STRING"), ("category", "STRING"), ("brand", "STRING")],
}

_TEXT_COLUMNS = ("customer_id", "top_brand", "top_category", "top_category_2", "top_category_3")


def _q(col: str) -> str:
    return "`" + col.replace("`", "``") + "`"


def _cast(cs: ColumnSpec, col: str, typ: str, nanos: bool = False) -> str:
    """Spark SQL turning raw ``col`` of Spark type ``typ`` into the contract type: the data
    contract's own rules (:func:`offerwise.data.contract.cast_expr`). ``nanos``: the column is a
    Parquet timestamp in nanoseconds, which Spark reads as a long (``nanosAsLong``): it becomes a
    microsecond timestamp first, as DuckDB reads it."""
    if nanos:
        return cast_expr(cs, f"timestamp_micros({_q(col)} DIV 1000)", "timestamp")
    return cast_expr(cs, _q(col), typ)


def _nanos_columns(path: str) -> set[str]:
    """Columns of the Parquet file ``path`` stored as timestamps in nanoseconds (pandas' and
    pyarrow's default unit), which Spark cannot read as timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    return {f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"}


def _parquet_files(ds: DataSet) -> dict[str, str]:
    if ds.source.kind != "dir":
        raise InputError(
            f"{ds.root}: the Spark engine reads a data directory of Parquet files "
            f"(got a {ds.source.describe()}); use --engine duckdb"
        )
    out = {}
    for t in ds.source.tables:
        if ds.has(t):
            f = ds.files[t]
            if f.suffix != ".parquet":
                raise InputError(
                    f"{f}: the Spark engine reads Parquet only; convert it or use --engine duckdb"
                )
            out[t] = str(f.resolve())
    return out


def register_contract(spark: SparkSession, ds: DataSet) -> list[str]:
    """Create the typed views (every contract table of ``ds``) and the ``ow_*`` feature inputs on
    ``spark``; returns the tables registered.

    ``ds`` must be validated (``load_data``): its dropped rows (rare orphans) are dropped here too.
    """
    files = _parquet_files(ds)
    # nanosecond timestamps (pandas' default) are read as longs and converted in the views
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    for t, path in files.items():
        spark.read.parquet(path).createOrReplaceTempView(f"raw_{t}")
    for t in files:
        spec = TABLES[t]
        nanos = _nanos_columns(files[t])
        cols = {f.name: f.dataType.simpleString() for f in spark.table(f"raw_{t}").schema.fields}
        parts = []
        for col, typ in cols.items():
            cs = spec.column(col)
            if cs is None:  # not a contract column: passed through (nanoseconds converted)
                parts.append(
                    f"timestamp_micros({_q(col)} DIV 1000) AS {_q(col)}"
                    if col in nanos
                    else _q(col)
                )
            elif t == "exposures" and col == "gross_profit":  # gaps: the default rule
                cast = _cast(cs, col, typ, col in nanos)
                expr = f"COALESCE({cast}, {default_expr(t, cs, ds.settings)})"
                parts.append(f"{expr} AS {_q(col)}")
            else:
                parts.append(f"{_cast(cs, col, typ, col in nanos)} AS {_q(col)}")
        for cs in spec.columns:  # optional columns absent from the file
            if cs.name not in cols:
                parts.append(f"{default_expr(t, cs, ds.settings)} AS {_q(cs.name)}")
        sql = f"SELECT {', '.join(parts)} FROM raw_{t}"
        where = ds._exclude.get(t)
        if where:  # the same predicate text as DuckDB's: `col IN (SELECT col FROM parent)`
            sql = f"SELECT * FROM ({sql}) t WHERE {where}"
        spark.sql(sql).createOrReplaceTempView(t)
    for t, spec_cols in INPUT_SPECS.items():
        if t not in files:  # optional table absent: an empty stand-in of the right shape
            sel = ", ".join(f"CAST(NULL AS {typ}) AS {c}" for c, typ in spec_cols)
            spark.sql(f"SELECT {sel} WHERE 1 = 0").createOrReplaceTempView(f"ow_{t}")
            continue
        sel = ", ".join(f"CAST({c} AS {typ}) AS {c}" for c, typ in spec_cols)
        spark.sql(f"SELECT {sel} FROM {t}").createOrReplaceTempView(f"ow_{t}")
    return list(files)


def spark_features(
    spark: SparkSession, cutoffs: str, *, settings: Settings | None = None
) -> pd.DataFrame:
    """Features for each distinct cutoff of the Spark relation ``cutoffs`` (columns
    ``customer_id``, ``as_of``), computed by Spark SQL and collected to the driver.

    The ``ow_*`` inputs must be registered (:func:`register_contract`). Returns the frame
    ``compute_features`` returns: customer_id, as_of, FEATURE_COLUMNS, EXTRA_COLUMNS.
    """
    settings = settings or default_settings()
    spark.sql(
        "SELECT CAST(customer_id AS STRING) AS customer_id, CAST(as_of AS TIMESTAMP) AS as_of "
        f"FROM {cutoffs} WHERE customer_id IS NOT NULL AND as_of IS NOT NULL"
    ).createOrReplaceTempView("ow_cutoffs")
    df = spark.sql(feature_sql(settings, dialect="spark")).toPandas()
    return _like_duckdb(df)


def _like_duckdb(df: pd.DataFrame) -> pd.DataFrame:
    """Spark's frame with DuckDB's dtypes and row order (``compute_features``)."""
    from offerwise.features.engine import _TEXT_DTYPE

    df = df.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)
    for c in _TEXT_COLUMNS:
        df[c] = df[c].astype(_TEXT_DTYPE)
    df["as_of"] = pd.to_datetime(df["as_of"]).astype("datetime64[us]")
    for c in (*FEATURE_COLUMNS, *EXTRA_COLUMNS):
        if c in df.columns and c not in _TEXT_COLUMNS:
            df[c] = df[c].astype("float64")
    return df


def spark_profile_features(
    ds: DataSet,
    as_of: datetime,
    *,
    settings: Settings | None = None,
    config: SparkConfig | None = None,
) -> pd.DataFrame:
    """Every customer's features at ``as_of``, computed on Spark (a session for ``config``)."""
    from offerwise.spark.session import spark_session

    spark = spark_session(config)
    register_contract(spark, ds)
    lit = as_of.strftime("%Y-%m-%d %H:%M:%S.%f")
    spark.sql(
        f"SELECT customer_id, TIMESTAMP '{lit}' AS as_of FROM customers"
    ).createOrReplaceTempView("ow_profile_cutoffs")
    return spark_features(spark, "ow_profile_cutoffs", settings=settings or ds.settings)


def spark_cutoff_features(
    ds: DataSet,
    cutoffs: pd.DataFrame,
    *,
    settings: Settings | None = None,
    config: SparkConfig | None = None,
) -> pd.DataFrame:
    """Features for each distinct ``(customer_id, as_of)`` row of ``cutoffs`` (e.g. every
    exposure at its own ``ts``: the training rows), computed on Spark and collected.

    The cutoffs go to Spark as a frame (as_of: wall-clock times, read as UTC like the contract
    tables); returns what ``compute_features`` returns for them.
    """
    from offerwise.spark.session import spark_session

    spark = spark_session(config)
    register_contract(spark, ds)
    cut = cutoffs[["customer_id", "as_of"]].drop_duplicates().copy()
    cut["customer_id"] = cut["customer_id"].astype(str)
    cut["as_of"] = pd.to_datetime(cut["as_of"]).astype("datetime64[us]")
    schema = "customer_id string, as_of timestamp_ntz"
    spark.createDataFrame(cut, schema=schema).createOrReplaceTempView("ow_given_cutoffs")
    return spark_features(spark, "ow_given_cutoffs", settings=settings or ds.settings)


def spark_row_counts(ds: DataSet, config: SparkConfig | None = None) -> dict[str, int]:
    """Rows of each contract table's typed view as Spark reads it (after the same dropped rows
    as DuckDB's view). A file Spark cannot read is an :class:`InputError` naming it."""
    from offerwise.spark.session import spark_session

    spark = spark_session(config)
    try:
        tables = register_contract(spark, ds)
        return {t: int(spark.table(t).count()) for t in tables}
    except InputError:
        raise
    except Exception as e:  # Spark's AnalysisException / Py4JJavaError: name the data
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{ds.root}: Spark cannot read the data: {first[:300]}") from e


__all__ = [
    "FEATURE_TABLES",
    "INPUT_SPECS",
    "register_contract",
    "spark_cutoff_features",
    "spark_features",
    "spark_profile_features",
    "spark_row_counts",
]

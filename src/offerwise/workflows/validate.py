"""``offerwise validate``: check a data source against the contract (and, with ``--engine spark``,
that Spark reads every table to the same rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet, summarize
from offerwise.errors import InputError
from offerwise.workflows._common import DataArg, open_data

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.spark.session import SparkConfig

__all__ = ["ValidateReport", "run_validate"]


@dataclass(slots=True)
class ValidateReport:
    """The validated data set and one row per table: source, rows, rows with warnings and, with
    the Spark engine, ``rows_used`` (rows of the typed view, after dropped orphans) and
    ``rows_spark`` (the same view's rows read by Spark)."""

    ds: DataSet
    summary: pd.DataFrame
    engine: str = "duckdb"


def _count(ds: DataSet, table: str) -> int:
    """Rows of DuckDB's typed view of ``table``."""
    rows = ds.con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchall()  # whole: none pending
    return int(rows[0][0]) if rows else 0


def run_validate(
    data: DataArg,
    settings: Settings,
    *,
    engine: str = "duckdb",
    spark: SparkConfig | None = None,
) -> ValidateReport:
    """Validate ``data`` (contract checks by DuckDB, exit-2 errors on fatal problems).

    ``engine="spark"``: then every table is also registered on Spark with the same casts, defaults
    and dropped rows (:func:`offerwise.spark.features.register_contract`) and counted; a table
    Spark cannot read or counts differently is an :class:`InputError` naming it.
    """
    from offerwise.spark.session import check_engine

    engine = check_engine(engine)
    ds = open_data(data, settings)
    summary = summarize(ds)
    if engine == "spark":
        from offerwise.spark.features import spark_row_counts

        got = spark_row_counts(ds, spark)
        used = {t: _count(ds, t) for t in got}
        summary["rows_used"] = summary["table"].map(used)
        summary["rows_spark"] = summary["table"].map(got)
        bad = [t for t in got if got[t] != used[t]]
        if bad:
            t = bad[0]
            raise InputError(
                f"{ds.source.file_label(t)}: Spark reads {got[t]:,} rows of table {t}, "
                f"DuckDB {used[t]:,}; use --engine duckdb"
            )
    return ValidateReport(ds, summary, engine)

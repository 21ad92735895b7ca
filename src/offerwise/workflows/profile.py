"""``offerwise profile``: validate the data, compute every customer's features and segments."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.errors import Problem
from offerwise.features.engine import profile
from offerwise.features.segments import segment_summary
from offerwise.vocab import default_as_of, parse_as_of
from offerwise.workflows._common import DataArg, as_of_warnings, history_warnings, open_data

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.spark.session import SparkConfig

__all__ = ["ProfileReport", "run_profile", "write_profile"]


@dataclass(slots=True)
class ProfileReport:
    """Per-customer profiles, the segment summary, and timings in seconds per step."""

    profiles: pd.DataFrame
    summary: pd.DataFrame
    as_of: datetime
    fingerprint: str
    #: the data's tolerable problems, then what is odd about the date (``as_of_warnings``)
    warnings: list[Problem | str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "duckdb"  # what computed the features: "duckdb" or "spark"

    @property
    def seconds(self) -> float:
        """Wall time of the whole profile, in seconds."""
        return self.timings.get("total", 0.0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (not the per-customer rows)."""
        return {
            "as_of": self.as_of.isoformat(),
            "n_customers": int(len(self.profiles)),
            "data_fingerprint": self.fingerprint,
            "segments": self.summary.to_dict("records"),
            "warnings": [
                w.to_dict() if isinstance(w, Problem) else {"message": w} for w in self.warnings
            ],
            "seconds": self.timings,  # per step, and "total"
            "engine": self.engine,
        }


def run_profile(
    data: DataArg,
    *,
    as_of: object = None,
    settings: Settings | None = None,
    clusters: int | None = None,
    engine: str = "duckdb",
    spark: SparkConfig | None = None,
) -> ProfileReport:
    """Validate ``data``, compute features and segments at ``as_of`` (default: the day after the
    last transaction or exposure, :func:`offerwise.vocab.default_as_of`).

    ``engine="spark"``: the data is validated by DuckDB as always (same errors, exit 2), then the
    features are computed by Spark SQL (session from ``spark``); attributes and segments as usual.
    """
    from offerwise.spark.session import check_engine

    settings = settings or default_settings()
    engine = check_engine(engine)
    t0 = time.perf_counter()
    ds = open_data(data, settings, ("customers",))
    t1 = time.perf_counter()
    features = None
    if engine == "spark":
        from offerwise.spark.features import spark_profile_features

        def features(ts: datetime) -> pd.DataFrame:
            return spark_profile_features(ds, ts, settings=settings, config=spark)

    profiles = profile(ds, as_of, settings, clusters=clusters, features=features)
    t2 = time.perf_counter()
    summary = segment_summary(profiles)
    t3 = time.perf_counter()
    ts = default_as_of(ds) if as_of is None else parse_as_of(as_of)
    return ProfileReport(
        profiles=profiles,
        summary=summary,
        as_of=ts.to_pydatetime(),
        fingerprint=ds.fingerprint,
        warnings=[
            *ds.warnings,
            *history_warnings(ds),
            *([] if as_of is None else as_of_warnings(ds, ts)),
        ],
        timings={
            "load": round(t1 - t0, 3),
            "features_segments": round(t2 - t1, 3),
            "summary": round(t3 - t2, 3),
            "total": round(t3 - t0, 3),
        },
        engine=engine,
    )


def write_profile(report: ProfileReport, out: str | Path) -> Path:
    """Write the per-customer profiles atomically (``.parquet`` or ``.csv`` by suffix)."""
    return write_table(report.profiles, out)

"""Scoring on Spark: the model travels as text, each partition of customers is scored in Python.

The model is sent once to every executor as a broadcast :class:`ModelText` (JSON-ready metadata
and the LightGBM boosters as ``model_to_string`` text, never a pickled estimator); each executor
rebuilds it with ``build`` (once per Python worker) and scores its partition of the feature
matrix with ``mapInPandas``. The scores are the same numbers as scoring on one machine: the same
code (``build(...).predict_frame``) runs on the same feature rows.

``build`` is passed in (``OfferResponseModel.from_state`` from the workflow) so that this package
needs nothing from ``offerwise.models``; on a cluster, ``offerwise`` must be installed on the
executors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import pandas as pd

from offerwise._io import FolderKind
from offerwise.errors import InputError, require
from offerwise.vocab import EXTRAPOLATED_COLUMN, SCORE_COLUMNS, SCORE_ID_DTYPE

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "SUMMARY_COLUMNS",
    "ModelText",
    "Scorer",
    "score_on_spark",
    "write_scores_on_spark",
]


class Scorer(Protocol):
    """What ``build`` returns: scores (``SCORE_COLUMNS``, customer then offer) of rows ``X``."""

    def predict_frame(self, X: Any, customer_ids: Any) -> pd.DataFrame: ...


#: (metadata, {name: lightgbm.Booster}) -> a model that scores.
Builder = Callable[[dict[str, Any], dict[str, Any]], Scorer]


@dataclass(frozen=True, slots=True)
class ModelText:
    """A model as text: ``meta`` (JSON) and ``boosters`` {name: LightGBM model string}."""

    meta: str
    boosters: dict[str, str]

    @classmethod
    def from_state(cls, meta: dict[str, Any], boosters: dict[str, Any]) -> ModelText:
        """From a model's ``to_state()``: metadata and ``lightgbm.Booster`` objects by name."""
        return cls(
            meta=json.dumps(meta, default=_json_default),
            boosters={k: b.model_to_string() for k, b in boosters.items()},
        )

    def build(self, build: Builder) -> Scorer:
        """The model rebuilt from text (LightGBM boosters from their model strings)."""
        import lightgbm as lgb

        boosters = {k: lgb.Booster(model_str=s) for k, s in self.boosters.items()}
        return build(json.loads(self.meta), boosters)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON-serializable: {type(v).__name__}")


def _schema() -> str:
    num = ", ".join(f"{c} double" for c in SCORE_COLUMNS[2:])
    return f"_row long, customer_id string, offer_id string, {num}"


def _scores_frame(
    spark: SparkSession,
    customer_ids: pd.Series,
    X: np.ndarray,
    model: ModelText,
    build: Builder,
    partitions: int | None,
) -> tuple[DataFrame, Any]:
    """The lazy Spark frame of scores (``_row`` + ``SCORE_COLUMNS``) and the model's broadcast."""
    require("pyspark", "spark")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) != len(customer_ids):
        raise InputError(f"X must be (n, p) with n = {len(customer_ids)} rows; got {X.shape}")
    p = X.shape[1]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    frame.insert(0, "customer_id", customer_ids.astype(str).to_numpy(dtype=object))
    frame.insert(0, "_row", np.arange(len(frame), dtype=np.int64))
    parts = partitions or spark.sparkContext.defaultParallelism
    sdf = spark.createDataFrame(frame).repartition(max(1, int(parts)))
    shared = spark.sparkContext.broadcast(model)
    features = [f"x{i}" for i in range(p)]

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = shared.value.build(build)  # once per partition, from the broadcast text
        for b in batches:
            if not len(b):
                continue
            out = scorer.predict_frame(b[features].to_numpy(np.float64), b["customer_id"])
            k = len(out) // len(b)
            out.insert(0, "_row", np.repeat(b["_row"].to_numpy(np.int64), k))
            out["customer_id"] = out["customer_id"].astype(object)
            out["offer_id"] = out["offer_id"].astype(object)
            yield out

    return sdf.mapInPandas(score_batches, _schema()), shared


def score_on_spark(
    spark: SparkSession,
    customer_ids: pd.Series,
    X: np.ndarray,
    model: ModelText,
    build: Builder,
    *,
    partitions: int | None = None,
) -> pd.DataFrame:
    """Scores of the n customers ``customer_ids`` with features ``X`` (n, p), computed on Spark.

    Rows are split into ``partitions`` partitions (default: the session's default parallelism).
    Returns what ``build(...).predict_frame(X, customer_ids)`` returns on one machine: one row per
    customer x scored offer, :data:`~offerwise.vocab.SCORE_COLUMNS`, ordered by customer then offer.
    """
    scores, shared = _scores_frame(spark, customer_ids, X, model, build, partitions)
    try:
        got = scores.toPandas()
    finally:
        shared.unpersist()
    return _in_order(got)


#: What :func:`write_scores_on_spark` writes (an older one is known by Spark's ``_SUCCESS``).
SCORES_OUTPUT = FolderKind("scores", ("_SUCCESS",))

#: Columns of :func:`write_scores_on_spark`'s summary: per offer, rows and mean scores.
SUMMARY_COLUMNS = (
    "offer_id",
    "rows",
    "p_convert",
    "incremental_conversion",
    "expected_cost",
    "incremental_profit",
)


def write_scores_on_spark(
    spark: SparkSession,
    customer_ids: pd.Series,
    X: np.ndarray,
    model: ModelText,
    build: Builder,
    out: str | Path,
    *,
    partitions: int | None = None,
    extrapolated: list[str] | None = None,
) -> pd.DataFrame:
    """Score on Spark and let Spark write the scores to ``out``: a Parquet dataset folder
    partitioned by ``offer_id`` (``out/offer_id=X/part-*.parquet``, ``SCORE_COLUMNS`` without
    ``offer_id`` in the files, then ``extrapolated``: the offer is one of ``extrapolated``, as in
    a single-node scores file), written to a temporary folder beside ``out`` and renamed whole.
    Nothing but the per-offer summary (``SUMMARY_COLUMNS``) comes back to the driver.
    """
    from pyspark.sql import functions as F

    from offerwise._io import atomic_dir

    scores, shared = _scores_frame(spark, customer_ids, X, model, build, partitions)
    scores = scores.withColumn(
        EXTRAPOLATED_COLUMN, F.col("offer_id").isin(list(extrapolated or [])).cast("boolean")
    )
    out = Path(out)
    try:
        with atomic_dir(out, SCORES_OUTPUT) as tmp:
            target = tmp / "data"
            scores.drop("_row").write.partitionBy("offer_id").parquet(str(target))
            for f in target.iterdir():  # Spark's folder content moves up into the dataset folder
                f.rename(tmp / f.name)
            target.rmdir()
            summ = (
                spark.read.parquet(str(tmp))
                .groupBy("offer_id")
                .agg(
                    F.count(F.lit(1)).alias("rows"),
                    *[F.avg(c).alias(c) for c in SUMMARY_COLUMNS[2:]],
                )
            )
            got = cast(pd.DataFrame, summ.toPandas())
    finally:
        shared.unpersist()
    got["rows"] = got["rows"].astype(np.int64)
    return got.sort_values("offer_id").reset_index(drop=True)[list(SUMMARY_COLUMNS)]


def _in_order(got: pd.DataFrame) -> pd.DataFrame:
    """Collected scores back in the single-machine order (customer, then offer as produced)."""
    got = got.reset_index(drop=True)
    got["_k"] = got.groupby("_row").cumcount()
    got = got.sort_values(["_row", "_k"], kind="stable").drop(columns=["_row", "_k"])
    got = got.reset_index(drop=True)
    for c in ("customer_id", "offer_id"):
        got[c] = got[c].astype(SCORE_ID_DTYPE)
    return got[list(SCORE_COLUMNS)]

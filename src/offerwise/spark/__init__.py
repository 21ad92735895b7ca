"""Apache Spark engine: the same feature SQL, the same models per partition, the same budget price.

PySpark is an optional dependency (extra ``spark``) imported on first use; it needs Java 17+.
:mod:`.session` builds a local or cluster ``SparkSession``; :mod:`.features` registers the
contract tables of a Parquet data directory as temp views and runs
:func:`offerwise.features.engine.feature_sql` with ``dialect="spark"``; :mod:`.scoring` scores
customers per partition (``mapInPandas``) with the model broadcast as LightGBM model strings;
:mod:`.allocate` finds the budget price by distributed bisection. See ``docs/spark.md``.
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "ENGINES": "session",
    "SparkConfig": "session",
    "check_engine": "session",
    "spark_session": "session",
    "register_contract": "features",
    "spark_features": "features",
    "spark_cutoff_features": "features",
    "spark_profile_features": "features",
    "spark_row_counts": "features",
    "ModelText": "scoring",
    "score_on_spark": "scoring",
    "write_scores_on_spark": "scoring",
    "SparkAllocation": "allocate",
    "allocate_on_spark": "allocate",
    "spark_allocator": "allocate",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

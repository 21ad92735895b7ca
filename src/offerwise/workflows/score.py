"""``offerwise score``: every customer x menu offer -> conversion, revenue, cost, incremental
profit.

Every customer of the ``customers`` table gets features as of ``as_of`` (default: the day after the
last transaction or exposure) and one row per scored menu offer (not ``none``). Menu offers without
enough exposures for a model of their own are scored from their attributes when the model has
the menu's structure (column ``extrapolated`` True; a plan offers them only when the rules allow
extrapolated offers), otherwise *skipped*: the model card lists them with the reason and the
scores have no rows for them (a planner then never assigns them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from offerwise._io import check_replaceable, table_dest_problem, write_table
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import InputError
from offerwise.features.model_inputs import customer_features
from offerwise.models.persist import LoadedModel, load_model
from offerwise.vocab import EXTRAPOLATED_COLUMN, SCORE_COLUMNS, default_as_of, parse_as_of
from offerwise.workflows._common import DataArg, Progress, as_of_warnings, note, open_data

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.spark.session import SparkConfig

__all__ = ["ScoreResult", "score", "shop_mismatch"]

#: Below this share of the model's sampled training customers found in the data, warn.
MIN_KNOWN_SHARE = 0.5


@dataclass(slots=True)
class ScoreResult:
    """Scores (one row per customer x scored offer), what was skipped, and warnings."""

    scores: pd.DataFrame
    as_of: pd.Timestamp
    skipped_offers: list[dict[str, str]]
    out: Path | None = None
    #: offers scored from their attributes (too few exposures): id and reason
    extrapolated_offers: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    customer_ids: pd.Series | None = None  # (n,) every customer scored, in the order of features
    features: np.ndarray | None = None  # (n, p) the model's features as of ``as_of``
    #: per offer: rows and mean scores (``spark.scoring.SUMMARY_COLUMNS``) when Spark wrote a
    #: partitioned scores folder (``scores`` is then empty); None otherwise
    by_offer: pd.DataFrame | None = None


def known_share(ds: DataSet, customer_ids: pd.Series, sample: list[str]) -> float:
    """Share of the hashes in ``sample`` (:func:`~offerwise.workflows.train.hash_id`) that are
    hashes of ``customer_ids``: SHA-256 in DuckDB, vectorized (hashing 1M ids in Python took
    3.5 s of a score)."""
    con = ds.con.cursor()  # its own connection: a result pending on ``ds.con`` stays untouched
    con.register("ow_scored_ids", pd.DataFrame({"id": customer_ids.astype(str).to_numpy()}))
    con.register("ow_sample", pd.DataFrame({"h": pd.Series(sample, dtype=str)}))
    try:
        row = con.execute(
            "SELECT COUNT(*) FROM ow_sample WHERE h IN "
            "(SELECT substr(sha256(id), 1, 8) FROM ow_scored_ids)"
        ).fetchone()
    finally:
        con.close()
    return float(row[0] if row else 0) / len(sample)


def shop_mismatch(lm: LoadedModel, ds: DataSet, customer_ids: pd.Series) -> list[str]:
    """Warnings when ``ds`` does not look like the shop ``lm`` was trained on.

    Two checks: the share of the model's sampled training customers (hashed ids) that are in the
    data's customers table, and offers of the data's menu that the model does not know.
    """
    out: list[str] = []
    sample = lm.meta.get("customer_sample") or []
    if sample:
        share = known_share(ds, customer_ids, sample)
        if share < MIN_KNOWN_SHARE:
            out.append(
                f"{ds.root}: only {share:.0%} of the customers {lm.path} was trained on are in "
                f"this data: it looks like another shop (model data fingerprint "
                f"{lm.meta.get('data_fingerprint')}, this data {ds.fingerprint}); its scores "
                "transfer only if the shops' customers respond alike"
            )
    if ds.has("offers"):
        menu = {str(o) for o in ds.frame("offers")["offer_id"]}
        new = sorted(menu - {str(o) for o in lm.meta.get("offers", [])})
        if new:
            out.append(
                f"{ds.root}: offer(s) {', '.join(new[:5])} are not in the model's menu and "
                "are not scored; retrain to include them"
            )
    return out


def score(
    model: str | Path | LoadedModel,
    data: DataArg,
    *,
    out: str | Path | None = None,
    as_of: object = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    computed: pd.DataFrame | None = None,
    engine: str = "duckdb",
    spark: SparkConfig | None = None,
    partitioned: bool = False,
) -> ScoreResult:
    """Score every customer of ``data`` with ``model``; write Parquet/CSV to ``out`` if given.

    ``partitioned`` (Spark only): Spark writes ``out`` as a Parquet dataset folder partitioned by
    ``offer_id`` and only the per-offer summary (``ScoreResult.by_offer``) comes back; ``scores``
    is then empty.

    ``computed``: transaction features of every customer at ``as_of`` already computed (a profile
    of the same date, as ``plan`` has), reused instead of recomputed. ``engine="spark"``: after
    DuckDB's validation, the features are computed by Spark SQL and the customers scored on Spark
    (the model broadcast as LightGBM model strings, one ``mapInPandas`` pass; session from
    ``spark``); the feature matrix is assembled on the driver.
    """
    from offerwise.spark.session import check_engine

    settings = settings or default_settings()
    engine = check_engine(engine)
    if partitioned and (engine != "spark" or out is None):
        raise InputError("a partitioned scores folder is written by Spark: use --engine spark")
    if out is not None:  # before any work: a bad destination costs nothing
        if partitioned:
            from offerwise.spark.scoring import SCORES_OUTPUT

            check_replaceable(Path(out), SCORES_OUTPUT)
        elif problem := table_dest_problem(out):
            raise InputError(problem)
    lm = model if isinstance(model, LoadedModel) else load_model(model)
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers",))
    note(progress, "computing customer features")
    if engine == "spark" and computed is None:
        from offerwise.spark.features import spark_profile_features

        when = parse_as_of(as_of, "as_of") if as_of is not None else default_as_of(ds)
        computed = spark_profile_features(ds, when.to_pydatetime(), settings=settings, config=spark)
        as_of = when
    ids, X, ts = customer_features(
        ds, lm.features, as_of=as_of, settings=settings, computed=computed
    )
    warns = shop_mismatch(lm, ds, ids) + ([] if as_of is None else as_of_warnings(ds, ts))
    note(progress, f"scoring {len(ids)} customers as of {ts.date()}")
    by_offer: pd.DataFrame | None = None
    if not len(X):
        df = pd.DataFrame(columns=list(SCORE_COLUMNS))
    elif engine == "spark":
        from offerwise.models.response import OfferResponseModel
        from offerwise.spark.scoring import ModelText, score_on_spark
        from offerwise.spark.session import spark_session

        text = ModelText.from_state(*lm.model.to_state())
        session, build = spark_session(spark), OfferResponseModel.from_state
        if partitioned and out is not None:
            from offerwise.spark.scoring import write_scores_on_spark

            by_offer = write_scores_on_spark(
                session, ids, X, text, build, out, extrapolated=lm.model.extrapolated_offers()
            )
            df = pd.DataFrame(columns=list(SCORE_COLUMNS))
        else:
            df = score_on_spark(session, ids, X, text, build)
    else:
        df = lm.model.predict_frame(X, ids)
    if by_offer is None:
        df[EXTRAPOLATED_COLUMN] = df["offer_id"].isin(lm.model.extrapolated_offers())
    if out is not None and by_offer is None:
        write_table(df, out)
    return ScoreResult(
        scores=df,
        as_of=ts,
        skipped_offers=list(lm.model.skipped_),
        extrapolated_offers=list(getattr(lm.model, "extrapolated_", [])),
        out=None if out is None else Path(out),
        warnings=warns,
        customer_ids=ids,
        features=X,
        by_offer=by_offer,
    )

"""``offerwise train``: learn each offer's incremental effect from the logged exposures.

Exposures get features as of their own ``ts`` (point in time, from transactions before ``ts`` plus
customer attributes). The candidate configurations of ``--tune`` are cross-fitted (3 folds by
customer) and one is chosen by its out-of-fold plan value (:mod:`offerwise.workflows.tune`); it is
refitted on every exposure and saved with :func:`offerwise.models.persist.save_model`, with its
out-of-fold predictions (``oof.parquet``: the card's metrics and the plan's honest value check).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offerwise._io import check_replaceable
from offerwise.config import Settings, default_settings
from offerwise.data.exposures import load_exposures
from offerwise.errors import InputError
from offerwise.evaluation.identification import Identification, fill_propensities
from offerwise.evaluation.model_metrics import holdout_metrics
from offerwise.features.affinity import CategoryFactors, category_counts
from offerwise.features.model_inputs import FeatureSpec, build_features
from offerwise.models.defaults import DEFAULT_BAGS, DEFAULT_PROFIT
from offerwise.models.introspect import feature_importance
from offerwise.models.offer_attributes import offer_specs
from offerwise.models.persist import MODEL_OUTPUT, save_model
from offerwise.models.response import POOLED
from offerwise.report.tables import curves_table
from offerwise.vocab import AFFINITY, NO_OFFER
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.crossfit import CrossFit, Refit
from offerwise.workflows.identify import identify
from offerwise.workflows.tune import (
    N_FOLDS,
    TuneResult,
    oof_cost_calibration,
    oof_min_gain,
    tune,
)

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.data.contract import DataSet
    from offerwise.spark.session import SparkConfig

__all__ = ["CUSTOMER_SAMPLE", "TrainResult", "check_enough_treated", "customer_sample", "train"]

#: How many (hashed) customer ids a model keeps to recognise its shop when scoring.
CUSTOMER_SAMPLE = 500


@dataclass(slots=True)
class TrainResult:
    """What ``train`` did: where the model went, its card, and timings in seconds."""

    model_dir: Path
    card: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    identification: Identification | None = None  # can the logs identify the effects?
    tuning: TuneResult | None = None  # the candidates tried, the choice, out-of-fold predictions


def oof_table(ex: pd.DataFrame, oof: CrossFit) -> pd.DataFrame:
    """The exposures' out-of-fold predictions as saved (``oof.parquet``): ``row`` (position in the
    exposures table), ``customer_id``, ``fold`` and ``q:<arm>`` (expected net profit of each arm,
    ``none`` first, from a model that never saw that customer)."""
    out = pd.DataFrame(
        {
            "row": np.arange(len(ex), dtype=np.int64),
            "customer_id": ex["customer_id"].astype(str).to_numpy(),
            "fold": oof.fold,
        }
    )
    for j, a in enumerate(oof.arms):
        out[f"q:{a}"] = oof.q[:, j]
    return out


def hash_id(customer_id: str) -> str:
    """A short, stable hash of a customer id (8 hex digits of SHA-256): kept instead of the id."""
    return hashlib.sha256(customer_id.encode()).hexdigest()[:8]


def customer_sample(ids: pd.Series, k: int = CUSTOMER_SAMPLE) -> list[str]:
    """Hashes of up to ``k`` distinct customer ids (the smallest hashes: the same for any order)."""
    hashes = sorted({hash_id(str(c)) for c in ids.unique()})
    return hashes[:k]


def _embeddings_card(spec: FeatureSpec) -> dict[str, Any] | None:
    """What the card says about the sequence embeddings (None without them)."""
    enc = spec.sequence
    if enc is None:
        return None
    return {
        "kind": "seq",
        "dim": enc.dim,
        "fit_before": enc.fit_before,
        "categories": len(enc.vocab),
        "max_len": enc.max_len,
        "loss": enc.loss,
        "baseline_loss": enc.baseline_loss,
        "seconds": enc.seconds,
        "note": "a GRU over each customer's orders, trained to predict the next order's "
        "categories on orders before the first exposure only",
    }


def _affinity_card(spec: FeatureSpec) -> dict[str, Any]:
    """What the card says about the customer x category affinity features."""
    f = spec.affinity
    if f is None:
        return {"kind": "share", "categories": list(spec.category_shares)}
    return {
        "kind": "cf",
        "categories": spec.affinity_categories(),
        "n_factors": f.n_factors,
        "n_categories": len(f.categories),
        "fitted_before": f.fitted_before,
        "window_days": f.window_days,
        "note": "ALS (implicit) on every customer's orders per category in the window before the "
        "first exposure; each row's user factor folded in from its own orders before its as_of",
    }


def category_factors(
    ds: DataSet, before: pd.Timestamp, window_days: int, seed: int
) -> CategoryFactors | None:
    """ALS item factors of every product category, fitted on all customers' orders per category
    in ``[before - window_days, before)`` (``offerwise recommend``'s category-level ALS settings);
    None when no order in that window has a category."""
    from offerwise.recommend.cf import fit_cf
    from offerwise.recommend.methods import default_params

    if not (ds.has("transactions") and ds.has("products")):
        raise InputError(
            f"{ds.root}: --affinity cf needs the transactions and products tables (the orders "
            "per product category)"
        )
    cats = sorted(
        str(r[0])
        for r in ds.con.execute(
            "SELECT DISTINCT CAST(category AS VARCHAR) FROM products "
            "WHERE NULLIF(TRIM(CAST(category AS VARCHAR)), '') IS NOT NULL"
        ).fetchall()
    )
    ids = ds.frame("customers")["customer_id"].astype(str)
    cut = pd.DataFrame({"customer_id": ids, "as_of": before})
    counts = category_counts(ds, cut, cats, window_days)
    if not cats or counts.nnz == 0:
        return None
    # at most half as many factors as categories: a simulated shop has only a handful, and as
    # many factors as categories would only reproduce each customer's own counts
    base = default_params("category").als
    params = replace(base, factors=max(1, min(base.factors, len(cats) // 2)))
    fac = fit_cf("als", counts.tocsr(), params, seed=seed, threads=1)
    return CategoryFactors(
        categories=cats,
        item=fac.item,
        alpha=params.alpha,
        regularization=params.regularization,
        fitted_before=pd.Timestamp(before).isoformat(),
        window_days=int(window_days),
    )


def check_enough_treated(offer_id: pd.Series, menu: list[str], min_treated: int) -> None:
    """InputError, before any work, when no offer of ``menu`` has ``min_treated`` exposures in
    ``offer_id`` (the logged offer of each exposure): no offer would get a model of its own, and
    every other offer's scores are extrapolated from those. Names each offer's count."""
    counts = offer_id.astype(str).value_counts()
    n = {o: int(counts.get(o, 0)) for o in menu}
    if max(n.values(), default=0) >= min_treated:
        return
    shown = ", ".join(f"{o} {k:,}" for o, k in sorted(n.items(), key=lambda kv: -kv[1])[:10])
    raise InputError(
        f"exposures: too few to learn from: an offer needs at least {min_treated} logged "
        f"exposures ({_cross_fit_need(min_treated)} with cross-fitting, whose folds each learn "
        f"from {N_FOLDS - 1} in {N_FOLDS} of them), and the most logged has "
        f"{max(n.values(), default=0):,} "
        f"({shown}; {int(counts.get(NO_OFFER, 0)):,} with no offer). Log more exposures: a "
        "campaign that offers each menu offer to random customers, with each one's probability "
        "in 'propensity' (once a model exists, `offerwise plan --explore 0.2` does this)"
    )


def _cross_fit_need(min_treated: int) -> int:
    return int(np.ceil(min_treated * N_FOLDS / (N_FOLDS - 1)))


def train(
    data: DataArg,
    out: str | Path,
    *,
    learner: str | None = None,
    profit: str | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
    tune_mode: str = "fast",
    min_treated: int = 50,
    propensity_clip: tuple[float, float] = (0.01, 0.99),
    n_estimators: int | None = None,
    min_child_samples: int | None = None,
    n_bags: int | None = None,
    progress: Progress | None = None,
    engine: str = "duckdb",
    spark: SparkConfig | None = None,
    embeddings: str = "none",
    affinity: str = "share",
) -> TrainResult:
    """Fit the response model on ``data``'s exposures and save it to ``out`` (a model directory).

    ``tune_mode``: ``off`` | ``fast`` | ``full`` (:mod:`offerwise.workflows.tune`); ``learner``,
    ``min_child_samples`` and ``n_estimators`` pin those settings (the rest is still tuned).
    ``engine="spark"``: the training rows' transaction features (every exposure at its own
    ``ts``) are computed by Spark SQL (session from ``spark``) and collected; the fit runs here.
    ``embeddings="seq"``: a customer sequence encoder is fitted on the orders before the first
    exposure and its embedding added to the features (:mod:`offerwise.embed`; extra ``deep``).
    ``affinity="cf"``: category-scoped offers also get the collaborative-filtering affinity of
    the customer for the category (:mod:`offerwise.features.affinity`; extra ``recommend``).
    """
    if affinity not in AFFINITY:
        raise InputError(f"--affinity {affinity!r}: use one of {', '.join(AFFINITY)}")
    # before the work: a user's folder (or another kind of output) is never replaced
    check_replaceable(Path(out), MODEL_OUTPUT)
    from offerwise.spark.session import check_engine

    engine = check_engine(engine)
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    learner = learner.lower() if learner else None
    profit = profit or DEFAULT_PROFIT
    pin = {
        k: v
        for k, v in (("min_child_samples", min_child_samples), ("n_estimators", n_estimators))
        if v is not None
    }
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "offers", "exposures"))
    offers = ds.frame("offers")
    offers["offer_id"] = offers["offer_id"].astype(str)
    menu = [o for o in offers["offer_id"] if o != NO_OFFER]
    ex = load_exposures(ds, menu)
    check_enough_treated(ex["offer_id"], menu, min_treated)
    timings["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    note(progress, f"computing features for {len(ex)} exposures ({engine})")
    cutoffs = ex[["customer_id", "ts"]].rename(columns={"ts": "as_of"})
    computed = None
    if engine == "spark" and ds.has("transactions"):
        from offerwise.spark.features import spark_cutoff_features

        computed = spark_cutoff_features(ds, cutoffs, settings=settings, config=spark)
    if embeddings != "none":
        note(progress, f"fitting {embeddings} embeddings on the orders before the first exposure")
    factors = None
    if affinity == "cf":
        note(progress, "fitting category affinity (ALS) on the orders before the first exposure")
        factors = category_factors(
            ds, pd.Timestamp(cutoffs["as_of"].min()), settings.feature_window_days, seed
        )
    X, spec = build_features(
        ds, cutoffs, settings, computed=computed, embeddings=embeddings, affinity=factors
    )
    timings["features"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    note(progress, "checking what the logs can identify (overlap, balance, placebo)")
    ident = identify(ds, ex, X, spec, menu, settings=settings, seed=seed)
    timings["diagnostics"] = time.perf_counter() - t1

    prop = ex["propensity"].to_numpy(dtype=np.float64) if "propensity" in ex.columns else None
    # mixed logs: the rows without a logged propensity get an estimate (the learners that weight
    # by it and the tuning's DR values use every row; the plan's check uses the logged rows)
    arm_code = {a: i for i, a in enumerate([NO_OFFER, *menu])}
    prop, n_filled = fill_propensities(
        prop,
        X,
        ex["offer_id"].astype(str).map(arm_code).to_numpy(dtype=np.int64),
        len(arm_code),
        seed=seed,
        threads=settings.threads,
    )
    model_kwargs: dict[str, Any] = {
        "profit": profit,
        "min_treated": min_treated,
        "n_bags": DEFAULT_BAGS if n_bags is None else n_bags,
        "propensity_clip": propensity_clip,
        "n_jobs": settings.threads,
        "random_state": seed,
    }
    t2 = time.perf_counter()
    ex = ex.reset_index(drop=True)
    # the saved model: the chosen candidate refitted on every exposure (the default's refit runs
    # beside the cross-fitting, see tune)
    tuned = tune(
        tune_mode,
        X,
        ex,
        menu,
        model_kwargs=model_kwargs,
        propensity=prop,
        seed=seed,
        threads=settings.threads,
        learner=learner,
        progress=progress,
        pin=pin,
        refit=Refit(feature_names=list(spec.columns), offer_specs=offer_specs(offers)),
    )
    assert tuned.model is not None
    model = tuned.model
    if n_filled:
        mixed = f"logged on {len(ex) - n_filled:,} rows, estimated on {n_filled:,} (mixed logs)"
        model.propensity_ = replace(model.propensity_, source=mixed)
        tuned.pscore_source = f"{mixed}; estimates out of fold"
    chosen = tuned.chosen
    timings["cross_fit"] = time.perf_counter() - t2  # with the refit of the saved model
    timings["fit"] = tuned.refit_seconds  # that refit's own time (beside the folds, or after)

    t3 = time.perf_counter()
    note(progress, f"out-of-fold metrics on {len(ex):,} exposures")
    metrics: dict[str, Any] = holdout_metrics(tuned.oof.scores, ex, propensity=prop)
    cost_cal = oof_cost_calibration(ex, tuned, seed)
    min_gain = oof_min_gain(ex, tuned)
    timings["metrics"] = time.perf_counter() - t3
    extra_tables = {"feature_importance": feature_importance(model, list(spec.columns))}
    curve_src = metrics.pop("_curves", {})
    if curve_src:
        extra_tables["uplift_curves"] = curves_table(curve_src)

    warns = [p.render() for p in getattr(ds, "warnings", [])]
    if affinity == "cf" and not spec.affinity_categories():
        warns.append(
            "--affinity cf: no offer of the menu is scoped to a named category (rec:N templates "
            "use the past share only), so no affinity feature was added"
        )
    warns += [f"offer {s['offer_id']} skipped: {s['reason']}" for s in model.skipped_]
    warns += [
        f"offer {s['offer_id']} extrapolated ({s['reason']}); plan offers it only with the rule "
        "allow_extrapolated_offers = true"
        for s in model.extrapolated_
    ]
    for w in warns:
        warnings.warn(w, stacklevel=2)
    card = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "learner": chosen.learner,
        "profit": profit,
        "n_bags": int(model.n_bags) if chosen.learner == POOLED else None,
        "min_child_samples": chosen.min_child_samples,
        "num_leaves": chosen.num_leaves,
        "n_estimators": chosen.n_estimators,
        "seed": seed,
        "n_exposures": int(len(ex)),
        "n_train": int(len(ex)),
        "n_holdout": int(len(ex)),
        "metrics_source": (
            f"out of fold: {tuned.n_folds} folds by customer, each predicted by a model fitted "
            "on the other folds; the saved model is refit on all exposures"
        ),
        "tuning": tuned.to_dict(),
        "cost_calibration": cost_cal.to_dict(),
        "min_gain": min_gain.to_dict(),
        "features": spec.columns,
        "features_engine": engine,
        "embeddings": _embeddings_card(spec),
        "affinity": _affinity_card(spec),
        "offers": menu,
        "scored_offers": list(model.offers_),
        "skipped_offers": list(model.skipped_),
        "extrapolated_offers": list(model.extrapolated_),
        "n_treated": dict(model.n_treated_),
        "n_control": int(model.n_control_),
        "propensity": {
            "source": model.propensity_.source,
            "clip_low": model.propensity_.clip_low,
            "clip_high": model.propensity_.clip_high,
            "n_rows": model.propensity_.n_rows,
            "n_clipped": model.propensity_.n_clipped,
        },
        "holdout": metrics,
        "warnings": warns,
        "identification": ident.to_dict(),
    }
    note(progress, "saving model")
    out_path = save_model(
        out,
        model,
        features=spec,
        offers=offers,
        data_fingerprint=ds.fingerprint,
        card=card,
        extra={
            "seed": seed,
            "customer_sample": customer_sample(ex["customer_id"]),
        },
        tables={"oof": oof_table(ex, tuned.oof), **extra_tables},
        audit=(
            tuned.oof.audit,
            {
                "audit_fold": int(tuned.oof.fold.min()),
                "role": "audit: fitted without the "
                "customers of its fold, it re-makes a plan and checks it on their exposures",
            },
        ),
    )
    timings["total"] = time.perf_counter() - t0
    card["timings"] = timings
    return TrainResult(
        model_dir=out_path,
        card=card,
        timings=timings,
        identification=ident,
        tuning=tuned,
    )

"""``offerwise train``: learn each offer's incremental effect from the logged exposures.

Exposures get features as of their own ``ts`` (point in time, from transactions before ``ts`` plus
customer attributes); a seeded random ``holdout_fraction`` of exposures is held out for the model
card's metrics; the model is fitted on the rest and saved with
:func:`offerwise.models.persist.save_model`.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.data.exposures import load_exposures
from offerwise.errors import InputError
from offerwise.evaluation.identification import Identification
from offerwise.evaluation.model_metrics import holdout_metrics
from offerwise.features.model_inputs import build_features
from offerwise.models.defaults import (
    DEFAULT_BAGS,
    DEFAULT_LEARNER,
    DEFAULT_MIN_CHILD_SAMPLES,
    DEFAULT_PROFIT,
)
from offerwise.models.introspect import feature_importance
from offerwise.models.persist import save_model
from offerwise.models.response import POOLED, OfferResponseModel
from offerwise.report.tables import curves_table
from offerwise.vocab import NO_OFFER
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.identify import identify

__all__ = ["CUSTOMER_SAMPLE", "TrainResult", "customer_sample", "train"]

#: How many (hashed) customer ids a model keeps to recognise its shop when scoring.
CUSTOMER_SAMPLE = 500


@dataclass(slots=True)
class TrainResult:
    """What ``train`` did: where the model went, its card, and timings in seconds."""

    model_dir: Path
    card: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None  # the held-out exposure rows (contract columns)
    identification: Identification | None = None  # can the logs identify the effects?


def hash_id(customer_id: str) -> str:
    """A short, stable hash of a customer id (8 hex digits of SHA-256): kept instead of the id."""
    return hashlib.sha256(customer_id.encode()).hexdigest()[:8]


def customer_sample(ids: pd.Series, k: int = CUSTOMER_SAMPLE) -> list[str]:
    """Hashes of up to ``k`` distinct customer ids (the smallest hashes: the same for any order)."""
    hashes = sorted({hash_id(str(c)) for c in ids.unique()})
    return hashes[:k]


def train(
    data: DataArg,
    out: str | Path,
    *,
    learner: str | None = None,
    profit: str | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
    holdout_fraction: float = 0.2,
    min_treated: int = 50,
    propensity_clip: tuple[float, float] = (0.01, 0.99),
    n_estimators: int = 150,
    min_child_samples: int = DEFAULT_MIN_CHILD_SAMPLES,
    n_bags: int | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit the response model on ``data``'s exposures and save it to ``out`` (a model directory)."""
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    learner = (learner or DEFAULT_LEARNER).lower()
    profit = profit or DEFAULT_PROFIT
    if not 0 <= holdout_fraction < 1:
        raise InputError(f"holdout_fraction must be in [0, 1); got {holdout_fraction}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "offers", "exposures"))
    offers = ds.frame("offers")
    offers["offer_id"] = offers["offer_id"].astype(str)
    menu = [o for o in offers["offer_id"] if o != NO_OFFER]
    ex = load_exposures(ds, menu)
    timings["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    note(progress, f"computing features for {len(ex)} exposures")
    X, spec = build_features(
        ds, ex[["customer_id", "ts"]].rename(columns={"ts": "as_of"}), settings
    )
    timings["features"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    note(progress, "checking what the logs can identify (overlap, balance, placebo)")
    ident = identify(ds, ex, X, spec, menu, settings=settings, seed=seed)
    timings["diagnostics"] = time.perf_counter() - t1

    rng = np.random.default_rng(seed)
    hold = rng.random(len(ex)) < holdout_fraction
    if holdout_fraction > 0 and (hold.all() or not hold.any()):
        hold[:] = False
    fit_rows = ~hold
    prop = ex["propensity"].to_numpy(dtype=np.float64) if "propensity" in ex.columns else None

    t2 = time.perf_counter()
    note(progress, f"fitting {learner.upper()}-learner models ({profit} profit)")
    model = OfferResponseModel(
        learner=learner,
        profit=profit,
        n_estimators=n_estimators,
        min_treated=min_treated,
        min_child_samples=min_child_samples,
        n_bags=DEFAULT_BAGS if n_bags is None else n_bags,
        propensity_clip=propensity_clip,
        n_jobs=settings.threads,
        random_state=seed,
    )
    exf = ex[fit_rows]
    model.fit(
        X[fit_rows],
        exf["offer_id"],
        exf["converted"],
        exf["revenue"],
        exf["discount_cost"],
        exf["gross_profit"],
        menu=menu,
        propensity=None if prop is None else prop[fit_rows],
        feature_names=spec.columns,
    )
    timings["fit"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    metrics: dict[str, Any] = {}
    if hold.any():
        note(progress, f"holdout metrics on {int(hold.sum())} exposures")
        metrics = holdout_metrics(
            model.predict(X[hold]),
            ex[hold].reset_index(drop=True),
            propensity=None if prop is None else prop[hold],
        )
    timings["metrics"] = time.perf_counter() - t3
    extra_tables = {"feature_importance": feature_importance(model, list(spec.columns))}
    curve_src = metrics.pop("_curves", {})
    if curve_src:
        extra_tables["uplift_curves"] = curves_table(curve_src)

    warns = [p.render() for p in getattr(ds, "warnings", [])]
    warns += [f"offer {s['offer_id']} skipped: {s['reason']}" for s in model.skipped_]
    for w in warns:
        warnings.warn(w, stacklevel=2)
    card = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "learner": learner,
        "profit": profit,
        "n_bags": int(model.n_bags) if learner == POOLED else None,
        "seed": seed,
        "n_exposures": int(len(ex)),
        "n_train": int(fit_rows.sum()),
        "n_holdout": int(hold.sum()),
        "holdout_fraction": holdout_fraction,
        "features": spec.columns,
        "offers": menu,
        "scored_offers": list(model.offers_),
        "skipped_offers": list(model.skipped_),
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
            "holdout_fraction": holdout_fraction,
            "customer_sample": customer_sample(ex["customer_id"]),
        },
        tables={
            "holdout": ex.loc[hold, ["customer_id", "offer_id", "ts"]].assign(
                row=np.flatnonzero(hold)
            ),
            **extra_tables,
        },
    )
    timings["total"] = time.perf_counter() - t0
    card["timings"] = timings
    return TrainResult(
        model_dir=out_path,
        card=card,
        timings=timings,
        holdout=ex[hold].reset_index(drop=True),
        identification=ident,
    )

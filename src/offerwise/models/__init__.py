"""Response and uplift models: meta-learners, propensities, the multi-offer model, train/score.

Names are imported lazily (LightGBM and scikit-learn load on first use).
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "TLearner": "metalearners",
    "XLearner": "metalearners",
    "DRLearner": "metalearners",
    "SharedBaseTLearner": "metalearners",
    "LEARNERS": "metalearners",
    "make_learner": "metalearners",
    "dr_pseudo_outcome": "metalearners",
    "estimate_propensities": "propensity",
    "complete_logged_propensities": "propensity",
    "pairwise_propensity": "propensity",
    "clip_propensities": "propensity",
    "OfferResponseModel": "response",
    "ResponseScores": "response",
    "SCORE_COLUMNS": "response",
    "FeatureSpec": "persist",
    "LoadedModel": "persist",
    "load_model": "persist",
    "save_model": "persist",
    "DEFAULT_LEARNER": "pipeline",
    "DEFAULT_PROFIT": "pipeline",
    "TrainResult": "pipeline",
    "ScoreResult": "pipeline",
    "build_features": "pipeline",
    "train": "pipeline",
    "score": "pipeline",
    "evaluate_plan": "pipeline",
    "EvaluateResult": "pipeline",
    "expected_rewards": "pipeline",
    "customer_features": "pipeline",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

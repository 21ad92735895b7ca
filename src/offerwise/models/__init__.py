"""Response and uplift models: meta-learners, propensities, the multi-offer model, persistence.

Estimators only: training and scoring from data sources live in :mod:`offerwise.workflows`.

Names are imported lazily (LightGBM loads on first use).
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
    "FeatureSpec": "offerwise.features.model_inputs",
    "LoadedModel": "persist",
    "load_model": "persist",
    "save_model": "persist",
    "DEFAULT_BAGS": "defaults",
    "DEFAULT_LEARNER": "defaults",
    "DEFAULT_PROFIT": "defaults",
    "expected_rewards": "introspect",
    "feature_importance": "introspect",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

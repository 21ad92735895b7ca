"""Recommendations: which categories or products each customer is likely to buy next.

Implicit-feedback collaborative filtering with ``implicit`` (ALS, BPR; extra ``recommend``),
popularity and buy-again baselines, their blend, ranking metrics, and cold start of products
nobody bought yet from text embeddings (:mod:`.coldstart`). Pure functions on a users x
items purchase matrix (:mod:`.interactions`); the workflow is
:mod:`offerwise.workflows.recommend`.
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "LEVELS": "interactions",
    "Interactions": "interactions",
    "build_interactions": "interactions",
    "check_level": "interactions",
    "item_purchases": "interactions",
    "relevant_matrix": "interactions",
    "CFParams": "cf",
    "Factors": "cf",
    "confidence": "cf",
    "fit_cf": "cf",
    "Neighbours": "coldstart",
    "NewOnly": "coldstart",
    "impute_factors": "coldstart",
    "nearest": "coldstart",
    "text_neighbours": "coldstart",
    "with_cold_items": "coldstart",
    "DEFAULT_METHOD": "methods",
    "METHODS": "methods",
    "MethodParams": "methods",
    "default_params": "methods",
    "fit_methods": "methods",
    "top_k": "methods",
    "RankingScores": "metrics",
    "coverage": "metrics",
    "explore_relevant": "metrics",
    "ranking_scores": "metrics",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Customer features (point-in-time SQL), segments, and the model's feature matrix."""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "CLV_HORIZON_DAYS": "engine",
    "FEATURE_COLUMNS": "columns",
    "EXTRA_COLUMNS": "columns",
    "FeatureSpec": "model_inputs",
    "build_features": "model_inputs",
    "customer_features": "model_inputs",
    "compute_features": "engine",
    "decision_feature_columns": "engine",
    "feature_sql": "engine",
    "profile": "engine",
    "SEGMENT_ORDER": "segments",
    "assign_segments": "segments",
    "cluster_customers": "segments",
    "segment_summary": "segments",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Customer features (point-in-time SQL), segments and the ``offerwise profile`` engine."""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "CLV_HORIZON_DAYS": "engine",
    "FEATURE_COLUMNS": "engine",
    "ProfileReport": "engine",
    "compute_features": "engine",
    "decision_feature_columns": "engine",
    "default_as_of": "engine",
    "feature_sql": "engine",
    "profile": "engine",
    "run_profile": "engine",
    "write_profile": "engine",
    "SEGMENT_ORDER": "segments",
    "assign_segments": "segments",
    "cluster_customers": "segments",
    "segment_summary": "segments",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

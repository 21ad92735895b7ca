"""Evaluation: uplift metrics, off-policy estimators and campaign A/B analysis.

Names are imported lazily on first access (scipy and the data contract load only when needed).
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # uplift
    "UpliftCurve": "uplift",
    "UpliftMetrics": "uplift",
    "oracle_score": "uplift",
    "perfect_curve": "uplift",
    "uplift_at_k": "uplift",
    "uplift_calibration": "uplift",
    "uplift_curve": "uplift",
    "uplift_metrics": "uplift",
    "uplift_metrics_by_offer": "uplift",
    # off-policy evaluation
    "ALL_ESTIMATORS": "ope",
    "DM": "ope",
    "DR": "ope",
    "IPW": "ope",
    "SNIPW": "ope",
    "DirectMethod": "ope",
    "DoublyRobust": "ope",
    "EstimateResult": "ope",
    "InverseProbabilityWeighting": "ope",
    "OffPolicyEstimator": "ope",
    "SelfNormalizedInverseProbabilityWeighting": "ope",
    "bootstrap_ratio": "ope",
    "build_ope_arrays": "ope",
    "check_ope_inputs": "ope",
    "evaluate_decisions": "ope",
    "importance_weights": "ope",
    # experiments
    "METRICS": "experiment",
    "CampaignAnalysis": "experiment",
    "LiftResult": "experiment",
    "ROIResult": "experiment",
    "RegressionStats": "experiment",
    "SRMCheck": "experiment",
    "SampleStats": "experiment",
    "analyze_campaign": "experiment",
    "campaign_outcomes": "experiment",
    "compare": "experiment",
    "srm_check": "experiment",
    # analysis of a launched plan
    "AnalyzeResult": "analyze",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

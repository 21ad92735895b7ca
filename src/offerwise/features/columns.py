"""Names of the profile's columns, shared by the feature SQL engine and the segment rules."""

from __future__ import annotations

__all__ = ["CATEGORY_SHARE_PREFIX", "EXTRA_COLUMNS", "FEATURE_COLUMNS"]

#: Numeric decision features computed from transactions (all defined for every customer).
FEATURE_COLUMNS: list[str] = [
    "recency_days",
    "frequency",
    "monetary",
    "avg_basket",
    "spend_trend",
    "tenure_days",
    "discount_share",
    "discount_order_share",
    "private_label_share",
    "top_brand_share",
    "top_category_share",
    "n_categories",
    "churn_risk",
    "clv_expected",
]
#: Other outputs: descriptive (text) or helper columns, not decision features.
EXTRA_COLUMNS: list[str] = [
    "spend_recent",
    "spend_previous",
    "top_brand",
    "top_category",
    "top_category_2",
    "top_category_3",
    "mean_gap_days",
]
#: Prefix of a customer's share of spend in one category (or template scope) over the feature
#: window: column ``category_share=<category>``.
CATEGORY_SHARE_PREFIX = "category_share="

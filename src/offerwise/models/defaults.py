"""Default learner settings, chosen by the benchmarks (``benchmarks/bench_uplift.py``,
docs/models.md)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_BAGS",
    "DEFAULT_LEARNER",
    "MIN_LEAF_SHARE",
    "DEFAULT_PROFIT",
    "default_min_child_samples",
]

#: Default learner and profit mode, chosen by ``benchmarks/bench_uplift.py`` (see docs/models.md).
DEFAULT_LEARNER = "ptb"
DEFAULT_PROFIT = "hurdle"
#: Minimum rows per LightGBM leaf as a share of the training rows (smooth effect surfaces; chosen
#: by ``benchmarks/bench_plan_value.py``, docs/models.md "Rows per leaf").
MIN_LEAF_SHARE = 0.01
#: Seed bags averaged in the pooled conversion model (learner ``ptb``; chosen by the benchmarks).
DEFAULT_BAGS = 3


def default_min_child_samples(n_rows: int) -> int:
    """Minimum rows per leaf for ``n_rows`` training exposures: :data:`MIN_LEAF_SHARE` of them
    (rounded), at least 20, so that a leaf holds the same share of the data at every
    size. A fixed 300 left a small shop's trees without a split (causalml's 4,000-row generator
    ranked at 0.70x its X-learner) and a large shop's too fine: at 100k exposures the former cap
    of 300 planned at a median 31.7 % of the oracle at a 10 % budget against 49.5 % with 1,000."""
    return max(20, round(n_rows * MIN_LEAF_SHARE))

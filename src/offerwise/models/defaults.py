"""Default learner settings, chosen by the benchmarks (``benchmarks/bench_uplift.py``,
docs/models.md)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_BAGS",
    "DEFAULT_LEARNER",
    "DEFAULT_MIN_CHILD_SAMPLES",
    "DEFAULT_PROFIT",
    "default_min_child_samples",
]

#: Default learner and profit mode, chosen by ``benchmarks/bench_uplift.py`` (see docs/models.md).
DEFAULT_LEARNER = "ptb"
DEFAULT_PROFIT = "hurdle"
#: Minimum rows per LightGBM leaf (smooth effect surfaces; chosen by the benchmark).
DEFAULT_MIN_CHILD_SAMPLES = 300
#: Seed bags averaged in the pooled conversion model (learner ``ptb``; chosen by the benchmarks).
DEFAULT_BAGS = 3


def default_min_child_samples(n_rows: int) -> int:
    """Minimum rows per leaf for ``n_rows`` training exposures: about 1 % of them, between 20
    and :data:`DEFAULT_MIN_CHILD_SAMPLES` (300 leaves a small shop's trees without a split: on
    causalml's 4,000-row generator the fixed 300 ranked at 0.70x its X-learner)."""
    return int(min(DEFAULT_MIN_CHILD_SAMPLES, max(20, n_rows // 100)))

"""Default learner settings, chosen by the benchmarks (``benchmarks/bench_uplift.py``,
docs/models.md)."""

from __future__ import annotations

__all__ = ["DEFAULT_BAGS", "DEFAULT_LEARNER", "DEFAULT_MIN_CHILD_SAMPLES", "DEFAULT_PROFIT"]

#: Default learner and profit mode, chosen by ``benchmarks/bench_uplift.py`` (see docs/models.md).
DEFAULT_LEARNER = "ptb"
DEFAULT_PROFIT = "hurdle"
#: Minimum rows per LightGBM leaf (smooth effect surfaces; chosen by the benchmark).
DEFAULT_MIN_CHILD_SAMPLES = 300
#: Seed bags averaged in the pooled conversion model (learner ``ptb``; chosen by the benchmarks).
DEFAULT_BAGS = 3

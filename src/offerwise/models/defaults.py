"""Default learner settings, chosen by the benchmarks (``benchmarks/bench_uplift.py``,
docs/models.md)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_BAGS",
    "DEFAULT_LEARNER",
    "DEFAULT_PROFIT",
    "default_min_child_samples",
]

#: Default learner and profit mode, chosen by ``benchmarks/bench_uplift.py`` (see docs/models.md).
DEFAULT_LEARNER = "ptb"
DEFAULT_PROFIT = "hurdle"
#: Seed bags averaged in the pooled conversion model (learner ``ptb``; chosen by the benchmarks).
DEFAULT_BAGS = 3


def default_min_child_samples(n_rows: int) -> int:
    """Minimum rows per leaf for ``n_rows`` training exposures: 1 % of them (``n_rows // 100``),
    at least 20, so that a leaf holds the same share of the data at every size. A fixed 300 left
    a small shop's trees without a split and a cap of 300 made a large shop's too fine (chosen by
    ``benchmarks/bench_plan_value.py``; docs/models.md "Rows per leaf")."""
    return max(20, n_rows // 100)

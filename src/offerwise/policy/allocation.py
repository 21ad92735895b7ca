"""What :func:`~offerwise.policy.allocate` takes besides arrays and what it returns.

:class:`FairnessGroups` (one offer-rate guardrail), :class:`Allocation` (the solved plan) and the
``DROP_*`` codes of :attr:`Allocation.dropped`. Imports nothing of ``offerwise.policy``, so the
rules compiler and the plan can use these names without loading the solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DROP_BUDGET",
    "DROP_CAP",
    "DROP_FAIRNESS",
    "DROP_NONE",
    "DROP_SEGMENT",
    "NONE",
    "Allocation",
    "FairnessGroups",
]

#: ``Allocation.choice`` of a customer who gets no offer.
NONE = -1
# Reasons why a customer was dropped by the final repair (``Allocation.dropped``).
DROP_NONE, DROP_BUDGET, DROP_CAP, DROP_SEGMENT, DROP_FAIRNESS = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class FairnessGroups:
    """One fairness guardrail: offer rates of the groups of ``name`` must satisfy
    min/max >= min_ratio.

    ``codes`` (n,) int: group index of each customer in [0, len(labels)), -1 = not counted
    (holdout, missing attribute). Rate of group g = offered customers / counted customers of g.
    """

    name: str
    codes: np.ndarray
    labels: tuple[str, ...]
    min_ratio: float


@dataclass
class Allocation:
    """Result of :func:`allocate`.

    ``choice`` (n,) int16: offer index or -1 (none). ``value``/``cost`` are totals over the
    treated customers computed in float64 from the inputs. ``lam`` is the budget price (value per
    currency unit of cost at the margin), ``lam_segment`` the effective per-segment prices.
    ``upper_bound`` is the Lagrangian (dual) bound on the optimum when only the budget binds, so
    ``(upper_bound - value) / upper_bound`` bounds the optimality gap; NaN with side constraints.
    """

    choice: np.ndarray
    lam: float
    lam_segment: np.ndarray
    mu_count: np.ndarray
    mu_spend: np.ndarray
    phi: dict[str, np.ndarray]
    value: float
    cost: float
    n_treated: int
    count_by_offer: np.ndarray
    spend_by_offer: np.ndarray
    value_by_offer: np.ndarray
    spend_by_segment: np.ndarray
    dropped: np.ndarray  # (n,) int8, DROP_* code of customers removed by the repair
    kernel: str
    rounds: int
    passes: float
    seconds: float
    upper_bound: float = math.nan
    binding: list[str] = field(default_factory=list)
    rates: dict[str, np.ndarray] = field(default_factory=dict)
    screened: float = 1.0  # share of rows solved exactly after screening (1 = all, no screening)

    @property
    def roi(self) -> float:
        """Incremental value per currency unit of expected cost (NaN when nothing is spent)."""
        return self.value / self.cost if self.cost > 0 else math.nan

"""Offer allocation: budgeted solver, business rules, holdout and the budget frontier."""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "Allocation": "allocation",
    "FairnessGroups": "allocation",
    "allocate": "solver",
    "kernel_name": "solver",
    "LPResult": "lp",
    "solve_lp": "lp",
    "assign_holdout": "holdout",
    "Rules": "rules",
    "CompiledRules": "rules",
    "compile_rules": "rules",
    "load_rules": "rules",
    "parse_rules": "rules",
    "Frontier": "frontier",
    "budget_frontier": "frontier",
    "plot_frontier": "frontier",
    "write_frontier": "frontier",
    "plan_frontier": "frontier",
    "PlanResult": "plan",
    "ScoreArrays": "plan",
    "scores_to_arrays": "plan",
    "solve_plan": "plan",
    "write_plan": "plan",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

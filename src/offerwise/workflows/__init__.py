"""Workflows: what each command does, end to end (load once, compute once, write atomically).

``cli.py`` parses arguments and prints; these functions do the work and return typed results.
They sit above every other layer: they may import ``data``, ``features``, ``models``, ``policy``,
``evaluation``, ``report`` and the simulator; nothing below imports them.
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "ProfileReport": "profile",
    "run_profile": "profile",
    "write_profile": "profile",
    "TrainResult": "train",
    "train": "train",
    "ScoreResult": "score",
    "score": "score",
    "PlanRun": "plan",
    "make_plan": "plan",
    "EvaluateResult": "evaluate",
    "evaluate_plan": "evaluate",
    "read_decisions": "evaluate",
    "SimulateResult": "simulate",
    "simulate_shop": "simulate",
    "DemoResult": "demo",
    "run_demo": "demo",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

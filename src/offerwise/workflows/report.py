"""``offerwise report``: read a model, plan, analysis and profiles; write the one-file HTML
report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from offerwise.config import Settings, default_settings
from offerwise.errors import InputError
from offerwise.report import build_report, load_inputs
from offerwise.vocab import menu_path, plan_model_dir

__all__ = ["ReportRun", "write_report"]


@dataclass(slots=True)
class ReportRun:
    """Where the report went, its size in bytes, and which files fed it."""

    path: Path
    bytes: int
    sources: dict[str, str]


def write_report(
    model: str | Path | None,
    out: str | Path,
    *,
    plan: str | Path | None = None,
    analysis: str | Path | None = None,
    profiles: str | Path | None = None,
    data: str | Path | None = None,
    settings: Settings | None = None,
    currency: str = "$",
    forecast: str | Path | None = None,
    elasticity: str | Path | None = None,
    categories: str | Path | None = None,
) -> ReportRun:
    """Build the report from files and write it atomically to ``out``; ``model`` None: the
    model directory ``plan``'s summary names (:func:`offerwise.vocab.plan_model_dir`)."""
    first = plan is not None and model is None and menu_path(plan).is_file()
    if model is None and not first:
        made_with = None if plan is None else plan_model_dir(plan)
        if made_with is None:
            why = "" if plan is None else f": {plan}'s summary names no model directory still there"
            raise InputError(f"--model MODEL_DIR is needed{why}")
        model = made_with
    inputs = load_inputs(
        model,
        plan=plan,
        analysis=analysis,
        profiles=profiles,
        customers=data,
        settings=settings or default_settings(),
        currency=currency,
        forecast=forecast,
        elasticity=elasticity,
        categories=categories,
    )
    path = build_report(inputs, out)
    return ReportRun(path=path, bytes=path.stat().st_size, sources=dict(inputs.sources))

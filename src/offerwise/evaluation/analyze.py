"""The result of ``offerwise analyze`` (:func:`offerwise.workflows.analyze.analyze_plan`):
a campaign's treatment-vs-holdout analysis with what it was computed from, and its JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from offerwise.errors import InputError
from offerwise.evaluation.experiment import CampaignAnalysis
from offerwise.vocab import parse_as_of


@dataclass
class AnalyzeResult:
    """The analysis plus what it was computed from (dates, files, fingerprint)."""

    analysis: CampaignAnalysis
    plan: str
    data: str
    start: pd.Timestamp
    end: pd.Timestamp | None
    pre_period_days: int
    expected_holdout_fraction: float
    data_fingerprint: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        from offerwise._version import __version__

        d = self.analysis.to_dict()
        d["warnings"] = list(self.warnings) + list(self.analysis.warnings)
        return {
            "campaign": {
                "plan": self.plan,
                "data": self.data,
                "start": self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(),
                "pre_period_days": self.pre_period_days,
                "expected_holdout_fraction": self.expected_holdout_fraction,
                "data_fingerprint": self.data_fingerprint,
                "version": __version__,
            },
            **d,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> AnalyzeResult:
        """Inverse of :meth:`to_dict` (the ``offerwise analyze --out`` JSON).

        The warnings come back inside ``analysis`` (``to_dict`` merges both lists), so a round
        trip writes the same JSON. :class:`InputError` when a key is missing or malformed.
        """
        camp = d.get("campaign") if isinstance(d, Mapping) else None
        if not isinstance(camp, Mapping):
            raise InputError(
                "campaign analysis: no 'campaign' block (plan, data, start, ...); "
                "is this the JSON of `offerwise analyze --out`?"
            )
        missing = [
            k for k in ("plan", "data", "start", "expected_holdout_fraction") if camp.get(k) is None
        ]
        if missing:
            raise InputError(f"campaign analysis: 'campaign' lacks {', '.join(map(repr, missing))}")
        end = camp.get("end")
        return cls(
            analysis=CampaignAnalysis.from_dict(d),
            plan=str(camp["plan"]),
            data=str(camp["data"]),
            start=parse_as_of(camp["start"], "campaign start"),
            end=None if end is None else parse_as_of(end, "campaign end"),
            pre_period_days=int(camp.get("pre_period_days") or 0),
            expected_holdout_fraction=float(camp["expected_holdout_fraction"]),
            data_fingerprint=str(camp.get("data_fingerprint") or ""),
        )


__all__ = ["AnalyzeResult"]

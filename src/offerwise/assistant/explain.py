"""``offerwise explain``: the plan and its caveats in plain words, every figure from its summary.

:class:`PlanFacts` reads the ``PLAN.summary.json`` sidecar (the keys it knows; the rest is
ignored). The model is given the figures already written out and asked to use only those;
:func:`check_explanation` then requires every number in its text to be one of the summary's (as
written, rounded to 0-2 decimals, or a share as a percent) and the UNVERIFIED label wherever the
summary says the profit is unverified. Otherwise :func:`template_explanation` is used instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from offerwise.assistant.backends import Backend, BackendError, Message
from offerwise.assistant.terms import MAX_CHARS, NUMBER_WORDS, numbers_in

__all__ = ["Explanation", "PlanFacts", "check_explanation", "explain_plan", "template_explanation"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CostFacts(_Loose):
    expected: float
    ci_low: float
    ci_high: float
    level: float
    p_over_budget: float
    planning_budget: float | None = None


class EstimateFacts(_Loose):
    value: float
    ci_low: float
    ci_high: float
    level: float
    n_rounds: int


class SensitivityFacts(_Loose):
    note: str = ""


class ClaimsFacts(_Loose):
    verdict: str | None = None
    verified: bool = True
    reasons: list[str] = []
    estimate: EstimateFacts | None = None
    estimate_note: str = ""
    experiment: str = ""
    explore_note: str = ""  # what the plan's exploration can detect (plans since 2026-12-02)
    sensitivity: SensitivityFacts | None = None


class FirstCampaignFacts(_Loose):
    """A plan made without a model (``offerwise plan`` without ``--model``)."""

    explore_share: float
    explore_note: str = ""
    redemption_rate: float = 1.0  # the share of offered customers assumed to redeem
    cost_if_all_redeem: float | None = None


class PlanFacts(_Loose):
    """The figures of a plan's summary sidecar that an explanation may use."""

    budget: float
    objective: str = "profit"
    n_customers: int
    n_treatment: int
    n_holdout: int
    n_offered: int | None = None  # treatment customers given an offer (summaries since 2026-12)
    expected_cost: float
    expected_incremental_profit: float
    holdout_fraction: float = 0.0
    as_of: str = ""
    explore: float = 0.0
    n_explore: int = 0
    cost: CostFacts | None = None
    claims: ClaimsFacts | None = None
    first_campaign: FirstCampaignFacts | None = None

    @property
    def unverified(self) -> bool:
        return (
            self.claims is not None
            and self.claims.verdict is not None
            and not (self.claims.verified)
        )


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float) -> str:
    return f"{x:.0%}"


def template_explanation(f: PlanFacts) -> str:
    """The plan in plain words from the summary alone (deterministic)."""
    day = f" as of {f.as_of[:10]}" if f.as_of else ""
    offered = (
        f"{f.n_treatment:,} may get an offer"
        if f.n_offered is None
        else f"{f.n_treatment:,} are in the treatment group ({f.n_offered:,} of them get an offer)"
    )
    lines = [
        f"The plan covers {f.n_customers:,} customers{day}: {offered} "
        f"and {f.n_holdout:,} ({_pct(f.holdout_fraction)}) are held out at random, so the "
        f"campaign's effect can be measured against them.",
        f"Budget {_money(f.budget)}; the model expects the discounts to cost "
        f"{_money(f.expected_cost)} and to add {_money(f.expected_incremental_profit)} of "
        f"incremental {'profit' if f.objective == 'profit' else 'revenue-led profit'} "
        f"(the model's own estimate).",
    ]
    fc = f.first_campaign
    if fc is not None:  # no model: a randomized first campaign, its profit unknown
        lines[1] = (
            f"There is no model yet: this is a first campaign of random offers, drawn for "
            f"{f.n_explore:,} customers (share {fc.explore_share:.2f} of the treatment group) so "
            f"that the first model can learn from them. Budget {_money(f.budget)}; "
            + (
                f"if every offered customer redeemed once the discounts would cost "
                f"{_money(f.expected_cost)}; "
                if fc.redemption_rate >= 1 or fc.cost_if_all_redeem is None
                else f"if {_pct(fc.redemption_rate)} of offered customers redeem once, as "
                f"assumed, the discounts are expected to cost {_money(f.expected_cost)} "
                f"({_money(fc.cost_if_all_redeem)} if all redeem; the service refuses "
                "redemptions past the budget); "
            )
            + "the incremental profit is unknown until the campaign is measured."
        )
        if fc.explore_note:
            lines.append(f"What these customers can show: {fc.explore_note}.".replace("..", "."))
        return "\n".join(lines)
    if f.cost is not None:
        c = f.cost
        lines.append(
            f"Calibrated on logged exposures, the true discount cost is expected at "
            f"{_money(c.expected)} ({_pct(c.level)} interval {_money(c.ci_low)} to "
            f"{_money(c.ci_high)}); the chance of exceeding the budget is {_pct(c.p_over_budget)}."
        )
    cl = f.claims
    if f.explore > 0:
        lines.append(f"{f.n_explore:,} customers get a random eligible offer, to keep learning.")
        if cl is not None and cl.explore_note:
            lines.append(f"What that exploration can show: {cl.explore_note}.".replace("..", "."))
    if cl is not None:
        if f.unverified:
            lines.append(
                f"UNVERIFIED: the model's identification verdict is {cl.verdict}, so the "
                "expected profit is the model's estimate and has not been checked."
            )
            lines += [f"- {r}" for r in cl.reasons]
        elif cl.verdict is not None:
            lines.append(f"The model's identification verdict is {cl.verdict}.")
        e = cl.estimate
        if e is not None:
            lines.append(
                f"Checked on {e.n_rounds:,} exposures the model did not fit, the plan's "
                f"incremental profit is {_money(e.value)} ({_pct(e.level)} interval "
                f"{_money(e.ci_low)} to {_money(e.ci_high)})."
            )
        if cl.experiment:
            lines.append(f"To verify: {cl.experiment}.".replace("..", "."))
        if cl.sensitivity is not None and cl.sensitivity.note:
            lines.append(f"Sensitivity: {cl.sensitivity.note}.".replace("..", "."))
    return "\n".join(lines)


def _keys(v: float) -> set[str]:
    """``v`` and ``100 v`` rounded to 0-2 decimals (half to even and half up), as number keys."""
    out = set()
    for x in (abs(v), abs(v) * 100):
        if not math.isfinite(x):
            continue
        for d in (0, 1, 2):
            up = Decimal(repr(x)).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
            for r in (round(x, d), float(up)):
                out.add(f"{r:.6f}".rstrip("0").rstrip("."))
    return out


def allowed_numbers(f: PlanFacts) -> set[str]:
    """Every way an explanation may write a summary figure (numbers inside the summary's own
    texts, such as dates and notes, count as figures of the summary)."""
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, bool) or node is None:
            return
        elif isinstance(node, int | float):
            keys.update(_keys(float(node)))
        elif isinstance(node, str):
            keys.update(k for n in numbers_in(node) for k in _keys(n.value))
        elif isinstance(node, list):
            for x in node:
                walk(x)

    walk(f)
    return keys


_WORDS = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)


def check_explanation(text: str, f: PlanFacts) -> list[str]:
    """Problems of a generated explanation (none: it may be shown)."""
    problems = []
    if not text.strip():
        return ["empty text"]
    if len(text) > 4 * MAX_CHARS:
        problems.append(f"longer than {4 * MAX_CHARS} characters")
    ok = allowed_numbers(f)
    for n in numbers_in(text):
        key = f"{round(n.value, 6):.6f}".rstrip("0").rstrip(".")
        if key not in ok:
            problems.append(f"number {n.text!r} is not in the plan's summary")
    summary_words = {w.lower() for w in _WORDS.findall(template_explanation(f))}
    for w in _WORDS.findall(text):
        if w.lower() not in summary_words:
            problems.append(f"number in words {w!r} cannot be checked")
    if f.unverified and "unverified" not in text.lower():
        problems.append("the summary says the profit is UNVERIFIED and the text does not")
    return problems


@dataclass(slots=True)
class Explanation:
    """The text shown, who wrote it, and why a model's text was replaced (``fallback``)."""

    text: str
    backend: str
    source: str  # "model" or "template"
    fallback: str = ""  # why the model's text was not used
    problems: list[str] = field(default_factory=list)
    raw: str = ""


SYSTEM = (
    "You explain a discount campaign plan to a shop manager in plain words, in at most 6 short "
    "sentences. Use only the figures given, copied exactly as written; write no other number "
    "and no number in words. Mention the caveats."
)


def explain_messages(f: PlanFacts) -> list[Message]:
    """The chat the model is given: the template's sentences are the facts to rephrase."""
    extra = (
        "\nThe profit is UNVERIFIED: your text must contain the word UNVERIFIED."
        if f.unverified
        else ""
    )
    return [
        Message("system", SYSTEM),
        Message("user", f"Facts:\n{template_explanation(f)}{extra}\n\nSummary:"),
    ]


def explain_plan(f: PlanFacts, backend: Backend) -> Explanation:
    """A model's explanation when it passes :func:`check_explanation`, else the template's."""
    tpl = template_explanation(f)
    if not backend.is_model:
        return Explanation(tpl, backend.name, "template", "no language model configured")
    try:
        raw = backend.complete(explain_messages(f), max_tokens=400)
    except BackendError as exc:
        return Explanation(tpl, backend.name, "template", str(exc))
    text = raw.strip()
    problems = check_explanation(text, f)
    if problems:
        return Explanation(tpl, backend.name, "template", "; ".join(problems), problems, raw)
    return Explanation(text, backend.name, "model", raw=raw)

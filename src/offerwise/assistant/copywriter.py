"""``offerwise copy``: one message per (offer, segment) of a plan, each checked against the offer.

A model writes the message; :func:`~offerwise.assistant.terms.check_message` checks it; a message
that fails (or a model that fails) is replaced by the template, and the reason is kept. Every
message is checked again just before it is returned, the templates included, so no message with a
wrong number leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offerwise.assistant.backends import Backend, BackendError, Message
from offerwise.assistant.terms import OfferTerms, check_message, template_message

__all__ = ["CopyMessage", "CopyRequest", "write_messages"]

#: What each offerwise segment means, for the model's prompt.
SEGMENT_NOTES = {
    "new": "recently joined customers",
    "dormant": "customers who have not bought for a long time",
    "at-risk": "customers likely to stop buying",
    "loyal-high-value": "frequent, high-spending customers",
    "deal-seeker": "customers who mostly buy on discount",
    "brand-loyal": "customers loyal to one brand",
    "regular": "ordinary regular customers",
}

SYSTEM = (
    "You write one short, friendly marketing message (at most 2 sentences) for a shop's discount "
    "offer. State the offer's terms exactly as given, with digits. Write no other number, no "
    "date, no deadline and no extra condition. Reply with the message only."
)


@dataclass(frozen=True, slots=True)
class CopyRequest:
    """One (offer, segment) of a plan and how many planned customers it reaches."""

    terms: OfferTerms
    segment: str
    n_customers: int


@dataclass(slots=True)
class CopyMessage:
    """A checked message: ``source`` is ``model`` or ``template``; ``fallback`` says why the
    model's text was not used (its problems), empty when it was."""

    offer_id: str
    segment: str
    n_customers: int
    message: str
    source: str
    backend: str
    fallback: str = ""
    rejected: str = ""  # the model's text that failed the check
    problems: list[str] = field(default_factory=list)


def copy_messages(req: CopyRequest) -> list[Message]:
    """The chat the model is given for one (offer, segment)."""
    who = SEGMENT_NOTES.get(req.segment, "customers of this group")
    return [
        Message("system", SYSTEM),
        Message(
            "user",
            f"Customer group: {req.segment} ({who}).\n"
            f"Offer terms: {req.terms.describe()}.\nMessage:",
        ),
    ]


def _clean(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        t = t[1:-1].strip()
    return t


def write_messages(
    requests: list[CopyRequest], backend: Backend, categories: tuple[str, ...]
) -> list[CopyMessage]:
    """A checked message for each request (the model's where it passes, else the template)."""
    out = []
    for req in requests:
        tpl = template_message(req.terms, req.segment)
        base = (req.terms.offer_id, req.segment, req.n_customers)
        if not backend.is_model:
            msg = CopyMessage(*base, tpl, "template", backend.name)
        else:
            try:
                text = _clean(backend.complete(copy_messages(req), max_tokens=120))
            except BackendError as exc:
                msg = CopyMessage(*base, tpl, "template", backend.name, f"backend error: {exc}")
            else:
                check = check_message(text, req.terms, categories)
                if any(w in text for w in ("Customer group:", "Offer terms:", "Message:")):
                    check.problems.append("the model repeated its prompt")
                if check.ok:
                    msg = CopyMessage(*base, text, "model", backend.name)
                else:
                    msg = CopyMessage(
                        *base,
                        tpl,
                        "template",
                        backend.name,
                        "; ".join(check.problems),
                        text,
                        check.problems,
                    )
        final = check_message(msg.message, req.terms, categories)
        if not final.ok:  # pragma: no cover - a template that misstates its offer is a bug
            raise AssertionError(f"{req.terms.offer_id}: message fails its check: {final.problems}")
        out.append(msg)
    return out

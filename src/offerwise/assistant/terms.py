"""An offer's terms, the template message that states them, and the check every generated message
passes before it may be used: each number and category in the text is one of the offer's own.

The check is strict on purpose: a number in words ("ten"), a number that is not a term (a date,
a second discount), a percent sign on an amount or a category the offer is not limited to fails
it, and the message falls back to the template, which states the terms and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "NUMBER_WORDS",
    "OfferTerms",
    "TermCheck",
    "check_message",
    "fmt_number",
    "numbers_in",
    "template_message",
]

#: Numbers written in words cannot be checked: a message that has one fails.
NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million half quarter double twice triple dozen"
).split()
_WORDS = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s*(?:%|percent\b|per cent\b))?", re.I)
#: Longest message accepted from a model (characters).
MAX_CHARS = 320
#: A short greeting per offerwise segment (no numbers), for the template messages.
GREETINGS = {
    "new": "Welcome!",
    "dormant": "We miss you!",
    "at-risk": "It's good to see you.",
    "loyal-high-value": "Thank you for being a loyal customer!",
    "deal-seeker": "A deal for you:",
    "brand-loyal": "Thank you for shopping with us!",
    "regular": "Thanks for shopping with us!",
}


def fmt_number(x: float) -> str:
    """``x`` as a message writes it: no trailing zeros, thousands separated (``1,250.5``)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def _key(x: float) -> str:
    return f"{round(float(x), 6):.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class Number:
    """A number found in a text: its value and whether a percent sign follows it."""

    value: float
    percent: bool
    text: str


def numbers_in(text: str) -> list[Number]:
    """Every number written with digits in ``text`` (digits inside words count: ``pct20``)."""
    out = []
    for m in _NUMBER.finditer(text):
        v = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        out.append(Number(v, bool(m.group(3)), m.group(0).strip()))
    return out


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """What a customer is promised: ``kind`` (data contract ``offers.kind``), ``value`` (a share
    for ``percent_off``: 0.2 is 20 %; an amount otherwise), ``min_spend`` (0: none), ``category``
    (None: the whole order) and ``members_only``."""

    offer_id: str
    kind: str
    value: float
    min_spend: float = 0.0
    category: str | None = None
    members_only: bool = False

    @property
    def percent(self) -> float:
        """The percent off (``percent_off`` only; a value above 1 is taken as percent already)."""
        return round(self.value * 100, 6) if self.value <= 1 else self.value

    def required(self) -> list[tuple[float, bool]]:
        """(number, with a percent sign) pairs a message must state."""
        req: list[tuple[float, bool]] = []
        if self.kind == "percent_off":
            req.append((self.percent, True))
        elif self.kind in ("amount_off", "spend_threshold"):
            req.append((self.value, False))
        if self.min_spend > 0:
            req.append((self.min_spend, False))
        return req

    def allowed(self) -> list[tuple[float, bool]]:
        """(number, with a percent sign) pairs a message may state: the required ones, the fee a
        free-shipping offer waives, and the 1s of 'buy 1, get 1'."""
        extra: list[tuple[float, bool]] = []
        if self.kind in ("free_shipping", "gift") and self.value > 0:
            extra.append((self.value, False))
        if self.kind == "bogo":
            extra += [(1.0, False)] + ([(self.value, False)] if self.value > 0 else [])
        return self.required() + extra

    def describe(self) -> str:
        """The terms in one plain sentence (what the template says, without a greeting)."""
        cat = self.category.replace("_", " ") if self.category else None
        scope = f" on {cat}" if cat else ""
        order = (
            f"your next order of {fmt_number(self.min_spend)} or more"
            if self.min_spend > 0
            else "your next order"
        )
        what = f"{cat} products in {order}" if cat else order
        if self.kind == "percent_off":
            text = f"{fmt_number(self.percent)}% off {what}"
        elif self.kind == "amount_off":
            text = f"{fmt_number(self.value)} off {what}"
        elif self.kind == "spend_threshold":
            text = f"spend {fmt_number(self.min_spend)}, save {fmt_number(self.value)}{scope}"
            if self.min_spend <= 0:
                text = f"save {fmt_number(self.value)}{scope} on your next order"
        elif self.kind == "free_shipping":
            text = f"free shipping on {order}"
        elif self.kind == "gift":
            text = f"a free gift with {order}"
        elif self.kind == "bogo":
            text = f"buy 1, get 1 free{scope} on {order}"
        else:
            text = f"a special offer on {order}"
        if self.kind in ("free_shipping", "gift") and cat:
            text += f" of {cat} products"
        return text + (" (members only)" if self.members_only else "")


@dataclass(slots=True)
class TermCheck:
    """The outcome of :func:`check_message`: ``ok``, or the ``problems`` found."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _category_words(cat: str) -> list[str]:
    c = cat.lower()
    return list(dict.fromkeys([c, c.replace("_", " "), c.replace("_", "-")]))


def _mentions(text: str, cat: str) -> bool:
    low = text.lower()
    return any(re.search(r"\b" + re.escape(w) + r"\b", low) for w in _category_words(cat))


def check_message(
    text: str, terms: OfferTerms, categories: list[str] | tuple[str, ...]
) -> TermCheck:
    """Check ``text`` against ``terms``: every digit-written number is one of the offer's
    (a percent sign only on the percent off), every required term is stated, no number is written
    in words, the offer's category is named and no other of ``categories`` is."""
    res = TermCheck()
    if not text.strip():
        res.problems.append("empty message")
        return res
    if len(text) > MAX_CHARS:
        res.problems.append(f"longer than {MAX_CHARS} characters")
    allowed = {(_key(v), p) for v, p in terms.allowed()}
    found = numbers_in(text)
    for n in found:
        if (_key(n.value), n.percent) not in allowed:
            what = "percent" if n.percent else "number"
            res.problems.append(f"{what} {n.text!r} is not one of the offer's terms")
    have = {(_key(n.value), n.percent) for n in found}
    for v, p in terms.required():
        if (_key(v), p) not in have:
            res.problems.append(f"term {fmt_number(v)}{'%' if p else ''} is not stated")
    for w in _WORDS.findall(text):
        if not (terms.kind == "bogo" and w.lower() == "one"):
            res.problems.append(f"number in words {w!r} cannot be checked")
    for cat in categories:
        if cat == terms.category:
            continue
        if _mentions(text, cat) and not (terms.category and _mentions(terms.category, cat)):
            res.problems.append(f"category {cat!r} is not the offer's")
    if terms.category and not _mentions(text, terms.category):
        res.problems.append(f"category {terms.category!r} is not named")
    if terms.members_only and "member" not in text.lower():
        res.problems.append("members-only offer does not say so")
    return res


def template_message(terms: OfferTerms, segment: str) -> str:
    """The deterministic message of an (offer, segment): a greeting and the terms."""
    greeting = GREETINGS.get(segment, "Hello!")
    d = terms.describe()
    return f"{greeting} {d[0].upper()}{d[1:]}."

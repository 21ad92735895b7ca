"""Offer templates scoped by recommendation: ``offers.category = "rec:N"`` or ``"rec:N..M"``.

A template offer applies to a category chosen per customer from their recommendations (one row
per customer x rank: ``customer_id``, ``item``, ``rank``, as ``offerwise recommend`` writes them):
``rec:1`` is the customer's top recommended category, ``rec:2..3`` the best-ranked category the
customer has at ranks 2 to 3 (rank 2 when the list is full). A customer without a recommendation
in the range is not eligible for the template. :func:`instantiate` is the one place where
templates become concrete categories; plan, simulator and service are given its result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.vocab import REC_SCOPE_PREFIX

__all__ = [
    "REC_PREFIX",
    "RecScope",
    "check_depth",
    "fixed_category",
    "instantiate",
    "is_template",
    "parse_scope",
    "template_scopes",
]

#: A scope starting with this is a template.
REC_PREFIX = REC_SCOPE_PREFIX
_PATTERN = re.compile(r"^rec:(\d+)(?:\.\.(\d+))?$")


@dataclass(frozen=True, slots=True)
class RecScope:
    """Ranks ``first``..``last`` (1-based, inclusive) of a customer's recommendations."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"rec:{self.first}" if self.first == self.last else f"rec:{self.first}..{self.last}"


def is_template(category: object) -> bool:
    """Whether an ``offers.category`` value is a template (starts with ``rec:``)."""
    return isinstance(category, str) and category.strip().startswith(REC_PREFIX)


def parse_scope(category: object, offer_id: str = "?") -> RecScope | None:
    """The ranks of a template scope; None for a site-wide or fixed-category offer.

    InputError for a malformed template (``rec:0``, ``rec:3..2``, ``rec:top``)."""
    if not is_template(category):
        return None
    text = str(category).strip()
    m = _PATTERN.match(text)
    first = int(m.group(1)) if m else 0
    last = int(m.group(2) or first) if m else 0
    if m is None or first < 1 or last < first:
        raise InputError(
            f"offers, column 'category': offer '{offer_id}' has template {text!r}; a template is "
            "'rec:N' or 'rec:N..M' with 1 <= N <= M (the customer's recommended category at "
            "rank N, or the best-ranked one in N..M)"
        )
    return RecScope(first, last)


def fixed_category(category: object) -> str | None:
    """A fixed scope as a string; None for site-wide (missing or empty) and for templates."""
    if category is None or (isinstance(category, float) and category != category):
        return None
    text = str(category)
    return None if text == "" or is_template(text) else text


def template_scopes(offers: pd.DataFrame) -> dict[str, RecScope]:
    """The template offers of a menu (``offer_id``, ``category``) and their ranks, by offer id."""
    if "category" not in offers.columns:
        return {}
    out: dict[str, RecScope] = {}
    for oid, cat in zip(offers["offer_id"].astype(str), offers["category"], strict=True):
        scope = parse_scope(cat, oid)
        if scope is not None:
            out[oid] = scope
    return out


def check_depth(scopes: dict[str, RecScope], k: int, source: str) -> None:
    """InputError naming the first template whose ranks go beyond the ``k`` ranks of
    ``source`` (the recommendations)."""
    deep = {o: s for o, s in scopes.items() if s.last > k}
    if deep:
        oid = sorted(deep)[0]
        raise InputError(
            f"offers, column 'category': offer '{oid}' is scoped to {deep[oid]}, beyond the "
            f"{k} ranks of the recommendations ({source}); recommend at least {deep[oid].last} "
            f"categories (--k) or scope the template to ranks <= {k}"
        )


def instantiate(
    recs: pd.DataFrame, scopes: dict[str, RecScope], customer_ids: object
) -> pd.DataFrame:
    """Concrete categories of the template offers per customer.

    ``recs``: ``customer_id``, ``item``, ``rank``; ``customer_ids``: the customers to instantiate
    for. Returns one row per customer x template (columns ``customer_id``, ``offer_id``,
    ``category``) in customer then template order; ``category`` is ``<NA>`` where the customer
    has no recommendation at the template's ranks (not eligible)."""
    miss = [c for c in ("customer_id", "item", "rank") if c not in recs.columns]
    if miss:
        raise InputError(f"recommendations: missing column(s) {', '.join(miss)}")
    ids = pd.Index(pd.Series(np.asarray(customer_ids, dtype=object)).astype(str))
    r = pd.DataFrame(
        {
            "customer_id": recs["customer_id"].astype(str).to_numpy(),
            "item": recs["item"].astype(str).to_numpy(),
            "rank": pd.to_numeric(recs["rank"], errors="coerce").to_numpy(),
        }
    ).dropna(subset=["rank"])
    r = r.sort_values(["customer_id", "rank"], kind="stable")
    row = ids.get_indexer(r["customer_id"])
    r, row = r[row >= 0], row[row >= 0]
    rank = r["rank"].to_numpy(dtype=np.int64)
    item = r["item"].to_numpy(dtype=object)
    offers = sorted(scopes)
    cats = np.full((len(ids), len(offers)), None, dtype=object)
    for j, oid in enumerate(offers):
        s = scopes[oid]
        sel = (rank >= s.first) & (rank <= s.last)
        rows, first = np.unique(row[sel], return_index=True)  # best rank first: sorted above
        cats[rows, j] = item[sel][first]
    return pd.DataFrame(
        {
            "customer_id": pd.array(np.repeat(ids.to_numpy(dtype=object), len(offers)), "string"),
            "offer_id": pd.array(np.tile(np.asarray(offers, dtype=object), len(ids)), "string"),
            "category": pd.array(cats.reshape(-1), dtype="string"),
        }
    )

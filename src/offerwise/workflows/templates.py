"""Recommendation-scoped offer templates in ``plan``: recommendations in, concrete categories out.

When the menu has a template offer (``category = "rec:N"`` or ``"rec:N..M"``,
:mod:`offerwise.data.templates`), :func:`template_categories` reads the recommendations file
given with ``--recs`` or, without one, computes them (method :data:`DEFAULT_METHOD`, ``k`` =
:data:`DEFAULT_K`, fitted on the transactions before the plan's decision date), checks that no
template reaches beyond the list's ranks (exit 2, nothing written) and instantiates every
template per customer. The scores of customers without a recommendation at a template's ranks
are dropped (the planner never assigns what was not scored), and :func:`category_matrix` gives
the plan the concrete category of every customer x offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from offerwise._io import read_table
from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.data.templates import (
    RecScope,
    check_depth,
    fixed_category,
    instantiate,
    template_scopes,
)
from offerwise.errors import InputError
from offerwise.policy.plan import ScoreArrays

__all__ = [
    "DEFAULT_K",
    "TemplateCategories",
    "category_matrix",
    "drop_ineligible",
    "template_categories",
]

#: List length of the recommendations computed when a template is on the menu and no file given.
DEFAULT_K = 10
#: The method that instantiates templates when the plan computes the recommendations. Not
#: ``recommend``'s default (the ranker): its probability of buying in the next 8 weeks is near 1
#: for every category a customer buys weekly, so its rank 1 is less often the customer's main
#: category; on the simulator's template menu the plan reached 17.5 % of the oracle with it and
#: 21.5 % with the blend (docs/recommend.md).
TEMPLATE_METHOD = "blend"
#: Recommendations: a file (``offerwise recommend --out``), a frame, or None (computed).
RecsArg: TypeAlias = str | Path | pd.DataFrame | None


@dataclass(frozen=True, slots=True)
class TemplateCategories:
    """Concrete categories of the menu's templates: ``frame`` (customer_id, offer_id, category;
    ``<NA>`` = not eligible), the ``scopes`` and where the recommendations came from."""

    frame: pd.DataFrame
    scopes: dict[str, RecScope]
    source: str
    k: int

    def n_ineligible(self) -> dict[str, int]:
        """Customers without a recommendation at each template's ranks."""
        na = self.frame["category"].isna()
        return {str(k): int(v) for k, v in self.frame[na].groupby("offer_id").size().items()}

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "k": self.k,
            "templates": {o: str(s) for o, s in sorted(self.scopes.items())},
            "n_ineligible": self.n_ineligible(),
        }


def menu_scopes(ds: DataSet) -> dict[str, RecScope]:
    """The template offers of the data's menu (none without an ``offers`` table)."""
    return template_scopes(ds.frame("offers")) if ds.has("offers") else {}


def template_categories(
    ds: DataSet,
    customer_ids: object,
    as_of: pd.Timestamp,
    *,
    recs: RecsArg = None,
    settings: Settings,
    seed: int,
) -> TemplateCategories | None:
    """Instantiate the menu's templates for ``customer_ids`` (None when there are none)."""
    scopes = menu_scopes(ds)
    if not scopes:
        return None
    if recs is None:
        check_depth(scopes, DEFAULT_K, f"computed with k = {DEFAULT_K}; pass --recs for more")
        from offerwise.workflows.recommend import recommend

        made = recommend(
            ds, as_of=as_of, k=DEFAULT_K, method=TEMPLATE_METHOD, seed=seed, settings=settings
        )
        frame, source = made.recs, f"computed ({made.method}, k {DEFAULT_K}, as of {as_of.date()})"
    elif isinstance(recs, pd.DataFrame):
        frame, source = recs, "given"
    else:
        if not Path(recs).exists():
            raise InputError(f"--recs {recs}: no such file")
        frame, source = read_table(Path(recs)), str(recs)
    if "rank" not in frame.columns or not len(frame):
        raise InputError(f"recommendations ({source}): no 'rank' column or no rows")
    k = int(pd.to_numeric(frame["rank"], errors="coerce").max())
    check_depth(scopes, k, source)
    return TemplateCategories(instantiate(frame, scopes, customer_ids), scopes, source, k)


def drop_ineligible(scores: pd.DataFrame, tc: TemplateCategories) -> pd.DataFrame:
    """``scores`` without the rows of customers who have no category for a template."""
    na = tc.frame[tc.frame["category"].isna()]
    if not len(na):
        return scores
    key = pd.MultiIndex.from_arrays(
        [scores["customer_id"].astype(str), scores["offer_id"].astype(str)]
    )
    bad = pd.MultiIndex.from_arrays([na["customer_id"].astype(str), na["offer_id"].astype(str)])
    return scores[~key.isin(bad)].reset_index(drop=True)


def category_matrix(
    arrays: ScoreArrays, offers: pd.DataFrame | None, tc: TemplateCategories | None
) -> np.ndarray:
    """(n, K) object: the concrete category of each customer x scored offer (None: site-wide)."""
    n, k = arrays.shape
    out = np.full((n, k), None, dtype=object)
    if offers is not None and "category" in offers.columns:
        fixed = dict(zip(offers["offer_id"].astype(str), offers["category"], strict=True))
        for j, o in enumerate(arrays.offer_ids):
            out[:, j] = fixed_category(fixed.get(o))
    if tc is not None:
        wide = tc.frame.pivot(index="customer_id", columns="offer_id", values="category")
        wide = wide.reindex(index=arrays.customer_ids.astype(str))
        for j, o in enumerate(arrays.offer_ids):
            if o in wide.columns:
                col = wide[o].astype(object).to_numpy()
                out[:, j] = np.where(pd.isna(col), None, col)
    return out

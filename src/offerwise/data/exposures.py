"""The logged exposures, checked for learning: offers on the menu, propensities usable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from offerwise.errors import DataContractError, InputError, Problem
from offerwise.vocab import NO_OFFER

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.data.contract import DataSet

__all__ = ["MIN_CONTROL", "load_exposures"]

#: Fewest control exposures (offer ``none``) training accepts: each fold of the cross-fitting
#: must keep some to learn the baseline every offer's effect is measured against.
MIN_CONTROL = 10


def load_exposures(ds: DataSet, menu: list[str]) -> pd.DataFrame:
    """The exposures table checked for training: offers on the menu, propensities usable.

    Propensities may be given on every row, on none (the column is dropped) or on some: the
    rows without one are observational and the logs are ``mixed`` (served rows with their
    logged probabilities merged with a shop's own targeted history)."""
    if not ds.has("exposures"):
        raise InputError("training needs an 'exposures' table (logged offers and outcomes)")
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    ex["ts"] = pd.to_datetime(ex["ts"])
    unknown = ~ex["offer_id"].isin(set(menu) | {NO_OFFER})
    if unknown.any():
        raise DataContractError(
            [
                Problem(
                    "exposures",
                    "offer_id",
                    "offer ids not in the offer menu",
                    int(unknown.sum()),
                    repr(ex.loc[unknown, "offer_id"].iloc[0]),
                )
            ]
        )
    if (ex["offer_id"] == NO_OFFER).all():
        raise InputError(
            "exposures: no treated exposures (every offer_id is 'none'); uplift needs logged offers"
        )
    n_control = int((ex["offer_id"] == NO_OFFER).sum())
    if n_control < MIN_CONTROL:
        raise InputError(
            f"{ds.files.get('exposures', 'exposures')}: only {n_control} of {len(ex):,} exposures "
            f"are the control (offer_id '{NO_OFFER}': customers offered nothing); what an offer "
            f"adds is measured against them, so training needs at least {MIN_CONTROL} (a plan "
            "keeps a random holdout for this; add its exposures)"
        )
    if "propensity" in ex.columns:
        where = f"{ds.files.get('exposures', 'exposures')}, column 'propensity'"
        p = pd.to_numeric(ex["propensity"], errors="coerce")
        if p.isna().all():
            ex = ex.drop(columns="propensity")
        else:
            ex["propensity"] = p  # rows without one are observational (mixed logs)
            bad = (p <= 0) | (p > 1)
            if bad.any():
                raise InputError(
                    f"{where}: {int(bad.sum())} rows outside (0, 1], e.g. "
                    f"{p[bad].iloc[0]!r} (customer {ex.loc[bad, 'customer_id'].iloc[0]!r}); a "
                    "propensity of 0 means the logged offer could never have been chosen"
                )
            p = p.dropna()
            if (p >= 1).all():
                raise InputError(
                    f"{where}: all {len(p)} rows with a propensity are 1: the logging policy "
                    "chose every offer for certain, so no customer could have got another one "
                    "and the offers' effects cannot be learned from these logs (leave the "
                    "column out if it is not the logging policy's probability)"
                )
    return ex.reset_index(drop=True)

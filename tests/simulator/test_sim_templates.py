"""Template offers (``rec:N``) in the simulator: the category response on each customer's
instantiated category, and the truth at another instantiation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import ConfigError
from offerwise.simulator import (
    CATEGORIES,
    OfferSpec,
    SimulatorConfig,
    instantiated_truth,
    simulate,
)

MENU = (
    OfferSpec("rec1_20", "percent_off", 0.20, category="rec:1"),
    OfferSpec("rec2_20", "percent_off", 0.20, category="rec:2..3"),
    *(OfferSpec(f"{c}20", "percent_off", 0.20, category=c) for c in CATEGORIES),
)


def _wide(truth: pd.DataFrame, col: str = "incremental_profit") -> pd.DataFrame:
    return truth.pivot(index="customer_id", columns="offer_id", values=col)


def test_template_truth_is_the_category_offer_of_the_instantiated_category() -> None:
    m = simulate(SimulatorConfig(n_customers=400, n_exposures=500, seed=4, offers=MENU))
    assert m.offers["category"].isna().sum() == 0 and "rec:1" in set(m.offers["category"])
    w = _wide(m.truth)
    # the market's own instantiation: the customer's top categories by past spend
    end = pd.Timestamp(m.config.start_date) + pd.Timedelta(days=m.config.history_days)
    hist = m.transactions[m.transactions["ts"] < end]  # the history before the campaigns
    spend = hist.merge(m.products[["product_id", "category"]], on="product_id")
    top = spend.groupby(["customer_id", "category"])["amount"].sum().unstack(fill_value=0)
    first = top.idxmax(axis=1)
    ids = first.index
    got = w.loc[ids, "rec1_20"].to_numpy()
    want = np.array([w.loc[c, f"{first[c]}20"] for c in ids])
    np.testing.assert_allclose(got, want)
    # another instantiation: everyone's rec:1 on 'frozen', rec:2..3 missing for the first customer
    cust = m.latent["customer_id"].astype(str)
    concrete = pd.DataFrame({
        "customer_id": np.concatenate([cust, cust]),
        "offer_id": ["rec1_20"] * len(cust) + ["rec2_20"] * len(cust),
        "category": ["frozen"] * len(cust) + [None] + ["pantry"] * (len(cust) - 1),
    })
    t2 = instantiated_truth(m, concrete)
    w2 = _wide(t2)
    np.testing.assert_allclose(w2["rec1_20"].to_numpy(), w2["frozen20"].to_numpy())
    np.testing.assert_allclose(w2["rec2_20"].iloc[1:].to_numpy(), w2["pantry20"].iloc[1:].to_numpy())
    assert pd.isna(w2["rec2_20"].iloc[0])  # not eligible: no row in the truth
    assert len(t2) == len(m.truth) - 1


def test_template_beyond_the_categories_is_refused() -> None:
    with pytest.raises(ConfigError, match="rank beyond the 6 categories"):
        SimulatorConfig(offers=(OfferSpec("deep", "percent_off", 0.2, category="rec:7"),))

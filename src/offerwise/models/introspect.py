"""What a fitted response model says: expected rewards per customer x action, feature importance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.models.persist import LoadedModel
from offerwise.models.response import OfferResponseModel
from offerwise.vocab import NO_OFFER

__all__ = ["expected_rewards", "feature_importance"]


def expected_rewards(
    lm: LoadedModel | OfferResponseModel,
    X: np.ndarray,
    customer_ids: pd.Series | np.ndarray,
    actions: list[str] | None = None,
) -> pd.DataFrame:
    """Long frame (customer_id, offer_id, expected_net_profit) for every action incl. ``none``.

    The reward model of the direct and doubly-robust off-policy estimators.
    """
    model = lm.model if isinstance(lm, LoadedModel) else lm
    actions = [NO_OFFER, *model.menu_] if actions is None else list(actions)
    V = model.predict_net_profit(X, actions)
    ids = np.asarray(customer_ids).astype(str)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(ids, len(actions)),
            "offer_id": np.tile(np.asarray(actions, dtype=object), len(ids)),
            "expected_net_profit": V.reshape(-1),
        }
    )


def feature_importance(model: OfferResponseModel, features: list[str]) -> pd.DataFrame:
    """LightGBM gain per (offer, feature), summed over each offer's boosters.

    Boosters shared by all offers (control and pooled value models) are reported as offer ``all``.
    Columns: ``offer_id, feature, importance`` (share of that offer's total gain, sums to 1).
    """
    _, boosters = model.to_state()
    frames = []
    for name, b in boosters.items():
        parts = name.split("/")
        offer = (
            model.offers_[int(parts[1])] if parts[0] == "offer" and parts[1].isdigit() else "all"
        )
        gain = b.feature_importance(importance_type="gain")
        extra = len(gain) - len(
            features
        )  # pooled models add offer indicator inputs after the features
        names = (
            features + [f"offer indicator {i + 1}" for i in range(extra)]
            if extra >= 0
            else b.feature_name()
        )
        frames.append(pd.DataFrame({"offer_id": offer, "feature": names, "importance": gain}))
    if not frames:
        return pd.DataFrame(columns=["offer_id", "feature", "importance"])
    df = pd.concat(frames).groupby(["offer_id", "feature"], as_index=False)["importance"].sum()
    total = df.groupby("offer_id")["importance"].transform("sum")
    df["importance"] = np.where(total > 0, df["importance"] / total.where(total > 0, 1.0), 0.0)
    return df.sort_values(["offer_id", "importance"], ascending=[True, False]).reset_index(
        drop=True
    )

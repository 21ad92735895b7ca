"""What a fitted response model says: expected rewards per customer x action, feature importance,
and each customer's value drivers (what moves the expected incremental profit of their offer)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from offerwise.features.affinity import AFFINITY_PREFIX
from offerwise.features.columns import CATEGORY_SHARE_PREFIX
from offerwise.models.offer_attributes import ATTR_PREFIX, ATTRIBUTE_NAMES
from offerwise.models.persist import LoadedModel
from offerwise.models.response import OfferResponseModel
from offerwise.vocab import NO_OFFER

__all__ = [
    "Driver",
    "drivers_json",
    "expected_rewards",
    "feature_groups",
    "feature_importance",
    "value_drivers",
]

#: Feature columns of one customer attribute's one-hot levels share the name before this.
_ONE_HOT = "="
#: Columns of the customer sequence embedding (one driver: they mean nothing one by one).
_SEQ_PREFIX = "seq_emb_"
#: Numeric columns named ``<kind>=<category>``: one per category, not one-hot levels.
_PER_CATEGORY = (CATEGORY_SHARE_PREFIX, AFFINITY_PREFIX)
SEQ_GROUP = "order history (sequence embedding)"


@dataclass(frozen=True, slots=True)
class Driver:
    """One driver of a customer's expected incremental profit: ``feature`` (a column or a group of
    columns), the customer's ``value`` (text; None for a group without one value) and ``effect``:
    incremental profit with the customer's value minus with the reference value (currency)."""

    feature: str
    value: str | None
    effect: float

    def to_dict(self) -> dict[str, object]:
        return {"feature": self.feature, "value": self.value, "effect": round(self.effect, 4)}


def feature_groups(columns: list[str]) -> list[tuple[str, list[int]]]:
    """Columns grouped as a user reads them: one-hot levels ``attr=level`` of an attribute are one
    group ``attr`` (category shares ``category_share=c`` and affinities ``category_affinity=c``
    stay one per category), the sequence
    embedding's ``seq_emb_*`` are one group; every other column is its own group."""
    groups: dict[str, list[int]] = {}
    for j, c in enumerate(columns):
        if c.startswith(_SEQ_PREFIX):
            name = SEQ_GROUP
        elif _ONE_HOT in c and not c.startswith(_PER_CATEGORY):
            name = c.split(_ONE_HOT, 1)[0]
        else:
            name = c
        groups.setdefault(name, []).append(j)
    return list(groups.items())


def _display(columns: list[str], idx: list[int], x: np.ndarray, name: str) -> str | None:
    """The customer's value of a group as text: the number, the one-hot level set, or None."""
    if name == SEQ_GROUP:
        return None
    if len(idx) == 1 and (_ONE_HOT not in columns[idx[0]] or name.startswith(_PER_CATEGORY)):
        v = float(x[idx[0]])
        return "missing" if np.isnan(v) else f"{v:.4g}"
    on = [columns[j].split(_ONE_HOT, 1)[1] for j in idx if x[j] == 1]
    return on[0] if on else "other"


def value_drivers(
    model: OfferResponseModel,
    X: np.ndarray,
    offers: np.ndarray,
    columns: list[str],
    *,
    reference: np.ndarray | None = None,
    top: int = 3,
    chunk_rows: int = 200_000,
) -> list[list[Driver]]:
    """Each customer's ``top`` drivers of the expected incremental profit of their offer.

    ``X`` (n, p) features; ``offers`` (n,) the offer id each row gets (rows with ``none`` or an
    offer the model did not score get no drivers). For every feature group ``g``
    (:func:`feature_groups`): ``effect_g = v(x, o) - v(x with g set to the reference, o)``, where
    ``v`` is the model's incremental profit of offer ``o`` vs none and the reference is
    ``reference`` (p,) (default: each column's median over ``X``, NaN-aware). The groups with the
    largest ``|effect|`` come first; effects below 1e-9 are dropped. Cost: (groups + 1) x n
    predictions, in chunks of ``chunk_rows`` rows.
    """
    n, p = X.shape
    out: list[list[Driver]] = [[] for _ in range(n)]
    k_of = {o: k for k, o in enumerate(model.offers_)}
    rows = np.flatnonzero([str(o) in k_of for o in offers])
    if len(rows) == 0 or p == 0:
        return out
    if reference is None:
        with np.errstate(all="ignore"):
            finite = np.isfinite(X).any(axis=0)
            reference = np.where(
                finite, np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0), np.nan
            )
    ks = np.array([k_of[str(offers[i])] for i in rows])
    groups = feature_groups(columns)
    Xr = X[rows]
    m = len(rows)

    def uplift(Z: np.ndarray) -> np.ndarray:
        """(len(Z),) incremental profit of each row's offer; Z stacks copies of the m rows."""
        vals = np.empty(len(Z))
        kk = np.tile(ks, len(Z) // m)
        step = max(m, (chunk_rows // m) * m)
        for lo in range(0, len(Z), step):
            sc = model.predict(Z[lo : lo + step])
            vals[lo : lo + step] = sc.incremental_profit[
                np.arange(len(sc.incremental_profit)), kk[lo : lo + step]
            ]
        return vals

    base = uplift(Xr)
    effects = np.empty((len(groups), m))
    per_chunk = max(1, chunk_rows // m)
    for g0 in range(0, len(groups), per_chunk):
        gs = groups[g0 : g0 + per_chunk]
        Z = np.concatenate([Xr] * len(gs))
        for i, (_, idx) in enumerate(gs):
            Z[i * m : (i + 1) * m][:, idx] = reference[idx]
        effects[g0 : g0 + len(gs)] = base[None, :] - uplift(Z).reshape(len(gs), m)
    order = np.argsort(-np.abs(effects), axis=0, kind="stable")[:top]
    for c, row in enumerate(rows):
        i = int(row)
        for g in order[:, c]:
            e = float(effects[g, c])
            if abs(e) < 1e-9:
                continue
            name, idx = groups[g]
            out[i].append(Driver(name, _display(columns, idx, X[i], name), e))
    return out


def drivers_json(drivers: list[Driver]) -> str | None:
    """A row's drivers as the plan file's ``drivers`` text (JSON list; None without any)."""
    return json.dumps([d.to_dict() for d in drivers]) if drivers else None


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
        if parts[0] == ATTR_PREFIX.rstrip("/") and extra == len(ATTRIBUTE_NAMES):
            names = features + list(ATTRIBUTE_NAMES)  # the attribute model's offer structure
        elif extra >= 0:
            names = features + [f"offer indicator {i + 1}" for i in range(extra)]
        else:
            names = b.feature_name()
        frames.append(pd.DataFrame({"offer_id": offer, "feature": names, "importance": gain}))
    if not frames:
        return pd.DataFrame(columns=["offer_id", "feature", "importance"])
    df = pd.concat(frames).groupby(["offer_id", "feature"], as_index=False)["importance"].sum()
    total = df.groupby("offer_id")["importance"].transform("sum")
    df["importance"] = np.where(total > 0, df["importance"] / total.where(total > 0, 1.0), 0.0)
    return df.sort_values(["offer_id", "importance"], ascending=[True, False]).reset_index(
        drop=True
    )

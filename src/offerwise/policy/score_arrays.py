"""The long scores frame pivoted once into (n customers, K offers) arrays: :class:`ScoreArrays`
(:func:`scores_to_arrays`), what :func:`~offerwise.policy.plan.solve_plan` allocates over."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from offerwise.errors import InputError
from offerwise.vocab import (
    EXTRAPOLATED_COLUMN,
    NO_OFFER,
    SCORE_INPUT_COLUMNS,
    SCORE_SD_COLUMN,
)

__all__ = ["ScoreArrays", "extrapolated_offers", "scores_to_arrays"]


@dataclass(frozen=True, eq=False)
class ScoreArrays:
    """The long scores frame pivoted to (n, K): n customers (rows) x K offers (columns).

    ``customer_ids`` (n,) str ids in order of first appearance; ``offer_ids`` the K scored offers,
    sorted, without the no-offer id. ``value``, ``profit``, ``cost``: (n, K) float64 in currency:
    what the allocation maximises (``incremental_profit``, ``incremental_revenue`` for the revenue
    objective, or ``incremental_profit - risk * incremental_profit_sd``), the estimated
    incremental profit itself, and the expected discount cost (>= 0). ``present`` (n, K) bool:
    the pair was scored; the float arrays hold 0 where it was not. ``objective`` and ``risk``
    record how ``value`` was built. Treat the arrays as read-only (they are shared, not copied).
    """

    customer_ids: pd.Index
    offer_ids: list[str]
    value: np.ndarray
    profit: np.ndarray
    cost: np.ndarray
    present: np.ndarray
    objective: str = "profit"
    risk: float = 0.0
    #: (n, K) P(convert | offer) where the scores have it (NaN where unknown): the plan's cost
    #: interval needs it (:func:`offerwise.evaluation.cost.cost_interval`)
    p_convert: np.ndarray | None = None
    #: (n, K) expected revenue with the offer (``expected_revenue``) where the scores have it:
    #: the margin target needs it (:mod:`offerwise.policy.margin`)
    revenue: np.ndarray | None = None
    #: (n, K) the discount cost a margin target counts (:func:`~offerwise.policy.margin.terms_cost`;
    #: None: ``cost``)
    margin_cost: np.ndarray | None = None
    #: offers scored from their attributes (scores column ``extrapolated``): not eligible unless
    #: the rules allow extrapolated offers
    extrapolated: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        shape = (len(self.customer_ids), len(self.offer_ids))
        for name in ("value", "profit", "cost", "present"):
            if getattr(self, name).shape != shape:
                raise InputError(
                    f"ScoreArrays.{name} must have shape {shape} (customers x offers); "
                    f"got {getattr(self, name).shape}"
                )

    @property
    def shape(self) -> tuple[int, int]:
        """(n customers, K offers)."""
        return self.value.shape

    def best_offer_cost(self) -> float:
        """Expected cost of giving every customer their best offer by ``value``, where it is
        positive: the budget beyond which a plan has nothing left to buy."""
        best = np.where(self.present, self.value, -np.inf).argmax(axis=1)
        rows = np.arange(len(best))
        return float(np.where(self.value[rows, best] > 0, self.cost[rows, best], 0.0).sum())


def scores_to_arrays(
    scores: pd.DataFrame, objective: str = "profit", risk: float = 0.0
) -> ScoreArrays:
    """Pivot the long scores frame to (n, K) arrays (see :class:`ScoreArrays`).

    Rows of the no-offer id (``none``) are ignored. Missing (customer, offer) pairs are not
    offered. With ``risk`` z > 0 the value is the lower bound
    ``incremental_profit - z * incremental_profit_sd`` (profit objective only; ``profit`` stays
    the estimate itself).
    """
    if risk < 0 or not np.isfinite(risk):
        raise InputError(f"risk must be a number >= 0; got {risk}")
    if risk > 0 and objective != "profit":
        raise InputError(
            "risk applies to the profit objective only (the spread is of incremental profit)"
        )
    need = list(SCORE_INPUT_COLUMNS) + (["incremental_revenue"] if objective == "revenue" else [])
    if risk > 0:
        need.append(SCORE_SD_COLUMN)
    miss = [c for c in need if c not in scores.columns]
    if miss:
        raise InputError(f"scores: missing column(s) {', '.join(miss)}")
    sc = scores[scores["offer_id"].astype(str) != NO_OFFER]
    cid = sc["customer_id"].astype(str).to_numpy()
    oid = sc["offer_id"].astype(str).to_numpy()
    ci, ids = pd.factorize(cid)
    ki, offers = pd.factorize(oid, sort=True)
    n, K = len(ids), len(offers)
    dup = pd.Series(ci.astype(np.int64) * max(K, 1) + ki).duplicated()
    if dup.any():
        j = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"scores: duplicate (customer_id, offer_id) rows ({int(dup.sum())}); "
            f"e.g. ({cid[j]}, {oid[j]})"
        )
    out = {}
    used = ["expected_cost", "incremental_profit"]
    used += ["incremental_revenue"] if objective == "revenue" else []
    used += [SCORE_SD_COLUMN] if risk > 0 else []
    for col in [*used, "p_convert", "expected_revenue"]:
        if col not in sc.columns or col in out:
            continue
        vals = pd.to_numeric(sc[col], errors="coerce").to_numpy(np.float64)
        nan = np.isnan(vals)
        if nan.any() and col not in ("p_convert", "expected_revenue"):
            per = np.bincount(ki[nan], minlength=K)
            k = int(np.argmax(per))
            raise InputError(f"scores: {col} is NaN for offer '{offers[k]}' ({int(per[k])} rows)")
        arr = np.zeros((n, K))
        arr[ci, ki] = vals
        out[col] = arr
    present = np.zeros((n, K), dtype=bool)
    present[ci, ki] = True
    cost = out["expected_cost"]
    neg = (cost < 0) & present
    if neg.any():
        k = int(np.argmax(neg.sum(axis=0)))
        raise InputError(
            f"scores: expected_cost is negative for offer '{offers[k]}' "
            f"({int(neg[:, k].sum())} rows)"
        )
    value = out["incremental_revenue"] if objective == "revenue" else out["incremental_profit"]
    if risk > 0:
        sd = out[SCORE_SD_COLUMN]
        if not (sd[present] > 0).any():
            raise InputError(
                f"scores: {SCORE_SD_COLUMN} is 0 for every row, so risk has nothing to act on; "
                "score with a model trained by the ptb learner with --bags 2 or more"
            )
        value = value - risk * np.maximum(sd, 0.0)
    return ScoreArrays(
        pd.Index(ids),
        [str(o) for o in offers],
        value,
        out["incremental_profit"],
        cost,
        present,
        objective=objective,
        risk=float(risk),
        p_convert=out.get("p_convert"),
        revenue=out.get("expected_revenue"),
        extrapolated=extrapolated_offers(sc),
    )


def extrapolated_offers(scores: pd.DataFrame) -> list[str]:
    """Offers whose rows of ``scores`` are flagged ``extrapolated`` (none without the column)."""
    if EXTRAPOLATED_COLUMN not in scores.columns:
        return []
    flag = scores[EXTRAPOLATED_COLUMN].astype("boolean").fillna(False).to_numpy(bool)
    return sorted({str(o) for o in scores["offer_id"].to_numpy()[flag]})

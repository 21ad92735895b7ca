"""A response model's metrics on held-out exposures (the model card's numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offerwise.vocab import NO_OFFER

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.models.response import ResponseScores

__all__ = ["holdout_metrics", "roc_auc"]


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of binary labels ``y`` (n,) for scores ``score`` (n,): the
    Mann-Whitney probability that a positive outranks a negative, ties counted half,
    ``(R+ - n+ (n+ + 1) / 2) / (n+ n-)`` with ``R+`` the positives' summed mid-ranks (what
    scikit-learn's ``roc_auc_score`` gives, without importing it: :mod:`offerwise._lightgbm`).
    NaN without both classes."""
    y = np.asarray(y, dtype=np.float64) > 0.5
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    # mid-rank of each tie group: (first + last) / 2 + 1 over the sorted positions
    new = np.r_[True, ss[1:] != ss[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(ss)] - 1
    mid = (starts + ends) / 2.0 + 1.0
    ranks = np.empty(len(s))
    ranks[order] = mid[group]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def holdout_metrics(
    sc: ResponseScores, ex: pd.DataFrame, *, propensity: np.ndarray | None
) -> dict[str, Any]:
    """Card metrics on held-out exposures ``ex`` given the model's predictions ``sc`` for them
    (``model.predict(X)`` on the same rows), per offer vs ``none``.

    Per offer: normalized Qini/AUUC, uplift@10% of net profit ranked by predicted incremental
    profit (IPW-weighted when logged propensities exist), calibration by decile, conversion AUC
    (offer and control rows, predicted conversion of the logged arm) and cost MAE (treated rows).
    """
    from offerwise.evaluation.uplift import uplift_metrics

    offer = ex["offer_id"].to_numpy(dtype=object)
    np_y = (ex["gross_profit"] - ex["discount_cost"]).to_numpy(dtype=np.float64)
    conv = ex["converted"].to_numpy(dtype=np.float64)
    cost = ex["discount_cost"].to_numpy(dtype=np.float64)
    ctrl = offer == NO_OFFER
    per: dict[str, Any] = {}
    calib: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    p_logged = np.where(ctrl, sc.p_convert_none[:, 0] if sc.offers else np.nan, np.nan)
    cost_err: list[np.ndarray] = []
    for j, o in enumerate(sc.offers):
        tr = offer == o
        rows = tr | ctrl
        p_logged[tr] = sc.p_convert[tr, j]
        m: dict[str, Any] = {"n_treatment": int(tr.sum()), "n_control": int(ctrl.sum())}
        if tr.sum() >= 2 and ctrl.sum() >= 2:
            w = None
            if propensity is not None:
                w = 1.0 / propensity[rows]
            um = uplift_metrics(
                np_y[rows],
                tr[rows].astype(float),
                sc.incremental_profit[rows, j],
                sample_weight=w,
                ks=(0.1,),
                n_bins=10,
                keep_curves=True,
            )
            curves[o] = um
            m.update(
                qini_normalized=_num(um.qini_normalized),
                auuc_normalized=_num(um.auuc_normalized),
                uplift_at_10=_num(um.uplift_at_k.get(0.1)),
            )
            calib[o] = _calibration_records(um.calibration)
            yk, pk = (
                conv[rows],
                np.where(tr[rows], sc.p_convert[rows, j], sc.p_convert_none[rows, j]),
            )
            m["conversion_auc"] = _num(roc_auc(yk, pk)) if 0 < yk.sum() < len(yk) else None
            err = np.abs(sc.expected_cost[tr, j] - cost[tr])
            cost_err.append(err)
            m["cost_mae"] = _num(err.mean())
        per[o] = m
    ok = np.isfinite(p_logged)
    auc = None
    if ok.any() and 0 < conv[ok].sum() < ok.sum():
        auc = _num(roc_auc(conv[ok], p_logged[ok]))
    all_err = np.concatenate(cost_err) if cost_err else np.array([])
    return {
        "outcome": "net_profit",
        "n": int(len(ex)),
        "per_offer": per,
        "conversion_auc": auc,
        "cost_mae": _num(all_err.mean()) if len(all_err) else None,
        "calibration": calib,
        "_curves": curves,  # popped by train: written as uplift_curves.parquet
    }


def _num(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _calibration_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Decile rows of :func:`offerwise.evaluation.uplift.uplift_calibration` as JSON records."""
    return [
        {
            "bin": int(r["bin"]),
            "n": int(r["n"]),
            "predicted": _num(r["predicted_uplift"]),
            "observed": _num(r["observed_uplift"]),
            "observed_se": _num(r["observed_se"]),
        }
        for r in df.to_dict(orient="records")
    ]

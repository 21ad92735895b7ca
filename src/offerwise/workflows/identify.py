"""The identification report of ``offerwise train``: can these logs identify the offers' effects?

Gathers the inputs of :mod:`offerwise.evaluation.identification` from a data source: the logging
kind from the exposures' propensities; overlap and balance of each offer vs ``none`` on the model's
features (cross-fitted propensity estimates); a placebo — the effect of an offer on the customer's
net profit in the ``PLACEBO_DAYS`` before the exposure, with covariates as of the start of that
window — and the verdict. Diagnostics run on at most ``MAX_ROWS`` exposures (a seeded sample), so
they add seconds, not minutes, to training.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.evaluation.identification import (
    Identification,
    PlaceboResult,
    balance,
    cross_fitted_propensity,
    logged_or_estimated,
    logging_kind,
    overlap,
    placebo_aipw,
    verdict,
)
from offerwise.features.model_inputs import FeatureSpec, build_features
from offerwise.vocab import NO_OFFER, net_profit_sum

__all__ = ["MAX_ROWS", "PLACEBO_DAYS", "identify", "pre_period_net_profit"]

#: The placebo's window: net profit in these days before each exposure.
PLACEBO_DAYS = 30
#: At most this many exposures (seeded sample) feed the diagnostics.
MAX_ROWS = 20_000


def pre_period_net_profit(
    ds: DataSet, keys: pd.DataFrame, days: int, margin_rate: float
) -> np.ndarray:
    """Net profit (n,) of each (customer_id, ts) row of ``keys`` over ``[ts − days, ts)``.

    ``margin_rate · (amount + discount) − discount`` summed over the customer's transaction lines
    in the window (the analysis' net profit without unit costs); 0 without purchases.
    """
    if not ds.has("transactions") or len(keys) == 0:
        return np.zeros(len(keys))
    k = keys[["customer_id", "ts"]].reset_index(drop=True).copy()
    k["row"] = np.arange(len(k))
    k["customer_id"] = k["customer_id"].astype(str)
    con = ds.con
    con.register("ow_placebo_keys", k)
    try:
        out = con.execute(
            f"""
            SELECT k.row,
                   {net_profit_sum("t")} AS y
            FROM ow_placebo_keys k
            JOIN transactions t ON t.customer_id = k.customer_id
             AND t.ts < k.ts AND t.ts >= k.ts - INTERVAL '{int(days)} days'
            GROUP BY k.row
            """,
            [float(margin_rate)],
        ).fetchnumpy()
    finally:
        con.unregister("ow_placebo_keys")
    y = np.zeros(len(k))
    y[np.asarray(out["row"], dtype=np.int64)] = np.nan_to_num(
        np.asarray(out["y"], dtype=np.float64)
    )
    return y


def identify(
    ds: DataSet,
    ex: pd.DataFrame,
    X: np.ndarray,
    spec: FeatureSpec,
    offers: list[str],
    *,
    settings: Settings,
    seed: int,
) -> Identification:
    """The identification report for exposures ``ex`` (n rows, contract columns) with the model's
    features ``X`` (n, p) as of each exposure; ``offers``: the scored offers."""
    offer = ex["offer_id"].astype(str).to_numpy()
    prop = ex["propensity"].to_numpy(dtype=np.float64) if "propensity" in ex.columns else None
    kind, why = logging_kind(prop, offer)
    rng = np.random.default_rng(seed)
    rows = (
        np.sort(rng.choice(len(ex), MAX_ROWS, replace=False))
        if len(ex) > MAX_ROWS
        else np.arange(len(ex))
    )
    Xs, off = X[rows], offer[rows]
    none = off == NO_OFFER
    threads = settings.threads
    ov, bal = [], []
    checked = [o for o in offers if (off == o).sum() >= 20 and none.sum() >= 20]

    def propensity_of(o: str) -> np.ndarray:
        arm = (off == o) | none
        return cross_fitted_propensity(Xs[arm], off[arm] == o, seed=seed, threads=1, folds=3)

    # one offer's fits per worker, one thread each: small fits gain little from a second thread
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        estimates = list(pool.map(propensity_of, checked))
    for o, e in zip(checked, estimates, strict=True):
        arm = (off == o) | none
        t = off[arm] == o
        ov.append(overlap(o, e, t, None if prop is None or kind == "mixed" else prop[rows][arm]))
        bal += balance(o, Xs[arm], list(spec.columns), t, e, top=5)
    placebo = None
    if ds.has("transactions") and (~none).sum() >= 50 and none.sum() >= 50:
        arms = [NO_OFFER, *sorted(set(off) - {NO_OFFER})]
        arm = pd.Series(off).map({a: i for i, a in enumerate(arms)}).to_numpy(dtype=np.int64)
        # the logging policy's own probability of each logged arm; estimated from what the
        # policy could see at the exposure where it was not logged
        p_arm, _ = logged_or_estimated(
            None if prop is None else prop[rows], Xs, arm, len(arms), seed=seed, threads=threads
        )
        keys = ex.iloc[rows][["customer_id", "ts"]]
        y = pre_period_net_profit(ds, keys, PLACEBO_DAYS, settings.margin_rate)
        lagged = pd.DataFrame(
            {
                "customer_id": keys["customer_id"].astype(str).to_numpy(),
                "as_of": pd.to_datetime(keys["ts"]).to_numpy() - np.timedelta64(PLACEBO_DAYS, "D"),
            }
        )
        XL, _ = build_features(ds, lagged, settings, spec=spec)
        est, lo, hi, p = placebo_aipw(
            y, arm, p_arm, np.nan_to_num(XL, nan=0.0), seed=seed, threads=threads
        )
        placebo = PlaceboResult(
            outcome="net_profit",
            window_days=PLACEBO_DAYS,
            estimate=est,
            ci_low=lo,
            ci_high=hi,
            p_value=p,
            n=int(len(y)),
        )
    level, reasons = verdict(kind, ov, bal, placebo)
    return Identification(
        logging=kind,
        logging_reason=why,
        overlap=ov,
        balance=bal,
        placebo=placebo,
        verdict=level,
        reasons=reasons,
    )

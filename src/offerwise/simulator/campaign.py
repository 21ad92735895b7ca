"""Running a planned campaign in a simulated market (:func:`run_campaign`) and writing the shop's
data afterwards (:func:`write_campaign_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from offerwise._io import FolderKind, atomic_dir
from offerwise.errors import InputError
from offerwise.simulator.exposures import _order_lines
from offerwise.simulator.market import SimulatedMarket
from offerwise.simulator.response import _draw_orders
from offerwise.simulator.truth import _check_decisions
from offerwise.vocab import NO_OFFER

CAMPAIGN_METRICS = ("converted", "revenue", "discount_cost", "net_profit")


@dataclass
class CampaignRun:
    """Outcomes of one simulated run of a plan (see :func:`run_campaign`).

    ``transactions``: contract rows (one order line per converting plan customer) with ``ts`` in
    ``[start, end)``. ``true_lift``: per metric, the mean over plan customers of
    E[y | planned offer] − E[y | none] — the average treatment effect that a treatment-vs-holdout
    comparison estimates; net profit is measured as an analysis measures it from transactions,
    ``margin·(amount + discount) − discount``. ``true_incremental_profit``: Σ over treated
    customers of the simulator's true incremental profit. ``exposures``: one contract exposure per
    plan customer (the arm served — ``none`` for holdout rows —, ``ts`` = start, the drawn outcome
    accounted as the logged exposures are: revenue, discount cost, gross profit = margin · gross
    order value) with the plan's ``propensity`` when the plan has one (holdout rows: 1): what
    ``offerwise export-exposures`` returns after a served campaign.
    """

    transactions: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    true_lift: dict[str, float]
    true_incremental_profit: float
    n_treatment: int
    n_holdout: int
    exposures: pd.DataFrame | None = None


def default_campaign_start(market: SimulatedMarket) -> pd.Timestamp:
    """The day after the last transaction or logged exposure (midnight) — a plan's default
    decision date."""
    last = [
        pd.Timestamp(df["ts"].max()) for df in (market.transactions, market.exposures) if len(df)
    ]
    if not last:
        cfg = market.config
        return (pd.Timestamp(cfg.start_date) + pd.Timedelta(days=cfg.history_days)).normalize()
    return (max(last) + pd.Timedelta(days=1)).normalize()


def run_campaign(
    market: SimulatedMarket,
    plan: pd.DataFrame,
    *,
    seed: int,
    start: str | pd.Timestamp | None = None,
) -> CampaignRun:
    """Run ``plan`` in the simulated market for one attribution window and draw what happened.

    ``plan``: customer_id, offer_id and optionally ``group`` ('treatment' | 'holdout'; missing =
    treatment) and ``planned_offer_id`` (the offer a holdout customer would have got; default
    its ``offer_id``). Holdout customers get no offer; treated customers get their ``offer_id``
    ('none' allowed). Outcomes are drawn exactly as the logged exposures are (same response model),
    independently per call with ``seed``; the market must come from :func:`simulate` in this
    process (its latent state is not written to disk).
    """
    if market.state is None:
        raise InputError(
            "run_campaign: this market has no latent state; simulate it in this process"
        )
    d = _check_decisions(market.truth, plan)
    group = (
        plan["group"].astype(str).to_numpy()
        if "group" in plan.columns
        else np.full(len(d), "treatment", dtype=object)
    )
    bad = ~np.isin(group, ["treatment", "holdout"])
    if bad.any():
        raise InputError(
            f"plan: column 'group': {int(bad.sum())} rows are not 'treatment' or "
            f"'holdout'; e.g. {group[bad][0]!r}"
        )
    cfg, t, tr = market.config, market.state.traits, market.state.truth
    ids = pd.Index(market.customers["customer_id"].astype(str))
    cust = ids.get_indexer(d["customer_id"])
    if (cust < 0).any():
        raise InputError(
            f"plan: {int((cust < 0).sum())} customers not in the market; e.g. "
            f"{d['customer_id'][cust < 0].iloc[0]!r}"
        )
    action_ids = [NO_OFFER] + [o.offer_id for o in cfg.offers]
    given = pd.Index(action_ids).get_indexer(d["offer_id"])
    planned = given
    if "planned_offer_id" in plan.columns:  # what holdout customers would have got
        planned = pd.Index(action_ids).get_indexer(plan["planned_offer_id"].astype(str))
        if (planned < 0).any():
            raise InputError(
                f"plan: column 'planned_offer_id': {int((planned < 0).sum())} rows name "
                f"offers not in the menu; e.g. "
                f"{plan['planned_offer_id'].astype(str)[planned < 0].iloc[0]!r}"
            )
    treated = group == "treatment"
    planned = np.where(treated, given, planned)
    a = np.where(treated, given, 0)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xCA3]))
    o = _draw_orders(t, tr, cfg, rng, cust, a)
    start = default_campaign_start(market) if start is None else pd.Timestamp(start).normalize()
    end = start + pd.Timedelta(days=cfg.attribution_days)
    secs = (
        rng.integers(0, cfg.attribution_days, cust.size) * 86400
        + rng.integers(8 * 3600, 20 * 3600, cust.size)
    ).astype("int64")
    tx = _order_lines(
        t,
        market.products,
        rng,
        pa.array(ids.to_numpy(dtype=object), pa.string()),
        cust,
        o,
        start + pd.to_timedelta(secs, unit="s"),
        f"K{seed}-",
    )
    # true effects of what was planned, measured the way an analysis measures transactions
    rows = np.arange(cust.size)
    p, mg = tr.p[cust], cfg.margin_rate
    rev = p * (tr.gross[cust] - tr.price_cut[cust])
    dis = p * tr.discount[cust]
    mean = {
        "converted": p,
        "revenue": rev,
        "discount_cost": dis,
        "net_profit": mg * (rev + dis) - dis,
    }
    lift = {
        k: float((v[rows, planned] - v[:, 0]).mean()) if cust.size else float("nan")
        for k, v in mean.items()
    }
    net = mg * p * tr.gross[cust] - dis
    inc = float((net[rows, a] - net[:, 0]).sum())
    exposures = pd.DataFrame(
        {
            "customer_id": d["customer_id"].to_numpy(),
            "offer_id": np.asarray(action_ids, dtype=object)[a],
            "ts": start,
            "converted": o.converted.astype("int64"),
            "revenue": o.revenue,
            "discount_cost": o.discount,
            "gross_profit": np.round(mg * o.gross, 4),
        }
    )
    if "propensity" in plan.columns:
        exposures["propensity"] = np.where(
            treated, pd.to_numeric(plan["propensity"]).to_numpy(dtype=np.float64), 1.0
        )
    return CampaignRun(
        tx, start, end, lift, inc, int(treated.sum()), int((~treated).sum()), exposures
    )


def write_campaign_data(market: SimulatedMarket, run: CampaignRun, out_dir: str | Path) -> Path:
    """The shop's data after ``run`` (atomically): the contract tables with the campaign's order
    lines appended to ``transactions`` — what ``offerwise analyze`` reads."""
    out = Path(out_dir)
    tables = market.tables()
    tables["transactions"] = pd.concat([market.transactions, run.transactions], ignore_index=True)
    # the demo's own folder; ``transactions.parquet`` marks one written before ``.offerwise``
    kind = FolderKind("shop after a simulated campaign", ("transactions.parquet",))
    with atomic_dir(out, kind) as tmp:
        for name, df in tables.items():
            if len(df):  # an empty optional table (no logged exposures) is left out
                df.to_parquet(tmp / f"{name}.parquet", index=False)
    return out

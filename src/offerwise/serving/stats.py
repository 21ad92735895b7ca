"""Campaign figures of the operator console, computed from the ledger tables with SQL.

One read transaction per campaign (a snapshot on SQLite; on PostgreSQL, READ COMMITTED, each
statement sees the rows committed when it starts). The totals are those of
``GET /v1/campaigns/{id}``; the breakdowns add up to them:

* by offer: decisions (exposures, ``none`` included), coupons issued, redemptions not rolled back
  and their discounts, per served ``offer_id``;
* by segment: the same per plan segment (``assignments.segment``) of plan customers; cold-start
  customers have no plan row and are counted in ``cold_start_exposures`` only;
* burn: the cumulative net spend over time (+ discount at ``redeemed_ts``, − discount at
  ``rolled_back_ts``) in at most ``buckets`` equal time buckets from the campaign's creation to
  now; its last point is the campaign's ``spent``;
* SRM (sample-ratio mismatch): the holdout and treatment exposures of plan customers against the
  holdout share of the loaded plan's assignments, Pearson's chi-square test with 1 degree of
  freedom (p = erfc(√(χ²/2))); a mismatch is p < :data:`SRM_ALPHA`;
* identification: the model's verdict as the plan's ``PLAN.summary.json`` (stored with the
  campaign at plan load) states it under ``claims``; "not available" with the reason otherwise.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from offerwise.serving.problems import ApiProblem
from offerwise.serving.storage import Tables, read_tx
from offerwise.vocab import NO_OFFER

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

#: Significance level of the SRM check (the usual one for SRM alarms: a mismatch is a bug).
SRM_ALPHA = 0.001
#: The chi-square approximation needs this many expected exposures in each group.
SRM_MIN_EXPECTED = 5.0
#: Time buckets of the burn series.
BURN_BUCKETS = 120
_OFFER_FIELDS = ("exposures", "explored", "coupons_issued", "redemptions", "rolled_back", "spent")
_SEGMENT_FIELDS = (
    "customers_in_plan",
    "holdout_customers",
    "exposures",
    "offered",
    "coupons_issued",
    "redemptions",
    "spent",
)


class BurnPoint(BaseModel):
    at: datetime
    spent: float = Field(description="cumulative net spend at `at` (currency)")
    redemptions: int = Field(description="redemptions not rolled back at `at`")


class OfferStats(BaseModel):
    offer_id: str = Field(description="the served offer (`none`: no offer)")
    exposures: int
    explored: int = Field(description="exposures chosen by the service's exploration draw")
    coupons_issued: int
    redemptions: int
    rolled_back: int
    spent: float


class SegmentStats(BaseModel):
    segment: str | None = Field(description="plan segment (null: the plan has none)")
    customers_in_plan: int
    holdout_customers: int
    exposures: int
    offered: int = Field(description="exposures with an offer (not `none`)")
    coupons_issued: int
    redemptions: int
    spent: float


class SrmCheck(BaseModel):
    """Do the exposures split between holdout and treatment as the plan assigned them?"""

    status: Literal["ok", "mismatch", "insufficient_data", "no_holdout"]
    expected_holdout_share: float | None = Field(
        description="holdout share of the loaded plan's customers"
    )
    observed_holdout: int
    observed_treatment: int
    expected_holdout: float | None
    chi2: float | None
    p_value: float | None
    alpha: float
    detail: str


class IdentificationInfo(BaseModel):
    """The model's identification verdict, when the plan's summary carries it."""

    available: bool
    verdict: str | None = None
    verified: bool | None = None
    reasons: list[str] = Field(default_factory=list)
    experiment: str | None = None
    unavailable_reason: str | None = None


class CampaignStats(BaseModel):
    campaign_id: str
    active: bool
    created_at: datetime
    generated_at: datetime
    budget: float
    spent: float
    remaining: float
    redemptions: int
    rolled_back: int
    offers_issued: int
    exposures: int
    customers_in_plan: int
    treatment_exposures: int
    holdout_exposures: int
    cold_start_exposures: int
    holdout_share: float | None = Field(
        description="holdout / (holdout + treatment) exposures (null: none yet)"
    )
    plan_holdout_fraction: float | None = Field(
        description="the plan's random holdout fraction (its summary)"
    )
    explored: int
    exploration_share: float | None = Field(
        description="explored / non-holdout exposures (null: none yet)"
    )
    epsilon: float = Field(description="the service's exploration share ε (this worker)")
    explore_plan: float = Field(
        description="share of the plan's customers given a random offer by the plan's own draw "
        "(`offerwise plan --explore`; its summary's `explore`, 0 when it has none)"
    )
    burn: list[BurnPoint]
    by_offer: list[OfferStats]
    by_segment: list[SegmentStats]
    srm: SrmCheck
    identification: IdentificationInfo


class CampaignSummary(BaseModel):
    campaign_id: str
    active: bool
    created_at: datetime
    budget: float
    spent: float


class CampaignList(BaseModel):
    campaigns: list[CampaignSummary] = Field(description="the active one first, then newest first")


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def chi2_sf_1df(chi2: float) -> float:
    """P(X ≥ chi2) for X ~ χ² with 1 degree of freedom: erfc(√(chi2 / 2))."""
    return math.erfc(math.sqrt(max(chi2, 0.0) / 2.0))


def srm_check(holdout: int, treatment: int, expected_share: float | None) -> SrmCheck:
    """Pearson's chi-square test of the observed holdout/treatment split against ``expected_share``
    (the plan's holdout share)."""
    n = holdout + treatment
    e_h = chi2 = p = None
    if expected_share is None or not 0.0 < expected_share < 1.0:
        status, detail = "no_holdout", "the plan has no holdout and treatment to compare"
    elif min(n * expected_share, n * (1 - expected_share)) < SRM_MIN_EXPECTED:
        e_h = n * expected_share
        status = "insufficient_data"
        detail = f"too few exposures: each group needs >= {SRM_MIN_EXPECTED:g} expected"
    else:
        e_h, e_t = n * expected_share, n * (1.0 - expected_share)
        chi2 = (holdout - e_h) ** 2 / e_h + (treatment - e_t) ** 2 / e_t
        p = chi2_sf_1df(chi2)
        status = "mismatch" if p < SRM_ALPHA else "ok"
        detail = (
            f"sample-ratio mismatch: p = {p:.2g} < {SRM_ALPHA:g}; exposures do not split as the "
            "plan assigned customers (check how customers reach the service)"
            if p < SRM_ALPHA
            else f"no mismatch (p = {p:.3g} >= {SRM_ALPHA:g})"
        )
    return SrmCheck(
        status=status,
        expected_holdout_share=expected_share,
        observed_holdout=holdout,
        observed_treatment=treatment,
        expected_holdout=e_h,
        chi2=chi2,
        p_value=p,
        alpha=SRM_ALPHA,
        detail=detail,
    )


def identification_info(summary: dict[str, Any] | None) -> IdentificationInfo:
    """The verdict under ``claims`` of the plan's summary, or why there is none."""
    if summary is None:
        return IdentificationInfo(
            available=False, unavailable_reason="the campaign was loaded without a plan summary"
        )
    claims = summary.get("claims")
    if not isinstance(claims, dict):
        return IdentificationInfo(
            available=False,
            unavailable_reason="the plan's summary has no 'claims' section (a plan not written "
            "by `offerwise plan`, or made without the checks of its profit)",
        )
    verdict = claims.get("verdict")
    if verdict is None:
        return IdentificationInfo(
            available=False,
            unavailable_reason="the plan's model has no identification report "
            "(model_card.json without 'identification')",
        )
    exp = claims.get("experiment")
    verified = claims.get("verified")
    return IdentificationInfo(
        available=True,
        verdict=str(verdict),
        verified=bool(verified) if verified is not None else None,
        reasons=[str(r) for r in claims.get("reasons") or []],
        experiment=str(exp) if exp else None,
    )


def _summary(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        out = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return out if isinstance(out, dict) else None


def _share(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def plan_explore_share(summary_json: str | None) -> float:
    """The share of customers the plan's own draw explored (`plan --explore`): its summary's
    ``explore``; 0 when the summary has none."""
    return _share((_summary(summary_json) or {}).get("explore")) or 0.0


def list_campaigns(engine: Engine) -> CampaignList:
    k = Tables.get().campaigns
    with read_tx(engine) as conn:
        rows = conn.execute(
            sa.select(k).order_by(k.c.active.desc(), k.c.created_ts.desc(), k.c.campaign_id)
        ).all()
    return CampaignList(
        campaigns=[
            CampaignSummary(
                campaign_id=r.campaign_id,
                active=bool(r.active),
                created_at=_dt(r.created_ts),
                budget=r.budget_cents / 100,
                spent=r.spent_cents / 100,
            )
            for r in rows
        ]
    )


def _burn(conn: Connection, cid: str, t0: float, t1: float, buckets: int) -> list[BurnPoint]:
    """Cumulative net spend at the end of each time bucket with a change, from ``t0`` to ``t1``."""
    r = Tables.get().redemptions
    width = max((t1 - t0) / buckets, 1e-6)
    deltas: dict[int, list[int]] = {}
    for ts_col, sign, only_rolled_back in (
        (r.c.redeemed_ts, 1, False),
        (r.c.rolled_back_ts, -1, True),
    ):
        x = (ts_col - t0) / width
        b = sa.func.floor(x) if conn.dialect.name == "postgresql" else sa.cast(x, sa.Integer)
        q = (
            sa.select(b.label("b"), sa.func.sum(r.c.discount_cents), sa.func.count())
            .where(r.c.campaign_id == cid)
            .group_by("b")
        )
        if only_rolled_back:
            q = q.where(r.c.status == "rolled_back", r.c.rolled_back_ts.is_not(None))
        for bucket, cents, n in conn.execute(q):
            d = deltas.setdefault(min(max(int(bucket), 0), buckets - 1), [0, 0])
            d[0] += sign * int(cents or 0)
            d[1] += sign * int(n)
    points = [BurnPoint(at=_dt(t0), spent=0.0, redemptions=0)]
    cents = count = 0
    for bucket in sorted(deltas):
        cents += deltas[bucket][0]
        count += deltas[bucket][1]
        at = min(t0 + (bucket + 1) * width, t1)
        points.append(BurnPoint(at=_dt(at), spent=cents / 100, redemptions=count))
    points.append(BurnPoint(at=_dt(t1), spent=cents / 100, redemptions=count))
    return points


def _when(cond: Any) -> Any:
    """``SUM(CASE WHEN cond THEN 1 ELSE 0 END)``, 0 for no rows."""
    return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)


def _plan_join(table: Any) -> Any:
    """``table`` joined to its customers' plan rows (assignments)."""
    a = Tables.get().assignments
    on = sa.and_(a.c.campaign_id == table.c.campaign_id, a.c.customer_id == table.c.customer_id)
    return table.join(a, on)


def _by_offer(conn: Connection, cid: str) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Per served offer: the :class:`OfferStats` fields; and the exposures per group."""
    t = Tables.get()
    d, c, r = t.decisions, t.coupons, t.redemptions
    offers: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(_OFFER_FIELDS, 0))
    groups = {"treatment": 0, "holdout": 0, "cold_start": 0}
    q = sa.select(d.c.offer_id, d.c.grp, sa.func.count(), _when(d.c.explored == 1))
    for oid, grp, n, ex in conn.execute(
        q.where(d.c.campaign_id == cid).group_by(d.c.offer_id, d.c.grp)
    ):
        offers[oid]["exposures"] += int(n)
        offers[oid]["explored"] += int(ex)
        groups[grp] = groups.get(grp, 0) + int(n)
    q = sa.select(c.c.offer_id, sa.func.count()).where(c.c.campaign_id == cid)
    for oid, n in conn.execute(q.group_by(c.c.offer_id)):
        offers[oid]["coupons_issued"] = int(n)
    ok = r.c.status == "redeemed"
    cents = sa.func.sum(sa.case((ok, r.c.discount_cents), else_=0))
    q = sa.select(r.c.offer_id, _when(ok), _when(~ok), cents).where(r.c.campaign_id == cid)
    for oid, n_ok, n_back, spent in conn.execute(q.group_by(r.c.offer_id)):
        o = offers[oid]
        o["redemptions"], o["rolled_back"], o["spent"] = int(n_ok), int(n_back), int(spent or 0)
    return offers, groups


def _by_segment(conn: Connection, cid: str) -> dict[str | None, dict[str, Any]]:
    """Per plan segment: the :class:`SegmentStats` fields (``spent`` in cents)."""
    t = Tables.get()
    a, d, c, r = t.assignments, t.decisions, t.coupons, t.redemptions
    segs: dict[str | None, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(_SEGMENT_FIELDS, 0))
    n = sa.func.count()
    q = sa.select(a.c.segment, n, _when(a.c.grp == "holdout")).where(a.c.campaign_id == cid)
    for s, k, h in conn.execute(q.group_by(a.c.segment)):
        segs[s]["customers_in_plan"], segs[s]["holdout_customers"] = int(k), int(h)
    q = sa.select(a.c.segment, n, _when(d.c.offer_id != NO_OFFER)).select_from(_plan_join(d))
    for s, k, offered in conn.execute(q.where(d.c.campaign_id == cid).group_by(a.c.segment)):
        segs[s]["exposures"], segs[s]["offered"] = int(k), int(offered)
    q = sa.select(a.c.segment, n).select_from(_plan_join(c)).where(c.c.campaign_id == cid)
    for s, k in conn.execute(q.group_by(a.c.segment)):
        segs[s]["coupons_issued"] = int(k)
    q = sa.select(a.c.segment, n, sa.func.sum(r.c.discount_cents)).select_from(_plan_join(r))
    q = q.where(r.c.campaign_id == cid, r.c.status == "redeemed")
    for s, k, spent in conn.execute(q.group_by(a.c.segment)):
        segs[s]["redemptions"], segs[s]["spent"] = int(k), int(spent or 0)
    return segs


def campaign_stats(
    engine: Engine,
    campaign_id: str,
    *,
    epsilon: float = 0.0,
    now: float | None = None,
    buckets: int = BURN_BUCKETS,
) -> CampaignStats:
    """The console's figures of one campaign (404 problem for an unknown campaign)."""
    now = time.time() if now is None else now
    k = Tables.get().campaigns
    with read_tx(engine) as conn:
        row = conn.execute(sa.select(k).where(k.c.campaign_id == campaign_id)).first()
        if row is None:
            raise ApiProblem(404, "campaign-not-found", f"no campaign '{campaign_id}'")
        offers, groups = _by_offer(conn, campaign_id)
        segs = _by_segment(conn, campaign_id)
        burn = _burn(conn, campaign_id, min(row.created_ts, now), now, buckets)
    raw_summary = _summary(row.summary_json)
    summary = raw_summary or {}
    n_plan = sum(s["customers_in_plan"] for s in segs.values())
    n_hold = sum(s["holdout_customers"] for s in segs.values())
    plan_obs = groups["holdout"] + groups["treatment"]
    not_holdout = sum(groups.values()) - groups["holdout"]
    explored = sum(o["explored"] for o in offers.values())
    return CampaignStats(
        campaign_id=row.campaign_id,
        active=bool(row.active),
        created_at=_dt(row.created_ts),
        generated_at=_dt(now),
        budget=row.budget_cents / 100,
        spent=row.spent_cents / 100,
        remaining=(row.budget_cents - row.spent_cents) / 100,
        redemptions=int(row.redemptions),
        rolled_back=sum(o["rolled_back"] for o in offers.values()),
        offers_issued=sum(o["coupons_issued"] for o in offers.values()),
        exposures=sum(groups.values()),
        customers_in_plan=n_plan,
        treatment_exposures=groups["treatment"],
        holdout_exposures=groups["holdout"],
        cold_start_exposures=groups["cold_start"],
        holdout_share=groups["holdout"] / plan_obs if plan_obs else None,
        plan_holdout_fraction=_share(summary.get("holdout_fraction")),
        explored=explored,
        exploration_share=explored / not_holdout if not_holdout else None,
        epsilon=epsilon,
        explore_plan=plan_explore_share(row.summary_json),
        burn=burn,
        by_offer=[
            OfferStats(offer_id=oid, **{**o, "spent": o["spent"] / 100})
            for oid, o in sorted(offers.items(), key=lambda kv: (kv[0] == NO_OFFER, kv[0]))
        ],
        by_segment=[
            SegmentStats(segment=s, **{**g, "spent": g["spent"] / 100})
            for s, g in sorted(segs.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ],
        srm=srm_check(groups["holdout"], groups["treatment"], n_hold / n_plan if n_plan else None),
        identification=identification_info(raw_summary),
    )


__all__ = [
    "BURN_BUCKETS",
    "SRM_ALPHA",
    "BurnPoint",
    "CampaignList",
    "CampaignStats",
    "CampaignSummary",
    "IdentificationInfo",
    "OfferStats",
    "SegmentStats",
    "SrmCheck",
    "campaign_stats",
    "chi2_sf_1df",
    "identification_info",
    "list_campaigns",
    "plan_explore_share",
    "srm_check",
]

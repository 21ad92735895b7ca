"""The offer service's business logic: decide, validate, redeem, roll back, record events.

Ledger invariants (kept by the database, never by check-then-act across transactions):

* ``campaigns.spent_cents`` = Σ ``discount_cents`` of redemptions with status ``redeemed``;
  ``spent_cents ≤ budget_cents`` (conditional UPDATE + CHECK constraint);
* ``coupons.uses`` = number of ``redeemed`` redemptions of the coupon, ``≤ max_uses``;
* one answer per (API key, Idempotency-Key): the key is claimed by an INSERT into
  ``idempotency_keys`` (primary key) in the same transaction as the redemption.

A redemption is one transaction: claim the idempotency key, then inside a savepoint
``UPDATE coupons SET uses = uses + 1 WHERE code = :c AND uses < max_uses``, the same for the
customer's usage, ``UPDATE campaigns SET spent_cents = spent_cents + :d WHERE campaign_id = :id
AND spent_cents + :d <= budget_cents`` and the redemption INSERT; a conditional UPDATE that
matches no row rolls the savepoint back and the refusal is stored under the idempotency key.
On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (writers are serialized); on PostgreSQL
the row locks taken by the UPDATEs serialize concurrent redemptions of one campaign.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from offerwise.serving.pricing import Line, OfferTerms, quote
from offerwise.serving.problems import ApiProblem, Rejection, problem_body
from offerwise.serving.schemas import (
    CampaignOut,
    Cart,
    CouponOut,
    EventBatch,
    EventsAccepted,
    OfferDecision,
    OfferOut,
    RedeemRequest,
    Redemption,
    RollbackRequest,
    RollbackResult,
    Validation,
)
from offerwise.serving.settings import ServeSettings
from offerwise.serving.storage import NO_OFFER, Tables, read_tx, write_tx

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def new_coupon_code() -> str:
    """A random code ``XXXX-XXXX-XXXX`` (60 bits, no 0/O/1/I)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str:
    return code.strip().upper()


def exploration_draws(seed: int, campaign_id: str, customer_id: str) -> tuple[float, float]:
    """Two uniforms in [0, 1) fixed by (seed, campaign, customer): reproducible decisions."""
    h = hashlib.blake2b(f"{seed}\x1f{campaign_id}\x1f{customer_id}".encode(), digest_size=16).digest()
    return int.from_bytes(h[:8], "big") / 2**64, int.from_bytes(h[8:], "big") / 2**64


def choose_offer(plan_choice: str, eligible: list[str], epsilon: float, u1: float, u2: float
                 ) -> tuple[str, float, bool]:
    """ε-greedy draw over ``eligible`` + none: returns (offer_id, propensity, explored).

    With probability 1−ε the plan's choice, else uniform over the K = len(eligible)+1 arms;
    propensity = (1−ε)·1[offer = plan choice] + ε/K.
    """
    arms = [NO_OFFER] + [o for o in eligible if o != NO_OFFER]
    k = len(arms)
    explored = epsilon > 0 and u1 < epsilon
    chosen = arms[min(int(u2 * k), k - 1)] if explored else plan_choice
    propensity = (1 - epsilon) * (chosen == plan_choice) + epsilon / k
    return chosen, min(1.0, propensity), explored


def request_hash(code: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"code": code, "body": body}, sort_keys=True,
                                     separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RedeemOutcome:
    """What the redeem route answers: HTTP status, JSON body and whether it is a replay."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class OfferService:
    """Stateless over the database except small per-process caches (menu, decisions)."""

    def __init__(self, engine: Any, settings: ServeSettings):
        self.engine = engine
        self.settings = settings
        self.t = Tables.get()
        self.menu: dict[str, OfferTerms] = {}
        self.campaign_id: str | None = None
        self._decisions: dict[tuple[str, str], OfferDecision] = {}
        self._lock = threading.Lock()
        self.refresh()

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        """Reload the menu and the active campaign from the database."""
        t = self.t
        with read_tx(self.engine) as conn:
            menu = {r.offer_id: OfferTerms(r.offer_id, r.kind, r.value, r.min_spend_cents, r.category,
                                           r.starts_ts, r.ends_ts, bool(r.members_only))
                    for r in conn.execute(sa.select(t.offers))}
            cid = conn.execute(sa.select(t.campaigns.c.campaign_id)
                               .where(t.campaigns.c.active == 1)).scalar()
        self.menu = menu
        self.campaign_id = cid

    def _offer(self, offer_id: str) -> OfferTerms:
        if offer_id not in self.menu:
            self.refresh()
        return self.menu[offer_id]

    def _require_campaign(self) -> str:
        if self.campaign_id is None:
            self.refresh()
        if self.campaign_id is None:
            raise ApiProblem(503, "no-active-campaign", "no plan is loaded: start the server with --plan")
        return self.campaign_id

    def offer_out(self, o: OfferTerms) -> OfferOut:
        return OfferOut(offer_id=o.offer_id, kind=o.kind, value=o.value, min_spend=o.min_spend_cents / 100,
                        category=o.category, starts=dt(o.starts_ts), ends=dt(o.ends_ts),
                        members_only=o.members_only)

    # ---------------------------------------------------------------- decide
    def cached_offer(self, customer_id: str) -> OfferDecision | None:
        """A decision already made in this process (decisions never change), or None."""
        cid = self.campaign_id
        return None if cid is None else self._decisions.get((cid, customer_id))

    def get_offer(self, customer_id: str, now: float | None = None) -> OfferDecision:
        """The customer's decision in the active campaign, made and logged on the first ask."""
        cid = self._require_campaign()
        hit = self._decisions.get((cid, customer_id))
        if hit is not None:
            return hit
        now = time.time() if now is None else now
        t = self.t
        with read_tx(self.engine) as conn:
            dec = self._read_decision(conn, cid, customer_id)
            assignment = None if dec else conn.execute(
                sa.select(t.assignments.c.offer_id, t.assignments.c.grp).where(
                    t.assignments.c.campaign_id == cid, t.assignments.c.customer_id == customer_id)).first()
        if dec is None:
            dec = self._decide(cid, customer_id, assignment, now)
        with self._lock:
            if len(self._decisions) > 200_000:
                self._decisions.clear()
            self._decisions[(cid, customer_id)] = dec
        return dec

    def _read_decision(self, conn: Any, cid: str, customer_id: str) -> OfferDecision | None:
        t = self.t
        row = conn.execute(
            sa.select(t.decisions, t.coupons.c.expires_ts, t.coupons.c.max_uses)
            .select_from(t.decisions.outerjoin(t.coupons, t.coupons.c.code == t.decisions.c.coupon_code))
            .where(t.decisions.c.campaign_id == cid, t.decisions.c.customer_id == customer_id)).first()
        if row is None:
            return None
        offer = None if row.offer_id == NO_OFFER else self.offer_out(self._offer(row.offer_id))
        coupon = (CouponOut(code=row.coupon_code, expires_at=dt(row.expires_ts), max_uses=row.max_uses)
                  if row.coupon_code else None)
        return OfferDecision(customer_id=customer_id, campaign_id=cid, group=row.grp, offer=offer,
                             coupon=coupon, propensity=row.propensity, explored=bool(row.explored),
                             decided_at=dt(row.ts))

    def _decide(self, cid: str, customer_id: str, assignment: Any, now: float) -> OfferDecision:
        s = self.settings
        if assignment is not None:
            grp, plan_offer = assignment.grp, assignment.offer_id
        else:
            grp, plan_offer = "cold_start", s.cold_start_offer
        menu = self.menu
        choice = plan_offer if plan_offer in menu and menu[plan_offer].active_at(now) else NO_OFFER
        if grp == "holdout":
            offer_id, propensity, explored = NO_OFFER, 1.0, False
        else:
            eligible = sorted(o for o, terms in menu.items() if terms.active_at(now)
                              and (not terms.members_only or o == choice))
            u1, u2 = exploration_draws(s.seed, cid, customer_id)
            offer_id, propensity, explored = choose_offer(choice, eligible, s.epsilon, u1, u2)
        t = self.t
        code = None
        try:
            with write_tx(self.engine) as conn:
                if offer_id != NO_OFFER:
                    terms = menu[offer_id]
                    expires = now + s.coupon_ttl_days * 86400
                    if terms.ends_ts is not None:
                        expires = max(now, min(expires, terms.ends_ts))
                    code = new_coupon_code()
                    conn.execute(t.coupons.insert().values(
                        code=code, campaign_id=cid, customer_id=customer_id, offer_id=offer_id,
                        issued_ts=now, expires_ts=expires, max_uses=s.max_uses_per_coupon, uses=0))
                    exists = conn.execute(sa.select(t.customer_usage.c.uses).where(
                        t.customer_usage.c.campaign_id == cid,
                        t.customer_usage.c.customer_id == customer_id)).first()
                    if exists is None:
                        conn.execute(t.customer_usage.insert().values(
                            campaign_id=cid, customer_id=customer_id, uses=0))
                conn.execute(t.decisions.insert().values(
                    decision_id=uuid.uuid4().hex, campaign_id=cid, customer_id=customer_id,
                    offer_id=offer_id, plan_offer_id=choice, grp=grp, propensity=propensity,
                    explored=int(explored), coupon_code=code, ts=now))
        except IntegrityError:  # another request decided first: answer its decision
            pass
        with read_tx(self.engine) as conn:
            dec = self._read_decision(conn, cid, customer_id)
        assert dec is not None
        return dec

    # ---------------------------------------------------------------- coupons
    def _coupon_row(self, conn: Any, code: str) -> Any:
        t = self.t
        row = conn.execute(
            sa.select(t.coupons, t.campaigns.c.budget_cents, t.campaigns.c.spent_cents,
                      t.customer_usage.c.uses.label("customer_uses"))
            .select_from(t.coupons.join(t.campaigns, t.campaigns.c.campaign_id == t.coupons.c.campaign_id)
                         .outerjoin(t.customer_usage, sa.and_(
                             t.customer_usage.c.campaign_id == t.coupons.c.campaign_id,
                             t.customer_usage.c.customer_id == t.coupons.c.customer_id)))
            .where(t.coupons.c.code == code)).first()
        if row is None:
            raise ApiProblem(404, "coupon-not-found", f"no coupon with code '{code}'")
        return row

    def _static_checks(self, row: Any, cart: Cart, now: float) -> tuple[OfferTerms, int, int]:
        """Checks that need no lock; returns (offer, discount cents, eligible cents) or raises."""
        offer = self._offer(row.offer_id)
        if now > row.expires_ts:
            raise Rejection("expired", f"coupon expired at {dt(row.expires_ts).isoformat()}")
        if offer.starts_ts is not None and now < offer.starts_ts:
            raise Rejection("not_started", f"offer starts at {dt(offer.starts_ts).isoformat()}")
        if offer.ends_ts is not None and now > offer.ends_ts:
            raise Rejection("offer_ended", f"offer ended at {dt(offer.ends_ts).isoformat()}")
        lines = [Line(ln.product_id, ln.category, ln.quantity, ln.unit_price) for ln in cart.lines]
        q = quote(offer, lines, cart.total, shipping=cart.shipping, shipping_fee=self.settings.shipping_fee)
        if q.reason is not None:
            details = {
                "wrong_category": f"no cart line in category '{offer.category}'",
                "below_min_spend": f"eligible subtotal {q.eligible_cents / 100:.2f} is below the minimum "
                                   f"spend {offer.min_spend_cents / 100:.2f}",
                "not_enough_items": "buy-one-get-one needs at least 2 eligible units",
                "nothing_to_discount": "the offer gives no discount on this cart",
            }
            raise Rejection(q.reason, details.get(q.reason, q.reason))
        return offer, q.discount_cents, q.eligible_cents

    def validate(self, code: str, cart: Cart, now: float | None = None) -> Validation:
        """The discount the coupon would give on ``cart``, or why not (changes nothing)."""
        now = time.time() if now is None else now
        code = normalize_code(code)
        with read_tx(self.engine) as conn:
            row = self._coupon_row(conn, code)
        remaining = row.budget_cents - row.spent_cents
        discount = eligible = 0
        reason = detail = None
        try:
            _, discount, eligible = self._static_checks(row, cart, now)
            if row.uses >= row.max_uses:
                raise Rejection("already_redeemed", "the coupon has no uses left")
            if (row.customer_uses or 0) >= self.settings.max_uses_per_customer:
                raise Rejection("customer_limit_reached", "the customer has used this campaign's offers")
            if discount > remaining:
                raise Rejection("budget_exhausted", f"campaign budget left {remaining / 100:.2f} is "
                                                    f"below the discount {discount / 100:.2f}")
        except Rejection as r:
            reason, detail, discount = r.reason, r.detail, 0
        return Validation(code=code, valid=reason is None, discount=discount / 100,
                          eligible_subtotal=eligible / 100, reason=reason, detail=detail,
                          offer_id=row.offer_id, customer_id=row.customer_id, campaign_id=row.campaign_id,
                          remaining_budget=remaining / 100)

    def redeem(self, code: str, req: RedeemRequest, api_key_id: str, idem_key: str,
               now: float | None = None, instance: str | None = None) -> RedeemOutcome:
        """Redeem atomically (see module docstring); replays the stored answer of a reused key."""
        now = time.time() if now is None else now
        code = normalize_code(code)
        h = request_hash(code, req.model_dump(mode="json"))
        t = self.t
        ik = t.idempotency_keys
        key_where = sa.and_(ik.c.api_key_id == api_key_id, ik.c.idem_key == idem_key)
        try:
            with write_tx(self.engine) as conn:
                prior = conn.execute(sa.select(ik).where(key_where)).first()
                if prior is not None:
                    return self._replay(prior, h, instance)
                row = self._coupon_row(conn, code)
                conn.execute(ik.insert().values(api_key_id=api_key_id, idem_key=idem_key, request_hash=h,
                                                status_code=None, response_json=None, created_ts=now))
                try:
                    with conn.begin_nested():
                        outcome = self._apply_redeem(conn, row, req, api_key_id, idem_key, now)
                except Rejection as r:
                    remaining = conn.execute(sa.select(
                        t.campaigns.c.budget_cents - t.campaigns.c.spent_cents).where(
                        t.campaigns.c.campaign_id == row.campaign_id)).scalar()
                    outcome = RedeemOutcome(409, problem_body(
                        409, "coupon-not-redeemable", r.detail, instance=instance, reason=r.reason,
                        code=code, remaining_budget=remaining / 100))
                conn.execute(ik.update().where(key_where).values(
                    status_code=outcome.status, response_json=json.dumps(outcome.body)))
                return outcome
        except IntegrityError:
            # a concurrent request claimed the same key first; its transaction has committed now
            with read_tx(self.engine) as conn:
                prior = conn.execute(sa.select(ik).where(key_where)).first()
            if prior is None:  # pragma: no cover - the conflicting claim rolled back
                raise ApiProblem(409, "idempotency-key-in-use", "retry the request") from None
            return self._replay(prior, h, instance)

    def _replay(self, prior: Any, h: str, instance: str | None) -> RedeemOutcome:
        if prior.request_hash != h:
            raise ApiProblem(409, "idempotency-key-reused",
                             "this Idempotency-Key was used with a different request body",
                             reason="idempotency_key_reused")
        if prior.status_code is None:  # pragma: no cover - claims commit together with answers
            raise ApiProblem(409, "idempotency-key-in-use", "the first request with this key is running")
        return RedeemOutcome(prior.status_code, json.loads(prior.response_json), replayed=True)

    def _apply_redeem(self, conn: Any, row: Any, req: RedeemRequest, api_key_id: str, idem_key: str,
                      now: float) -> RedeemOutcome:
        t = self.t
        _, discount, _ = self._static_checks(row, req, now)
        n = conn.execute(t.coupons.update().where(t.coupons.c.code == row.code,
                                                  t.coupons.c.uses < t.coupons.c.max_uses)
                         .values(uses=t.coupons.c.uses + 1)).rowcount
        if n != 1:
            raise Rejection("already_redeemed", "the coupon has no uses left")
        cu = t.customer_usage
        n = conn.execute(cu.update().where(cu.c.campaign_id == row.campaign_id,
                                           cu.c.customer_id == row.customer_id,
                                           cu.c.uses < self.settings.max_uses_per_customer)
                         .values(uses=cu.c.uses + 1)).rowcount
        if n != 1:
            raise Rejection("customer_limit_reached", "the customer has used this campaign's offers")
        c = t.campaigns
        left = conn.execute(c.update().where(c.c.campaign_id == row.campaign_id,
                                             c.c.spent_cents + discount <= c.c.budget_cents)
                            .values(spent_cents=c.c.spent_cents + discount, redemptions=c.c.redemptions + 1)
                            .returning(c.c.budget_cents - c.c.spent_cents)).first()
        if left is None:
            raise Rejection("budget_exhausted", f"the campaign budget cannot cover {discount / 100:.2f}")
        rid = uuid.uuid4().hex
        conn.execute(t.redemptions.insert().values(
            redemption_id=rid, coupon_code=row.code, campaign_id=row.campaign_id,
            customer_id=row.customer_id, offer_id=row.offer_id, order_id=req.order_id,
            discount_cents=discount, status="redeemed", api_key_id=api_key_id, idem_key=idem_key,
            redeemed_ts=now, rolled_back_ts=None))
        body = Redemption(redemption_id=rid, code=row.code, campaign_id=row.campaign_id,
                          customer_id=row.customer_id, offer_id=row.offer_id, order_id=req.order_id,
                          discount=discount / 100, remaining_budget=left[0] / 100, redeemed_at=dt(now))
        return RedeemOutcome(200, body.model_dump(mode="json"))

    def rollback(self, code: str, req: RollbackRequest, now: float | None = None) -> RollbackResult:
        """Undo a redemption (refund/cancel): the budget, the coupon use and the customer use return."""
        now = time.time() if now is None else now
        code = normalize_code(code)
        t = self.t
        r, c, cu = t.redemptions, t.campaigns, t.customer_usage
        with write_tx(self.engine) as conn:
            row = self._coupon_row(conn, code)
            q = sa.select(r).where(r.c.coupon_code == code)
            if req.redemption_id is not None:
                red = conn.execute(q.where(r.c.redemption_id == req.redemption_id)).first()
                if red is None:
                    raise ApiProblem(404, "redemption-not-found",
                                     f"coupon '{code}' has no redemption '{req.redemption_id}'")
            else:
                red = conn.execute(q.where(r.c.status == "redeemed")
                                   .order_by(r.c.redeemed_ts.desc()).limit(1)).first()
                if red is None:
                    raise ApiProblem(409, "coupon-not-redeemed", f"coupon '{code}' has no active redemption",
                                     reason="not_redeemed")
            n = conn.execute(r.update().where(r.c.redemption_id == red.redemption_id, r.c.status == "redeemed")
                             .values(status="rolled_back", rolled_back_ts=now)).rowcount
            if n == 1:
                d = red.discount_cents
                conn.execute(c.update().where(c.c.campaign_id == red.campaign_id)
                             .values(spent_cents=c.c.spent_cents - d, redemptions=c.c.redemptions - 1))
                conn.execute(t.coupons.update().where(t.coupons.c.code == code, t.coupons.c.uses > 0)
                             .values(uses=t.coupons.c.uses - 1))
                conn.execute(cu.update().where(cu.c.campaign_id == red.campaign_id,
                                               cu.c.customer_id == red.customer_id, cu.c.uses > 0)
                             .values(uses=cu.c.uses - 1))
            remaining = conn.execute(sa.select(c.c.budget_cents - c.c.spent_cents)
                                     .where(c.c.campaign_id == row.campaign_id)).scalar() \
                if n == 1 else row.budget_cents - row.spent_cents
        return RollbackResult(redemption_id=red.redemption_id, code=code,
                              refunded=red.discount_cents / 100 if n == 1 else 0.0,
                              already_rolled_back=n != 1, remaining_budget=remaining / 100)

    # ---------------------------------------------------------------- events, campaigns
    def record_events(self, batch: EventBatch, now: float | None = None) -> EventsAccepted:
        """Store order outcomes; an order_id already stored is a duplicate (kept as first sent)."""
        now = time.time() if now is None else now
        from offerwise.serving.pricing import cents

        if len(batch.events) > self.settings.max_event_batch:
            raise ApiProblem(413, "batch-too-large",
                             f"at most {self.settings.max_event_batch} events per request")
        rows: dict[str, dict[str, Any]] = {}
        for e in batch.events:
            ts = e.ts if e.ts.tzinfo is not None else e.ts.replace(tzinfo=UTC)
            rows.setdefault(e.order_id, {
                "order_id": e.order_id, "customer_id": e.customer_id, "ts": ts.timestamp(),
                "revenue_cents": cents(e.revenue), "discount_cents": cents(e.discount),
                "coupon_code": normalize_code(e.coupon_code) if e.coupon_code else None,
                "received_ts": now})
        t = self.t
        ev = t.events
        with write_tx(self.engine) as conn:
            ids = list(rows)
            seen: set[str] = set()
            for i in range(0, len(ids), 500):
                seen.update(conn.execute(sa.select(ev.c.order_id)
                                         .where(ev.c.order_id.in_(ids[i:i + 500]))).scalars())
            new = [r for k, r in rows.items() if k not in seen]
            if new:
                if conn.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert
                else:
                    from sqlalchemy.dialects.sqlite import insert
                conn.execute(insert(ev).on_conflict_do_nothing(index_elements=["order_id"]), new)
        return EventsAccepted(accepted=len(new), duplicates=len(batch.events) - len(new))

    def campaign(self, campaign_id: str) -> CampaignOut:
        t = self.t
        c = t.campaigns
        with read_tx(self.engine) as conn:
            row = conn.execute(sa.select(c).where(c.c.campaign_id == campaign_id)).first()
            if row is None:
                raise ApiProblem(404, "campaign-not-found", f"no campaign '{campaign_id}'")

            def count(table: Any) -> int:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                        .where(table.c.campaign_id == campaign_id)).scalar())

            issued, exposures, customers = count(t.coupons), count(t.decisions), count(t.assignments)
        return CampaignOut(campaign_id=row.campaign_id, active=bool(row.active),
                           budget=row.budget_cents / 100, spent=row.spent_cents / 100,
                           remaining=(row.budget_cents - row.spent_cents) / 100,
                           redemptions=int(row.redemptions), offers_issued=issued, exposures=exposures,
                           customers_in_plan=customers, created_at=dt(row.created_ts))


__all__ = ["OfferService", "RedeemOutcome", "choose_offer", "exploration_draws", "new_coupon_code",
           "request_hash"]

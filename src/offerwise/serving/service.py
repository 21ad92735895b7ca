"""The offer service's business logic: decide, validate, redeem, roll back, record events.

Ledger invariants (kept by the database, never by check-then-act across transactions):

* ``campaigns.spent_cents`` = Σ ``discount_cents`` of redemptions with status ``redeemed``;
  ``spent_cents ≤ budget_cents`` (conditional UPDATE + CHECK constraint);
* ``coupons.uses`` = number of ``redeemed`` redemptions of the coupon, ``≤ max_uses``;
* one answer per (API key, Idempotency-Key): the key is claimed by an INSERT into
  ``idempotency_keys`` (primary key) in the same transaction as the redemption.

A redemption is one unit of work (its own savepoint inside a group-committed transaction, see
:mod:`offerwise.serving.batching`, answered only after the COMMIT): claim the idempotency key
(``INSERT … ON CONFLICT DO NOTHING``; no row inserted = a replay), then book it:

* SQLite, inside a savepoint: ``UPDATE coupons SET uses = uses + 1 WHERE code = :c AND uses <
  max_uses``, the same for the customer's usage, ``UPDATE campaigns SET spent_cents = spent_cents
  + :d WHERE campaign_id = :id AND spent_cents + :d <= budget_cents`` and the redemption INSERT; a
  conditional UPDATE that matches no row rolls the savepoint back.
* PostgreSQL, one statement (:data:`_BOOK_PG`): the coupon's, the customer's and the campaign's
  rows locked (``FOR NO KEY UPDATE``), the three checks read from them, and the four writes only
  when all pass: a refusal writes nothing. The key's claim and the coupon's read are one
  statement too (:data:`_CLAIM_AND_READ_PG`): 5 round trips per redemption instead of 8.

A refusal is stored under the idempotency key. On SQLite the transaction starts with ``BEGIN
IMMEDIATE`` (writers are serialized); on PostgreSQL each redemption batch first locks the active
campaign's row (``FOR NO KEY UPDATE``), so the batches of several workers queue on it, and the
row locks serialize everything else.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import sqlalchemy as sa

from offerwise.serving.pricing import Line, OfferTerms, quote
from offerwise.serving.problems import ApiProblem, Rejection, problem_body
from offerwise.serving.schemas import (
    CampaignOut,
    Cart,
    CouponOut,
    DriverOut,
    EventBatch,
    EventsAccepted,
    OfferDecision,
    OfferOut,
    PlanLoaded,
    PlanSwap,
    RedeemRequest,
    Redemption,
    RollbackRequest,
    RollbackResult,
    Validation,
)
from offerwise.serving.settings import ServeSettings
from offerwise.serving.storage import (
    AsyncPgReaders,
    RawSQL,
    Tables,
    WalCheckpointer,
    new_coupon_codes,
    parse_drivers,
    read_tx,
    write_tx,
)
from offerwise.vocab import ELIGIBLE_SEP, NO_OFFER, REC_SCOPE_PREFIX

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Table
    from sqlalchemy.pool import PoolProxiedConnection

log = logging.getLogger("offerwise.serving")


@overload
def dt(ts: float) -> datetime: ...
@overload
def dt(ts: None) -> None: ...
@overload
def dt(ts: float | None) -> datetime | None: ...
def dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def new_coupon_code() -> str:
    """A random code ``XXXX-XXXX-XXXX`` (60 bits, no 0/O/1/I)."""
    return new_coupon_codes(1)[0]


def normalize_code(code: str) -> str:
    return code.strip().upper()


def exploration_draws(seed: int, campaign_id: str, customer_id: str) -> tuple[float, float]:
    """Two uniforms in [0, 1) fixed by (seed, campaign, customer): reproducible decisions."""
    h = hashlib.blake2b(
        f"{seed}\x1f{campaign_id}\x1f{customer_id}".encode(), digest_size=16
    ).digest()
    return int.from_bytes(h[:8], "big") / 2**64, int.from_bytes(h[8:], "big") / 2**64


def choose_offer(
    plan_choice: str, eligible: list[str], epsilon: float, u1: float, u2: float
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


def explore_arms(
    menu: dict[str, OfferTerms], choice: str, plan_eligible: str | None, now: float
) -> list[str]:
    """The offers the exploration draw may serve a customer (besides ``none``), sorted.

    ``plan_eligible``: the offers the planner's rules allowed this customer (the plan file's
    ``eligible_offers``, the planner's own eligibility: segment limits, depth, new-customer-only,
    cooldown, members-only, ...); of those, the ones active at ``now``, and the plan's own choice.
    A template offer needs the plan's category for the customer, so only the plan's own choice
    is explored among them.
    ``None`` (a customer without a plan row, or a plan without the column): the active menu,
    members-only offers excluded unless they are the plan's choice.
    """
    allowed = None if plan_eligible is None else set(plan_eligible.split(ELIGIBLE_SEP))
    return sorted(
        o
        for o, terms in menu.items()
        if terms.active_at(now)
        and (
            o == choice
            or (
                (o in allowed if allowed is not None else not terms.members_only)
                and not _is_template(terms)
            )
        )
    )


def _drivers_out(row: _DecisionRow) -> list[DriverOut] | None:
    """The plan's value drivers, when the customer got the plan's own offer (not a holdout, an
    exploration draw or another offer)."""
    if (
        row.plan_drivers is None
        or row.grp != "treatment"
        or row.explored
        or row.offer_id != row.plan_offer_id
    ):
        return None
    items = parse_drivers(row.plan_drivers)
    return None if items is None else [DriverOut(**d) for d in items]


def request_hash(code: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps({"code": code, "body": body}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


# Hot-path statements (RawSQL: run on the DBAPI cursor, see offerwise.serving.storage.RawSQL).

#: The customer's decision with its current coupon, and the plan's assignment (one row; columns
#: NULL where missing): everything GET offer needs in one round trip. Columns = ``_DecisionRow``.
_DECISION_SQL = RawSQL(
    "SELECT d.decision_id, d.offer_id, d.grp, d.propensity, d.explored, d.coupon_code, d.ts, "
    "c.expires_ts, c.max_uses, c.uses, a.offer_id AS plan_offer_id, a.grp AS plan_grp, "
    "a.coupon_code AS reserved_code, a.propensity AS plan_propensity, a.category AS plan_category, "
    "a.reason AS plan_reason, a.eligible AS plan_eligible, a.drivers AS plan_drivers, "
    "d.reason AS reason, o.offer_id AS online_offer_id, o.eligible AS online_eligible "
    "FROM (SELECT 1 AS one) k "
    "LEFT JOIN decisions d ON d.campaign_id = :cid AND d.customer_id = :cust "
    "LEFT JOIN coupons c ON c.code = d.coupon_code "
    "LEFT JOIN assignments a ON a.campaign_id = :cid AND a.customer_id = :cust "
    "LEFT JOIN online_scores o ON o.campaign_id = :cid AND o.customer_id = :cust"
)
_INSERT_DECISION = RawSQL(
    "INSERT INTO decisions (decision_id, campaign_id, customer_id, offer_id, plan_offer_id, grp, "
    "propensity, explored, coupon_code, ts, reason) VALUES (:decision_id, :campaign_id, "
    ":customer_id, :offer_id, :plan_offer_id, :grp, :propensity, :explored, :coupon_code, :ts, "
    ":reason) "
    "ON CONFLICT DO NOTHING RETURNING decision_id"
)
#: PostgreSQL: a decision, its coupon and the customer's usage row in one statement (one round trip
#: instead of three): the coupon and usage rows only when the decision went in (none stored
#: first) and it has a coupon. Returns the number of decisions inserted (0 or 1).
_DECIDE_PG = RawSQL(
    "WITH d AS (INSERT INTO decisions (decision_id, campaign_id, customer_id, offer_id, "
    "plan_offer_id, grp, propensity, explored, coupon_code, ts, reason) VALUES (:decision_id, "
    ":campaign_id, :customer_id, :offer_id, :plan_offer_id, :grp, :propensity, :explored, "
    ":coupon_code, :ts, :reason) ON CONFLICT DO NOTHING RETURNING decision_id), "
    "k AS (INSERT INTO coupons (code, campaign_id, customer_id, offer_id, issued_ts, expires_ts, "
    "max_uses, uses) SELECT :coupon_code, :campaign_id, :customer_id, :offer_id, :ts, "
    ":expires_ts, :max_uses, 0 FROM d WHERE CAST(:coupon_code AS TEXT) IS NOT NULL "
    "RETURNING 1 AS ok), "
    "u AS (INSERT INTO customer_usage (campaign_id, customer_id, uses) SELECT :campaign_id, "
    ":customer_id, 0 FROM d WHERE CAST(:coupon_code AS TEXT) IS NOT NULL "
    "ON CONFLICT DO NOTHING RETURNING 1 AS ok) "
    "SELECT (SELECT COUNT(*) FROM d), (SELECT COUNT(*) FROM k), (SELECT COUNT(*) FROM u)"
)
_INSERT_COUPON = RawSQL(
    "INSERT INTO coupons (code, campaign_id, customer_id, offer_id, issued_ts, expires_ts, "
    "max_uses, uses) VALUES (:code, :campaign_id, :customer_id, :offer_id, :issued_ts, "
    ":expires_ts, :max_uses, 0)"
)
#: The plan customer a reserved code belongs to (see migration 3), with their decision if any.
_RESERVED_SQL = RawSQL(
    "SELECT a.campaign_id, a.customer_id, d.decision_id FROM assignments a "
    "LEFT JOIN decisions d ON d.campaign_id = a.campaign_id AND d.customer_id = a.customer_id "
    "WHERE a.coupon_code = :code"
)
_INSERT_USAGE = RawSQL(
    "INSERT INTO customer_usage (campaign_id, customer_id, uses) "
    "VALUES (:campaign_id, :customer_id, 0) ON CONFLICT DO NOTHING"
)
#: A coupon with its campaign's budget and the customer's usage. Columns = ``_CouponRow``.
_COUPON_SQL = RawSQL(
    "SELECT k.code, k.campaign_id, k.customer_id, k.offer_id, k.issued_ts, k.expires_ts, "
    "k.max_uses, k.uses, c.budget_cents, c.spent_cents, u.uses AS customer_uses, "
    "CASE WHEN a.offer_id = k.offer_id THEN a.category END AS scope FROM coupons k "
    "JOIN campaigns c ON c.campaign_id = k.campaign_id "
    "LEFT JOIN customer_usage u ON u.campaign_id = k.campaign_id AND u.customer_id = k.customer_id "
    "LEFT JOIN assignments a ON a.campaign_id = k.campaign_id AND a.customer_id = k.customer_id "
    "WHERE k.code = :code"
)
_CLAIM_KEY = RawSQL(
    "INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status_code, response_json, "
    "created_ts) VALUES (:api_key_id, :idem_key, :request_hash, NULL, NULL, :created_ts) "
    "ON CONFLICT DO NOTHING RETURNING idem_key"
)
_PRIOR_KEY = RawSQL(
    "SELECT request_hash, status_code, response_json FROM idempotency_keys "
    "WHERE api_key_id = :api_key_id AND idem_key = :idem_key"
)
_ANSWER_KEY = RawSQL(
    "UPDATE idempotency_keys SET status_code = :status_code, response_json = :response_json "
    "WHERE api_key_id = :api_key_id AND idem_key = :idem_key"
)
_USE_COUPON = RawSQL(
    "UPDATE coupons SET uses = uses + 1 WHERE code = :code AND uses < max_uses RETURNING uses"
)
_USE_CUSTOMER = RawSQL(
    "UPDATE customer_usage SET uses = uses + 1 WHERE campaign_id = :campaign_id "
    "AND customer_id = :customer_id AND uses < :max_uses RETURNING uses"
)
_SPEND = RawSQL(
    "UPDATE campaigns SET spent_cents = spent_cents + :d, redemptions = redemptions + 1 "
    "WHERE campaign_id = :campaign_id AND spent_cents + :d <= budget_cents "
    "RETURNING budget_cents - spent_cents"
)
#: PostgreSQL: the idempotency key's claim and the coupon's read in one statement (one round
#: trip instead of two): (1 when the key was claimed else 0, then the :data:`_COUPON_SQL` columns,
#: all NULL when no coupon has the code).
_CLAIM_AND_READ_PG = RawSQL(
    "WITH claim AS (INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, "
    "status_code, response_json, created_ts) VALUES (:api_key_id, :idem_key, :request_hash, "
    "NULL, NULL, :created_ts) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT COUNT(*) FROM claim), q.* FROM (SELECT 1) AS one LEFT JOIN ("
    + _COUPON_SQL.sqlite
    + ") q ON TRUE"
)
#: PostgreSQL: the four ledger steps of a redemption in one statement (one round trip instead of
#: four), all or nothing: the coupon's, the customer's and the campaign's rows are locked first
#: (``FOR NO KEY UPDATE``, in the order the UPDATEs used to take them; a lock waits for a
#: concurrent writer and reads its committed values), the three checks read from them, and the
#: coupon's use, the customer's use, the budget's spend and the redemption row happen only when
#: all three pass. A refusal changes nothing, so the redemption needs no savepoint of its own.
#: Returns (coupon has a use left, customer has a use left, budget covers the discount, budget
#: left after the spend or NULL, budget left before it, redemption rows).
_BOOK_PG = RawSQL(
    "WITH lc AS (SELECT uses < max_uses AS ok FROM coupons WHERE code = :coupon_code "
    "FOR NO KEY UPDATE), "
    "lu AS (SELECT uses < :max_uses AS ok FROM customer_usage WHERE campaign_id = :campaign_id "
    "AND customer_id = :customer_id FOR NO KEY UPDATE), "
    "ls AS (SELECT spent_cents + :discount_cents <= budget_cents AS ok, "
    "budget_cents - spent_cents AS left_cents FROM campaigns WHERE campaign_id = :campaign_id "
    "FOR NO KEY UPDATE), "
    "chk AS (SELECT COALESCE((SELECT ok FROM lc), FALSE) AS c_ok, "
    "COALESCE((SELECT ok FROM lu), FALSE) AS u_ok, COALESCE((SELECT ok FROM ls), FALSE) AS s_ok), "
    "go AS (SELECT 1 FROM chk WHERE c_ok AND u_ok AND s_ok), "
    "c AS (UPDATE coupons SET uses = uses + 1 WHERE code = :coupon_code "
    "AND EXISTS (SELECT 1 FROM go) RETURNING 1), "
    "u AS (UPDATE customer_usage SET uses = uses + 1 WHERE campaign_id = :campaign_id "
    "AND customer_id = :customer_id AND EXISTS (SELECT 1 FROM go) RETURNING 1), "
    "s AS (UPDATE campaigns SET spent_cents = spent_cents + :discount_cents, "
    "redemptions = redemptions + 1 WHERE campaign_id = :campaign_id "
    "AND EXISTS (SELECT 1 FROM go) RETURNING budget_cents - spent_cents AS left_cents), "
    "r AS (INSERT INTO redemptions (redemption_id, coupon_code, campaign_id, customer_id, "
    "offer_id, order_id, discount_cents, status, api_key_id, idem_key, redeemed_ts, "
    "rolled_back_ts) SELECT :redemption_id, :coupon_code, :campaign_id, :customer_id, :offer_id, "
    ":order_id, :discount_cents, 'redeemed', :api_key_id, :idem_key, :redeemed_ts, NULL FROM s "
    "RETURNING 1) "
    "SELECT chk.c_ok, chk.u_ok, chk.s_ok, (SELECT left_cents FROM s), (SELECT left_cents FROM ls), "
    "(SELECT COUNT(*) FROM c) + (SELECT COUNT(*) FROM u) + (SELECT COUNT(*) FROM r) FROM chk"
)
_REMAINING = RawSQL(
    "SELECT budget_cents - spent_cents FROM campaigns WHERE campaign_id = :campaign_id"
)
_INSERT_REDEMPTION = RawSQL(
    "INSERT INTO redemptions (redemption_id, coupon_code, campaign_id, customer_id, offer_id, "
    "order_id, discount_cents, status, api_key_id, idem_key, redeemed_ts, rolled_back_ts) "
    "VALUES (:redemption_id, :coupon_code, :campaign_id, :customer_id, :offer_id, :order_id, "
    ":discount_cents, 'redeemed', :api_key_id, :idem_key, :redeemed_ts, NULL)"
)


#: ``cold_start_offer`` value: customers without a plan row get the model's decision: their online
#: score (:mod:`offerwise.serving.online`) when the service has scored their recorded orders, else
#: the plan's newcomer decision.
COLD_START_FROM_PLAN = "plan"
#: The reason of a decision taken from a customer's online score.
ONLINE_REASON = "online"


def newcomer_of(summary_json: str | None) -> tuple[str, str | None]:
    """(offer_id, eligible offers joined by ``ELIGIBLE_SEP``) of a plan summary's ``newcomer``
    (:mod:`offerwise.workflows.newcomer`); (``none``, None) for a summary without one."""
    try:
        d = json.loads(summary_json) if summary_json else {}
    except ValueError:
        return NO_OFFER, None
    n = d.get("newcomer") if isinstance(d, dict) else None
    if not isinstance(n, dict) or not isinstance(n.get("offer_id"), str):
        return NO_OFFER, None
    elig = n.get("eligible")
    joined = ELIGIBLE_SEP.join(str(o) for o in elig) if isinstance(elig, list) else None
    return n["offer_id"], joined


def decision_reason(
    group: str, explored: bool, plan_reason: str | None, own: str | None = None
) -> str | None:
    """Why the customer got this answer: ``holdout``; ``explore`` (the service's ε draw);
    ``online`` (no plan row: the model scored the customer's recorded orders); ``cold_start`` (no
    plan row, no online score); else the plan's reason code (None for a plan loaded without
    one). ``own``: the reason stored with the decision (None for decisions stored before it was)."""
    if group == "holdout":
        return group
    if explored:
        return "explore"
    if group == "cold_start":
        return own or group
    return plan_reason


def _is_template(terms: OfferTerms) -> bool:
    """A menu offer scoped by recommendation (``rec:N``): its category comes from the plan."""
    return terms.category is not None and terms.category.startswith(REC_SCOPE_PREFIX)


@dataclass(frozen=True, slots=True)
class _CouponRow:
    """A :data:`_COUPON_SQL` row."""

    code: str
    campaign_id: str
    customer_id: str
    offer_id: str
    issued_ts: float
    expires_ts: float
    max_uses: int
    uses: int
    budget_cents: int
    spent_cents: int
    customer_uses: int | None
    scope: str | None = None  # the plan's category for this customer's offer (None: the offer's)


@dataclass(frozen=True, slots=True)
class _DecisionRow:
    """A :data:`_DECISION_SQL` row (or a decision just inserted, shaped like one)."""

    decision_id: str
    offer_id: str
    grp: str
    propensity: float
    explored: int
    coupon_code: str | None
    ts: float
    expires_ts: float | None
    max_uses: int | None
    uses: int | None
    plan_offer_id: str | None
    plan_grp: str | None
    reserved_code: str | None = None
    plan_propensity: float | None = None  # the plan's probability of its offer (None: 1)
    plan_category: str | None = None  # the plan's category for its offer (None: the offer's)
    plan_reason: str | None = None  # the plan's reason code for this customer
    plan_eligible: str | None = None  # offers the planner's rules allowed ('|'-joined; None: ?)
    plan_drivers: str | None = None  # the plan's value drivers for this customer (JSON)
    reason: str | None = None  # the reason stored with the decision (None: from the plan's)
    online_offer_id: str | None = None  # the customer's online score (None: not scored)
    online_eligible: str | None = None  # offers the rules allow them ('|'-joined)


@dataclass(frozen=True, slots=True)
class _Choice:
    """A decision made in memory (:meth:`OfferService._choose`), before it is recorded."""

    grp: str
    plan_offer_id: str
    offer_id: str
    propensity: float
    explored: bool
    code: str | None  # the coupon to issue (None: no offer, or no reserved code for it)
    reason: str | None = None  # stored with the decision: ``online`` / ``cold_start`` (no plan row)


@dataclass(frozen=True, slots=True)
class RedeemOutcome:
    """What the redeem route answers: HTTP status, JSON body and whether it is a replay."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


class OfferService:
    """The service of one worker process: database-backed, with small per-process caches.

    Caches (read-mostly, never the source of truth): the offer menu and the active campaign; the
    answer of ``GET offer`` per customer as JSON bytes, kept until its coupon expires (a decision
    never changes; a coupon that expired unused is renewed by the next ask). Writes go through
    three :class:`~offerwise.serving.batching.GroupCommitter` threads: ``records`` (write-behind
    records of first asks answered from a read, with the coupon code reserved at plan load),
    ``offers`` (decisions answered after their COMMIT: renewals, cold starts that issue a coupon,
    records that validate needs now) and ``redeem``.
    """

    #: Recheck a cached answer whose coupon cannot be renewed this often (seconds).
    RECHECK_S = 60.0
    #: Re-read which campaign is active this often (seconds): a plan swapped in by another worker
    #: (``POST /v1/admin/plan``, ``offerwise cycle``) is served by every worker within this time.
    CAMPAIGN_TTL_S = 1.0
    #: The write-behind writer gathers records this long per transaction (seconds).
    RECORD_LINGER_S = 0.02
    #: SQLite: the WAL is checkpointed this often by a thread of its own (seconds).
    CHECKPOINT_S = 0.5

    def __init__(self, engine: Engine, settings: ServeSettings):
        from offerwise.serving.batching import GroupCommitter

        self.engine = engine
        self.settings = settings
        self.t = Tables.get()
        self.menu: dict[str, OfferTerms] = {}
        self.campaign_id: str | None = None
        #: the active plan's newcomer decision (offer, eligible offers) for customers it lacks
        self.newcomer: tuple[str, str | None] = (NO_OFFER, None)
        self._newcomer_of: str | None = None
        self._refreshed = 0.0  # time.monotonic() of the last refresh
        self._answers: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        self._dialect = engine.dialect.name
        pg = self._dialect == "postgresql"
        self._readers = threading.local()  # .conn: this thread's autocommit reader connection
        self._reader_conns: list[PoolProxiedConnection] = []
        #: Reads of GET offer: inline on SQLite (a local file read, tens of µs), on async
        #: connections on PostgreSQL (a network round trip must not block the event loop).
        self._async_reads = AsyncPgReaders(engine) if pg else None
        self.refresh()
        self._offer_writer = GroupCommitter(engine, "offers")
        #: Write-behind records of first asks answered from a read (nobody waits on them).
        self._record_writer = GroupCommitter(
            engine, "records", max_batch=1024, linger_s=self.RECORD_LINGER_S, savepoints=False
        )
        #: PostgreSQL: no savepoint per redemption (two round trips fewer each; the booking is
        #: one all-or-nothing statement): a job that raises fails its batch, whose jobs are
        #: then retried one per transaction.
        self._redeem_writer = GroupCommitter(
            engine, "redeem", prelude=self._lock_campaign if pg else None, savepoints=not pg
        )
        #: SQLite: the WAL is checkpointed by this thread, not inside a request's COMMIT
        self.checkpointer = WalCheckpointer.for_engine(engine, self.CHECKPOINT_S)

    def close(self) -> None:
        """Finish queued writes (the write-behind records included) and stop the threads."""
        if self._async_reads is not None:
            self._async_reads.close()
        self._record_writer.close()
        self._offer_writer.close()
        self._redeem_writer.close()
        if self.checkpointer is not None:
            self.checkpointer.close()
        with self._lock:
            conns, self._reader_conns = self._reader_conns, []
        for fairy in conns:  # closed, not returned: they are in autocommit mode
            try:
                fairy.invalidate()
            except Exception:  # noqa: BLE001 - closing anyway
                pass

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        """Reload the menu and the active campaign from the database."""
        t = self.t
        with read_tx(self.engine) as conn:
            menu = {
                r.offer_id: OfferTerms(
                    r.offer_id,
                    r.kind,
                    r.value,
                    r.min_spend_cents,
                    r.category,
                    r.starts_ts,
                    r.ends_ts,
                    bool(r.members_only),
                )
                for r in conn.execute(sa.select(t.offers))
            }
            cid = conn.execute(
                sa.select(t.campaigns.c.campaign_id).where(t.campaigns.c.active == 1)
            ).scalar()
        if cid != self._newcomer_of:  # another plan is live: read its newcomer decision once
            self.newcomer = self._read_newcomer(cid)
            self._newcomer_of = cid
        self.menu = menu
        self.campaign_id = cid
        self._refreshed = time.monotonic()

    def _read_newcomer(self, cid: str | None) -> tuple[str, str | None]:
        """The active plan's decision for customers without a plan row (its summary's
        ``newcomer``): (offer_id, eligible offers joined by ``ELIGIBLE_SEP``; None = unknown)."""
        if cid is None:
            return NO_OFFER, None
        with read_tx(self.engine) as conn:
            raw = conn.execute(
                sa.select(self.t.campaigns.c.summary_json).where(
                    self.t.campaigns.c.campaign_id == cid
                )
            ).scalar()
        return newcomer_of(raw)

    def _offer(self, offer_id: str) -> OfferTerms:
        if offer_id not in self.menu:
            self.refresh()
        return self.menu[offer_id]

    def _require_campaign(self) -> str:
        if self.campaign_id is None or time.monotonic() - self._refreshed > self.CAMPAIGN_TTL_S:
            self.refresh()
        if self.campaign_id is None:
            raise ApiProblem(
                503, "no-active-campaign", "no plan is loaded: start the server with --plan"
            )
        return self.campaign_id

    def _lock_campaign(self, conn: Connection) -> None:
        """PostgreSQL: take the active campaign's row lock first, so that redemption batches of
        several workers queue on it instead of deadlocking on coupon rows. ``FOR NO KEY UPDATE``
        (the lock the budget UPDATE takes anyway): it does not block the foreign-key checks
        (``FOR KEY SHARE``) of coupon inserts by the offer writers, which a ``FOR UPDATE`` did —
        a redemption that records a reserved code then waited on a record that waited on it."""
        cid = self.campaign_id
        if cid is not None:
            c = self.t.campaigns
            conn.execute(
                sa.select(c.c.campaign_id)
                .where(c.c.campaign_id == cid)
                .with_for_update(key_share=True)
            )

    def offer_out(self, o: OfferTerms) -> OfferOut:
        return OfferOut(
            offer_id=o.offer_id,
            kind=o.kind,
            value=o.value,
            min_spend=o.min_spend_cents / 100,
            category=o.category,
            starts=dt(o.starts_ts),
            ends=dt(o.ends_ts),
            members_only=o.members_only,
        )

    # ---------------------------------------------------------------- decide
    def cached_offer_json(self, customer_id: str, now: float | None = None) -> bytes | None:
        """The cached ``GET offer`` answer (JSON bytes) while it is still valid, else None."""
        cid = self.campaign_id
        if cid is None or time.monotonic() - self._refreshed > self.CAMPAIGN_TTL_S:
            return None  # the active campaign is re-read first (a plan may have been swapped)
        hit = self._answers.get((cid, customer_id))
        if hit is None or (time.time() if now is None else now) >= hit[1]:
            return None
        return hit[0]

    def submit_offer(self, customer_id: str, now: float | None = None) -> Future:
        """Queue the decision job; the future holds ``(OfferDecision, cache-until epoch)``."""
        cid = self._require_campaign()
        now = time.time() if now is None else now
        return self._offer_writer.submit(
            lambda conn: self._offer_job(conn, cid, customer_id, now), sort_key=customer_id
        )

    def read_decision(self, cid: str, customer_id: str) -> _DecisionRow:
        """The :data:`_DECISION_SQL` row on this thread's reader connection (SQLite: in WAL mode
        a read never waits for writers; PostgreSQL reads on :class:`AsyncPgReaders` instead)."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            fairy = self.engine.raw_connection()
            with self._lock:
                self._reader_conns.append(fairy)
            conn = self._readers.conn = fairy.dbapi_connection
        try:
            row = _DECISION_SQL.run_dbapi(
                conn, self._dialect, {"cid": cid, "cust": customer_id}
            ).fetchone()
        except Exception:
            self._readers.conn = None  # a broken connection: a fresh one next time
            raise
        return _DecisionRow(*row)

    async def offer_json(self, customer_id: str) -> bytes:
        """``GET offer``'s answer (JSON bytes): from the cache; else from a read of the stored
        decision; else, for a customer whose decision needs no new coupon or has a reserved code,
        decided now and answered at once while the offers writer records it (write-behind); else
        (renewal, cold start with an offer) decided by the offers writer and answered after its
        COMMIT."""
        now = time.time()
        hit = self.cached_offer_json(customer_id, now)
        if hit is not None:
            return hit
        cid = self._require_campaign()
        # The cache is skipped while the active campaign is due a re-read; once re-read, an
        # answer still in it stands (a first ask's record may not have landed yet: deciding again
        # would answer a second decision with another timestamp).
        hit = self.cached_offer_json(customer_id, now)
        if hit is not None:
            return hit
        if self._async_reads is None:
            row = self.read_decision(cid, customer_id)
        else:
            got = await self._async_reads.fetchone(
                _DECISION_SQL.postgresql, {"cid": cid, "cust": customer_id}
            )
            assert got is not None  # the query returns one row for any customer
            row = _DecisionRow(*got)
        if row.decision_id is not None:
            if not self._needs_renewal(row, now):
                return self._remember(
                    self._decision_out(row, cid, customer_id), self._valid_until(row, now)
                )[1]
        else:
            choice = self._choose(cid, customer_id, row, now)
            if choice.offer_id == NO_OFFER or choice.code is not None:
                return self._answer_now(cid, customer_id, row, choice, now)
        dec, until = await asyncio.wrap_future(self.submit_offer(customer_id, now))
        return self._remember(dec, until)[1]

    def _answer_now(
        self, cid: str, customer_id: str, read: _DecisionRow, choice: _Choice, now: float
    ) -> bytes:
        """Answer a first ask from ``choice`` and queue its record (write-behind). When the record
        lands, the cached answer is replaced by the stored one (another worker's, if it decided
        the same customer first); a record that cannot be written drops the cached answer, so the
        next ask reads and records again."""
        row = self._choice_row(choice, read, uuid.uuid4().hex, now)
        dec, body = self._remember(
            self._decision_out(row, cid, customer_id), self._valid_until(row, now)
        )
        fut = self._record_writer.submit(
            lambda conn: self._record_job(conn, cid, customer_id, read, choice, now),
            sort_key=customer_id,
        )

        def landed(f: Future) -> None:
            exc = f.exception()
            if exc is None:
                self._remember(*f.result())
                return
            log.error("recording the decision of customer %r failed: %s", customer_id, exc)
            with self._lock:
                self._answers.pop((cid, customer_id), None)

        fut.add_done_callback(landed)
        return body

    def get_offer(self, customer_id: str, now: float | None = None) -> OfferDecision:
        """The customer's decision in the active campaign, recorded (blocking; tests, tools)."""
        dec, until = self.submit_offer(customer_id, now).result()
        return self._remember(dec, until)[0]

    def _remember(self, dec: OfferDecision, valid_until: float) -> tuple[OfferDecision, bytes]:
        body = dec.model_dump_json().encode()
        with self._lock:
            if len(self._answers) > 200_000:
                self._answers.clear()
            self._answers[(dec.campaign_id, dec.customer_id)] = (body, valid_until)
        return dec, body

    def _needs_renewal(self, row: _DecisionRow, now: float) -> bool:
        if row.coupon_code is None:
            return False
        assert row.expires_ts is not None  # a decision with a coupon has its expiry
        return now >= row.expires_ts and self._renewable(row, now)

    def _valid_until(self, row: _DecisionRow, now: float) -> float:
        """How long an answer built from ``row`` may be served from the cache (epoch seconds)."""
        if row.coupon_code is None:
            return float("inf")
        assert row.expires_ts is not None  # a decision with a coupon has its expiry
        if now < row.expires_ts:
            return row.expires_ts
        return now + self.RECHECK_S  # expired and not renewable (used up / offer ended): look again

    def _offer_job(
        self, conn: Connection, cid: str, customer_id: str, now: float
    ) -> tuple[OfferDecision, float]:
        """Inside a write transaction: read the decision, else make it; renew an expired coupon."""
        row = self._read_decision(conn, cid, customer_id)
        if row.decision_id is None:
            row = self._decide(conn, cid, customer_id, row, now)
        elif self._needs_renewal(row, now):
            self._renew(conn, cid, customer_id, row, now)
            row = self._read_decision(conn, cid, customer_id)
        return self._decision_out(row, cid, customer_id), self._valid_until(row, now)

    def _record_job(
        self,
        conn: Connection,
        cid: str,
        customer_id: str,
        read: _DecisionRow,
        choice: _Choice,
        now: float,
    ) -> tuple[OfferDecision, float]:
        """Inside a write transaction: record a decision answered by :meth:`_answer_now` (or
        take the one stored first); returns the stored answer."""
        row = self._insert_decision(conn, cid, customer_id, read, choice, now)
        return self._decision_out(row, cid, customer_id), self._valid_until(row, now)

    @staticmethod
    def _read_decision(conn: Connection, cid: str, customer_id: str) -> _DecisionRow:
        return _DecisionRow(*_DECISION_SQL.run(conn, {"cid": cid, "cust": customer_id}).fetchone())

    def _decision_out(self, row: _DecisionRow, cid: str, customer_id: str) -> OfferDecision:
        offer = None
        if row.offer_id != NO_OFFER:
            offer = self.offer_out(self._offer(row.offer_id))
            if row.plan_category is not None and row.offer_id == row.plan_offer_id:
                offer = offer.model_copy(update={"category": row.plan_category})
        coupon = (
            CouponOut(code=row.coupon_code, expires_at=dt(row.expires_ts), max_uses=row.max_uses)
            if row.coupon_code
            else None
        )
        return OfferDecision(
            customer_id=customer_id,
            campaign_id=cid,
            group=row.grp,
            offer=offer,
            coupon=coupon,
            propensity=row.propensity,
            explored=bool(row.explored),
            reason=decision_reason(row.grp, bool(row.explored), row.plan_reason, row.reason),
            drivers=_drivers_out(row),
            decided_at=dt(row.ts),
        )

    def _expiry(self, terms: OfferTerms, now: float) -> float:
        """A new coupon's expiry: now + ``coupon_ttl_days``, capped by the offer's end."""
        expires = now + self.settings.coupon_ttl_days * 86400
        if terms.ends_ts is not None:
            expires = max(now, min(expires, terms.ends_ts))
        return expires

    def _renewable(self, row: _DecisionRow, now: float) -> bool:
        """An expired coupon is renewed when it has uses left and its offer is still running."""
        terms = self.menu.get(row.offer_id) or self._offer(row.offer_id)
        assert row.uses is not None and row.max_uses is not None  # called for coupon rows only
        return row.uses < row.max_uses and terms.active_at(now) and self._expiry(terms, now) > now

    def _renew(
        self, conn: Connection, cid: str, customer_id: str, row: _DecisionRow, now: float
    ) -> None:
        """Point the decision at a fresh coupon (new code, new expiry); the old one stays, expired.

        The conditional UPDATE makes concurrent renewals from several workers issue one coupon.
        """
        t = self.t
        code = new_coupon_code()
        n = conn.execute(
            t.decisions.update()
            .where(
                t.decisions.c.decision_id == row.decision_id,
                t.decisions.c.coupon_code == row.coupon_code,
            )
            .values(coupon_code=code)
        ).rowcount
        if n == 1:
            conn.execute(
                t.coupons.insert().values(
                    code=code,
                    campaign_id=cid,
                    customer_id=customer_id,
                    offer_id=row.offer_id,
                    issued_ts=now,
                    expires_ts=self._expiry(self._offer(row.offer_id), now),
                    max_uses=self.settings.max_uses_per_coupon,
                    uses=0,
                )
            )

    def _choose(self, cid: str, customer_id: str, read: _DecisionRow, now: float) -> _Choice:
        """The decision for a customer without one (pure given the menu): plan group and offer,
        the exploration draw, and the coupon code to issue (the reserved one, if any)."""
        s = self.settings
        plan_eligible = read.plan_eligible
        if read.plan_grp is not None:
            grp, plan_offer = read.plan_grp, read.plan_offer_id
        elif s.cold_start_offer == COLD_START_FROM_PLAN and read.online_offer_id is not None:
            grp, plan_offer = "cold_start", read.online_offer_id
            plan_eligible = read.online_eligible
        elif s.cold_start_offer == COLD_START_FROM_PLAN:
            grp, (plan_offer, plan_eligible) = "cold_start", self.newcomer
        else:
            grp, plan_offer = "cold_start", s.cold_start_offer
        menu = self.menu
        choice = plan_offer if plan_offer in menu and menu[plan_offer].active_at(now) else NO_OFFER
        if grp == "holdout":
            offer_id, propensity, explored = NO_OFFER, 1.0, False
        else:
            eligible = explore_arms(menu, choice, plan_eligible, now)
            u1, u2 = exploration_draws(s.seed, cid, customer_id)
            offer_id, propensity, explored = choose_offer(choice, eligible, s.epsilon, u1, u2)
            q = read.plan_propensity
            if q is not None and q < 1 and offer_id == choice:
                # the plan's own draw (`plan --explore`) chose this offer with probability q:
                # P(served) = (1−ε)·q + ε/K (exact with ε = 0, the default)
                propensity = propensity - (1 - s.epsilon) * (1 - q)
        code = None if offer_id == NO_OFFER else read.reserved_code
        reason = None
        if grp == "cold_start":
            online = s.cold_start_offer == COLD_START_FROM_PLAN and read.online_offer_id is not None
            reason = ONLINE_REASON if online else "cold_start"
        return _Choice(grp, choice, offer_id, propensity, explored, code, reason)

    def _choice_row(
        self, c: _Choice, read: _DecisionRow, decision_id: str, now: float
    ) -> _DecisionRow:
        expires = max_uses = uses = None
        if c.code is not None:
            expires, max_uses, uses = (
                self._expiry(self.menu[c.offer_id], now),
                self.settings.max_uses_per_coupon,
                0,
            )
        return _DecisionRow(
            decision_id,
            c.offer_id,
            c.grp,
            c.propensity,
            int(c.explored),
            c.code,
            now,
            expires,
            max_uses,
            uses,
            read.plan_offer_id,
            read.plan_grp,
            read.reserved_code,
            read.plan_propensity,
            read.plan_category,
            read.plan_reason,
            read.plan_eligible,
            read.plan_drivers,
            c.reason,
            read.online_offer_id,
            read.online_eligible,
        )

    def _decide(
        self, conn: Connection, cid: str, customer_id: str, read: _DecisionRow, now: float
    ) -> _DecisionRow:
        """Make and log the decision (and its coupon) unless one exists (ON CONFLICT DO NOTHING);
        ``read`` is the :data:`_DECISION_SQL` row (its plan columns); returns the decision row."""
        choice = self._choose(cid, customer_id, read, now)
        if choice.offer_id != NO_OFFER and choice.code is None:  # no reserved code (cold start)
            choice = replace(choice, code=new_coupon_code())
        return self._insert_decision(conn, cid, customer_id, read, choice, now)

    def _insert_decision(
        self,
        conn: Connection,
        cid: str,
        customer_id: str,
        read: _DecisionRow,
        choice: _Choice,
        now: float,
    ) -> _DecisionRow:
        """Insert ``choice`` as the customer's decision (+ coupon + usage row) unless one exists;
        returns the stored decision row. One statement on PostgreSQL (:data:`_DECIDE_PG`)."""
        decision_id = uuid.uuid4().hex
        params = dict(
            decision_id=decision_id,
            campaign_id=cid,
            customer_id=customer_id,
            offer_id=choice.offer_id,
            plan_offer_id=choice.plan_offer_id,
            grp=choice.grp,
            propensity=choice.propensity,
            explored=int(choice.explored),
            coupon_code=choice.code,
            ts=now,
            reason=choice.reason,
        )
        row = self._choice_row(choice, read, decision_id, now)
        if conn.dialect.name == "postgresql":
            params.update(expires_ts=row.expires_ts, max_uses=row.max_uses)
            if not _DECIDE_PG.run(conn, params).fetchone()[0]:  # another worker decided first
                return self._read_decision(conn, cid, customer_id)
            return row
        inserted = _INSERT_DECISION.run(conn, params).fetchone()
        if inserted is None:  # another worker decided first (and committed): take its decision
            return self._read_decision(conn, cid, customer_id)
        if choice.code is not None:
            _INSERT_COUPON.run(
                conn,
                dict(
                    code=choice.code,
                    campaign_id=cid,
                    customer_id=customer_id,
                    offer_id=choice.offer_id,
                    issued_ts=now,
                    expires_ts=row.expires_ts,
                    max_uses=row.max_uses,
                ),
            )
            _INSERT_USAGE.run(conn, dict(campaign_id=cid, customer_id=customer_id))
        return row

    def _materialize_reserved(self, conn: Connection, code: str, now: float) -> bool:
        """Inside a write transaction: a reserved code whose first ask was answered but not yet
        recorded (write-behind still queued, or lost to a crash) gets its decision and coupon
        recorded now. Returns whether the coupon exists afterwards."""
        res = _RESERVED_SQL.run(conn, {"code": code}).fetchone()
        if (
            res is None or res[2] is not None
        ):  # not reserved, or decided (then its coupon is stored)
            return False
        cid, customer_id = res[0], res[1]
        self._decide(conn, cid, customer_id, self._read_decision(conn, cid, customer_id), now)
        return _COUPON_SQL.run(conn, {"code": code}).fetchone() is not None

    # ---------------------------------------------------------------- coupons
    @staticmethod
    def _coupon_row(conn: Connection, code: str) -> _CouponRow:
        row = _COUPON_SQL.run(conn, {"code": code}).fetchone()
        if row is None:
            raise ApiProblem(404, "coupon-not-found", f"no coupon with code '{code}'")
        return _CouponRow(*row)

    def _static_checks(
        self, row: _CouponRow, cart: Cart, now: float
    ) -> tuple[OfferTerms, int, int]:
        """Checks that need no lock; returns (offer, discount cents, eligible cents) or raises."""
        offer = self._offer(row.offer_id)
        if row.scope is not None:  # the plan scoped the offer to this customer's category
            offer = replace(offer, category=row.scope)
        elif _is_template(offer):
            raise Rejection(
                "wrong_category",
                f"offer '{offer.offer_id}' is scoped to {offer.category} and the plan gives this "
                "customer no category for it",
            )
        if now > row.expires_ts:
            raise Rejection("expired", f"coupon expired at {dt(row.expires_ts).isoformat()}")
        if offer.starts_ts is not None and now < offer.starts_ts:
            raise Rejection("not_started", f"offer starts at {dt(offer.starts_ts).isoformat()}")
        if offer.ends_ts is not None and now > offer.ends_ts:
            raise Rejection("offer_ended", f"offer ended at {dt(offer.ends_ts).isoformat()}")
        lines = [Line(ln.product_id, ln.category, ln.quantity, ln.unit_price) for ln in cart.lines]
        q = quote(
            offer,
            lines,
            cart.total,
            shipping=cart.shipping,
            shipping_fee=self.settings.shipping_fee,
        )
        if q.reason is not None:
            details = {
                "wrong_category": f"no cart line in category '{offer.category}'",
                "below_min_spend": f"eligible subtotal {q.eligible_cents / 100:.2f} "
                f"is below the minimum spend {offer.min_spend_cents / 100:.2f}",
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
            found = _COUPON_SQL.run(conn, {"code": code}).fetchone()
            reserved = (
                found is None and _RESERVED_SQL.run(conn, {"code": code}).fetchone() is not None
            )
        if reserved:  # answered by a GET offer whose record has not landed: record it first
            self._offer_writer.submit(lambda c: self._materialize_reserved(c, code, now)).result()
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
                raise Rejection(
                    "customer_limit_reached", "the customer has used this campaign's offers"
                )
            if discount > remaining:
                raise Rejection(
                    "budget_exhausted",
                    f"campaign budget left {remaining / 100:.2f} is "
                    f"below the discount {discount / 100:.2f}",
                )
        except Rejection as r:
            reason, detail, discount = r.reason, r.detail, 0
        return Validation(
            code=code,
            valid=reason is None,
            discount=discount / 100,
            eligible_subtotal=eligible / 100,
            reason=reason,
            detail=detail,
            offer_id=row.offer_id,
            customer_id=row.customer_id,
            campaign_id=row.campaign_id,
            remaining_budget=remaining / 100,
        )

    def submit_redeem(
        self,
        code: str,
        req: RedeemRequest,
        api_key_id: str,
        idem_key: str,
        now: float | None = None,
        instance: str | None = None,
    ) -> Future:
        """Queue the redemption job; the future holds its :class:`RedeemOutcome` once committed."""
        now = time.time() if now is None else now
        code = normalize_code(code)
        h = request_hash(code, req.model_dump(mode="json"))
        return self._redeem_writer.submit(
            lambda conn: self._redeem_job(conn, code, req, h, api_key_id, idem_key, now, instance)
        )

    def redeem(
        self,
        code: str,
        req: RedeemRequest,
        api_key_id: str,
        idem_key: str,
        now: float | None = None,
        instance: str | None = None,
    ) -> RedeemOutcome:
        """Redeem atomically (see module docstring); replays the stored answer of a reused key."""
        return self.submit_redeem(code, req, api_key_id, idem_key, now, instance).result()

    def _redeem_job(
        self,
        conn: Connection,
        code: str,
        req: RedeemRequest,
        h: str,
        api_key_id: str,
        idem_key: str,
        now: float,
        instance: str | None,
    ) -> RedeemOutcome:
        """Inside a write transaction: claim the key, book the redemption or store the refusal."""
        key = {"api_key_id": api_key_id, "idem_key": idem_key}
        claim = {**key, "request_hash": h, "created_ts": now}
        found: tuple[Any, ...] | None
        if self._dialect == "postgresql":  # one round trip for both
            claimed, *cols = _CLAIM_AND_READ_PG.run(conn, {**claim, "code": code}).fetchone()
            found = None if cols[0] is None else tuple(cols)
        else:
            claimed = _CLAIM_KEY.run(conn, claim).fetchone() is not None
            found = _COUPON_SQL.run(conn, {"code": code}).fetchone() if claimed else None
        if not claimed:
            return self._replay(_PRIOR_KEY.run(conn, key).fetchone(), h, instance)
        if found is None:
            self._materialize_reserved(conn, code, now)  # a reserved code not recorded yet
            row = self._coupon_row(conn, code)  # 404 rolls the claim back with the job's savepoint
        else:
            row = _CouponRow(*found)
        try:
            if self._dialect == "postgresql":  # all or nothing in one statement (_BOOK_PG)
                outcome = self._apply_redeem(conn, row, req, api_key_id, idem_key, now)
            else:
                with conn.begin_nested():
                    outcome = self._apply_redeem(conn, row, req, api_key_id, idem_key, now)
        except Rejection as r:
            remaining = r.remaining_cents
            if remaining is None:
                remaining = _REMAINING.run(conn, {"campaign_id": row.campaign_id}).fetchone()[0]
            outcome = RedeemOutcome(
                409,
                problem_body(
                    409,
                    "coupon-not-redeemable",
                    r.detail,
                    instance=instance,
                    reason=r.reason,
                    code=code,
                    remaining_budget=remaining / 100,
                ),
            )
        _ANSWER_KEY.run(
            conn, {**key, "status_code": outcome.status, "response_json": json.dumps(outcome.body)}
        )
        return outcome

    def _replay(
        self, prior: tuple[str, int | None, str | None] | None, h: str, instance: str | None
    ) -> RedeemOutcome:
        """The stored answer of a claimed key; ``prior`` = (request_hash, status_code,
        response_json)."""
        if prior is None:  # pragma: no cover - a claim that conflicted has a row
            raise ApiProblem(409, "idempotency-key-in-use", "retry the request")
        request_hash_, status_code, response_json = prior
        if request_hash_ != h:
            raise ApiProblem(
                409,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request body",
                reason="idempotency_key_reused",
            )
        if status_code is None:  # pragma: no cover - claims commit together with answers
            raise ApiProblem(
                409, "idempotency-key-in-use", "the first request with this key is running"
            )
        assert response_json is not None  # stored together with status_code
        return RedeemOutcome(status_code, json.loads(response_json), replayed=True)

    def _apply_redeem(
        self,
        conn: Connection,
        row: _CouponRow,
        req: RedeemRequest,
        api_key_id: str,
        idem_key: str,
        now: float,
    ) -> RedeemOutcome:
        _, discount, _ = self._static_checks(row, req, now)
        rid = uuid.uuid4().hex
        booking = dict(
            redemption_id=rid,
            coupon_code=row.code,
            campaign_id=row.campaign_id,
            customer_id=row.customer_id,
            offer_id=row.offer_id,
            order_id=req.order_id,
            discount_cents=discount,
            api_key_id=api_key_id,
            idem_key=idem_key,
            redeemed_ts=now,
        )
        if self._dialect == "postgresql":
            left = self._book_pg(conn, booking)
        else:
            left = self._book(conn, booking)
        body = Redemption(
            redemption_id=rid,
            code=row.code,
            campaign_id=row.campaign_id,
            customer_id=row.customer_id,
            offer_id=row.offer_id,
            order_id=req.order_id,
            discount=discount / 100,
            remaining_budget=left / 100,
            redeemed_at=dt(now),
        )
        return RedeemOutcome(200, body.model_dump(mode="json"))

    def _book_pg(self, conn: Connection, b: dict[str, Any]) -> int:
        """The ledger steps in one statement (:data:`_BOOK_PG`): the budget left (cents), or
        :class:`Rejection` naming the first check that failed (nothing written, and the budget
        left read under the lock)."""
        used, cust, budget, left, before, booked = _BOOK_PG.run(
            conn, {**b, "max_uses": self.settings.max_uses_per_customer}
        ).fetchone()
        # a refusal changed nothing: the budget left is the one read under the lock
        was = None if before is None else int(before)
        if not used:
            raise Rejection("already_redeemed", "the coupon has no uses left", was)
        if not cust:
            raise Rejection(
                "customer_limit_reached", "the customer has used this campaign's offers", was
            )
        if not budget:
            raise Rejection(
                "budget_exhausted",
                f"the campaign budget cannot cover {b['discount_cents'] / 100:.2f}",
                was,
            )
        if left is None or booked != 3:  # pragma: no cover - the locked rows passed every check
            raise RuntimeError(f"redemption of {b['coupon_code']}: {booked} of 3 rows written")
        return int(left)

    def _book(self, conn: Connection, b: dict[str, Any]) -> int:
        """The ledger steps one statement each (SQLite: no data-modifying CTEs; in-process, so
        no round trips to save); the budget left (cents), or :class:`Rejection`."""
        row_code, discount = b["coupon_code"], b["discount_cents"]
        if _USE_COUPON.run(conn, {"code": row_code}).fetchone() is None:
            raise Rejection("already_redeemed", "the coupon has no uses left")
        if (
            _USE_CUSTOMER.run(
                conn,
                {
                    "campaign_id": b["campaign_id"],
                    "customer_id": b["customer_id"],
                    "max_uses": self.settings.max_uses_per_customer,
                },
            ).fetchone()
            is None
        ):
            raise Rejection(
                "customer_limit_reached", "the customer has used this campaign's offers"
            )
        left = _SPEND.run(conn, {"d": discount, "campaign_id": b["campaign_id"]}).fetchone()
        if left is None:
            raise Rejection(
                "budget_exhausted", f"the campaign budget cannot cover {discount / 100:.2f}"
            )
        _INSERT_REDEMPTION.run(conn, b)
        return int(left[0])

    def rollback(self, code: str, req: RollbackRequest, now: float | None = None) -> RollbackResult:
        """Undo a redemption (refund/cancel): the budget, the coupon use and the customer use
        return."""
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
                    raise ApiProblem(
                        404,
                        "redemption-not-found",
                        f"coupon '{code}' has no redemption '{req.redemption_id}'",
                    )
            else:
                red = conn.execute(
                    q.where(r.c.status == "redeemed").order_by(r.c.redeemed_ts.desc()).limit(1)
                ).first()
                if red is None:
                    raise ApiProblem(
                        409,
                        "coupon-not-redeemed",
                        f"coupon '{code}' has no active redemption",
                        reason="not_redeemed",
                    )
            n = conn.execute(
                r.update()
                .where(r.c.redemption_id == red.redemption_id, r.c.status == "redeemed")
                .values(status="rolled_back", rolled_back_ts=now)
            ).rowcount
            if n == 1:
                d = red.discount_cents
                conn.execute(
                    c.update()
                    .where(c.c.campaign_id == red.campaign_id)
                    .values(spent_cents=c.c.spent_cents - d, redemptions=c.c.redemptions - 1)
                )
                conn.execute(
                    t.coupons.update()
                    .where(t.coupons.c.code == code, t.coupons.c.uses > 0)
                    .values(uses=t.coupons.c.uses - 1)
                )
                conn.execute(
                    cu.update()
                    .where(
                        cu.c.campaign_id == red.campaign_id,
                        cu.c.customer_id == red.customer_id,
                        cu.c.uses > 0,
                    )
                    .values(uses=cu.c.uses - 1)
                )
            remaining = (
                conn.execute(
                    sa.select(c.c.budget_cents - c.c.spent_cents).where(
                        c.c.campaign_id == row.campaign_id
                    )
                ).scalar_one()
                if n == 1
                else row.budget_cents - row.spent_cents
            )
        return RollbackResult(
            redemption_id=red.redemption_id,
            code=code,
            refunded=red.discount_cents / 100 if n == 1 else 0.0,
            already_rolled_back=n != 1,
            remaining_budget=remaining / 100,
        )

    # ---------------------------------------------------------------- events, campaigns
    def record_events(self, batch: EventBatch, now: float | None = None) -> EventsAccepted:
        """Store order outcomes; an order_id already stored is a duplicate (kept as first sent)."""
        now = time.time() if now is None else now
        from offerwise.serving.pricing import cents

        if len(batch.events) > self.settings.max_event_batch:
            raise ApiProblem(
                413,
                "batch-too-large",
                f"at most {self.settings.max_event_batch} events per request",
            )
        rows: dict[str, dict[str, Any]] = {}
        for e in batch.events:
            ts = e.ts if e.ts.tzinfo is not None else e.ts.replace(tzinfo=UTC)
            rows.setdefault(
                e.order_id,
                {
                    "order_id": e.order_id,
                    "customer_id": e.customer_id,
                    "ts": ts.timestamp(),
                    "revenue_cents": cents(e.revenue),
                    "discount_cents": cents(e.discount),
                    "coupon_code": normalize_code(e.coupon_code) if e.coupon_code else None,
                    "received_ts": now,
                },
            )
        t = self.t
        ev = t.events
        with write_tx(self.engine) as conn:
            ids = list(rows)
            seen: set[str] = set()
            for i in range(0, len(ids), 500):
                seen.update(
                    conn.execute(
                        sa.select(ev.c.order_id).where(ev.c.order_id.in_(ids[i : i + 500]))
                    ).scalars()
                )
            new = [r for k, r in rows.items() if k not in seen]
            if new:
                stmt: sa.Insert
                if conn.dialect.name == "postgresql":
                    from sqlalchemy.dialects import postgresql

                    stmt = postgresql.insert(ev).on_conflict_do_nothing(index_elements=["order_id"])
                else:
                    from sqlalchemy.dialects import sqlite

                    stmt = sqlite.insert(ev).on_conflict_do_nothing(index_elements=["order_id"])
                conn.execute(stmt, new)
        return EventsAccepted(accepted=len(new), duplicates=len(batch.events) - len(new))

    def swap_plan(self, req: PlanSwap) -> PlanLoaded:
        """Load ``req.plan`` as the active campaign (one transaction: the old campaign stops being
        active as the new one starts); every worker serves it within ``CAMPAIGN_TTL_S``. Coupons
        already issued keep their campaign and its budget, so nothing in flight is lost."""
        from offerwise.errors import OfferwiseError
        from offerwise.serving.storage import load_plan

        try:
            got = load_plan(self.engine, Path(req.plan), Path(req.model_dir), req.budget)
        except (OfferwiseError, OSError) as exc:
            raise ApiProblem(422, "plan-not-loaded", str(exc)[:2000]) from exc
        self.refresh()
        return PlanLoaded(
            campaign_id=got.campaign_id,
            budget=got.budget_cents / 100,
            customers_in_plan=got.n_customers,
            offers=got.n_offers,
            created=got.created,
            plan_fingerprint=got.fingerprint,
            previous_campaign_id=got.previous_campaign_id,
        )

    def campaign(self, campaign_id: str) -> CampaignOut:
        from offerwise.serving.stats import plan_explore_share

        t = self.t
        c = t.campaigns
        with read_tx(self.engine) as conn:
            row = conn.execute(sa.select(c).where(c.c.campaign_id == campaign_id)).first()
            if row is None:
                raise ApiProblem(404, "campaign-not-found", f"no campaign '{campaign_id}'")

            def count(table: Table) -> int:
                return int(
                    conn.execute(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.campaign_id == campaign_id)
                    ).scalar_one()
                )

            issued, exposures, customers, online = (
                count(t.coupons),
                count(t.decisions),
                count(t.assignments),
                count(t.online_scores),
            )
            explored = int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.decisions)
                    .where(t.decisions.c.campaign_id == campaign_id, t.decisions.c.explored == 1)
                ).scalar_one()
            )
        return CampaignOut(
            campaign_id=row.campaign_id,
            active=bool(row.active),
            budget=row.budget_cents / 100,
            spent=row.spent_cents / 100,
            remaining=(row.budget_cents - row.spent_cents) / 100,
            redemptions=int(row.redemptions),
            offers_issued=issued,
            exposures=exposures,
            customers_in_plan=customers,
            created_at=dt(row.created_ts),
            explore_plan=plan_explore_share(row.summary_json),
            epsilon=self.settings.epsilon,
            explored=explored,
            online_scored=online,
        )


__all__ = [
    "OfferService",
    "RedeemOutcome",
    "choose_offer",
    "exploration_draws",
    "new_coupon_code",
    "request_hash",
]

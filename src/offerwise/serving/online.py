"""Online decisions: customers without a plan row, scored by the campaign's model as their orders
arrive (issue #16 item 1).

The offer service records orders (``POST /v1/events``). :class:`OnlineScoring` tails that table:
every ``poll_s`` seconds it finds the customers without a plan row in the live campaign whose
recorded orders changed since their last score, hands their orders to a :class:`CustomerScorer`
(the model, the plan's rules and budget price: :class:`offerwise.workflows.online.ModelScorer`)
and upserts the answers into ``online_scores``. ``GET offer`` reads a customer's score in the same
round trip as their plan row, so an online decision costs what a plan decision costs.

Why not score inside the request: one customer scored alone takes about 150 ms on 2 cores (the
feature SQL, the model; ``benchmarks/bench_serving.py`` prints it), over the 10 ms a decision may
take at p99; scored as the orders arrive, the request path stays a lookup, and the score is as
fresh as the poll (``docs/serving.md``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from offerwise.errors import ConfigError
from offerwise.serving.storage import Tables, read_tx, upsert, write_tx
from offerwise.vocab import ELIGIBLE_SEP

log = logging.getLogger("offerwise.serving.online")

__all__ = [
    "ORDER_COLUMNS",
    "CampaignModel",
    "CustomerScorer",
    "OnlineScore",
    "OnlineScoring",
    "ScoringStats",
]

#: Columns of the orders frame a scorer gets: currency amounts, ``ts`` in epoch seconds.
ORDER_COLUMNS = ("customer_id", "order_id", "ts", "revenue", "discount")


@dataclass(frozen=True, slots=True)
class CampaignModel:
    """The live campaign as a scorer needs it: its plan summary (JSON text; ``online`` holds the
    plan's decision context) and the model directory it was loaded with."""

    campaign_id: str
    summary_json: str | None
    model_dir: Path | None


@dataclass(frozen=True, slots=True)
class OnlineScore:
    """The model's decision for one customer: ``offer_id`` (or ``none``), the offers the rules
    allow them (``eligible``: the exploration arms), their ``segment`` and the decision's
    ``reason`` code (e.g. ``best_net_of_budget_price``)."""

    customer_id: str
    offer_id: str
    eligible: list[str]
    segment: str
    reason: str


class CustomerScorer(Protocol):
    """Scores customers from their recorded orders (frame with :data:`ORDER_COLUMNS`, every
    order of each customer to score), as of ``now`` (epoch seconds)."""

    def score(
        self, campaign: CampaignModel, orders: pd.DataFrame, now: float
    ) -> list[OnlineScore]: ...


@dataclass(slots=True)
class ScoringStats:
    """What the scorer has done since it started: customers ``scored``, ``passes`` that scored
    any, the last pass's seconds (``last_pass_s``) and error (``last_error``; None: none)."""

    scored: int = 0
    passes: int = 0
    last_pass_s: float = 0.0
    last_error: str | None = None
    errors: int = 0


#: Customers without a plan row whose recorded orders changed since their score (or who have
#: none), among those with an order received after the watermark.
_STALE_SQL = sa.text(
    "SELECT e.customer_id, COUNT(*) AS n, MAX(e.received_ts) AS last_received FROM events e "
    "WHERE e.customer_id IN (SELECT customer_id FROM events WHERE received_ts > :wm) "
    "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.campaign_id = :cid "
    "AND a.customer_id = e.customer_id) "
    "GROUP BY e.customer_id "
    "HAVING COUNT(*) <> COALESCE((SELECT o.n_orders FROM online_scores o "
    "WHERE o.campaign_id = :cid AND o.customer_id = e.customer_id), -1) "
    "ORDER BY MAX(e.received_ts)"
)


class OnlineScoring:
    """Tails the recorded orders and keeps ``online_scores`` current for the live campaign.

    ``run_once()`` does one pass (tests, tools); ``start()`` runs passes every ``poll_s`` seconds
    on a daemon thread until ``stop()``. Orders received up to ``lookback_s`` before the newest
    one seen are looked at again each pass (a writer may commit an older ``received_ts`` late); a
    customer is scored again only when their order count changed.
    """

    def __init__(
        self,
        engine: Engine,
        scorer: CustomerScorer,
        *,
        poll_s: float = 0.2,
        batch: int = 2000,
        lookback_s: float = 30.0,
        fallback_model_dir: Path | None = None,
    ):
        self.engine = engine
        self.scorer = scorer
        self.poll_s = poll_s
        self.batch = batch
        self.lookback_s = lookback_s
        self.fallback_model_dir = fallback_model_dir
        self.stats = ScoringStats()
        self._campaign: str | None = None
        self._unscorable: str | None = None  # a campaign its scorer cannot score (logged once)
        self._watermark = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ one pass
    def _live(self) -> CampaignModel | None:
        c = Tables.get().campaigns
        with read_tx(self.engine) as conn:
            row = conn.execute(
                sa.select(c.c.campaign_id, c.c.summary_json, c.c.model_dir).where(c.c.active == 1)
            ).first()
        if row is None:
            return None
        model_dir = Path(row.model_dir) if row.model_dir else self.fallback_model_dir
        return CampaignModel(row.campaign_id, row.summary_json, model_dir)

    def run_once(self, now: float | None = None) -> int:
        """Score the stale customers of the live campaign; returns how many were scored."""
        t0 = time.perf_counter()
        camp = self._live()
        if camp is None or camp.campaign_id == self._unscorable:
            return 0
        if camp.campaign_id != self._campaign:  # another plan is live: its own scores, all anew
            self._campaign, self._watermark = camp.campaign_id, float("-inf")
        with read_tx(self.engine) as conn:
            stale = conn.execute(_STALE_SQL, {"wm": self._watermark, "cid": camp.campaign_id}).all()
        if not stale:
            return 0
        newest = max(float(r.last_received) for r in stale)
        done = 0
        for i in range(0, len(stale), self.batch):
            part = stale[i : i + self.batch]
            try:
                done += self._score(camp, [r.customer_id for r in part], now)
            except ConfigError as exc:  # e.g. a plan made before online decisions: not retried
                self._unscorable = camp.campaign_id
                self.stats.last_error = str(exc)[:500]
                log.warning("online scoring off for campaign %s: %s", camp.campaign_id, exc)
                return done
        self._watermark = max(self._watermark, newest - self.lookback_s)
        self.stats.scored += done
        self.stats.passes += 1
        self.stats.last_pass_s = time.perf_counter() - t0
        return done

    def _score(self, camp: CampaignModel, ids: list[str], now: float | None) -> int:
        ev = Tables.get().events
        with read_tx(self.engine) as conn:
            rows = conn.execute(
                sa.select(
                    ev.c.customer_id,
                    ev.c.order_id,
                    ev.c.ts,
                    ev.c.revenue_cents,
                    ev.c.discount_cents,
                ).where(ev.c.customer_id.in_(ids))
            ).all()
        orders = pd.DataFrame(
            rows,
            columns=[
                "customer_id",
                "order_id",
                "ts",
                "revenue_cents",
                "discount_cents",
            ],
        )
        orders["revenue"] = orders.pop("revenue_cents").astype(float) / 100
        orders["discount"] = orders.pop("discount_cents").astype(float) / 100
        counts = orders.groupby("customer_id").size().to_dict()
        when = time.time() if now is None else now
        scores = self.scorer.score(camp, orders[list(ORDER_COLUMNS)], when)
        scored_ts = time.time()
        records = [
            {
                "campaign_id": camp.campaign_id,
                "customer_id": s.customer_id,
                "offer_id": s.offer_id,
                "eligible": ELIGIBLE_SEP.join(s.eligible),
                "segment": s.segment,
                "reason": s.reason,
                "n_orders": int(counts.get(s.customer_id, 0)),
                "scored_ts": scored_ts,
            }
            for s in scores
        ]
        if records:
            with write_tx(self.engine) as conn:
                stmt = upsert(conn, Tables.get().online_scores, ["campaign_id", "customer_id"])
                for i in range(0, len(records), 1000):
                    conn.execute(stmt, records[i : i + 1000])
        return len(records)

    # ------------------------------------------------------------------ thread
    def start(self) -> OnlineScoring:
        self._thread = threading.Thread(target=self._loop, name="offerwise-online", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the service keeps serving; logged, retried
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("online scoring failed: %s", self.stats.last_error)
                self._stop.wait(min(30.0, self.poll_s * 2 ** min(self.stats.errors, 8)))
                continue
            self._stop.wait(self.poll_s)

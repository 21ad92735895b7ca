"""The model behind the offer service's online decisions (:mod:`offerwise.serving.online`).

:class:`ModelScorer` turns the orders the service recorded for customers without a plan row into
the plan's decision for them: their features as of now, from those orders (and from the data
source, for a customer it holds), scored by the campaign's model, the planner's rules applied and
the best eligible offer net of the plan's budget price chosen (:func:`best_offers`, the same code
as the plan's newcomer decision). ``offerwise serve`` runs it on a thread of the server's main
process (unless ``--no-online``).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from offerwise._io import read_parquet
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet, dataset_from_frames
from offerwise.errors import ConfigError
from offerwise.features.engine import profile
from offerwise.features.model_inputs import build_features
from offerwise.models.persist import LoadedModel, load_model
from offerwise.serving.online import CampaignModel, OnlineScore, OnlineScoring
from offerwise.serving.settings import ServeSettings
from offerwise.serving.storage import make_engine
from offerwise.workflows.newcomer import DecisionContext, best_offers, newcomer_rows

log = logging.getLogger("offerwise.online")

__all__ = ["ModelScorer", "start_online_scoring"]


@dataclass(frozen=True, slots=True)
class _Campaign:
    """A campaign's model and decision context, loaded once."""

    model: LoadedModel
    ctx: DecisionContext


class ModelScorer:
    """Scores customers from their recorded orders with the live campaign's model and rules.

    ``data``: the shop's data source, for customers it holds (their attributes and history join
    the recorded orders); None: every customer scored is a newcomer with recorded orders only.
    """

    def __init__(self, data: DataSet | None = None, settings: Settings | None = None):
        self.data = data
        self.settings = settings or default_settings()
        self._loaded: dict[str, _Campaign] = {}
        #: the source's products (categories, brands of its lines), read once
        self._products = (
            data.frame("products") if data is not None and data.has("products") else None
        )
        self._lock = threading.Lock()

    def _campaign(self, camp: CampaignModel) -> _Campaign:
        with self._lock:
            got = self._loaded.get(camp.campaign_id)
            if got is not None:
                return got
            try:
                summary = json.loads(camp.summary_json or "{}")
            except ValueError as exc:
                raise ConfigError(f"campaign {camp.campaign_id}: summary is not JSON") from exc
            online = summary.get("online") if isinstance(summary, dict) else None
            if not isinstance(online, dict):
                raise ConfigError(
                    f"campaign {camp.campaign_id}: its plan summary has no 'online' decision "
                    "context (a plan made before online decisions): run `offerwise plan` again"
                )
            if camp.model_dir is None:
                raise ConfigError(f"campaign {camp.campaign_id}: no model directory is known")
            lm = load_model(camp.model_dir)
            menu = Path(camp.model_dir) / "offers.parquet"
            offers = read_parquet(menu) if menu.exists() else None
            got = _Campaign(lm, DecisionContext.from_dict(online, offers))
            self._loaded = {camp.campaign_id: got}  # the live campaign's only
            return got

    def _frames(
        self, orders: pd.DataFrame, ids: list[str], attributes: list[str]
    ) -> dict[str, pd.DataFrame]:
        """Contract tables of the customers ``ids``: the data source's rows for those it holds,
        plus their recorded orders as transactions (one line each). ``attributes``: customer
        columns the model reads (missing for a customer the source does not hold)."""
        tx = pd.DataFrame(
            {
                "customer_id": orders["customer_id"].astype(str),
                "order_id": "online:" + orders["order_id"].astype(str),
                "ts": pd.to_datetime(orders["ts"], unit="s"),
                "amount": orders["revenue"].astype(float),
                "discount": orders["discount"].astype(float),
                "quantity": 1.0,
            }
        )
        known = pd.DataFrame({"customer_id": pd.Series([], dtype=str)})
        frames: dict[str, pd.DataFrame] = {}
        ds = self.data
        if ds is not None:
            con = ds.con
            known = con.execute(
                "SELECT * FROM customers WHERE customer_id IN (SELECT unnest(?))", [ids]
            ).df()
            if ds.has("transactions"):
                hist = con.execute(
                    "SELECT * FROM transactions WHERE customer_id IN (SELECT unnest(?))", [ids]
                ).df()
                tx = pd.concat([hist, tx], ignore_index=True)
            if self._products is not None:
                frames["products"] = self._products
        first = tx.groupby("customer_id")["ts"].min()
        held = set(known["customer_id"].astype(str))
        new_ids = [c for c in ids if c not in held]
        new = pd.DataFrame(
            {"customer_id": new_ids, "signup_date": [first.get(c, pd.NaT) for c in new_ids]}
        )
        cust = pd.concat([known, new], ignore_index=True) if len(known) else new
        for a in attributes:
            if a not in cust.columns:
                cust[a] = None
        frames["customers"] = cust
        frames["transactions"] = tx
        return frames

    def score(self, campaign: CampaignModel, orders: pd.DataFrame, now: float) -> list[OnlineScore]:
        """The plan's decision for each customer of ``orders`` as of ``now`` (epoch seconds)."""
        c = self._campaign(campaign)
        ids = sorted({str(x) for x in orders["customer_id"]})
        if not ids:
            return []
        as_of = pd.Timestamp(datetime.fromtimestamp(now, UTC).replace(tzinfo=None))
        ds = dataset_from_frames(
            self._frames(orders, ids, [*c.model.features.numeric, *c.model.features.categorical]),
            settings=self.settings,
            label="recorded orders",
        )
        prof = profile(ds, as_of, self.settings)
        prof["customer_id"] = prof["customer_id"].astype(str)
        prof = prof.set_index("customer_id").loc[ids].reset_index()
        X, _ = build_features(
            ds,
            pd.DataFrame({"customer_id": ids, "as_of": as_of}),
            self.settings,
            spec=c.model.features,
            computed=prof,
        )
        rows = newcomer_rows(ids, c.ctx.customer_columns)
        attrs = ds.frame("customers").set_index("customer_id")
        for col in c.ctx.customer_columns:  # what the data source knows of a customer
            if col in attrs.columns:
                known = rows["customer_id"].map(attrs[col])
                rows[col] = known.where(known.notna(), rows[col])
        rows["segment"] = prof["segment"].astype(str).to_numpy()
        return [
            OnlineScore(i, d.offer_id, list(d.eligible), d.segment, d.reason)
            for i, d in zip(ids, best_offers(c.model, X, rows, c.ctx), strict=True)
        ]


def start_online_scoring(
    settings: ServeSettings, data: DataSet | None, *, poll_s: float = 0.2
) -> OnlineScoring:
    """Start scoring customers without a plan row on a daemon thread of this process (the
    server's main process): its own database engine, the data source ``data`` (or None)."""
    engine = make_engine(settings.db_url, pool_size=2, busy_timeout_ms=settings.busy_timeout_ms)
    scorer = ModelScorer(data, default_settings())
    return OnlineScoring(
        engine, scorer, poll_s=poll_s, fallback_model_dir=settings.model_dir
    ).start()

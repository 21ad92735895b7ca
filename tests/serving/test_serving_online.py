"""Online decisions (issue #16 item 1): customers without a plan row are scored by the plan's
model from the orders the service recorded, and GET offer serves that score."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from serving_testlib import free_port, pg_fresh_db

from offerwise.config import load_settings
from offerwise.data import load_data
from offerwise.models.persist import load_model
from offerwise.serving import create_api_key, create_app
from offerwise.serving.online import OnlineScoring
from offerwise.serving.settings import ServeSettings
from offerwise.serving.storage import make_engine
from offerwise.simulator import simulate, write_market
from offerwise.workflows.online import ModelScorer
from offerwise.workflows.plan import make_plan
from offerwise.workflows.score import score
from offerwise.workflows.train import train

NOW = time.time()


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A simulated shop with order histories, its model and a plan."""
    root = tmp_path_factory.mktemp("online")
    data_dir = write_market(simulate(n_customers=600, n_exposures=1500, seed=4), root / "shop")
    settings = load_settings(threads=1, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(data_dir, root / "model", seed=4, settings=settings, tune_mode="off",
              n_estimators=20, learner="t")
        make_plan(root / "model", data_dir, 2000.0, root / "plan.parquet", frontier=False,
                  settings=settings, overspend_risk=None)
    return {"root": root, "model": root / "model", "plan": root / "plan.parquet", "data": data_dir}


def _orders(n: int, seed: int = 0, prefix: str = "web") -> list[dict]:
    """Random order histories of n new customers (1-12 orders over the last 300 days)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        for j in range(int(rng.integers(1, 13))):
            ts = NOW - 86400 * float(rng.uniform(0.5, 300))
            out.append({"order_id": f"{prefix}{i}-{j}", "customer_id": f"{prefix}-{i}",
                        "ts": pd.Timestamp(ts, unit="s", tz="UTC").isoformat(),
                        "revenue": round(float(rng.uniform(5, 250)), 2),
                        "discount": round(float(rng.uniform(0, 15)) * float(rng.random() < 0.4), 2)})
    return out


def _client(planned: dict[str, Path], db: str) -> tuple[TestClient, str]:
    key = create_api_key(db, "ops", ["decide", "admin"])
    app = create_app(ServeSettings(plan=planned["plan"], model_dir=planned["model"], db_url=db,
                                   rate_per_s=1e6, rate_burst=1_000_000))
    return TestClient(app).__enter__(), key


def _expected(planned: dict[str, Path], orders: list[dict]) -> dict[str, str]:
    """The batch pipeline's decision for the same customers: a data directory of their orders,
    `score` as `offerwise score` runs it, then argmax value - lambda * cost over the plan's
    offers (this plan has no rules) when positive."""
    root = planned["root"] / f"batch-{len(orders)}"
    root.mkdir()
    o = pd.DataFrame(orders)
    o["ts"] = pd.to_datetime(o["ts"]).dt.tz_convert(None)
    first = o.groupby("customer_id")["ts"].min()
    lm = load_model(planned["model"])
    cust = pd.DataFrame({"customer_id": first.index, "signup_date": first.to_numpy()})
    for c in [*lm.features.numeric, *lm.features.categorical]:  # unknown for a new customer
        cust[c] = np.nan if c in lm.features.numeric else pd.Series([None] * len(cust), dtype=object)
    cust.to_parquet(root / "customers.parquet", index=False)
    pd.DataFrame({"customer_id": o["customer_id"], "order_id": o["order_id"], "ts": o["ts"],
                  "product_id": "no-product", "amount": o["revenue"], "discount": o["discount"],
                  "quantity": 1.0}).to_parquet(root / "transactions.parquet", index=False)
    shutil.copy(next(planned["data"].glob("offers.*")), root)
    summary = json.loads((planned["plan"].parent / "plan.summary.json").read_text())
    lam, offer_ids = summary["online"]["lambda"], summary["online"]["offer_ids"]
    sc = score(lm, load_data(root),
               as_of=pd.Timestamp(NOW, unit="s"), settings=load_settings(threads=1)).scores
    sc = sc[sc["offer_id"].isin(offer_ids)].copy()
    sc["net"] = sc["incremental_profit"] - lam * sc["expected_cost"].clip(lower=0)
    best = sc.loc[sc.groupby("customer_id")["net"].idxmax()]
    return {str(r.customer_id): (str(r.offer_id) if r.net > 0 else "none") for r in best.itertuples()}


def _scores(db: str) -> pd.DataFrame:
    with make_engine(db).connect() as conn:
        return pd.read_sql(sa.text("SELECT * FROM online_scores"), conn)


def test_online_scores_equal_the_batch_pipelines_decisions_and_get_offer_serves_them(
    planned: dict[str, Path], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/ow.db"
    client, key = _client(planned, db)
    H = {"X-API-Key": key}
    try:
        orders = _orders(40)
        plan_customer = str(pd.read_parquet(planned["plan"])["customer_id"].iloc[0])
        extra = [{"order_id": "p-1", "customer_id": plan_customer, "ts": "2026-11-01T00:00:00Z",
                  "revenue": 30.0, "discount": 0.0}]
        assert client.post("/v1/events", json={"events": orders + extra}, headers=H).status_code == 200
        scoring = OnlineScoring(make_engine(db), ModelScorer(load_data(planned["data"])))
        assert scoring.run_once(now=NOW) == 40  # the plan's customer keeps their plan row
        assert scoring.run_once(now=NOW) == 0  # nothing changed: nothing scored again
        got = _scores(db).set_index("customer_id")
        assert plan_customer not in got.index and set(got["n_orders"]) <= set(range(1, 13))
        want = _expected(planned, orders)
        assert got["offer_id"].to_dict() == want
        assert got["offer_id"].nunique() >= 2  # the histories make a difference
        # GET offer: the score, with reason `online`; a customer never scored: the newcomer's
        for cust, offer in list(want.items())[:15]:
            b = client.get(f"/v1/customers/{cust}/offer", headers=H).json()
            assert b["group"] == "cold_start" and b["reason"] == "online" and b["propensity"] == 1.0
            assert (b["offer"]["offer_id"] if b["offer"] else "none") == offer
            assert (b["coupon"] is not None) == (offer != "none")
        b = client.get("/v1/customers/never-ordered/offer", headers=H).json()
        assert b["group"] == "cold_start" and b["reason"] == "cold_start"
        camp = client.get(f"/v1/campaigns/{b['campaign_id']}", headers=H).json()
        assert camp["online_scored"] == 40
        # a new order makes that customer's score stale: scored again, and only them
        more = [{"order_id": "web0-new", "customer_id": "web-0", "ts": pd.Timestamp(NOW, unit="s", tz="UTC").isoformat(),
                 "revenue": 500.0, "discount": 0.0}]
        assert client.post("/v1/events", json={"events": more}, headers=H).json()["accepted"] == 1
        assert scoring.run_once(now=NOW + 1) == 1
        assert _scores(db).set_index("customer_id").loc["web-0", "n_orders"] == got.loc["web-0", "n_orders"] + 1
    finally:
        client.__exit__(None, None, None)


def test_online_scoring_on_postgresql(planned: dict[str, Path], postgres_url: str) -> None:
    """The same pass on PostgreSQL: the stale-customer query and the upsert."""
    db = pg_fresh_db(postgres_url, "online")
    client, key = _client(planned, db)
    try:
        orders = _orders(12, seed=5, prefix="pg")
        assert client.post("/v1/events", json={"events": orders}, headers={"X-API-Key": key}).status_code == 200
        scoring = OnlineScoring(make_engine(db), ModelScorer(None))
        assert scoring.run_once(now=NOW) == 12 and scoring.run_once(now=NOW) == 0
        assert _scores(db).set_index("customer_id")["offer_id"].to_dict() == _expected(planned, orders)
    finally:
        client.__exit__(None, None, None)


def test_offerwise_serve_scores_recorded_orders_while_serving(planned: dict[str, Path], tmp_path: Path) -> None:
    """As a user runs it: `offerwise serve` (online by default), orders posted, then GET offer."""
    db = f"sqlite:///{tmp_path}/live.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"OFFERWISE_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "offerwise.cli", "serve", "--plan", str(planned["plan"]), "--model",
         str(planned["model"]), "--db", db, "--port", str(port), "--data", str(planned["data"]), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["online"] is True and info["data"] == str(planned["data"])
        key = create_api_key(db, "ops", ["decide", "admin"])
        H = {"X-API-Key": key}
        orders = _orders(10, seed=9, prefix="live")
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(f"{info['url']}/v1/events", json={"events": orders}, headers=H, timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200
        cid = httpx.get(f"{info['url']}/health").json()["campaign_id"]
        while httpx.get(f"{info['url']}/v1/campaigns/{cid}", headers=H).json()["online_scored"] < 10:
            assert time.monotonic() < deadline, "the server did not score the recorded orders"
            time.sleep(0.2)
        b = httpx.get(f"{info['url']}/v1/customers/live-3/offer", headers=H).json()
        assert b["group"] == "cold_start" and b["reason"] == "online"
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def test_a_swapped_plan_is_scored_anew_by_its_own_model(planned: dict[str, Path], tmp_path: Path) -> None:
    """After POST /v1/admin/plan, the scorer scores the recorded customers again for the new
    campaign (with the model directory the campaign was loaded with); the old scores stay."""
    db = f"sqlite:///{tmp_path}/swap.db"
    client, key = _client(planned, db)
    H = {"X-API-Key": key}
    try:
        orders = _orders(6, seed=11, prefix="sw")
        assert client.post("/v1/events", json={"events": orders}, headers=H).status_code == 200
        scoring = OnlineScoring(make_engine(db), ModelScorer(None))
        assert scoring.run_once(now=NOW) == 6
        second = tmp_path / "second.parquet"
        shutil.copy(planned["plan"], second)
        summary = json.loads((planned["plan"].parent / "plan.summary.json").read_text())
        (tmp_path / "second.summary.json").write_text(json.dumps({**summary, "campaign_id": "second"}))
        r = client.post("/v1/admin/plan", json={"plan": str(second), "model_dir": str(planned["model"])},
                        headers=H)
        assert r.status_code == 200 and r.json()["campaign_id"] == "second"
        assert scoring.run_once(now=NOW) == 6 and scoring.run_once(now=NOW) == 0
        got = _scores(db)
        assert sorted(got["campaign_id"].unique()) == [summary["campaign_id"], "second"]
        assert (got.groupby("campaign_id").size() == 6).all()
        b = client.get("/v1/customers/sw-2/offer", headers=H).json()
        assert b["campaign_id"] == "second" and b["reason"] == "online"
    finally:
        client.__exit__(None, None, None)


def test_a_plan_without_an_online_context_is_left_to_the_newcomer_decision(tmp_path: Path) -> None:
    """A plan made before online decisions (no `online` in its summary): the scorer says why once
    and stops trying for that campaign; GET offer keeps answering (cold start)."""
    from serving_testlib import make_inputs

    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/old.db"
    client, key = _client({"plan": plan, "model": model}, db)
    H = {"X-API-Key": key}
    try:
        assert client.post("/v1/events", json={"events": _orders(3, prefix="old")}, headers=H).status_code == 200
        scoring = OnlineScoring(make_engine(db), ModelScorer(None))
        assert scoring.run_once(now=NOW) == 0 and "no 'online' decision context" in scoring.stats.last_error
        assert scoring.run_once(now=NOW) == 0 and _scores(db).empty
        b = client.get("/v1/customers/old-1/offer", headers=H).json()
        assert b["group"] == "cold_start" and b["reason"] == "cold_start"
    finally:
        client.__exit__(None, None, None)

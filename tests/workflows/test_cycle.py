"""``offerwise cycle`` against a running service (issue #16 item 4): export what was served,
merge it with the history, retrain, replan and swap the live plan without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from offerwise.config import load_settings
from offerwise.simulator import simulate, write_market
from offerwise.workflows.plan import make_plan
from offerwise.workflows.train import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
from serving_testlib import LiveServer, serve_env  # noqa: E402

from offerwise.serving import create_api_key  # noqa: E402


def ow(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"OFFERWISE_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture()
def live(tmp_path: Path):
    """A simulated shop, its model and plan, served by a real uvicorn server (SQLite)."""
    data = write_market(simulate(n_customers=600, n_exposures=1500, seed=4), tmp_path / "shop")
    settings = load_settings(threads=1, seed=4)
    train(data, tmp_path / "model", seed=4, settings=settings, tune_mode="off", n_estimators=20,
          learner="t")
    plan = tmp_path / "first.parquet"
    make_plan(tmp_path / "model", data, 300.0, plan, frontier=False, settings=settings,
              overspend_risk=None)
    db = f"sqlite:///{tmp_path}/ow.db"
    decide = create_api_key(db, "pos", ["decide"])
    admin = create_api_key(db, "ops", ["admin"])
    srv = LiveServer(db, serve_env(plan, tmp_path / "model")).start()
    try:
        yield {"root": tmp_path, "data": data, "db": db, "srv": srv, "decide": decide, "admin": admin}
    finally:
        srv.stop()


def _active(srv: LiveServer, key: str, who: str) -> str:
    return httpx.get(f"{srv.url}/v1/customers/{who}/offer", headers={"X-API-Key": key}).json()["campaign_id"]


def test_cycle_retrains_replans_and_swaps_the_live_plan(live: dict) -> None:
    srv, decide, admin = live["srv"], live["decide"], live["admin"]
    customers = pd.read_parquet(live["data"] / "customers.parquet")["customer_id"].astype(str)
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        served = [c.get(f"/v1/customers/{cid}/offer", headers={"X-API-Key": decide}).json()
                  for cid in customers.iloc[:120]]
        now = datetime.now(UTC)
        events = [{"order_id": f"o{i}", "customer_id": d["customer_id"], "revenue": 40.0,
                   "ts": (now + timedelta(minutes=5)).isoformat()}
                  for i, d in enumerate(served[:40])]
        assert c.post("/v1/events", json={"events": events},
                      headers={"X-API-Key": admin}).status_code == 200
    first = served[0]["campaign_id"]
    history = len(pd.read_parquet(live["data"] / "exposures.parquet"))
    time.sleep(0.5)  # the write-behind records reach the database

    r = ow("cycle", "--data", live["data"], "--db", live["db"], "--budget", "250",
           "--work", live["root"] / "cycles", "--server", srv.url, "--api-key", admin,
           "--tune", "off")
    assert r.returncode == 0, r.stderr
    assert f"merged 120 served exposures with {history:,} logged" in r.stdout
    assert "identification verdict:" in r.stdout and "…" not in r.stdout
    assert f"live campaign: {first} -> cycle-" in r.stdout and "swapped via the server" in r.stdout
    second = _active(srv, decide, "someone-new")
    assert second.startswith("cycle-") and second != first
    cyc = next((live["root"] / "cycles").iterdir())
    merged = pd.read_parquet(cyc / "data" / "exposures.parquet")
    assert len(merged) == history + 120
    assert (cyc / "model" / "model_card.json").exists()
    got = merged.tail(120)
    assert got["converted"].sum() >= 40 and got["propensity"].between(0, 1).all()

    # a second cycle straight into the database (no server call): the workers pick it up
    time.sleep(1.1)  # a new UTC second: a new cycle folder and campaign id
    r = ow("cycle", "--data", live["data"], "--db", live["db"], "--budget", "250",
           "--work", live["root"] / "cycles", "--tune", "off", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["swapped_via"] == "database" and out["previous_campaign_id"] == second
    deadline = time.monotonic() + 5
    while _active(srv, decide, f"late{time.monotonic()}") != out["campaign_id"]:
        assert time.monotonic() < deadline, "the service did not pick up the new plan"
        time.sleep(0.2)


def test_cycle_merges_a_duckdb_file_shop_into_a_directory(live: dict) -> None:
    """The history in a DuckDB file (not a directory): the merged copy is a directory holding
    its tables row for row plus the served exposures and the customers the service met first,
    and the new plan goes live."""
    import duckdb

    from offerwise.data.contract import load_data

    tables = load_data(live["data"]).source.tables
    shop = live["root"] / "shop.duckdb"
    with duckdb.connect(str(shop)) as con:
        for t in tables:
            f = next(live["data"].glob(f"{t}.*"))
            con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{f}')")
    srv, decide = live["srv"], live["decide"]
    first = [_active(srv, decide, f"c{i}") for i in range(10)][0]
    time.sleep(0.5)  # the write-behind records reach the database
    r = ow("cycle", "--data", shop, "--db", live["db"], "--budget", "250",
           "--work", live["root"] / "cycles", "--tune", "off")
    assert r.returncode == 0, r.stderr
    history = len(pd.read_parquet(live["data"] / "exposures.parquet"))
    assert f"merged 10 served exposures with {history:,} logged" in r.stdout
    # c0..c9 are not the shop's customers: added to the merged customers table (id and the day
    # first served), so their exposures are kept, not dropped by the data contract
    assert "10 customers first met by the service added to the customers table" in r.stdout
    assert "not found in customers" not in r.stderr and "UserWarning" not in r.stderr
    data = next((live["root"] / "cycles").iterdir()) / "data"
    assert sorted(p.stem for p in data.glob("*.parquet")) == sorted(tables)
    for t in tables:
        got, want = pd.read_parquet(data / f"{t}.parquet"), pd.read_parquet(live["data"] / f"{t}.parquet")
        if t == "exposures":
            assert len(got) == history + 10
        elif t == "customers":
            new = got.iloc[len(want):]
            assert len(got) == len(want) + 10 and sorted(new["customer_id"]) == sorted(f"c{i}" for i in range(10))
            ex = pd.read_parquet(data / "exposures.parquet")
            first_ts = pd.to_datetime(ex["ts"]).groupby(ex["customer_id"].astype(str)).min()
            want_day = first_ts.loc[new["customer_id"]].dt.tz_localize(None).dt.normalize()
            assert (new["signup_date"].to_numpy() == want_day.to_numpy()).all()
            assert got.iloc[:len(want)]["customer_id"].tolist() == want["customer_id"].astype(str).tolist()
        else:
            same = [f.astype(object).where(f.notna(), None) for f in (got, want)]
            pd.testing.assert_frame_equal(*same)
    deadline = time.monotonic() + 5
    while (now := _active(srv, decide, f"late{time.monotonic()}")) == first:
        assert time.monotonic() < deadline, "the service did not pick up the new plan"
        time.sleep(0.2)
    assert now.startswith("cycle-")


def test_cycle_refuses_a_server_without_a_key(live: dict) -> None:
    r = ow("cycle", "--data", live["data"], "--db", live["db"], "--budget", "100",
           "--work", live["root"] / "c", "--server", live["srv"].url)
    assert r.returncode == 2 and "--server needs --api-key" in r.stderr
    assert not (live["root"] / "c").exists()


def test_merge_keeps_the_served_propensities() -> None:
    """Served rows keep their logged propensities; a history without any (observational) gets
    empty ones, so the merged logs are mixed (``train`` values plans on the served rows)."""
    from offerwise.workflows.cycle import merge_exposures, propensity_note

    ts = pd.to_datetime(["2024-01-01", "2024-01-02"])
    hist = pd.DataFrame({"customer_id": ["a", "b"], "offer_id": ["x", "none"], "ts": ts,
                         "converted": [1, 0]})
    served = pd.DataFrame({"customer_id": ["a", "c"], "offer_id": ["x", "y"],
                           "ts": pd.to_datetime(["2024-01-01", "2024-01-03"]),
                           "converted": [1, 1], "propensity": [0.5, 0.2]})
    m = merge_exposures(hist, served)
    assert list(m["customer_id"]) == ["a", "b", "c"]
    assert m["propensity"].isna().tolist() == [True, True, False] and m["propensity"].iloc[2] == 0.2
    assert "mixed" in propensity_note(hist, served)
    assert "observational" in propensity_note(hist, served.drop(columns="propensity"))
    logged = hist.assign(propensity=[0.9, 0.4])
    m = merge_exposures(logged, served)
    assert list(m["propensity"]) == [0.9, 0.4, 0.2]
    assert propensity_note(logged, served).startswith("logged propensities kept")


def test_newcomer_rows_are_the_served_customers_the_table_lacks() -> None:
    from offerwise.workflows.cycle import newcomer_rows

    known = pd.Series(["a", "b"])
    served = pd.DataFrame({"customer_id": ["a", "n1", "n2", "n1"],
                           "ts": pd.to_datetime(["2024-03-01 10:00", "2024-03-02 23:00", "2024-03-01 08:00",
                                                 "2024-03-01 09:30"], utc=True)})
    got = newcomer_rows(known, served, signup=True)
    assert got["customer_id"].tolist() == ["n1", "n2"]  # once each, in order of first appearance
    assert got["signup_date"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-01")]
    assert got.columns.tolist() == ["customer_id", "signup_date"]  # other attributes stay empty
    assert newcomer_rows(known, served, signup=False).columns.tolist() == ["customer_id"]
    assert newcomer_rows(known, served.iloc[:1], signup=True).empty
    assert newcomer_rows(known, served.iloc[:0], signup=True).empty


def test_cycle_after_a_first_campaign_trains_the_first_model(tmp_path: Path) -> None:
    """A shop without logged offers: its first campaign (no model) served, then ``cycle`` exports
    it, trains the first model on the served exposures alone and swaps in a model's plan."""
    from offerwise.workflows.first_campaign import make_first_campaign

    data = write_market(simulate(n_customers=600, n_exposures=0, seed=6), tmp_path / "shop")
    plan = tmp_path / "first.parquet"
    make_first_campaign(data, 4000.0, plan, seed=6)
    db = f"sqlite:///{tmp_path}/ow.db"
    decide = create_api_key(db, "pos", ["decide"])
    admin = create_api_key(db, "ops", ["admin"])
    env = {"OFFERWISE_SERVE_PLAN": str(plan), "OFFERWISE_SERVE_RATE_PER_S": "100000",
           "OFFERWISE_SERVE_RATE_BURST": "100000"}
    srv = LiveServer(db, env).start()
    try:
        customers = pd.read_parquet(data / "customers.parquet")["customer_id"].astype(str)
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            served = [c.get(f"/v1/customers/{cid}/offer", headers={"X-API-Key": decide}).json()
                      for cid in customers]
            now = datetime.now(UTC)
            buyers = [d for i, d in enumerate(served) if i % 3 == 0 or d["offer"] is not None][:300]
            events = [{"order_id": f"o{i}", "customer_id": d["customer_id"], "revenue": 30.0 + i % 7,
                       "ts": (now + timedelta(minutes=5)).isoformat()} for i, d in enumerate(buyers)]
            assert c.post("/v1/events", json={"events": events},
                          headers={"X-API-Key": admin}).status_code == 200
        first = served[0]["campaign_id"]
        time.sleep(0.5)  # the write-behind records reach the database
        r = ow("cycle", "--data", data, "--db", db, "--budget", "300", "--work", tmp_path / "cycles",
               "--server", srv.url, "--api-key", admin, "--tune", "off")
        assert r.returncode == 0, r.stderr
        assert "merged 600 served exposures with 0 logged" in " ".join(r.stdout.split())
        assert f"live campaign: {first} -> cycle-" in r.stdout
        cyc = next((tmp_path / "cycles").iterdir())
        card = json.loads((cyc / "model" / "model_card.json").read_text())
        assert card["identification"]["logging"] == "logged_propensities"
        assert _active(srv, decide, "someone-new").startswith("cycle-")
    finally:
        srv.stop()

"""A first campaign (``offerwise plan`` without ``--model``) served by a real ``offerwise serve``
without a model: the menu comes from beside the plan, every answer carries the plan's
propensity, and ``export-exposures`` hands them to the first ``train``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
from serving_testlib import free_port

from offerwise.serving.security import create_api_key
from offerwise.simulator import SimulatorConfig, simulate, write_market
from offerwise.workflows.first_campaign import make_first_campaign


def _line(proc: subprocess.Popen, timeout: float) -> str:
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    assert box, f"no output line within {timeout} s"
    return box[0]


def test_a_first_campaign_is_served_without_a_model_and_exported_with_its_propensities(tmp_path: Path) -> None:
    mk = simulate(SimulatorConfig(n_customers=600, n_exposures=0, seed=2))
    shop = write_market(mk, tmp_path / "shop")
    plan = tmp_path / "first.parquet"
    make_first_campaign(shop, 5000, plan, seed=2)
    frame = pd.read_parquet(plan)
    db = f"sqlite:///{tmp_path}/ow.db"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "offerwise.cli", "serve", "--plan", str(plan), "--db", db,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "COLUMNS": "200"})
    try:
        assert f"serving on http://127.0.0.1:{port}" in _line(proc, 60)
        _line(proc, 10)
        assert "(none: the plan was made without a model)" in _line(proc, 10)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "no /health"
            time.sleep(0.1)
        key = create_api_key(db, "pos", ["decide"])
        picks = pd.concat([frame[frame["reason"] == r].head(3)
                           for r in ("explore", "not_explored", "holdout")])
        picks = pd.concat([picks, frame[frame["offer_id"] != "none"].head(2)])
        for row in picks.itertuples():
            got = httpx.get(f"{url}/v1/customers/{row.customer_id}/offer",
                            headers={"X-API-Key": key}, timeout=5).json()
            offer = "none" if got["offer"] is None else got["offer"]["offer_id"]
            assert offer == row.offer_id and got["propensity"] == row.propensity, got
            assert got["reason"] == row.reason and (got["coupon"] is None) == (offer == "none")
        out = tmp_path / "served"
        res = subprocess.run([sys.executable, "-m", "offerwise.cli", "export-exposures", "--db", db,
                              "--out", str(out), "--json"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["ok"]
        ex = pd.read_parquet(out / "exposures.parquet").set_index("customer_id")
        want = picks.drop_duplicates("customer_id").set_index("customer_id")
        got_ex = ex.reindex(want.index)
        assert (got_ex["propensity"].to_numpy() == want["propensity"].to_numpy()).all()
        assert (got_ex["offer_id"].to_numpy() == want["offer_id"].to_numpy()).all()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)

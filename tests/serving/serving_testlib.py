"""Fixtures of the offer-service tests: small plan/menu files, a live uvicorn server, PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: A plan row's ``drivers`` (JSON), as ``offerwise plan`` writes it.
DRIVERS = json.dumps([{"feature": "recency_days", "value": "12", "effect": 3.5},
                      {"feature": "region", "value": "north", "effect": -1.25}])


def make_inputs(folder: Path, n_customers: int = 50, budget: float = 1000.0, campaign_id: str = "camp-1",
                offer: str = "save10", holdout_every: int = 5) -> tuple[Path, Path]:
    """A menu (MODEL_DIR/offers.parquet) and a plan with sidecar summary; returns (plan, model_dir)."""
    model = folder / "model"
    model.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "offer_id": ["pct10", "save10", "ship", "gift5", "bogo_dairy", "thr10_50"],
        "kind": ["percent_off", "amount_off", "free_shipping", "gift", "bogo", "spend_threshold"],
        "value": [0.10, 10.0, 0.0, 5.0, 0.0, 10.0],
        "min_spend": [0.0, 0.0, 0.0, 0.0, 0.0, 50.0],
        "category": [None, None, None, None, "DAIRY", None],
        "members_only": [False, False, False, False, False, False],
    }).to_parquet(model / "offers.parquet", index=False)
    ids = [f"c{i}" for i in range(n_customers)]
    plan = pd.DataFrame({
        "customer_id": ids,
        "offer_id": [offer] * n_customers,
        "expected_cost": 1.0, "incremental_profit": 2.0,
        "group": ["holdout" if holdout_every and i % holdout_every == 0 else "treatment"
                  for i in range(n_customers)],
        "segment": "all", "reason": "test",
    })
    plan.loc[1, "offer_id"] = "none"
    # the plan's value drivers (offerwise plan writes them for treated customers with an offer)
    plan["drivers"] = np.where(plan["offer_id"] != "none", DRIVERS, None)
    path = folder / "plan.parquet"
    plan.to_parquet(path, index=False)
    (folder / "plan.summary.json").write_text(json.dumps({"campaign_id": campaign_id, "budget": budget}))
    return path, model


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    return make_inputs(tmp_path)


@dataclass
class LiveServer:
    """A uvicorn subprocess on a free loopback port; its stderr goes to a file (a pipe nobody
    reads would block the server once full), shown by :meth:`log_tail` in failure messages."""

    db_url: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        env = {**os.environ, **self.env, "OFFERWISE_SERVE_DB_URL": self.db_url}
        if self.log is None:
            fd, name = tempfile.mkstemp(prefix="ow-server-", suffix=".log")
            os.close(fd)
            self.log = Path(name)
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "offerwise.serving.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "info",
                 "--no-access-log", "--workers", env.get("TEST_WORKERS", "1")],
                env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"server did not start in time: {tail}")

    def log_tail(self, n: int = 4000) -> str:
        """The last ``n`` characters the server wrote to stderr (its log)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_bytes()[-n:].decode(errors="replace")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._drop_log()

    def _drop_log(self) -> None:
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None

    def stop(self) -> None:
        """Stop the server and remove its log (a restart starts a new one)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._drop_log()


def serve_env(plan: Path, model: Path, **extra: str) -> dict[str, str]:
    env = {"OFFERWISE_SERVE_PLAN": str(plan), "OFFERWISE_SERVE_MODEL_DIR": str(model),
           "OFFERWISE_SERVE_RATE_PER_S": "100000", "OFFERWISE_SERVE_RATE_BURST": "100000"}
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster per session, run as the `postgres` system user
# ------------------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    cands = []
    if shutil.which("pg_config"):
        try:
            cands.append(Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip()))
        except subprocess.CalledProcessError:
            pass
    cands += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in cands:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/postgres`` of a fresh cluster (fails loudly in CI)."""
    bindir = _pg_bindir()
    reason = None
    if bindir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        reason = "running as root without runuser"
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"postgres tests need a server in CI: {reason}")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="ow-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(as_pg + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                            "--no-sync"], check=True, capture_output=True)
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
            "-c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                            "-w", "-t", "60", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def pg_fresh_db(url: str, name: str) -> str:
    """Create database ``name`` in the cluster; returns its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name

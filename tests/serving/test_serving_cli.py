"""The serving commands of the CLI (`serve`, `apikey`, `export-exposures`), human and --json, and
the names the service shares with the rest of offerwise (offerwise.vocab)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import typing
from pathlib import Path

import httpx
import pandas as pd
import pytest
from serving_testlib import free_port, make_inputs
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.errors import InputError
from offerwise.serving import ServeSettings
from offerwise.serving.security import KeyVerifier, create_api_key
from offerwise.serving.storage import load_plan, make_engine, migrate, redact_url

runner = CliRunner()


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ow.db"


# ------------------------------------------------------------------------------------------
# apikey
# ------------------------------------------------------------------------------------------


def test_apikey_human_prints_the_key_only(tmp_path: Path) -> None:
    db = _db(tmp_path)
    res = runner.invoke(app, ["apikey", "--db", db, "--name", "checkout", "--scope", "decide"])
    assert res.exit_code == 0, res.output
    key = res.stdout.strip()
    assert key.startswith("ow_") and "\n" not in key
    engine = make_engine(db, pool_size=1)
    try:
        p = KeyVerifier(engine, 0).verify(key)
        assert p is not None and p.name == "checkout" and p.scopes == frozenset({"decide"})
    finally:
        engine.dispose()


def test_apikey_json(tmp_path: Path) -> None:
    db = _db(tmp_path)
    res = runner.invoke(app, ["apikey", "--db", db, "--name", "ops", "--scope", "admin", "--scope", "decide",
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"] is True and out["name"] == "ops" and out["scopes"] == ["admin", "decide"]
    engine = make_engine(db, pool_size=1)
    try:
        p = KeyVerifier(engine, 0).verify(out["key"])
        assert p is not None and p.scopes == frozenset({"admin", "decide"})
    finally:
        engine.dispose()


def test_apikey_with_its_own_rate_limit(tmp_path: Path) -> None:
    db = _db(tmp_path)
    res = runner.invoke(app, ["apikey", "--db", db, "--name", "pos", "--scope", "decide", "--rate-limit", "500",
                              "--burst", "1000", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["rate_limit"] == 500.0 and out["burst"] == 1000
    engine = make_engine(db, pool_size=1)
    try:
        p = KeyVerifier(engine, 0).verify(out["key"])
        assert p is not None and (p.rate_per_s, p.burst) == (500.0, 1000)
    finally:
        engine.dispose()
    res = runner.invoke(app, ["apikey", "--db", db, "--name", "x", "--scope", "decide", "--rate-limit", "0"])
    assert res.exit_code == 2


def test_apikey_json_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["apikey", "--db", _db(tmp_path), "--name", "x", "--scope", "root", "--json"])
    assert res.exit_code == 2
    out = json.loads(res.stdout)
    assert out["ok"] is False and out["error"] == "InputError" and "root" in out["message"]


# ------------------------------------------------------------------------------------------
# export-exposures
# ------------------------------------------------------------------------------------------


def _ledger_with_decisions(tmp_path: Path, customers: list[str]) -> str:
    """A SQLite ledger with the test plan loaded and a decision for each of ``customers``."""
    from offerwise.serving.service import OfferService

    plan, model = make_inputs(tmp_path)
    db = _db(tmp_path)
    engine = make_engine(db)
    try:
        migrate(engine)
        load_plan(engine, plan, model)
        service = OfferService(engine, ServeSettings(plan=plan, model_dir=model, db_url=db))
        try:
            for c in customers:
                service.get_offer(c)
        finally:
            service.close()
    finally:
        engine.dispose()
    return db


@pytest.fixture()
def umask_022() -> typing.Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_export_exposures_human(tmp_path: Path, umask_022: None) -> None:
    db = _ledger_with_decisions(tmp_path, ["c1", "c2", "c3"])
    out = tmp_path / "next-data"
    res = runner.invoke(app, ["export-exposures", "--db", db, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "exposures written to" in text and "exposures.parquet" in text and "3 rows" in text
    df = pd.read_parquet(out / "exposures.parquet")
    assert sorted(df["customer_id"]) == ["c1", "c2", "c3"]
    # a plain file of the user (0666 less the umask), not mkstemp's 0600
    assert (out / "exposures.parquet").stat().st_mode & 0o777 == 0o644


def test_export_exposures_json(tmp_path: Path, umask_022: None) -> None:
    db = _ledger_with_decisions(tmp_path, ["c2", "c4"])
    out = tmp_path / "next-data"
    res = runner.invoke(app, ["export-exposures", "--db", db, "--out", str(out), "--attribution-days", "7",
                              "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["ok"] is True and info["rows"] == 2 and info["converted"] == 0
    assert info["attribution_days"] == 7.0 and info["db"] == db
    assert Path(info["out"]) == out / "exposures.parquet"
    assert len(pd.read_parquet(info["out"])) == 2
    assert Path(info["out"]).stat().st_mode & 0o777 == 0o644


def test_export_exposures_follows_a_stricter_umask(tmp_path: Path) -> None:
    db = _ledger_with_decisions(tmp_path, ["c2"])
    old = os.umask(0o077)
    try:
        res = runner.invoke(app, ["export-exposures", "--db", db, "--out", str(tmp_path / "o"), "--json"])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "exposures.parquet").stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------------------------------
# serve (a real server process on a free loopback port)
# ------------------------------------------------------------------------------------------


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise AssertionError(f"no output line within {timeout} s")
    return box[0]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    plan, model = make_inputs(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from offerwise.cli import main; main()", "serve", "--plan", str(plan), "--model", str(model),
         "--db", _db(tmp_path), "--host", "127.0.0.1", "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "COLUMNS": "200"})
    return proc, port


def _wait_healthy(url: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/health", timeout=1)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer /health")


def test_serve_json_prints_one_line_then_serves(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path, "--json")
    try:
        line = _first_line(proc, 30)
        info = json.loads(line)
        assert info == {"ok": True, "url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port,
                        "workers": 1, "rate_limit": 50.0, "burst": 100, "explore": 0.0,
                        "db": _db(tmp_path), "plan": str(tmp_path / "plan.parquet"),
                        "model": str(tmp_path / "model"), "online": True, "data": None}
        assert _wait_healthy(info["url"])["campaign_id"] == "camp-1"
    finally:
        _stop(proc)


def test_serve_human_prints_where_it_listens(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path)
    try:
        line = _first_line(proc, 30)
        assert f"serving on http://127.0.0.1:{port}" in line and "1 worker" in line
        assert not line.lstrip().startswith("{")
        assert "rate limit 50/s per key and worker (burst 100)" in _first_line(proc, 10)
        assert _first_line(proc, 10).startswith(
            "online decisions on: customers without a plan row are scored from the orders the "
            "service records")
        _wait_healthy(f"http://127.0.0.1:{port}")
    finally:
        _stop(proc)


def test_serve_flags_set_the_rate_limit_and_exploration(tmp_path: Path) -> None:
    proc, port = _serve(tmp_path, "--rate-limit", "2", "--burst", "3", "--explore", "0.25", "--json")
    try:
        info = json.loads(_first_line(proc, 30))
        assert (info["rate_limit"], info["burst"], info["explore"]) == (2.0, 3, 0.25)
        url = info["url"]
        _wait_healthy(url)
        key = create_api_key(_db(tmp_path), "pos", ["decide"])
        codes = [httpx.get(f"{url}/v1/customers/c1/offer", headers={"X-API-Key": key}, timeout=5).status_code
                 for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:], codes  # burst 3, then 2/s
    finally:
        _stop(proc)


def test_serve_without_model_uses_the_one_the_plan_was_made_with(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    # a summary that names no model (a plan from before it did): exit 2, saying what is needed
    res = runner.invoke(app, ["serve", "--plan", str(plan), "--db", _db(tmp_path), "--port", str(free_port())])
    assert res.exit_code == 2, res.output
    assert "--model MODEL_DIR is needed with --plan" in res.output and "names no model directory" in res.output
    side = tmp_path / "plan.summary.json"
    side.write_text(json.dumps({**json.loads(side.read_text()), "model_dir": str(model.resolve())}))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from offerwise.cli import main; main()", "serve", "--plan", str(plan),
         "--db", _db(tmp_path), "--host", "127.0.0.1", "--port", str(port), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        info = json.loads(_first_line(proc, 30))
        assert info["model"] == str(model.resolve())
        assert _wait_healthy(info["url"])["campaign_id"] == "camp-1"
    finally:
        _stop(proc)


def test_serve_json_bad_plan_prints_only_the_error(tmp_path: Path) -> None:
    _, model = make_inputs(tmp_path)
    res = runner.invoke(app, ["serve", "--plan", str(tmp_path / "missing.parquet"), "--model", str(model),
                              "--db", _db(tmp_path), "--port", str(free_port()), "--json"])
    assert res.exit_code == 2
    out = json.loads(res.stdout)
    assert out["ok"] is False and "missing.parquet" in out["message"]


def test_a_database_url_that_cannot_work_is_bad_input(tmp_path: Path) -> None:
    # another kind of database: named, not a driver's ModuleNotFoundError (exit 1)
    res = runner.invoke(app, ["apikey", "--db", "mysql://u:pw@h/x", "--name", "x", "--scope", "decide"])
    assert res.exit_code == 2 and "db_url 'mysql://u:***@h/x'" in res.output
    assert "SQLite (sqlite:///FILE) or PostgreSQL" in res.output and "pw@" not in res.output
    # export from a mistyped SQLite path: an error, and no empty database left there
    gone = tmp_path / "typo.db"
    res = runner.invoke(app, ["export-exposures", "--db", f"sqlite:///{gone}", "--out", str(tmp_path / "ex")])
    assert res.exit_code == 2 and f"no such database file ({gone})" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # a PostgreSQL server that is not there: the URL (password hidden) and the driver's reason
    port = free_port()
    res = runner.invoke(app, ["export-exposures", "--db", f"postgresql://svc:s3cret@127.0.0.1:{port}/ow",
                              "--out", str(tmp_path / "ex")])
    assert res.exit_code == 2, res.output
    assert f"cannot connect to the database postgresql+psycopg://svc:***@127.0.0.1:{port}/ow" in res.output
    assert "s3cret" not in res.output and not (tmp_path / "ex").exists()


def test_serve_settings_out_of_range_name_the_key(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    base = ["serve", "--plan", str(plan), "--model", str(model), "--db", _db(tmp_path)]
    res = runner.invoke(app, [*base, "--port", "70000"])  # pydantic's ValidationError: exit 1
    assert res.exit_code == 2 and "port: Input should be less than or equal to 65535" in res.output
    res = runner.invoke(app, [*base, "--port", str(free_port())], env={"OFFERWISE_SERVE_EPSILON": "3"})
    assert res.exit_code == 2 and "OFFERWISE_SERVE_* variables" in res.output
    assert "epsilon: Input should be less than or equal to 1" in res.output


def test_redact_url() -> None:
    assert redact_url("sqlite:///x/ow.db") == "sqlite:///x/ow.db"
    assert redact_url("postgresql://svc:s3cret@db:5432/ow") == "postgresql://svc:***@db:5432/ow"
    assert redact_url("postgres://svc@db/ow") == "postgres://svc@db/ow"
    assert "s3cret" not in redact_url("postgresql://svc@db/ow?password=s3cret&sslmode=require")


# ------------------------------------------------------------------------------------------
# shared names (offerwise.vocab) and typed boundaries
# ------------------------------------------------------------------------------------------


def test_money_has_one_rounding_rule() -> None:
    from offerwise.serving import pricing
    from offerwise.vocab import to_cents

    assert pricing.cents is to_cents
    assert [to_cents(x) for x in (2.345, 0.125, -0.005, 10.0)] == [235, 13, -1, 1000]


def test_storage_uses_the_shared_vocabulary() -> None:
    from offerwise import vocab
    from offerwise.serving import service, storage

    assert storage.NO_OFFER is vocab.NO_OFFER and service.NO_OFFER is vocab.NO_OFFER
    assert storage.OFFER_KINDS is vocab.OFFER_KINDS
    assert set(storage._PLAN_NEEDS) <= set(vocab.PLAN_COLUMNS)


def test_budget_and_min_spend_round_half_away_from_zero(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    menu = pd.read_parquet(model / "offers.parquet")
    menu.loc[0, "min_spend"] = 0.125  # 12.5 cents: round() would give 12
    menu.to_parquet(model / "offers.parquet", index=False)
    engine = make_engine(_db(tmp_path), pool_size=1)
    try:
        migrate(engine)
        assert load_plan(engine, plan, model, budget=0.125).budget_cents == 13
        with engine.connect() as c:
            assert c.exec_driver_sql("SELECT min_spend_cents FROM offers WHERE offer_id = 'pct10'"
                                     ).scalar() == 13
    finally:
        engine.dispose()


def test_plan_without_a_needed_column_is_named(tmp_path: Path) -> None:
    plan, model = make_inputs(tmp_path)
    pd.read_parquet(plan).drop(columns=["group"]).to_parquet(plan, index=False)
    engine = make_engine(_db(tmp_path), pool_size=1)
    try:
        migrate(engine)
        with pytest.raises(InputError, match=r"group"):
            load_plan(engine, plan, model)
    finally:
        engine.dispose()


def test_service_dependency_is_typed() -> None:
    from offerwise.serving.deps import Service
    from offerwise.serving.service import OfferService

    assert typing.get_args(Service)[0] is OfferService


def test_service_modules_do_not_import_pandas() -> None:
    """The workers of the service import the app, the service and the shared vocabulary: none
    of them may pull in pandas (tens of MB per worker)."""
    code = ("import sys\n"
            "import offerwise.serving.app, offerwise.serving.deps, offerwise.serving.service\n"
            "import offerwise.serving.storage, offerwise.serving.pricing, offerwise.vocab\n"
            "offerwise.serving.app.create_app()\n"
            "print(sorted(m for m in ('pandas', 'duckdb', 'numpy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

"""Schemathesis fuzzes the live server from its /openapi.json: no 5xx, no schema violations."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from serving_testlib import LiveServer, make_inputs, serve_env

from offerwise.serving import create_api_key


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_schema_violations(tmp_path: Path) -> None:
    st = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    if not Path(st).exists():
        pytest.fail("schemathesis is not installed: pip install 'offerwise[test]'")
    db_url = f"sqlite:///{tmp_path}/fuzz.db"
    plan, model = make_inputs(tmp_path)
    admin = create_api_key(db_url, "fuzz", ["admin"])
    srv = LiveServer(db_url, serve_env(plan, model)).start()
    try:
        proc = subprocess.run(
            [st, "run", f"{srv.url}/openapi.json", "-H", f"X-API-Key: {admin}",
             "--max-examples", "25", "--seed", "7", "--phases", "examples,coverage,fuzzing",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                         "response_schema_conformance,response_headers_conformance",
             "--suppress-health-check", "all", "--no-color"],
            capture_output=True, text=True, timeout=240)
    finally:
        srv.stop()
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]

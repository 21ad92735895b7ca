"""The assistant against a real local OpenAI-compatible HTTP server with canned answers: wrong
numbers and schema-invalid rules are caught, never written."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from fake_llm import fake_llm, last_user

from offerwise.assistant.backends import (
    BackendError,
    LocalBackend,
    Message,
    OpenAIBackend,
    TemplateBackend,
    make_backend,
)
from offerwise.errors import InputError
from offerwise.policy.rules import load_rules
from offerwise.workflows.assistant import copy_plan, draft_brief, explain

GOOD_RULES = {
    "rules": {
        "segments": {"dormant": {"max_percent_off": 0.15}},
        "offers": {"pct20": {"segments": ["dormant", "at-risk"], "max_count": 100}},
    },
    "not_expressible": ["total budget 5,000 (use --budget)", "no alcohol"],
}


def test_backend_sends_the_openai_request_and_reads_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERWISE_LLM_API_KEY", "sk-test")
    with fake_llm(lambda body: "hello") as srv:
        b = make_backend(url=srv.url, model="tiny")
        assert isinstance(b, OpenAIBackend)
        assert b.complete([Message("user", "hi")], schema={"type": "object"}) == "hello"
    body = srv.requests[0]
    assert body["model"] == "tiny" and body["temperature"] == 0
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}  # type: ignore[index]
    assert srv.headers[0]["Authorization"] == "Bearer sk-test"


def test_backend_errors_are_backend_errors() -> None:
    with fake_llm(lambda body: "x", status=500) as srv:
        with pytest.raises(BackendError, match="HTTP 500"):
            OpenAIBackend(srv.url, "m").complete([Message("user", "hi")])
    with pytest.raises(BackendError, match="ConnectError"):  # nothing listens there any more
        OpenAIBackend(srv.url, "m", timeout=2).complete([Message("user", "hi")])


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("OFFERWISE_LLM_URL", "OFFERWISE_LLM_MODEL"):
        monkeypatch.delenv(v, raising=False)
    assert isinstance(make_backend(), TemplateBackend)
    monkeypatch.setenv("OFFERWISE_LLM_URL", "http://127.0.0.1:9")
    assert isinstance(make_backend(), OpenAIBackend)
    monkeypatch.delenv("OFFERWISE_LLM_URL")
    with pytest.raises(InputError, match="needs --llm-url"):
        make_backend(model="gpt-x")
    with pytest.raises(InputError, match="not found"):
        make_backend(model="/nowhere/m.gguf")
    try:
        b = make_backend(model="smollm2")
    except InputError as exc:  # the extra is not installed: the error names it
        assert "offerwise[llm]" in str(exc)
    else:
        assert isinstance(b, LocalBackend)


def test_brief_draft_is_validated_diffed_and_written_only_when_asked(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "rules.toml"
    out.write_text("[roi]\nmin = 1.0\n")
    with fake_llm(lambda body: json.dumps(GOOD_RULES)) as srv:
        backend = make_backend(srv.url, "m")
        run = draft_brief("win back lapsed customers, at most 15 % off", data=shop, rules_out=out, backend=backend)
        assert run.draft.ok and run.written is None
        assert out.read_text() == "[roi]\nmin = 1.0\n"
        assert "-[roi]" in run.diff and "+[segments.dormant]" in run.diff
        assert run.draft.not_expressible == GOOD_RULES["not_expressible"]
        run = draft_brief("win back lapsed customers", data=shop, rules_out=out, write=True, backend=backend)
    assert run.written == out
    rules = load_rules(out)
    assert rules.segments["dormant"].max_percent_off == 0.15
    assert rules.offers["pct20"].max_count == 100
    # the model was constrained to the shop's offer ids and segment names
    schema = srv.requests[0]["response_format"]["json_schema"]["schema"]  # type: ignore[index]
    offers = schema["properties"]["rules"]["properties"]["offers"]
    assert sorted(offers["properties"]) == ["amt5", "freeship", "fresh20", "pct10", "pct20", "spend50save10"]
    assert "pct20: percent_off 20% off your next order" in srv.requests[0]["messages"][0]["content"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"rules": {"segments": {"dormant": {"max_percent_off": 15}}}}, "less than or equal to 1"),
        ({"rules": {"budget": 5000}}, "budget: unknown key (allowed here: offers, segments"),
        ({"rules": {"offers": {"beer10": {"max_count": 0}}}}, "no such offer"),
        ({"rules": {"segments": {"lapsed": {"max_share": 0.5}}}}, "unknown segment"),
        ({"rules": {"segments": {"dormant": {"min_share": 0.6}, "new": {"min_share": 0.6}}}}, "add up to"),
        ("Sure, here are the rules: 15% max", "not JSON"),
    ],
)
def test_brief_schema_invalid_rules_are_reported_never_written(
    shop: Path, tmp_path: Path, answer: object, problem: str
) -> None:
    out = tmp_path / "rules.toml"
    text = answer if isinstance(answer, str) else json.dumps(answer)
    with fake_llm(lambda body: text) as srv:
        run = draft_brief("b", data=shop, rules_out=out, write=True, backend=make_backend(srv.url, "m"))
    assert not run.draft.ok and run.written is None and not out.exists()
    assert any(problem in p for p in run.draft.problems), run.draft.problems


def test_brief_template_backend_refuses(tmp_path: Path) -> None:
    run = draft_brief("at most 15 % off", rules_out=tmp_path / "r.toml", write=True, backend=TemplateBackend())
    assert run.draft.refused and not run.draft.ok and run.written is None
    assert "no language model configured" in run.draft.problems[0]


def _wrong_numbers(body: dict[str, object]) -> str:
    """Right for the 5-off offer, wrong for every other: a second discount, a deadline, a
    different percent, a number in words."""
    user = last_user(body)
    if "5 off your next order of 20 or more" in user:
        return "Treat yourself: 5 off any order of 20 or more!"
    if "10% off" in user:
        return "Take 15% off your next order!"
    if "fresh" in user:
        return "20% off fresh and frozen food until 31 March."
    return "Spend fifty, save ten!"


def test_copy_with_wrong_numbers_falls_back_and_no_wrong_number_is_written(
    shop: Path, plan_file: Path, tmp_path: Path
) -> None:
    with fake_llm(_wrong_numbers) as srv:
        run = copy_plan(plan_file, tmp_path / "copy.csv", data=shop, backend=make_backend(srv.url, "m"))
    assert len(srv.requests) == 4 == len(run.messages)
    assert run.n_model == 1 and run.n_fallback == 3
    out = pd.read_csv(tmp_path / "copy.csv")
    assert list(out["source"]).count("template") == 3
    texts = " ".join(out["message"])
    for wrong in ("15%", "31", "frozen", "fifty"):
        assert wrong not in texts
    by = out.set_index("offer_id")
    assert by.loc["amt5", "message"] == "Treat yourself: 5 off any order of 20 or more!"
    assert by.loc["pct10", "message"] == "We miss you! 10% off your next order."
    assert "percent '15%'" in by.loc["pct10", "fallback_reason"]
    assert by.loc["pct10", "n_customers"] == 8


def test_copy_backend_down_falls_back_to_templates(shop: Path, plan_file: Path, tmp_path: Path) -> None:
    with fake_llm(lambda body: "x", status=503) as srv:
        run = copy_plan(plan_file, tmp_path / "c.csv", data=shop, backend=make_backend(srv.url, "m"))
    assert run.n_model == 0 and run.n_fallback == 4
    assert all("HTTP 503" in m.fallback for m in run.messages)


def test_copy_finds_the_menu_beside_the_plan_or_says_what_it_needs(plan_file: Path, shop: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--data DIR"):
        copy_plan(plan_file, tmp_path / "c.csv")
    (plan_file.parent / "offers.parquet").write_bytes((shop / "offers.parquet").read_bytes())
    run = copy_plan(plan_file, tmp_path / "c.csv")
    assert run.backend == "template" and run.n_fallback == 0 and len(run.messages) == 4


def test_explain_uses_checked_model_text_or_falls_back(plan_file: Path) -> None:
    good = "UNVERIFIED: the model expects 987.25 of profit on a cost of 1,234.50 (budget 5,000)."
    with fake_llm(lambda body: good) as srv:
        run = explain(plan_file, backend=make_backend(srv.url, "m"))
    assert run.explanation.source == "model" and run.explanation.text == good
    assert "Facts:" in last_user(srv.requests[0]) and "UNVERIFIED" in last_user(srv.requests[0])
    with fake_llm(lambda body: "UNVERIFIED: profit 1,000 on a cost of 1,234.50.") as srv:
        run = explain(plan_file, backend=make_backend(srv.url, "m"))
    assert run.explanation.source == "template"
    assert "'1,000'" in run.explanation.fallback
    with fake_llm(lambda body: "The plan earns 987.25 on a cost of 1,234.50.") as srv:
        run = explain(plan_file, backend=make_backend(srv.url, "m"))
    assert run.explanation.source == "template" and "UNVERIFIED" in run.explanation.fallback
    assert run.explanation.text.count("UNVERIFIED") == 1


def test_rules_toml_from_a_draft_parses_as_toml(shop: Path, tmp_path: Path) -> None:
    with fake_llm(lambda body: json.dumps(GOOD_RULES)) as srv:
        run = draft_brief("b", data=shop, rules_out=tmp_path / "r.toml", backend=make_backend(srv.url, "m"))
    assert run.draft.toml is not None
    assert run.draft.toml.startswith("# drafted by openai-compatible m at")
    assert tomllib.loads(run.draft.toml)["offers"]["pct20"]["max_count"] == 100

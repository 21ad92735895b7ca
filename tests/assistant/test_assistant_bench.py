"""The assistant benchmark measures what it says: an endpoint that answers each brief with its
expected rules scores 20/20 exact, one that answers with wrong numbers gets no wrong message out."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from fake_llm import fake_llm, last_user

from offerwise.assistant.backends import OpenAIBackend

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_assistant.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_assistant", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_assistant"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_oracle_endpoint_scores_every_brief_exact_and_wrong_copy_never_reaches_output() -> None:
    b = _bench()
    answers = {f"Brief: {text}": expected for text, expected in b.BRIEFS}
    kinds = {k for _, e in b.BRIEFS for k, v in e.items()
             for k in ([f"{k}.{kk}" for o in v.values() for kk in o] if k in ("offers", "segments")
                       else [k])}
    assert kinds == {"roi", "contact", "fairness"} | {f"offers.{k}" for k in (
        "max_count", "max_spend", "segments", "members_only", "new_customers_only")} | {
        f"segments.{k}" for k in ("max_share", "min_share", "max_percent_off", "max_amount_off")}

    def respond(body: dict[str, object]) -> str:
        user = last_user(body)
        if user in answers:
            return json.dumps({"rules": answers[user], "not_expressible": []})
        return "Only today: 99% off everything!"

    with fake_llm(respond) as srv:
        row = b.Row("oracle")
        backend = OpenAIBackend(srv.url, "m")
        b.bench_brief(backend, len(b.BRIEFS), row, False)
        reqs, cats, _ = b.copy_requests(None, None)
        b.bench_copy(backend, reqs, cats, row)
    assert row.brief_valid == row.brief_exact == "20/20 (100%)"
    assert row.copy_model_ok == "0/49 (0%)" and row.copy_wrong_in_output == "0/49"

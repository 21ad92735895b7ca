"""The bundled local model (SmolLM2-135M via llama.cpp) end to end, where the ``llm`` extra is
installed: whatever it writes, only checked text reaches the output."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'offerwise[llm]')")

pytestmark = pytest.mark.slow  # a 135M model on one thread: about a minute

from offerwise.assistant.backends import LocalBackend, local_model_path  # noqa: E402
from offerwise.assistant.terms import check_message  # noqa: E402
from offerwise.errors import MissingExtraError  # noqa: E402
from offerwise.workflows.assistant import copy_plan, draft_brief, explain  # noqa: E402


@pytest.fixture(scope="module")
def local() -> LocalBackend:
    try:
        return LocalBackend(local_model_path(), threads=1)
    except MissingExtraError as exc:
        pytest.skip(str(exc))


def test_local_model_copy_explain_and_brief(local: LocalBackend, shop: Path, plan_file: Path, tmp_path: Path) -> None:
    run = copy_plan(plan_file, tmp_path / "copy.csv", data=shop, backend=local)
    assert len(run.messages) == 4 and run.backend.startswith("local SmolLM2")
    import pandas as pd

    from offerwise.workflows.assistant import offer_terms

    terms = {t.offer_id: t for t in offer_terms(pd.read_parquet(shop / "offers.parquet"))}
    for m in run.messages:
        assert check_message(m.message, terms[m.offer_id], ("fresh",)).ok
    e = explain(plan_file, backend=local).explanation
    assert "UNVERIFIED" in e.text
    d = draft_brief("Dormant customers get at most 15% off.", data=shop,
                    rules_out=tmp_path / "r.toml", write=True, backend=local).draft
    assert d.ok == (d.toml is not None) and d.raw  # constrained output: JSON at least
    assert (tmp_path / "r.toml").exists() == d.ok

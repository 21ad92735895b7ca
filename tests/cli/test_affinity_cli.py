"""``offerwise train --affinity cf`` as a user runs it (issue #14 item 4): the human output, the
card, scoring with the saved factors, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_human_output import ow  # noqa: E402


def test_train_with_cf_affinity_scores_and_says_so(tmp_path: Path) -> None:
    shop, model = tmp_path / "shop", tmp_path / "model"
    ow("simulate", "--customers", "800", "--exposures", "2400", "--seed", "5", "--out", shop)
    r = ow("train", "--data", shop, "--out", model, "--seed", "5", "--tune", "off",
           "--affinity", "cf")
    # the simulated menu scopes fresh20 to the category "fresh"; 6 categories -> 3 factors
    assert "category affinity: ALS over 6 categories (3 factors, orders of the 365 days before" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("model written to")
    card = json.loads((model / "model_card.json").read_text())
    assert card["affinity"]["kind"] == "cf" and card["affinity"]["categories"] == ["fresh"]
    assert "category_affinity=fresh" in card["features"]
    md = (model / "model_card.md").read_text()
    assert "- category affinity: `category_affinity=fresh`: ALS (implicit)" in md
    r = ow("score", "--model", model, "--data", shop, "--out", tmp_path / "s.parquet")
    sc = pd.read_parquet(tmp_path / "s.parquet")
    assert set(sc["offer_id"]) >= {"fresh20", "pct20"} and sc["incremental_profit"].notna().all()
    # the default (past share only) says nothing about affinity and has no such column
    r = ow("train", "--data", shop, "--out", tmp_path / "m2", "--seed", "5", "--tune", "off")
    assert "category affinity" not in r.stdout
    card2 = json.loads((tmp_path / "m2" / "model_card.json").read_text())
    assert card2["affinity"] == {"kind": "share", "categories": ["fresh"]}
    assert not any(c.startswith("category_affinity=") for c in card2["features"])


def test_unknown_affinity_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    ow("simulate", "--customers", "200", "--exposures", "400", "--seed", "1", "--out", shop)
    r = ow("train", "--data", shop, "--out", tmp_path / "m", "--affinity", "lda", ok=False)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--affinity 'lda': use one of share, cf" in r.stderr + r.stdout
    assert not (tmp_path / "m").exists()

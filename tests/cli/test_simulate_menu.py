"""``offerwise simulate --offers FILE``: a shop simulated with the user's own menu."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.cli.test_human_output import ow


def test_simulate_with_a_menu_file(tmp_path: Path) -> None:
    menu = pd.DataFrame({
        "offer_id": ["pct15", "amt3", "ship"],
        "kind": ["percent_off", "amount_off", "free_shipping"],
        "value": [0.15, 3.0, 4.95],
        "min_spend": [0.0, 15.0, None],
        "description": ["15% off", "3 off 15", "free shipping"],
    })
    menu.to_csv(tmp_path / "menu.csv", index=False)
    out = tmp_path / "shop"
    r = ow("simulate", "--customers", "300", "--exposures", "400", "--seed", "3",
           "--offers", tmp_path / "menu.csv", "--out", out)
    assert "300 customers" in r.stdout and "3 offers" in r.stdout
    written = pd.read_parquet(out / "offers.parquet")
    assert list(written["offer_id"]) == ["pct15", "amt3", "ship"]
    assert written.set_index("offer_id").loc["amt3", "min_spend"] == 15.0
    seen = set(pd.read_parquet(out / "exposures.parquet")["offer_id"])
    assert seen <= {"none", "pct15", "amt3", "ship"} and len(seen - {"none"}) == 3
    truth = pd.read_parquet(out / "truth.parquet")
    assert {"pct15", "amt3", "ship"} <= set(truth["offer_id"])
    j = json.loads(ow("simulate", "--customers", "50", "--exposures", "40", "--json",
                      "--offers", tmp_path / "menu.csv", "--out", tmp_path / "s2").stdout)
    assert j["offers"] == 3


def test_a_menu_without_a_needed_column_is_named(tmp_path: Path) -> None:
    pd.DataFrame({"offer_id": ["x"], "value": [0.1]}).to_csv(tmp_path / "menu.csv", index=False)
    r = ow("simulate", "--customers", "50", "--exposures", "40", "--offers", tmp_path / "menu.csv",
           "--out", tmp_path / "shop", ok=False)
    assert r.returncode != 0
    assert "kind" in r.stderr + r.stdout and "offers" in r.stderr + r.stdout
    assert not (tmp_path / "shop").exists()  # nothing half-written


def test_an_unsupported_kind_is_named(tmp_path: Path) -> None:
    pd.DataFrame({"offer_id": ["x"], "kind": ["bogo"], "value": [1.0]}).to_csv(
        tmp_path / "menu.csv", index=False)
    r = ow("simulate", "--customers", "50", "--exposures", "40", "--offers", tmp_path / "menu.csv",
           "--out", tmp_path / "shop", ok=False)
    assert r.returncode != 0 and "bogo" in r.stderr + r.stdout

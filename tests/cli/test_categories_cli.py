"""`offerwise categories` through the CLI on the synthetic shop with rivals and a stock room: the
file, the human table and note, --json against the generator's truth, a forecast as the demand,
a forecast of the wrong target refused, and a shop without the optional tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.demand.competition import OUTLOOK_COLUMNS
from offerwise.demand.synthetic import DemandConfig, DemandMarket, simulate_demand

runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemandMarket, Path]:
    m = simulate_demand(DemandConfig(competitors=3, seed=4))
    root = tmp_path_factory.mktemp("rivals") / "shop"
    m.write(str(root))
    return m, root


def _json(out: str) -> dict:
    return json.loads(out[out.index("{"): out.rindex("}") + 1])


def test_categories_human_output_and_file(market: tuple[DemandMarket, Path], tmp_path: Path) -> None:
    m, shop = market
    out = tmp_path / "cat.parquet"
    res = runner.invoke(app, ["categories", "--data", str(shop), "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert list(df.columns) == list(OUTLOOK_COLUMNS) and len(df) == 6
    assert df.attrs["demand_source"] == "history" and df.attrs["as_of"].startswith(str(m.as_of.date()))
    assert f"categories as of {m.as_of.date()}" in res.stdout
    assert "price index = our shelf price / the competitors' median" in res.stdout
    assert "demand per week from the last 4 weeks of sales" in res.stdout
    assert "tables not in the data" not in res.stdout
    cat0 = df.set_index("category").loc["CAT0"]  # rivals 15 % cheaper, 1 week of cover
    assert f"{cat0['price_index']:.2f}" in res.stdout and "scarce" in res.stdout and "overstock" in res.stdout


def test_categories_json_equals_the_truth(market: tuple[DemandMarket, Path], tmp_path: Path) -> None:
    m, shop = market
    res = runner.invoke(app, ["categories", "--data", str(shop), "--out", str(tmp_path / "c.csv"), "--json"])
    assert res.exit_code == 0, res.output
    got = pd.DataFrame(_json(res.stdout)["categories"]).merge(m.truth, on="category", suffixes=("", "_true"))
    assert np.allclose(got["price_index"], got["price_index_true"], atol=1e-9)
    assert (got["n_competitors"] == 3).all()
    rel = (got["weeks_of_cover"] / got["weeks_of_cover_true"] - 1).abs()
    assert rel.max() < 0.15, got[["category", "weeks_of_cover", "weeks_of_cover_true"]]
    assert (tmp_path / "c.csv").exists()


def test_forecast_as_demand_and_wrong_target_refused(market: tuple[DemandMarket, Path], tmp_path: Path) -> None:
    _, shop = market
    units = pd.DataFrame({"series": [f"CAT{i}" for i in range(6)] * 2,
                          "week": pd.to_datetime(["2025-01-06"] * 6 + ["2025-01-13"] * 6),
                          "model": "AutoETS", "yhat": [100.0] * 6 + [300.0] * 6})
    units.attrs = {"offerwise": "forecast", "level": "category", "target": "units"}
    units.to_parquet(tmp_path / "units.parquet", index=False)
    res = runner.invoke(app, ["categories", "--data", str(shop), "--forecast", str(tmp_path / "units.parquet"),
                              "--out", str(tmp_path / "c.parquet"), "--json"])
    assert res.exit_code == 0, res.output
    rows = _json(res.stdout)["categories"]
    assert all(r["demand_per_week"] == 200.0 for r in rows)
    assert _json(res.stdout)["demand_source"] == "forecast"
    amount = units.copy()
    amount.attrs = {"offerwise": "forecast", "level": "category", "target": "amount"}
    amount.to_parquet(tmp_path / "amount.parquet", index=False)
    out = tmp_path / "no.parquet"
    res = runner.invoke(app, ["categories", "--data", str(shop), "--forecast", str(tmp_path / "amount.parquet"),
                              "--out", str(out)])
    assert res.exit_code == 2 and "a forecast of amount per category" in res.output and not out.exists()
    bad = units.assign(yhat=units["yhat"].astype(object))
    bad.loc[3, "yhat"] = "lots"
    bad.astype({"yhat": str}).to_csv(tmp_path / "bad.csv", index=False)
    res = runner.invoke(app, ["categories", "--data", str(shop), "--forecast", str(tmp_path / "bad.csv"),
                              "--out", str(out)])
    assert res.exit_code == 2 and "column yhat: 1 row(s)" in res.output and "lots" in res.output
    assert not out.exists()


def test_categories_without_rivals_or_stock_says_so(market: tuple[DemandMarket, Path], tmp_path: Path) -> None:
    _, shop = market
    bare = tmp_path / "bare"
    bare.mkdir()
    for t in ("customers", "products", "transactions", "offers"):
        (bare / f"{t}.parquet").write_bytes((shop / f"{t}.parquet").read_bytes())
    res = runner.invoke(app, ["categories", "--data", str(bare), "--out", str(tmp_path / "c.parquet")])
    assert res.exit_code == 0, res.output
    assert "tables not in the data: competitor_prices (no price index), inventory (no stock cover)" in res.stdout
    df = pd.read_parquet(tmp_path / "c.parquet")
    assert df["price_index"].isna().all() and (df["stock_status"] == "unknown").all() and (df["weight"] == 1).all()


def test_categories_as_of_before_any_rival_price(market: tuple[DemandMarket, Path], tmp_path: Path) -> None:
    """A decision date before the first competitor price: no index (NaN), stock from the one
    snapshot before it, nothing after it read."""
    _, shop = market
    res = runner.invoke(app, ["categories", "--data", str(shop), "--as-of", "2024-01-02",
                              "--out", str(tmp_path / "c.parquet"), "--json"])
    assert res.exit_code == 0, res.output
    rows = _json(res.stdout)["categories"]
    assert all(r["price_index"] is None for r in rows)
    inv = pd.read_parquet(shop / "inventory.parquet")
    first = inv[inv["ts"] < "2024-01-02"]["on_hand"].sum()
    assert sum(r["on_hand"] for r in rows) == pytest.approx(first)


@pytest.mark.parametrize("days", ["nan", "inf", "1e12", "0"])
def test_window_days_out_of_range_is_refused(
    market: tuple[DemandMarket, Path], tmp_path: Path, days: str
) -> None:
    _, shop = market
    out = tmp_path / "c.parquet"
    res = runner.invoke(app, ["categories", "--data", str(shop), "--window-days", days, "--out", str(out)])
    assert res.exit_code == 2, res.output
    # NaN and infinity are refused as every number option's are, before the command's own range
    msg = ("--window-days must be a finite number" if days in ("nan", "inf")
           else "--window-days must be a number of days in (0, 36,500]")
    assert msg in res.output and not out.exists()

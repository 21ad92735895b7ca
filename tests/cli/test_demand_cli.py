"""`offerwise forecast` and `offerwise elasticity` through the CLI: the files, the human text,
--json, --evaluate, as-of leakage, and bad input (exit 2, the problem named, nothing written)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app
from offerwise.demand.synthetic import DemandConfig, simulate_demand

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "demand"))
from demand_testdata import weekly_shop, write_shop  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return weekly_shop(tmp_path_factory.mktemp("weekly") / "shop")


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic shop with known elasticities; CAT2's lines are re-priced flat (shelf price,
    no discount)."""
    m = simulate_demand(DemandConfig(elasticities=(-1.0, -2.0, -1.5), seed=5))
    tx = m.transactions.copy()
    price = tx["product_id"].map(m.products.set_index("product_id")["price"])
    flat = tx["product_id"].map(m.products.set_index("product_id")["category"]) == "CAT2"
    tx.loc[flat, "amount"] = (tx.loc[flat, "quantity"] * price[flat]).round(2)
    tx.loc[flat, "discount"] = 0.0
    root = tmp_path_factory.mktemp("priced") / "shop"
    write_shop(root, tx, m.products)
    pd.DataFrame({"customer_id": m.customers["customer_id"]}).to_parquet(root / "customers.parquet", index=False)
    return root


def _json(out: str) -> dict:
    return json.loads(out[out.index("{"): out.rindex("}") + 1])


def test_forecast_writes_the_file_and_prints_what_it_did(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "fc.parquet"
    res = runner.invoke(app, ["forecast", "--data", str(shop), "--level", "category", "--horizon", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    fc = pd.read_parquet(out)
    assert list(fc.columns) == ["series", "week", "model", "yhat", "lo80", "hi80", "lo95", "hi95"]
    assert sorted(fc["series"].unique()) == ["A", "B"] and len(fc) == 8
    # data ends Sunday 2024-07-28 -> as-of Monday 07-29; the first forecast week starts there
    assert fc["week"].min() == pd.Timestamp("2024-07-29")
    a = fc[fc["series"] == "A"]
    assert a["model"].iloc[0] == "SeasonalNaive" and a["yhat"].tolist() == [2 * 7 * 2 * k for k in (3, 4, 1, 2)]
    assert "2 category series (amount), 30 weeks of history before 2024-07-29" in res.output
    assert "SeasonalNaive repeats the last 4 weeks" in res.output
    assert "model chosen per series" in res.output and f"4-week forecast written to {out}" in res.output


def test_forecast_uses_only_history_before_as_of(shop: Path, tmp_path: Path) -> None:
    early = tmp_path / "early.parquet"
    args = ["forecast", "--data", str(shop), "--level", "product", "--horizon", "2", "--target", "units"]
    assert runner.invoke(app, [*args, "--as-of", "2024-06-03", "--out", str(early)]).exit_code == 0
    tx = pd.read_parquet(shop / "transactions.parquet")
    cut = tmp_path / "cut"
    write_shop(cut, tx[tx["ts"] < "2024-06-03"], pd.read_parquet(shop / "products.parquet"))
    same = tmp_path / "same.parquet"
    assert runner.invoke(app, [*args, "--data", str(cut), "--out", str(same)]).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(early), pd.read_parquet(same))
    assert pd.read_parquet(early)["week"].min() == pd.Timestamp("2024-06-03")


def test_forecast_evaluate_json_compares_with_naive_baselines(shop: Path) -> None:
    res = runner.invoke(app, ["forecast", "--data", str(shop), "--level", "product", "--top", "3", "--horizon", "4",
                              "--evaluate", "--holdout-weeks", "4", "--models", "all", "--json"])
    assert res.exit_code == 0, res.output
    d = _json(res.stdout)
    assert d["ok"] and d["n_series"] == 3 and d["out"] is None
    m = {r["model"]: r for r in d["backtest"]["metrics"]}
    assert {"selected", "Naive", "SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA"} <= set(m)
    assert d["backtest"]["holdout_weeks"] == 4 and d["backtest"]["train_weeks"] == 26
    assert m["SeasonalNaive"]["n_series"] == 3 and 0 <= m["selected"]["coverage80"] <= 1


def test_forecast_evaluate_human_table(shop: Path) -> None:
    args = ["forecast", "--data", str(shop), "--level", "category", "--horizon", "4", "--evaluate"]
    res = runner.invoke(app, args)  # 30 weeks: 12 held out leave 18, too few to pick models
    assert res.exit_code == 2 and "18 weeks of history are too few for a 12-week horizon" in res.output
    res = runner.invoke(app, [*args, "--holdout-weeks", "6"])
    assert res.exit_code == 0, res.output
    assert "backtest: last 6 weeks held out, models fitted on 24 weeks" in res.output
    assert "selected" in res.output and "coverage80" in res.output and "written to" not in res.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon", "0"], "--horizon 0: must be at least 1 week"),
        (["--horizon", "4", "--level", "brand"], "--level 'brand': unknown level (use category or product)"),
        (["--horizon", "4", "--target", "euros"], "--target 'euros': unknown target"),
        (["--horizon", "20"], "too few for a 20-week horizon"),
        (["--horizon", "4", "--models", "Naive,Prophet"], "--models: unknown model(s) ['Prophet']"),
    ],
)
def test_forecast_bad_arguments_exit_2_and_write_nothing(shop: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    out = tmp_path / "fc.parquet"
    args = ["forecast", "--data", str(shop), "--out", str(out), *extra]
    if "--level" not in extra:
        args += ["--level", "category"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert message in res.output and not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_weeks_and_no_transactions_exit_2(shop: Path, tmp_path: Path) -> None:
    tx = pd.read_parquet(shop / "transactions.parquet")
    gap = write_shop(tmp_path / "gap", tx[(tx["ts"] < "2024-03-04") | (tx["ts"] >= "2024-03-18")],
                     pd.read_parquet(shop / "products.parquet"))
    out = tmp_path / "fc.parquet"
    res = runner.invoke(app, ["forecast", "--data", str(gap), "--level", "category", "--horizon", "4", "--out", str(out)])
    assert res.exit_code == 2 and not out.exists()
    assert "transactions.parquet, column 'ts': no sales at all in 2 of 30 weeks" in res.output
    assert "e.g. the week of 2024-03-04" in res.output
    none = write_shop(tmp_path / "none", None, pd.read_parquet(shop / "products.parquet"))
    for cmd in (["forecast", "--level", "category", "--horizon", "4"], ["elasticity"]):
        res = runner.invoke(app, [*cmd, "--data", str(none), "--out", str(out)])
        assert res.exit_code == 2 and "transactions" in res.output and not out.exists()


def test_elasticity_table_with_nan_and_reason_for_flat_prices(priced: Path, tmp_path: Path) -> None:
    out = tmp_path / "el.csv"
    res = runner.invoke(app, ["elasticity", "--data", str(priced), "--out", str(out)])
    assert res.exit_code == 0, res.output
    el = pd.read_csv(out, keep_default_na=False, na_values=[""]).set_index("category")
    assert {"elasticity", "ci_low", "ci_high", "ci95_low", "ci95_high", "n_obs", "reason"} <= set(el.columns)
    assert el.loc["CAT0", "ci95_low"] <= -1.0 <= el.loc["CAT0", "ci95_high"]
    assert el.loc["CAT1", "ci95_low"] <= -2.0 <= el.loc["CAT1", "ci95_high"]
    assert pd.isna(el.loc["CAT2", "elasticity"]) and "too little price variation" in el.loc["CAT2", "reason"]
    assert "own-price elasticity of units, 90 % intervals (2 of 3 categories estimated" in res.output
    assert "too little price variation" in res.output
    assert f"written to {out}; lines with quantity 0 left out: 0" in res.output
    js = runner.invoke(app, ["elasticity", "--data", str(priced), "--out", str(tmp_path / "el.parquet"), "--json"])
    d = _json(js.stdout)
    assert d["n_estimated"] == 2 and {c["category"] for c in d["categories"]} == {"CAT0", "CAT1", "CAT2"}
    assert [c["elasticity"] for c in d["categories"] if c["category"] == "CAT2"] == [None]


def test_elasticity_zero_prices_quantity_zero_and_bad_level(priced: Path, tmp_path: Path) -> None:
    tx = pd.read_parquet(priced / "transactions.parquet")
    products = pd.read_parquet(priced / "products.parquet")
    z = tx.copy()
    z.loc[z.index[:3], ["amount", "discount"]] = 0.0
    bad = write_shop(tmp_path / "zero", z, products)
    pd.read_parquet(priced / "customers.parquet").to_parquet(bad / "customers.parquet", index=False)
    out = tmp_path / "el.parquet"
    res = runner.invoke(app, ["elasticity", "--data", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and not out.exists()
    assert "column 'amount, discount': zero unit price (quantity > 0 but amount + discount = 0) (3 rows)" in res.output
    assert "e.g. product_id=" in res.output
    q0 = tx.copy()
    q0.loc[q0.index[:4], "quantity"] = 0.0
    ok = write_shop(tmp_path / "q0", q0, products)
    pd.read_parquet(priced / "customers.parquet").to_parquet(ok / "customers.parquet", index=False)
    res = runner.invoke(app, ["elasticity", "--data", str(ok), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert _json(res.stdout)["dropped_zero_quantity_lines"] == 4
    assert pd.read_parquet(out)["dropped_zero_quantity"].sum() == 4
    neg = tx.copy()
    neg.loc[neg.index[0], "amount"] = -1.0
    nb = write_shop(tmp_path / "neg", neg, products)
    pd.read_parquet(priced / "customers.parquet").to_parquet(nb / "customers.parquet", index=False)
    out2 = tmp_path / "el2.parquet"
    res = runner.invoke(app, ["elasticity", "--data", str(nb), "--out", str(out2)])
    assert res.exit_code == 2 and "amount" in res.output and "(1 row)" in res.output and not out2.exists()
    res = runner.invoke(app, ["elasticity", "--data", str(priced), "--out", str(out2), "--level", "product"])
    assert res.exit_code == 2 and "--level 'product': unknown level (use category)" in res.output

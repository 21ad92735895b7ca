"""`offerwise recommend` through the CLI: the file, the human table, --json, --evaluate, and bad
input (exit 2, the problem named, nothing written)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from offerwise.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recommend"))
from test_recommend import _shop  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shop(tmp_path_factory.mktemp("clishop"))


def _json(out: str) -> dict:
    return json.loads(out[out.index("{"): out.rindex("}") + 1])


def test_recommend_writes_the_file_and_prints_a_table(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend", "--data", str(shop), "--out", str(out), "--k", "2"])
    assert res.exit_code == 0, res.output
    recs = pd.read_csv(out)
    assert len(recs) == 62 * 2 and set(recs["item"]) <= {"dairy", "snacks"}
    assert "top 2 category recommendations by blend" in res.output
    assert "the default method fell back to blend" in res.output
    assert "62 customers x 2 category items" in res.output
    assert "1 without history got the popularity list" in res.output
    # more asked than there are categories: the lists hold every category, and say so
    res = runner.invoke(app, ["recommend", "--data", str(shop), "--out", str(out), "--k", "5"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 62 * 2
    assert "top 2 category recommendations" in res.output
    assert "62 customers x 2 category items (only 2 exist; --k 5 asked)" in res.output


def test_recommend_json(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.parquet"
    res = runner.invoke(app, ["recommend", "--data", str(shop), "--out", str(out), "--level",
                              "product", "--method", "buy-again", "--k", "3", "--json"])
    assert res.exit_code == 0, res.output
    d = _json(res.stdout)
    assert d["ok"] and d["method"] == "buy-again" and d["level"] == "product"
    assert d["rows"] == 62 * 3 and d["n_fallback"] == 1 and d["n_items"] == 7


def test_evaluate_table_and_json(shop: Path) -> None:
    args = ["recommend", "--data", str(shop), "--evaluate", "--holdout-weeks", "4",
            "--level", "product", "--k", "2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    for text in ("held-out weeks", "NDCG@2", "explore NDCG@2", "buy-again", "blend", "ranker",
                 "default method: ranker"):
        assert text in res.output
    d = _json(runner.invoke(app, [*args, "--json"]).stdout)
    assert [m["method"] for m in d["methods"]] == ["als", "bpr", "popular", "buy-again", "blend", "ranker"]
    assert d["holdout_weeks"] == 4 and d["k"] == 2
    # the ranker's explore boost shows in the table's method name and in the JSON
    res = runner.invoke(app, [*args, "--explore-boost", "2"])
    assert res.exit_code == 0, res.output
    assert "ranker x2" in res.output
    d = _json(runner.invoke(app, [*args, "--explore-boost", "2", "--json"]).stdout)
    assert d["explore_boost"] == 2.0


def test_explore_boost_with_a_too_short_history_is_said(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend", "--data", str(shop), "--out", str(out), "--k", "2",
                              "--explore-boost", "2"])
    assert res.exit_code == 0, res.output
    assert "recommendations by blend" in res.output and "(explore boost" not in res.output
    assert "fell back to blend (--explore-boost applies to the ranker only)" in res.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "0"], "--k 0"),
        (["--level", "brand"], "--level 'brand'"),
        (["--method", "svd"], "--method 'svd'"),
        (["--holdout-weeks", "4"], "only with --evaluate"),
        (["--explore-boost", "0"], "--explore-boost 0.0: use a number > 0"),
        (["--method", "blend", "--explore-boost", "2"], "works with --method ranker, not blend"),
        (["--method", "ranker"], "it needs at least 200"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(
    shop: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "recs.parquet"
    res = runner.invoke(app, ["recommend", "--data", str(shop), "--out", str(out), *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_data_exit_2_and_write_nothing(tmp_path: Path) -> None:
    bad = _shop(tmp_path / "bad", uncategorised=True)
    out = tmp_path / "out" / "recs.parquet"
    res = runner.invoke(app, ["recommend", "--data", str(bad), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "products.parquet, column 'category'" in res.output and "product_id='nuts'" in res.output
    (bad / "transactions.parquet").unlink()
    res = runner.invoke(app, ["recommend", "--data", str(bad), "--out", str(out), "--level",
                              "product", "--json"])
    assert res.exit_code == 2
    assert "required table 'transactions' is missing" in _json(res.stdout)["message"]
    assert not out.exists()


def test_ranker_in_the_lean_command_process(shop: Path) -> None:
    """The `offerwise` command imports LightGBM without scikit-learn (offerwise._lightgbm): the
    ranker still fits there, to the same held-out metrics as in this process."""
    import subprocess

    args = ["recommend", "--data", str(shop), "--evaluate", "--holdout-weeks", "4",
            "--level", "product", "--k", "2", "--json"]
    r = subprocess.run([str(Path(sys.executable).parent / "offerwise"), *args],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    def ranker(out: str) -> str:  # its metrics, not its fitting time (NaN == NaN as text)
        m = next(m for m in _json(out)["methods"] if m["method"] == "ranker")
        return json.dumps({k: v for k, v in m.items() if k != "fit_seconds"}, sort_keys=True)

    assert ranker(r.stdout) == ranker(runner.invoke(app, args).stdout)

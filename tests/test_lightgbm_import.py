"""The lean LightGBM import of the `offerwise` command: no scikit-learn, LightGBM works, and
scikit-learn stays importable; the command itself never imports scikit-learn for train/score."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_lean_import_hides_sklearn_only_while_importing_lightgbm():
    out = _run("""
        import sys
        from offerwise._lightgbm import lean_import
        print(lean_import(), "sklearn" in sys.modules)
        import lightgbm as lgb, numpy as np
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 3)); y = X[:, 0] + rng.normal(size=200)
        b = lgb.train({"verbose": -1, "num_threads": 1}, lgb.Dataset(X, label=y), 5)
        print(b.num_trees(), lean_import())
        import sklearn.base  # still importable after the lean import
        print("sklearn" in sys.modules)
    """)
    assert out.split() == ["True", "False", "5", "False", "True"]


def test_no_lean_import_once_sklearn_is_loaded():
    assert _run("""
        import sklearn, lightgbm
        from offerwise._lightgbm import lean_import
        print(lean_import(), lightgbm.LGBMClassifier(n_estimators=2).n_estimators)
    """).split() == ["False", "2"]


def test_train_and_score_commands_do_not_import_sklearn(tmp_path: Path):
    """What `offerwise train` and `score` load: LightGBM's core, not scikit-learn (~1.2 s of
    start-up per command)."""
    shop = tmp_path / "shop"
    r = subprocess.run([Path(sys.executable).parent / "offerwise", "simulate", "--out", str(shop),
                        "--customers", "1500", "--exposures", "3000", "--seed", "3"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    probe = """
        import atexit, sys
        from offerwise.cli import main
        atexit.register(lambda: print("SKLEARN", "sklearn" in sys.modules, file=sys.stderr))
        sys.argv = ["offerwise", *sys.argv[1:]]
        main()
    """
    for args in (["train", "--data", str(shop), "--out", str(tmp_path / "m"), "--tune", "off"],
                 ["score", "--model", str(tmp_path / "m"), "--data", str(shop), "--out",
                  str(tmp_path / "s.parquet")]):
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(probe), *args],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "SKLEARN False" in r.stderr, (args[0], r.stderr[-500:])
    assert len(pd.read_parquet(tmp_path / "s.parquet")) > 0


def test_lean_import_can_be_turned_off():
    out = _run("""
        import os, sys
        os.environ["OFFERWISE_LEAN_LIGHTGBM"] = "0"
        from offerwise._lightgbm import lean_import
        print(lean_import(), "lightgbm" in sys.modules)
    """)
    assert out.split() == ["False", "False"]

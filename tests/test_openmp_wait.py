"""Importing offerwise shortens how long an idle OpenMP thread spins (``GOMP_SPINCOUNT=100``)
unless the environment says otherwise: checked on the OpenMP runtime LightGBM loads, which prints
its settings with ``OMP_DISPLAY_ENV=VERBOSE``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from offerwise import OPENMP_SPINS


def _omp_settings(cmd: list[str], **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env={**base, "OMP_DISPLAY_ENV": "VERBOSE", **env})
    if "OMP_WAIT_POLICY = '" not in r.stderr:  # pragma: no cover - e.g. LLVM's libomp (macOS)
        pytest.skip("LightGBM's OpenMP runtime here does not print GNU OpenMP's settings")
    return r.stderr


def test_importing_offerwise_shortens_the_spin_of_lightgbm_threads():
    err = _omp_settings([sys.executable, "-c", "import offerwise, lightgbm"])
    assert f"GOMP_SPINCOUNT = '{OPENMP_SPINS}'" in err
    # without offerwise the runtime spins its own default count, which offerwise replaces
    plain = _omp_settings([sys.executable, "-c", "import lightgbm"])
    assert "GOMP_SPINCOUNT = '" in plain
    assert f"GOMP_SPINCOUNT = '{OPENMP_SPINS}'" not in plain


def test_settings_the_user_made_are_kept():
    err = _omp_settings([sys.executable, "-c", "import offerwise, lightgbm"],
                        OMP_WAIT_POLICY="ACTIVE")
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in err
    assert f"GOMP_SPINCOUNT = '{OPENMP_SPINS}'" not in err
    err = _omp_settings([sys.executable, "-c", "import offerwise, lightgbm"],
                        GOMP_SPINCOUNT="5000")
    assert "GOMP_SPINCOUNT = '5000'" in err


def test_the_command_runs_with_the_short_spin(tmp_path: Path):
    """`offerwise train` (LightGBM imported by the command itself), on a missing folder."""
    ow = Path(sys.executable).parent / "offerwise"
    err = _omp_settings([str(ow), "train", "--data", str(tmp_path / "missing"), "--out",
                         str(tmp_path / "m")])
    assert "error" in err.lower()
    assert f"GOMP_SPINCOUNT = '{OPENMP_SPINS}'" in err

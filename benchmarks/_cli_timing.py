"""Timing the ``offerwise`` command as a user runs it (its own process), for the start-up and
contention benchmarks (``bench_startup.py``, ``bench_contention.py``). Importing it loads
neither offerwise nor its libraries (:func:`causalml_shop` does, when called: the commands it
times then still get the OpenMP settings the benchmark started with, :data:`START_OPENMP`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

OW = Path(sys.executable).parent / "offerwise"
#: OpenMP settings as the benchmark was started (importing offerwise into the benchmark's own
#: process sets ``GOMP_SPINCOUNT``, offerwise/__init__.py): a command's process gets these, so
#: that it makes its own choice as a user's process does.
OPENMP_KEYS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
START_OPENMP = {k: os.environ[k] for k in OPENMP_KEYS if k in os.environ}


def start(args: list[str], extra_env: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """`offerwise ARGS` started with this process's environment (its OpenMP settings as
    :data:`START_OPENMP`) less ``drop``, plus ``extra_env`` (``OFFERWISE_THREADS`` 2 unless set)."""
    env = {k: v for k, v in os.environ.items() if k not in OPENMP_KEYS}
    env = {k: v for k, v in {**env, **START_OPENMP}.items() if k not in drop}
    env.setdefault("OFFERWISE_THREADS", "2")
    return subprocess.Popen([str(OW), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**env, **extra_env})


def finish(p: subprocess.Popen[str], what: str, ok: bool = True) -> None:
    """Wait for ``p``; exit when its exit status is not the expected one (``ok``: 0)."""
    _, err = p.communicate()
    if (p.returncode == 0) != ok:
        raise SystemExit(f"offerwise {what} exited {p.returncode}:\n{err[-2000:]}")


def timed(args: list[str], extra_env: dict[str, str], ok: bool = True,
          drop: tuple[str, ...] = ()) -> float:
    """Seconds `offerwise ARGS` took alone (arguments as :func:`start`, ``ok`` as :func:`finish`)."""
    t0 = time.perf_counter()
    finish(start(args, extra_env, drop), args[0], ok)
    return time.perf_counter() - t0


def causalml_shop(d: Path) -> bool:
    """causalml's multiarm protocol's training shop (``make_uplift_classification`` defaults,
    seed 0, 2,800 rows; ``bench_causalml.py --protocol multiarm``) in ``d``; False without
    causalml."""
    try:
        from causalml.dataset import make_uplift_classification
    except ImportError:
        return False
    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_causalml import _write_shop

    df, x_names = make_uplift_classification(random_seed=0)
    test = np.random.default_rng(0).random(len(df)) < 0.3
    _write_shop(df, x_names, ~test, d)
    return True


def bench_shops(work: Path, customers: int, exposures: int) -> dict[str, Path]:
    """The shops the CLI timings run on, in ``work`` (its ``cache/`` the feature cache unless
    ``OFFERWISE_CACHE_DIR`` is set): ``offerwise simulate`` with ``customers``, ``exposures``,
    seed 1, and causalml's multiarm shop (:func:`causalml_shop`) where causalml is installed."""
    os.environ.setdefault("OFFERWISE_CACHE_DIR", str(work / "cache"))
    shops = {"simulated": work / "sim"}
    timed(["simulate", "--out", str(shops["simulated"]), "--customers", str(customers),
           "--exposures", str(exposures), "--seed", "1"], {})
    if causalml_shop(work / "cm"):
        shops["causalml multiarm"] = work / "cm"
    else:
        print("causalml is not installed: no multiarm rows (pip install -e '.[bench]')")
    return shops


def print_medians(rows: dict[str, dict[str, list[float]]], names: list[str]) -> None:
    """A Markdown table of the median seconds of ``rows`` (row -> column -> runs), columns
    ``names``; the other columns also as a multiple of the first column's."""
    print("| command | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, r in rows.items():
        base = statistics.median(r[names[0]])
        cells = [f"{base:.2f}"] + [
            f"{statistics.median(r[v]):.2f} ({statistics.median(r[v]) / base:.2f}x)"
            for v in names[1:]]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n(x: that column's time over the {names[0]!r} column's)")

"""Random holdout: customers kept out of the campaign to measure its effect."""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.errors import InputError


def assign_holdout(
    segment: np.ndarray | pd.Series | None,
    n: int | None = None,
    fraction: float = 0.10,
    seed: int = 42,
) -> np.ndarray:
    """Boolean (n,) holdout flag, stratified by ``segment`` and reproducible with ``seed``.

    Within each segment exactly ``round(fraction * n_s)`` customers, drawn uniformly at random,
    are held out. ``fraction = 0`` holds out nobody. ``segment=None`` = one stratum of ``n``.
    """
    if not 0.0 <= float(fraction) < 1.0:
        raise InputError(f"holdout fraction must be in [0, 1); got {fraction}")
    if segment is None:
        if n is None:
            raise InputError("assign_holdout needs segment or n")
        codes = np.zeros(int(n), dtype=np.int64)
    else:
        codes, _ = pd.factorize(pd.Series(np.asarray(segment, dtype=object)), use_na_sentinel=False)
        codes = np.asarray(codes, dtype=np.int64)
    m = len(codes)
    out = np.zeros(m, dtype=bool)
    if fraction == 0 or m == 0:
        return out
    rng = np.random.default_rng(seed)
    key = rng.random(m)
    order = np.lexsort((key, codes))  # by segment, random within segment
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.arange(m) - np.repeat(starts, sizes)
    take = np.floor(fraction * sizes + 0.5).astype(np.int64)
    out[order[pos < np.repeat(take, sizes)]] = True
    return out

"""numba settings shared by the compiled kernels (the allocation solver's and the trees');
imported only where numba is installed."""

from __future__ import annotations

import numba


def set_threads(threads: int | None) -> None:
    """Use at most ``threads`` numba threads (None = leave as is)."""
    if threads:
        # numba.core.config sets its settings as module globals at run time: no static type
        max_threads: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(int(threads), max_threads)))

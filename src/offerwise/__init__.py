"""offerwise: decide which discount to offer each customer, or none, to maximise incremental
profit.

Importing offerwise sets ``GOMP_SPINCOUNT=100`` unless the environment sets it or
``OMP_WAIT_POLICY``: an idle GNU OpenMP thread (LightGBM's and numba's threads on Linux) then
spins 100 times at a barrier before it sleeps, instead of 300,000. With another busy process on
the same 2 cores, spinning threads took the CPU from the threads each of LightGBM's many small
parallel loops waited for: two small-shop ``offerwise train`` started together took 17-392 s
instead of 14-15 s; alone the short spin is level with the default, while never spinning
(``OMP_WAIT_POLICY=PASSIVE``) made ``train`` slower (``benchmarks/bench_contention.py``,
docs/architecture.md "Threads"). It takes effect only where the OpenMP runtime is loaded after
it (LightGBM imported after offerwise).
"""

import os

from offerwise._version import __version__

#: Spins of an idle GNU OpenMP thread before it sleeps (the runtime's default: 300,000).
OPENMP_SPINS = 100
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", str(OPENMP_SPINS))

__all__ = ["OPENMP_SPINS", "__version__"]

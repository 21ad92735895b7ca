"""Compiled (numba) arithmetic of :meth:`offerwise.models.response.OfferResponseModel.predict`;
imported only when numba is installed (``OFFERWISE_FAST_TREES=0`` turns it off with the tree
kernels).

The pooled hurdle model's scores of every modelled offer in one pass over the rows, written
straight into the scores block: no per-offer temporaries (about a dozen (n,) arrays per offer
and bag in numpy). The same formulas in the same order as the numpy code it replaces, so the
same numbers bit for bit (``tests/models/test_response.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from offerwise._numba import set_threads as set_threads  # the callers' entry point

_ROWS = 1024  # rows per task: one scratch array each


@njit(cache=True, nogil=True, inline="always")
def _rows(lo, hi, p0, rb, q0b, r1b, values, costs, offer_cols, arm_cols, out, c, pb):  # noqa: ANN001, ANN201
    n_bags = len(rb)
    for i in range(lo, hi):
        p = p0[i]
        base = p * values[i, 0]
        for t in range(offer_cols.shape[0]):
            j, a = offer_cols[t], arm_cols[t]
            total = 0.0
            for b in range(n_bags):
                pb[b] = 1.0 / (1.0 + np.exp(-(rb[b][i] + r1b[b][i, a]))) - q0b[b][i]
                total += pb[b]
            pk = p + total / n_bags
            if pk < 0.0:
                pk = 0.0
            elif pk > 1.0:
                pk = 1.0
            cost = costs[i, a]
            if cost < 0.0:
                cost = 0.0
            value = values[i, 1 + a]
            sd = 0.0
            if (
                n_bags > 1
            ):  # numpy's std: the same mean (0 + pb[0] is pb[0] but for its zero's sign)
                mean = total / n_bags
                d = pb[0] - mean
                ss = d * d
                for b in range(1, n_bags):
                    d = pb[b] - mean
                    ss += d * d
                sd = abs(value) * np.sqrt(ss / (n_bags - 1))
            out[c[0], i, j] = pk
            out[c[1], i, j] = p
            out[c[2], i, j] = pk - p
            out[c[3], i, j] = pk * cost
            out[c[4], i, j] = pk * value - base
            out[c[5], i, j] = sd


@njit(parallel=True, cache=True)
def pooled_hurdle(p0, rb, q0b, r1b, values, costs, offer_cols, arm_cols, out, c):  # noqa: ANN001, ANN201
    """Writes, for each modelled offer t (block column ``offer_cols[t]``, arm ``arm_cols[t]``),
    the block planes ``c`` = (p_convert, p_convert_none, incremental_conversion, expected_cost,
    incremental_profit, incremental_profit_sd) of ``out`` (C, n, K).

    Inputs: ``p0`` (n,) P(convert | none) clipped to [0, 1]; per bag b (tuples): ``rb[b]`` (n,)
    shared raw score, ``q0b[b]`` (n,) its ``none`` probability, ``r1b[b]`` (n, A) raw arm
    residuals; ``values`` (n, 1 + A) net profit given conversion (``none`` first), ``costs``
    (n, A) cost given conversion. Per bag ``pb = expit(rb + r1b[:, a]) - q0b``; ``pk =
    clip(p0 + mean_b pb, 0, 1)``; cost ``pk * max(cost, 0)``; profit ``pk * value - p0 *
    values[:, 0]``; sd ``|value| * std_b(pb)`` (ddof 1; 0 with one bag). Returns ``out``."""
    n = p0.shape[0]
    for blk in prange((n + _ROWS - 1) // _ROWS):
        pb = np.empty(len(rb))
        lo = blk * _ROWS
        _rows(
            lo,
            min(lo + _ROWS, n),
            p0,
            rb,
            q0b,
            r1b,
            values,
            costs,
            offer_cols,
            arm_cols,
            out,
            c,
            pb,
        )
    return out


@njit(cache=True, nogil=True)
def pooled_hurdle_serial(p0, rb, q0b, r1b, values, costs, offer_cols, arm_cols, out, c):  # noqa: ANN001, ANN201
    """:func:`pooled_hurdle` on the calling thread."""
    pb = np.empty(len(rb))
    _rows(0, p0.shape[0], p0, rb, q0b, r1b, values, costs, offer_cols, arm_cols, out, c, pb)
    return out

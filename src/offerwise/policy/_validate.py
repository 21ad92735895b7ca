"""Input checks of the solver: array shapes and values, bound vectors, working precision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from offerwise.errors import InputError
from offerwise.policy._kernels import check_inputs, kernel_name

_SMALL = 1 << 22  # n*K at or below this: decide in float64; above: float32 (half the bandwidth)
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _validate(
    value: np.ndarray,
    cost: np.ndarray,
    mask: np.ndarray | None,
    offer_names: Sequence[str] | None,
    kernel: str,
    threads: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shapes, then one fused pass for non-finite values / costs and negative costs.

    Returns C-contiguous float arrays (no copy when they already are) and a bool mask.
    """
    value = np.asarray(value)
    cost = np.asarray(cost)
    if value.ndim != 2 or value.shape != cost.shape:
        raise InputError(
            f"value and cost must be 2-d arrays of one shape (n, K); got "
            f"{value.shape} and {cost.shape}"
        )
    n, K = value.shape
    if K > 127:
        raise InputError(f"at most 127 offers are supported; got {K}")
    if mask is not None:
        mask = np.ascontiguousarray(mask, dtype=bool)
        if mask.shape != value.shape:
            raise InputError(f"mask must have shape {value.shape}; got {mask.shape}")
    value = np.ascontiguousarray(value, dtype=value.dtype if value.dtype in _FLOATS else np.float64)
    cost = np.ascontiguousarray(cost, dtype=value.dtype)
    if value.size == 0:
        return value, cost, mask
    names = list(offer_names) if offer_names is not None else [f"offer {k}" for k in range(K)]
    bad = check_inputs(value, cost, mask, kernel_name(kernel), threads)
    for row, what, arr in ((0, "value", value), (1, "expected_cost", cost)):
        if bad[row].any():
            k = int(np.argmax(bad[row]))
            raise InputError(
                f"scores: {what} is NaN or infinite for offer '{names[k]}' "
                f"({int(bad[row, k])} rows)"
            )
    if bad[2].any():
        k = int(np.argmax(bad[2]))
        neg = cost[:, k] < 0
        if mask is not None:
            neg &= mask[:, k]
        ex = float(cost[np.flatnonzero(neg)[0], k])
        raise InputError(
            f"scores: expected_cost is negative for offer '{names[k]}' "
            f"({int(bad[2, k])} rows); e.g. {ex}"
        )
    return value, cost, mask


def _vec(x: Sequence[float] | np.ndarray | None, m: int, default: float, what: str) -> np.ndarray:
    if x is None:
        return np.full(m, default, dtype=np.float64)
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (m,):
        raise InputError(f"{what} must have {m} entries; got shape {a.shape}")
    if np.isnan(a).any() or (a < 0).any():
        raise InputError(f"{what} must be >= 0 (inf = no limit)")
    return a.copy()


def _work_dtype(precision: str, size: int) -> type:
    if precision == "auto":
        return np.float64 if size <= _SMALL else np.float32
    if precision in ("float32", "float64"):
        return np.float32 if precision == "float32" else np.float64
    raise InputError(f"precision must be 'auto', 'float32' or 'float64', not {precision!r}")

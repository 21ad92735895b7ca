"""Left joins on keys that are unique on the right by construction (a SQL ``GROUP BY``, the
contract's unique customer ids).

pandas' ``merge(..., validate="many_to_one")`` checks that uniqueness by factorizing the keys a
second time: 7 of the 10 s the three feature joins took for 1M customers. A left join whose
right keys repeat adds rows, so comparing the row counts is the same guard for free; the
duplicated key is looked up only when it fails.

When the key reduces to one column (the others hold one and the same value on both sides, as
the decision date of a score or a profile does), the join is a lookup of that column in an index
of ``right`` (``reindex``): about 1 s instead of 4.5 s for 1M customers, with merge's result
(missing rows NaN, integer columns then float).
"""

from __future__ import annotations

import pandas as pd

from offerwise.errors import ModelError

__all__ = ["join_unique"]


def _constant(s: pd.Series) -> object | None:
    """The value every row of ``s`` holds (not missing), else None."""
    first = s.iloc[0]
    if pd.isna(first) or s.iloc[-1] != first or not bool((s == first).all()):
        return None
    return first


def _single_key(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> str | None:
    """The one column of ``on`` that varies, when every other one holds one value, the same on
    both sides and not missing, and the column's type is the same kind on both sides; else None."""
    varying = []
    for c in on:
        lv = _constant(left[c])
        if lv is not None and lv == _constant(right[c]):
            continue
        varying.append(c)
    if len(varying) != 1:
        return None
    lt, rt = left[varying[0]].dtype, right[varying[0]].dtype
    text = pd.api.types.is_string_dtype
    return varying[0] if lt == rt or (text(lt) and text(rt)) else None


def join_unique(left: pd.DataFrame, right: pd.DataFrame, on: list[str], what: str) -> pd.DataFrame:
    """``left`` left-joined with ``right`` on ``on``: one output row per row of ``left``, in order.

    Raises :class:`~offerwise.errors.ModelError` naming ``what`` and a duplicated key when a key
    of ``left`` matches several rows of ``right``.
    """
    values = [c for c in right.columns if c not in on]
    key = None
    if len(left) and len(right) and not set(values) & set(left.columns):
        key = _single_key(left, right, on)
    if key is not None:
        index = pd.Index(right[key])
        if index.is_unique:  # else merge, which adds rows only for keys left has
            taken = right[values].set_axis(index).reindex(left[key].to_numpy())
            return pd.concat(
                [left.reset_index(drop=True), taken.reset_index(drop=True)], axis=1, copy=False
            )
    out = left.merge(right, on=on, how="left")
    if len(out) != len(left):
        dup = right[right.duplicated(on, keep=False)][on].head(1).to_dict("records")
        raise ModelError(
            f"{what}: {len(out) - len(left):,} extra rows from keys that are not unique "
            f"(e.g. {dup[0] if dup else '?'})"
        )
    return out

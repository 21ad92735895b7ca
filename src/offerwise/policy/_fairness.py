"""Fairness guardrails in the solver: group cells, per-group bonuses (phi) and the search of the
band level that keeps every group's offer rate within min_ratio of the highest."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from offerwise.errors import InfeasibleError, InputError
from offerwise.policy._kernels import Evaluator, Layout, Params
from offerwise.policy._search import _search, _State
from offerwise.policy.allocation import FairnessGroups


def _fair_cells(
    fairness: Sequence[FairnessGroups], n: int
) -> tuple[np.ndarray, int, list[np.ndarray], list[np.ndarray]]:
    """Combine fairness attributes into cells (cross product); returns codes (n,) in [0, G]."""
    if not fairness:
        return np.zeros(n, dtype=np.int32), 0, [], []
    cells = np.zeros(n, dtype=np.int64)
    excluded = np.zeros(n, dtype=bool)
    sizes = []
    for f in fairness:
        codes = np.asarray(f.codes)
        if codes.shape != (n,):
            raise InputError(f"fairness '{f.name}': codes must have shape ({n},)")
        if not 0 < f.min_ratio <= 1:
            raise InputError(f"fairness '{f.name}': min_ratio must be in (0, 1]")
        g = max(len(f.labels), 1)
        if (codes >= g).any():
            raise InputError(f"fairness '{f.name}': codes must be < {g}")
        excluded |= codes < 0
        cells = cells * g + np.maximum(codes, 0)
        sizes.append(g)
    G = int(np.prod(sizes))
    if G > 4096:
        raise InputError(f"fairness: {G} combined groups; at most 4096 are supported")
    cells[excluded] = G
    cell_groups = []
    idx = np.arange(G)
    for a in range(len(sizes)):
        stride = int(np.prod(sizes[a + 1 :])) if a + 1 < len(sizes) else 1
        cell_groups.append((idx // stride) % sizes[a])
    n_group = [
        np.bincount(np.asarray(f.codes)[np.asarray(f.codes) >= 0], minlength=len(f.labels)).astype(
            np.float64
        )
        for f in fairness
    ]
    return cells.astype(np.int32), G, cell_groups, n_group


def _group_counts(tot: np.ndarray, layout: Layout, groups: np.ndarray, n_labels: int) -> np.ndarray:
    return np.bincount(groups, weights=layout.cell_count(tot), minlength=n_labels)


def _fair_precheck(f: FairnessGroups, a: int, V: np.ndarray, ng: np.ndarray) -> None:
    """A group without any eligible customer forces an empty plan: report it as infeasible."""
    codes = np.asarray(f.codes)
    elig = ~np.isnan(V).all(axis=1)
    n_elig = np.bincount(codes[(codes >= 0) & elig], minlength=len(f.labels))
    bad = np.flatnonzero((ng > 0) & (n_elig == 0))
    if len(bad):
        raise InfeasibleError(
            f"fairness guardrail '{f.name}': no customer of group '{f.labels[bad[0]]}' is "
            f"eligible for any offer, so an offer-rate ratio >= {f.min_ratio:g} is only met by "
            "offering nobody",
            binding=f"fairness.{f.name}",
        )


def _fair_band(
    ev: Evaluator,
    f: FairnessGroups,
    a: int,
    level: float,
    st: _State,
    params: Callable[..., Params],
    layout: Layout,
    cell_groups: list[np.ndarray],
    n_group: list[np.ndarray],
    v_guess: float,
    tot: np.ndarray,
) -> bool:
    """Set the bonus phi_g of every group g of ``f`` so that its offer count lies in
    [ceil(rho * level * n_g), floor(level * n_g)]: phi_g = 0 when it already does, else the
    smallest bonus (or penalty) that gets it there. Returns True when a bonus changed."""
    ng = n_group[a]
    cells_of = cell_groups[a]
    codes = np.asarray(f.codes)
    G = len(f.labels)
    cnt = _group_counts(tot, layout, cells_of, G)
    changed = False
    for g in np.flatnonzero(ng > 0):
        need = math.ceil(f.min_ratio * level * ng[g] - 1e-9)
        allow = math.floor(level * ng[g] + 1e-9)
        rows = np.flatnonzero(codes == g)

        def mk(t: float, g: np.intp = g) -> Params:
            ph = [p.copy() for p in st.phi]
            ph[a][g] = t
            return params(phi=ph)

        def count(tot: np.ndarray, g: np.intp = g) -> float:
            return _group_counts(tot, layout, cells_of, G)[g]

        tol = max(1.0, 2e-3 * ng[g])
        cur, phi = cnt[g], st.phi[a][g]
        if (
            (phi == 0 and need - tol <= cur <= allow + tol)
            or (phi > 0 and abs(cur - need) <= tol)
            or (phi < 0 and abs(cur - allow) <= tol)
        ):
            continue  # within tolerance; the final repair makes the ratio exact
        if st.phi[a][g] == 0:
            c0 = cnt[g]
        else:
            _, tb = ev.split(rows, mk(0.0))
            c0 = count(tb.sum(axis=0))
        new = 0.0
        p0 = abs(st.phi[a][g])
        br = (p0 * 0.9, p0 * 1.1 + v_guess * 1e-3)
        if c0 < need:
            r = _search(ev, rows, mk, lambda t: count(t) >= need, *br)
            if r is None:  # not reachable: give an offer to everyone eligible in g
                _, tb = ev.split(rows, mk(1e15))
                top = count(tb.sum(axis=0))
                r = _search(ev, rows, mk, lambda t: count(t) >= top, *br)
            new = r.hi if r is not None else st.phi[a][g]
        elif c0 > allow:
            r = _search(
                ev,
                rows,
                lambda t: mk(-t),
                lambda t: count(t) <= allow,
                *br,
            )
            new = -r.hi if r is not None else st.phi[a][g]
        if abs(new - st.phi[a][g]) > 1e-12 * max(1.0, abs(new)):
            st.phi[a][g] = new
            changed = True
    return changed


def _golden_band(
    a: int,
    f: FairnessGroups,
    bands: list[float],
    solve_rounds: Callable[[list[float]], tuple],
    layout: Layout,
    cell_groups: list[np.ndarray],
    n_group: list[np.ndarray],
    tot0: np.ndarray,
    n_eval: int = 14,
) -> float:
    """Golden-section search of the band level L of guardrail ``f`` (rates kept in [rho L, L])
    that maximises total value; L ranges from min_rate/rho to max_rate of the plan without it."""
    ng = n_group[a]
    pres = ng > 0
    G = len(f.labels)
    rate0 = (_group_counts(tot0, layout, cell_groups[a], G) / np.maximum(ng, 1))[pres]
    hi = float(rate0.max())
    lo = min(float(rate0.min()) / f.min_ratio, hi)
    if lo >= hi:
        return np.inf
    memo: dict[float, float] = {}

    def val(level: float) -> float:
        if level not in memo:
            b = list(bands)
            b[a] = level
            _, tot, _ = solve_rounds(b)
            r = (_group_counts(tot, layout, cell_groups[a], G) / np.maximum(ng, 1))[pres]
            slack = 2.0 / ng[pres].min()
            feasible = r.min() >= f.min_ratio * r.max() - slack
            memo[level] = float(layout.value(tot)) if feasible else -np.inf
        return memo[level]

    gr = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - gr * (hi - lo), lo + gr * (hi - lo)
    for _ in range(n_eval):
        if val(x1) >= val(x2):
            hi, x2 = x2, x1
            x1 = hi - gr * (hi - lo)
        else:
            lo, x1 = x1, x2
            x2 = lo + gr * (hi - lo)
    return max(memo, key=lambda k: memo[k])


def _rates(choice: np.ndarray, f: FairnessGroups, ng: np.ndarray) -> np.ndarray:
    codes = np.asarray(f.codes)
    cnt = np.bincount(codes[(choice >= 0) & (codes >= 0)], minlength=len(f.labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ng > 0, cnt / np.maximum(ng, 1), np.nan)

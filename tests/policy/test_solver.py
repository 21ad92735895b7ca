"""Solver vs brute force, vs the LP (HiGHS), constraints, degenerate inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from offerwise.errors import InfeasibleError, InputError
from offerwise.policy import FairnessGroups, allocate, solve_lp


def _instance(n: int, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    C = rng.gamma(2.0, 1.0, (n, K))
    V = C * rng.normal(1.2, 0.5, (n, K)) + rng.normal(0, 0.5, (n, K))
    return V, C


def _brute(V, C, B, caps=None):
    n, K = V.shape
    best = 0.0
    for combo in itertools.product(range(-1, K), repeat=n):
        ch = np.array(combo)
        on = ch >= 0
        cost = C[on, ch[on]].sum()
        if cost > B + 1e-12:
            continue
        if caps is not None and any((ch == k).sum() > caps[k] for k in range(K)):
            continue
        best = max(best, V[on, ch[on]].sum())
    return best


def _feasible(a, V, C, B):
    on = a.choice >= 0
    assert C[on, a.choice[on]].sum() <= B + 1e-9
    assert abs(V[on, a.choice[on]].sum() - a.value) < 1e-9


@pytest.mark.parametrize("seed", range(12))
def test_brute_force_tiny(seed):
    rng = np.random.default_rng(seed)
    n, K = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    V, C = _instance(n, K, seed)
    B = float(rng.uniform(0.5, 6.0))
    opt = _brute(V, C, B)
    a = allocate(V, C, B, kernel="numpy")
    _feasible(a, V, C, B)
    assert a.value <= opt + 1e-9
    lp = solve_lp(V, C, B)
    assert lp.value >= opt - 1e-7  # relaxation bounds the integer optimum
    assert solve_lp(V, C, B, integer=True).value == pytest.approx(opt, abs=1e-7)
    # Lagrangian + greedy: within one customer's value of the optimum
    assert a.value >= opt - np.maximum(V, 0).max() - 1e-9


def test_brute_force_exact_when_budget_ample():
    V, C = _instance(6, 3, 1)
    B = 1e6
    a = allocate(V, C, B, kernel="numpy")
    assert a.value == pytest.approx(_brute(V, C, B))
    assert a.value == pytest.approx(np.maximum(V.max(axis=1), 0).sum())


def test_brute_force_with_count_cap():
    V, C = _instance(6, 2, 3)
    V = np.abs(V)
    a = allocate(V, C, 1e6, max_count=[1, 2], kernel="numpy")
    assert (a.choice == 0).sum() <= 1 and (a.choice == 1).sum() <= 2
    opt = _brute(V, C, 1e6, caps=[1, 2])
    assert a.value <= opt + 1e-9
    assert a.value >= opt - V.max() - 1e-9


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_lp_gap_small(kernel):
    V, C = _instance(3000, 4, 7)
    B = 400.0
    a = allocate(V, C, B, kernel=kernel)
    lp = solve_lp(V, C, B)
    _feasible(a, V, C, B)
    assert a.value <= lp.value + 1e-6
    assert (lp.value - a.value) / lp.value < 2e-3
    assert a.upper_bound >= lp.value - 1e-6  # Lagrangian dual bound is valid


def test_numba_and_numpy_agree():
    V, C = _instance(5000, 5, 11)
    a = allocate(V, C, 500.0, kernel="numpy")
    b = allocate(V, C, 500.0, kernel="numba")
    assert a.lam == pytest.approx(b.lam, rel=1e-9)
    assert (a.choice == b.choice).mean() > 0.999


def test_side_constraints_bind_and_hold():
    V, C = _instance(4000, 4, 5)
    rng = np.random.default_rng(0)
    seg = rng.integers(0, 3, 4000)
    B = 500.0
    free = allocate(V, C, B, segment=seg, kernel="numpy")
    smax = [0.5 * free.spend_by_segment[0], np.inf, np.inf]
    cap = [np.inf, 0.5 * free.count_by_offer[1], np.inf, np.inf]
    scap = [np.inf, np.inf, 0.5 * free.spend_by_offer[2], np.inf]
    a = allocate(V, C, B, segment=seg, segment_max_spend=smax, max_count=cap, max_spend=scap,
                 kernel="numpy")
    _feasible(a, V, C, B)
    assert a.spend_by_segment[0] <= smax[0] + 1e-9
    assert a.count_by_offer[1] <= cap[1]
    assert a.spend_by_offer[2] <= scap[2] + 1e-9
    assert a.value < free.value  # they bind
    assert {"segment_budget.0", "caps.1", "caps.2"} <= set(a.binding)
    lp = solve_lp(V, C, B, segment=seg, segment_max_spend=np.array(smax), max_count=np.array(cap),
                  max_spend=np.array(scap))
    assert a.value <= lp.value + 1e-6
    assert (lp.value - a.value) / lp.value < 0.01


def test_segment_min_share_binds_and_infeasible():
    V, C = _instance(3000, 3, 9)
    seg = (np.arange(3000) % 3)
    V[seg == 2] -= 2.0  # segment 2 is unattractive
    B = 300.0
    free = allocate(V, C, B, segment=seg, kernel="numpy")
    a = allocate(V, C, B, segment=seg, segment_min_spend=[0, 0, 60.0], kernel="numpy")
    assert free.spend_by_segment[2] < 60
    assert a.spend_by_segment[2] >= 60 - 1e-9
    assert a.cost <= B + 1e-9
    mask = np.ones_like(V, bool)
    mask[seg == 2] = False
    with pytest.raises(InfeasibleError) as e:
        allocate(V, C, B, mask, segment=seg, segment_min_spend=[0, 0, 60.0],
                 segment_names=["a", "b", "dormant"], kernel="numpy")
    assert e.value.binding == "segment_budget.dormant"


def test_fairness_binds_and_is_exact():
    V, C = _instance(3000, 4, 2)
    rng = np.random.default_rng(1)
    grp = rng.integers(0, 3, 3000)
    V[grp == 0] -= 1.0
    f = [FairnessGroups("age", grp, ("a", "b", "c"), 0.8)]
    B = 400.0
    free = allocate(V, C, B, kernel="numpy")
    r0 = np.bincount(grp[free.choice >= 0], minlength=3) / np.bincount(grp)
    assert r0.min() / r0.max() < 0.8
    a = allocate(V, C, B, fairness=f, kernel="numpy")
    r = a.rates["age"]
    assert r.min() / r.max() >= 0.8 - 1e-12
    assert a.cost <= B + 1e-9
    assert "fairness.age" in a.binding
    lp = solve_lp(V, C, B, fairness=f)
    assert a.value <= lp.value + 1e-6
    assert (lp.value - a.value) / lp.value < 0.03


def test_fairness_infeasible_group_without_eligible():
    V, C = _instance(300, 2, 4)
    grp = np.arange(300) % 2
    mask = np.ones_like(V, bool)
    mask[grp == 1] = False
    f = [FairnessGroups("age", grp, ("young", "old"), 0.8)]
    with pytest.raises(InfeasibleError) as e:
        allocate(np.abs(V), C, 100.0, mask, fairness=f, kernel="numpy")
    assert e.value.binding == "fairness.age"


def test_mask_respected():
    V, C = _instance(500, 3, 8)
    mask = np.random.default_rng(0).random(V.shape) > 0.5
    a = allocate(V, C, 1e9, mask, kernel="numpy")
    on = a.choice >= 0
    assert mask[on, a.choice[on]].all()


def test_degenerate_inputs():
    V, C = _instance(50, 3, 0)
    z = allocate(V, C, 0.0, kernel="numpy")
    assert z.n_treated == 0  # zero budget: nobody, even for free offers
    C0 = C.copy()
    C0[:, 0] = 0.0
    assert allocate(np.abs(V), C0, 0.0, kernel="numpy").n_treated == 0
    neg = allocate(-np.abs(V) - 0.1, C, 100.0, kernel="numpy")
    assert neg.n_treated == 0 and neg.value == 0
    Vn = V.copy()
    Vn[[1, 2, 3], 1] = np.nan
    with pytest.raises(InputError, match=r"offer 'b'.*\(3 rows\)"):
        allocate(Vn, C, 10.0, offer_names=["a", "b", "c"], kernel="numpy")
    Cn = C.copy()
    Cn[0, 2] = -1.0
    with pytest.raises(InputError, match="negative for offer 'c'"):
        allocate(V, Cn, 10.0, offer_names=["a", "b", "c"], kernel="numpy")
    with pytest.raises(InputError):
        allocate(V, C, -1.0)
    empty = allocate(np.zeros((0, 3)), np.zeros((0, 3)), 10.0)
    assert empty.n_treated == 0


def test_float32_path_matches_float64():
    V, C = _instance(20000, 4, 3)
    a = allocate(V, C, 2000.0, kernel="numpy", precision="float64")
    b = allocate(V, C, 2000.0, kernel="numpy", precision="float32")
    assert b.cost <= 2000.0 + 1e-9
    assert abs(a.value - b.value) / a.value < 1e-4


def _side_instance(n: int, seed: int):
    V, C = _instance(n, 6, seed)
    rng = np.random.default_rng(seed + 100)
    seg = rng.integers(0, 4, n)
    mask = rng.random(V.shape) > 0.15
    return V, C, seg, mask


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_screened_equals_direct_budget_only(kernel):
    """Screening (sample, one pass, exact solve of the undecided rows) gives the direct plan."""
    V, C, _, mask = _side_instance(60_000, 21)
    B = 0.05 * len(V)
    d = allocate(V, C, B, mask, kernel=kernel, screen=False)
    s = allocate(V, C, B, mask, kernel=kernel, screen=True)
    assert s.screened < 0.2  # most rows were settled by the screen
    _feasible(s, V, C, B)
    assert s.lam == pytest.approx(d.lam, rel=1e-9)
    assert (s.choice == d.choice).mean() > 0.9999
    assert s.value == pytest.approx(d.value, rel=1e-6)
    assert s.upper_bound == pytest.approx(d.upper_bound, rel=1e-9)
    on = s.choice >= 0
    assert mask[on, s.choice[on]].all()


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_screened_equals_direct_with_side_constraints(kernel):
    V, C, seg, mask = _side_instance(80_000, 5)
    B = 0.05 * len(V)
    free = allocate(V, C, B, mask, segment=seg, kernel=kernel, screen=False)
    kw = dict(segment=seg, segment_max_spend=[0.5 * free.spend_by_segment[0], np.inf, np.inf,
                                              np.inf],
              max_count=[np.inf] * 5 + [0.5 * free.count_by_offer[5]],
              max_spend=[np.inf, 0.5 * free.spend_by_offer[1], np.inf, np.inf, np.inf, np.inf])
    d = allocate(V, C, B, mask, kernel=kernel, screen=False, **kw)
    s = allocate(V, C, B, mask, kernel=kernel, screen=True, **kw)
    assert s.screened < 0.5
    _feasible(s, V, C, B)
    assert s.spend_by_segment[0] <= kw["segment_max_spend"][0] + 1e-9
    assert s.count_by_offer[5] <= kw["max_count"][5]
    assert s.spend_by_offer[1] <= kw["max_spend"][1] + 1e-9
    assert {"segment_budget.0", "caps.5", "caps.1"} <= set(s.binding)
    assert s.value == pytest.approx(d.value, rel=1e-4)
    # totals assembled from the screen agree with the plan itself
    on = s.choice >= 0
    assert s.cost == pytest.approx(C[on, s.choice[on]].sum(), rel=1e-12)
    assert (np.bincount(s.choice[on], minlength=6) == s.count_by_offer).all()
    np.testing.assert_allclose(s.spend_by_segment,
                               np.bincount(seg[on], weights=C[on, s.choice[on]], minlength=4))


def test_screened_segment_minimum_and_infeasible():
    V, C, seg, _ = _side_instance(60_000, 9)
    V[seg == 2] -= 2.0
    B = 0.05 * len(V)
    free = allocate(V, C, B, segment=seg, screen=False)
    need = 3.0 * free.spend_by_segment[2] + 10.0
    a = allocate(V, C, B, segment=seg, segment_min_spend=[0, 0, need, 0], screen=True)
    assert a.spend_by_segment[2] >= need * (1 - 1e-9)
    assert a.cost <= B + 1e-9
    mask = np.ones_like(V, bool)
    mask[seg == 2] = False
    with pytest.raises(InfeasibleError) as e:
        allocate(V, C, B, mask, segment=seg, segment_min_spend=[0, 0, need, 0],
                 segment_names=["a", "b", "dormant", "d"], screen=True)
    assert e.value.binding == "segment_budget.dormant"


def test_nonfinite_and_noncontiguous_inputs():
    V, C = _instance(2000, 3, 1)
    Vi = V.copy()
    Vi[5, 2] = np.inf
    with pytest.raises(InputError, match=r"value is NaN or infinite for offer 'offer 2' \(1 rows\)"):
        allocate(Vi, C, 10.0)
    Ci = C.copy()
    Ci[7, 0] = np.nan
    with pytest.raises(InputError, match="expected_cost is NaN"):
        allocate(V, Ci, 10.0)
    mask = np.ones_like(V, bool)
    mask[5, 2] = False
    assert allocate(Vi, C, 10.0, mask).n_treated > 0  # not allowed there: not checked
    a = allocate(np.asfortranarray(V), np.asfortranarray(C), 100.0)
    b = allocate(V, C, 100.0)
    assert (a.choice == b.choice).all()
    c = allocate(V.astype(np.float32), C.astype(np.float32), 100.0)
    assert c.cost <= 100.0 + 1e-6

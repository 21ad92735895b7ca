"""ScoreArrays hand-off, per-offer / per-segment tables, the plan's frontier, the policy API."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_plan_rules import OFFERS, _data

import offerwise.policy as policy
from offerwise.errors import InputError
from offerwise.policy.frontier import budget_frontier, plan_frontier
from offerwise.policy.plan import ScoreArrays, scores_to_arrays, solve_plan
from offerwise.policy.rules import parse_rules
from offerwise.vocab import NO_OFFER

AS_OF = pd.Timestamp("2026-01-01", tz="UTC")


def _solve(scores, cust, menu, rules=None, budget=1500.0, holdout=0.0, **kw):
    return solve_plan(scores, cust, budget, rules, holdout=holdout, seed=1, offers=menu,
                      kernel="numpy", as_of=AS_OF, **kw)


def test_scores_to_arrays_shapes_and_no_offer_rows():
    scores, _, _ = _data(50)
    extra = pd.DataFrame({"customer_id": ["c00000"], "offer_id": [NO_OFFER], "expected_cost": [0.0],
                          "incremental_profit": [0.0], "incremental_revenue": [0.0]})
    scores = pd.concat([scores.iloc[1:], extra], ignore_index=True)  # drop (c00000, amt5)
    sa = scores_to_arrays(scores)
    assert isinstance(sa, ScoreArrays) and sa.shape == (50, 3)
    assert sa.offer_ids == OFFERS and isinstance(sa.customer_ids, pd.Index)
    assert len(sa.customer_ids) == 50
    i = sa.customer_ids.get_loc("c00000")  # ids in order of first appearance: c00000 comes last
    for arr in (sa.value, sa.profit, sa.cost):
        assert arr.dtype == np.float64 and arr.shape == (50, 3)
    assert sa.present.dtype == bool and sa.present.sum() == 149
    assert i == 49 and not sa.present[i, 0] and sa.value[i, 0] == 0.0 and sa.cost[i, 0] == 0.0
    np.testing.assert_array_equal(sa.value, sa.profit)
    assert (sa.objective, sa.risk) == ("profit", 0.0)
    rev = scores_to_arrays(scores, "revenue")
    assert rev.objective == "revenue" and (rev.value != rev.profit).any()
    with pytest.raises(InputError, match="shape"):
        ScoreArrays(sa.customer_ids, sa.offer_ids, sa.value[:3], sa.profit, sa.cost, sa.present)


def test_solve_plan_takes_score_arrays():
    scores, cust, menu = _data()
    rules = parse_rules({"offers": {"pct30": {"max_count": 200}}, "roi": {"min": 0.5}})
    a = _solve(scores, cust, menu, rules, holdout=0.1)
    sa = scores_to_arrays(scores)
    b = _solve(sa, cust, menu, rules, holdout=0.1)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    np.testing.assert_array_equal(a.planned, b.planned)
    assert b.arrays is sa and a.total_incremental_profit == b.total_incremental_profit
    with pytest.raises(InputError, match="objective 'profit'"):
        _solve(sa, cust, menu, objective="revenue")
    with pytest.raises(InputError, match="risk"):
        _solve(sa, cust, menu, risk=1.0)


def test_by_offer_and_by_segment_carry_their_names():
    scores, cust, menu = _data()
    res = _solve(scores, cust, menu, holdout=0.1)
    df = res.to_frame()
    seg = res.by_segment
    assert list(seg.columns) == ["segment", "n", "n_offered", "cost", "incremental_profit"]
    assert list(seg["segment"]) == ["dormant", "loyal", "new"]
    assert seg["n"].sum() == len(df)
    got = df.groupby("segment")["expected_cost"].sum()
    np.testing.assert_allclose(seg.set_index("segment")["cost"], got.loc[seg["segment"]])
    off = res.by_offer
    assert list(off.columns) == ["offer", "n", "cost", "incremental_profit"]
    treated = df[df["offer_id"] != NO_OFFER]
    assert set(off["offer"]) == set(treated["offer_id"]) and off["n"].sum() == len(treated)
    assert off["incremental_profit"].sum() == pytest.approx(res.total_incremental_profit)


def test_plan_keeps_its_eligibility():
    scores, cust, menu = _data()
    rules = parse_rules({"offers": {"pct30": {"segments": ["dormant"]}}})
    res = _solve(scores, cust, menu, rules, holdout=0.1)
    el = res.eligible
    assert el.shape == res.arrays.shape and el.dtype == bool
    assert not el[res.holdout].any()
    assert not el[res.segments != "dormant", 2].any()
    assert (el <= res.arrays.present).all()
    on = res.assignment >= 0
    assert el[np.flatnonzero(on), res.assignment[on]].all()


def test_plan_frontier_agrees_with_the_plan_when_only_the_budget_binds():
    scores, cust, menu = _data()
    res = _solve(scores, cust, menu, holdout=0.1)
    assert res.allocation.binding == ["budget"]
    tab = plan_frontier(res)
    assert list(tab.columns) == ["budget", "value", "cost", "n_treated", "lambda"]
    assert len(tab) == 61 and (np.diff(tab["budget"]) > 0).all()
    at = tab.loc[tab["budget"] == res.budget].iloc[0]
    total = res.summary()["expected_incremental_profit"]
    assert at["value"] >= total - 1e-9
    top_value = res.arrays.value[res.eligible].max()
    assert at["value"] - total <= top_value  # integrality: at most one customer's value
    assert at["value"] - total <= 1e-3 * total
    assert at["lambda"] == pytest.approx(res.lam, rel=0.05)
    # the frontier covers the treatment group only: the holdout adds nothing at any budget
    sa = res.arrays
    allowed = budget_frontier(sa.value, sa.cost, sa.present).table(5)["value"].iloc[-1]
    assert tab["value"].iloc[-1] == pytest.approx(
        np.maximum(np.where(res.eligible, sa.value, 0.0).max(axis=1), 0.0).sum())
    assert tab["value"].iloc[-1] < allowed


def test_plan_frontier_obeys_rules():
    scores, cust, menu = _data()
    free = _solve(scores, cust, menu)
    rules = parse_rules({"offers": {"pct30": {"segments": ["dormant"], "max_count": 150}},
                         "roi": {"min": 1.0}})
    res = _solve(scores, cust, menu, rules)
    tab, tab_free = plan_frontier(res, n_points=20), plan_frontier(free, n_points=20)
    assert len(tab) == 21
    at = tab.loc[tab["budget"] == res.budget, "value"].iloc[0]
    assert at >= res.total_incremental_profit - 1e-9  # the cap is relaxed: an upper bound
    # rules shrink what can be reached at every budget
    fr = budget_frontier(res.arrays.value, res.arrays.cost, res.eligible)
    assert fr.at(res.budget)["value"].iloc[0] == pytest.approx(at)
    assert fr.at(res.budget)["value"].iloc[0] < budget_frontier(
        free.arrays.value, free.arrays.cost, free.eligible).at(res.budget)["value"].iloc[0]
    assert tab["value"].iloc[-1] < tab_free["value"].iloc[-1]
    with pytest.raises(InputError, match="n_points"):
        plan_frontier(res, n_points=1)


def test_zero_budget_plan_frontier():
    scores, cust, menu = _data(300)
    res = _solve(scores, cust, menu, budget=0.0)
    tab = plan_frontier(res, n_points=10)
    assert len(tab) == 10 and tab["value"].iloc[0] == 0.0 and res.total_incremental_profit == 0.0


def test_public_api():
    for name in ("ScoreArrays", "plan_frontier", "allocate", "solve_lp", "LPResult",
                 "FairnessGroups", "Allocation", "kernel_name", "scores_to_arrays"):
        assert name in policy.__all__
        assert getattr(policy, name) is not None
    for gone in ("bare_bisection", "plan_value"):
        assert gone not in policy.__all__
        with pytest.raises(AttributeError):
            getattr(policy, gone)


def test_no_import_cycles_in_policy():
    root = Path(policy.__file__).parent
    mods = {p.stem for p in root.glob("*.py")} - {"__init__"}
    graph = {}
    for m in mods:
        deps = set()
        for node in ast.walk(ast.parse((root / f"{m}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("offerwise.policy."):
                    deps.add(node.module.rsplit(".", 1)[1])
                elif node.module == "offerwise.policy":
                    deps |= {a.name for a in node.names if a.name in mods}
        graph[m] = deps & mods
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*path, m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(graph[m]):
            visit(d, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_best_offer_cost_counts_each_customers_best_positive_offer() -> None:
    scores = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c"],
        "offer_id": ["x", "y", "x", "y", "x"],
        "expected_cost": [1.0, 5.0, 2.0, 3.0, 7.0],
        "incremental_profit": [0.5, 2.0, -1.0, -0.5, 0.1],
    })
    # a: best is y (cost 5); b: nothing positive; c: x (cost 7)
    assert scores_to_arrays(scores).best_offer_cost() == 12.0


def test_extrapolated_offers_are_eligible_only_when_the_rules_allow() -> None:
    scores, cust, menu = _data(60)
    flagged = scores.assign(extrapolated=scores["offer_id"] == OFFERS[0])
    arr = scores_to_arrays(flagged)
    assert arr.extrapolated == [OFFERS[0]] and scores_to_arrays(scores).extrapolated == []
    k = arr.offer_ids.index(OFFERS[0])
    res = _solve(flagged, cust, menu, budget=1e9)
    assert not res.eligible[:, k].any() and res.eligible.any()
    assert not (res.assignment == k).any()
    allowed = _solve(flagged, cust, menu, rules=parse_rules({"allow_extrapolated_offers": True}),
                     budget=1e9)
    assert allowed.eligible[:, k].sum() == _solve(scores, cust, menu, budget=1e9).eligible[:, k].sum()


def test_min_gain_keeps_small_gains_out_of_the_allocation_only() -> None:
    scores, cust, menu = _data(300)
    arr = scores_to_arrays(scores)
    best = np.where(arr.present, arr.value, -np.inf).max(axis=1)
    thr = float(np.quantile(best[best > 0], 0.5))
    res = _solve(scores, cust, menu, budget=1e9, min_gain=thr)
    base = _solve(scores, cust, menu, budget=1e9)
    on = res.assignment >= 0
    assert on.any() and (arr.value[np.flatnonzero(on), res.assignment[on]] >= thr).all()
    assert ((res.reason == "below_min_gain") == ((best > 0) & (best < thr))).all()
    assert (res.rules_eligible == base.rules_eligible).all()  # what exploration draws from
    assert res.summary()["min_gain"] == thr and base.summary()["min_gain"] == 0.0
    assert on.sum() < (base.assignment >= 0).sum()
    with pytest.raises(InputError, match="min_gain"):
        _solve(scores, cust, menu, min_gain=-1.0)

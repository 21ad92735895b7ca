"""High-level planning: scores frame + customer table -> per-customer plan (see the Plan file).

:func:`scores_to_arrays` pivots the long scores frame once into :class:`ScoreArrays`;
:func:`solve_plan` takes either, and its :class:`PlanResult` keeps the arrays and the final
eligibility mask so that :func:`~offerwise.policy.frontier.plan_frontier` sees what the plan saw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise.errors import ConfigError, InputError
from offerwise.policy._rows import customer_rows, join_offer_sets, would_get
from offerwise.policy.allocation import DROP_CAP, DROP_FAIRNESS, DROP_SEGMENT, Allocation
from offerwise.policy.explore import (
    draw_explore,
    explore_share_within,
    explore_usage,
    plan_propensity,
)
from offerwise.policy.holdout import assign_holdout
from offerwise.policy.margin import MarginResult, margin_result, margin_terms, solve_with_margin
from offerwise.policy.rules import Rules, compile_rules
from offerwise.policy.score_arrays import ScoreArrays, scores_to_arrays
from offerwise.policy.solver import allocate
from offerwise.vocab import NO_OFFER, PLAN_COLUMNS, summary_path

__all__ = [
    "PLAN_COLUMNS",
    "gain_floor",
    "PlanResult",
    "ScoreArrays",
    "scores_to_arrays",
    "solve_plan",
    "write_plan",
]


@dataclass
class PlanResult:
    """A solved plan. ``assignment`` (n,) offer index into ``offer_ids`` or -1 (none).

    ``by_offer`` (columns ``offer``, n, cost, incremental_profit; treated customers) and
    ``by_segment`` (``segment``, n, n_offered, cost, incremental_profit) are plain tables with the
    name as a column. ``arrays`` and ``eligible`` are what the allocation saw, so that
    :func:`~offerwise.policy.frontier.plan_frontier` obeys the same rules and holdout.
    """

    customer_ids: np.ndarray
    offer_ids: list[str]
    segments: np.ndarray
    assignment: np.ndarray
    holdout: np.ndarray
    reason: np.ndarray
    expected_cost: np.ndarray  # (n,) of the assigned offer, 0 for none
    incremental_profit: np.ndarray  # (n,)
    allocation: Allocation
    budget: float
    objective: str
    seed: int
    lam: float
    by_offer: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_segment: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdout_fraction: float = 0.0  # the planned (random) holdout share, for the SRM check
    planned: np.ndarray | None = (
        None  # (n,) offer index the plan gives (holdout: would give), -1 none
    )
    as_of: str = ""  # decision date (ISO); the campaign starts then
    risk: float = 0.0  # z of the lower bound incremental_profit - z * sd the allocation maximised
    arrays: ScoreArrays | None = None  # the pivoted scores the plan was solved on
    eligible: np.ndarray | None = None  # (n, K) bool: rules AND scored AND not holdout/explored
    explore: float = 0.0  # share of the non-holdout customers drawn to explore
    explored: np.ndarray | None = None  # (n,) bool: the row's offer is the explore draw
    propensity: np.ndarray | None = None  # (n,) P(this row's offer) under the plan's randomization
    #: (n, K) object: the category each offer is scoped to for each customer (a template's
    #: concrete category, a fixed category; None: site-wide); None when no offer is scoped
    categories: np.ndarray | None = None
    #: (n, K) bool: the offers the planner's rules allow each customer and the model scored (the
    #: eligibility of the allocation and of the explore draw, before holdout); the plan file's
    #: ``eligible_offers``, which the offer service's exploration draws from
    rules_eligible: np.ndarray | None = None
    #: (n,) object: the top value drivers of each row's offer as JSON text (feature, value,
    #: effect on the expected incremental profit), None where not computed; set by the plan
    #: workflow from the model (:func:`offerwise.models.introspect.value_drivers`)
    drivers: np.ndarray | None = None
    #: how a margin target (rules ``margin.target``) shaped the plan; None without one
    margin: MarginResult | None = None
    #: the smallest value (currency) the allocation offered (0: any positive value)
    min_gain: float = 0.0

    @property
    def total_cost(self) -> float:
        return float(self.expected_cost.sum())

    @property
    def total_incremental_profit(self) -> float:
        return float(self.incremental_profit.sum())

    @property
    def roi(self) -> float:
        c = self.total_cost
        return self.total_incremental_profit / c if c > 0 else math.nan

    def to_frame(self) -> pd.DataFrame:
        """The Plan file: one row per customer (columns ``PLAN_COLUMNS``)."""
        names = np.array(self.offer_ids + [NO_OFFER], dtype=object)
        return pd.DataFrame(
            {
                "customer_id": pd.array(self.customer_ids.astype(str), dtype="string"),
                "offer_id": pd.array(names[self.assignment], dtype="string"),
                "expected_cost": self.expected_cost,
                "incremental_profit": self.incremental_profit,
                "group": pd.array(np.where(self.holdout, "holdout", "treatment"), dtype="string"),
                "segment": pd.array(self.segments.astype(str), dtype="string"),
                "reason": pd.array(self.reason, dtype="string"),
                "planned_offer_id": pd.array(
                    names[self.assignment if self.planned is None else self.planned], dtype="string"
                ),
                "propensity": (
                    np.ones(len(self.assignment)) if self.propensity is None else self.propensity
                ),
                "category": pd.array(self.assigned_categories(), dtype="string"),
                "eligible_offers": pd.array(self.eligible_offers(), dtype="string"),
                "drivers": pd.array(
                    np.full(len(self.assignment), None, dtype=object)
                    if self.drivers is None
                    else self.drivers,
                    dtype="string",
                ),
            }
        )

    def eligible_offers(self) -> np.ndarray:
        """(n,) object: each customer's eligible offer ids joined by ``ELIGIBLE_SEP`` in menu
        order (``""``: none); None for every row when the plan does not know them."""
        n = len(self.assignment)
        if self.rules_eligible is None:
            return np.full(n, None, dtype=object)
        return join_offer_sets(self.rules_eligible, self.offer_ids)

    def assigned_categories(self) -> np.ndarray:
        """(n,) object: the category of each customer's assigned offer (None: site-wide or none)."""
        out = np.full(len(self.assignment), None, dtype=object)
        if self.categories is not None:
            on = np.flatnonzero(self.assignment >= 0)
            out[on] = self.categories[on, self.assignment[on]]
        return out

    def summary(self, *, campaign_id: str = "", data_fingerprint: str = "") -> dict:
        """The ``PLAN.summary.json`` sidecar."""
        from offerwise._version import __version__

        return {
            "campaign_id": campaign_id,
            "budget": self.budget,
            "objective": self.objective,
            "lambda": self.lam,
            "n_customers": int(len(self.customer_ids)),
            "n_treatment": int((~self.holdout).sum()),
            "n_offered": int(((self.assignment >= 0) & ~self.holdout).sum()),
            "n_holdout": int(self.holdout.sum()),
            "expected_cost": self.total_cost,
            "expected_incremental_profit": self.total_incremental_profit,
            "version": __version__,
            "data_fingerprint": data_fingerprint,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": self.seed,
            "holdout_fraction": self.holdout_fraction,
            "as_of": self.as_of,
            "risk": self.risk,
            "explore": self.explore,
            "n_explore": 0 if self.explored is None else int(self.explored.sum()),
            "min_gain": self.min_gain,
            **({} if self.margin is None else {"margin": self.margin.to_dict()}),
        }


def write_plan(
    result: PlanResult,
    path: str | Path,
    *,
    extra: dict[str, object] | None = None,
    **summary_kw: str,
) -> tuple[Path, Path]:
    """Write the plan table and its ``.summary.json`` sidecar atomically; ``extra`` keys are added
    to the summary (e.g. the plan's ``claims``)."""
    from offerwise._io import write_json, write_table

    path = Path(path)
    side = summary_path(path)
    write_table(result.to_frame(), path)
    write_json({**result.summary(**summary_kw), **(extra or {})}, side)
    return path, side


def gain_floor(value: np.ndarray, present: np.ndarray, threshold: float, share: float) -> float:
    """The smallest value (currency) a plan over ``value`` (n, K; ``present`` (n, K) bool: scored
    pairs) offers, from a model's out-of-fold
    choice (``threshold``, and the ``share`` of customers its best plan reached): the threshold,
    but never above the value of the customer at that reach among these customers (their best
    positive offer, ranked), so that a shift between the training rows' predicted gains and these
    customers' does not leave the plan short of the reach the held-out value chose."""
    if threshold <= 0 or share >= 1:
        return 0.0
    best = np.where(present, value, -np.inf).max(axis=1, initial=-np.inf)
    pos = np.sort(best[best > 0])[::-1]
    if not len(pos):
        return float(threshold)
    reachable = int(present.any(axis=1).sum())
    k = min(max(int(round(share * reachable)), 1), len(pos))
    return float(min(threshold, pos[k - 1]))


def solve_plan(
    scores: pd.DataFrame | ScoreArrays,
    customers_segment: pd.Series | pd.DataFrame,
    budget: float,
    rules: Rules | None = None,
    holdout: float = 0.10,
    seed: int = 42,
    objective: str = "profit",
    *,
    offers: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
    kernel: str = "auto",
    threads: int | None = 2,
    risk: float = 0.0,
    explore: float = 0.0,
    allocator: Callable[..., Allocation] | None = None,
    margin_rate: float = 0.30,
    min_gain: float = 0.0,
    min_gain_reach: float | None = None,
    explore_within_budget: bool = False,
    redemption_rate: float = 1.0,
) -> PlanResult:
    """Plan the campaign: holdout, rules, exploration, budgeted allocation, reasons.

    scores: long frame (customer_id, offer_id, expected_cost, incremental_profit[,
    incremental_revenue]), or the :class:`ScoreArrays` already pivoted from it by
    ``scores_to_arrays(scores, objective, risk)`` (same objective and risk); customers_segment:
    Series segment indexed by customer_id, or a frame with customer_id, segment and attributes
    (member, is_new, last_offer_ts, protected columns).
    objective: 'profit' (value = incremental_profit) or 'revenue' (incremental_revenue); the
    budget and the ROI rule always use expected_cost / incremental_profit. risk: z >= 0; the
    allocation maximises ``incremental_profit - z * incremental_profit_sd`` (a lower bound that
    keeps the budget away from gains the bagged models disagree on; see ``scores_to_arrays``).
    explore: share in [0, 1] of the non-holdout customers that get an arm drawn uniformly from
    ``none`` and their eligible offers (rules AND scored) instead of the planner's choice (see
    :mod:`offerwise.policy.explore`); the draw comes first and spends its expected cost (and the
    caps it uses) from the budget, then the allocation runs on the other customers with the rest.
    Every row gets the probability of its offer under that mixture (``propensity``; 1 without
    exploration and on holdout rows). ``allocator``: called instead of :func:`allocate` with the
    same arguments (e.g. ``offerwise.spark.allocate.spark_allocator``). ``explore_within_budget``:
    explore the largest share up to ``explore`` whose draw fits the budget and the caps
    (:func:`~offerwise.policy.explore.explore_share_within`; ``PlanResult.explore`` says which),
    the expected costs paid by a share ``redemption_rate`` of the offered customers (its margin).
    ``rules.margin``: the target per offered customer (eligibility) or for the campaign (a side
    constraint), on ``arrays.margin_cost`` (:mod:`offerwise.policy.margin`; gross margin before
    discounts ``rules.margin.rate`` or ``margin_rate``), reported in ``PlanResult.margin``.
    ``min_gain``
    (currency, >= 0): the allocation offers only pairs whose value reaches it (the exploration
    draw and ``eligible_offers`` do not change; reason ``below_min_gain``); with
    ``min_gain_reach`` (a model's out-of-fold choice: the threshold and the share of customers its
    best plan reached) the floor is :func:`gain_floor` over the eligible pairs.
    """
    if objective not in ("profit", "revenue"):
        raise InputError(f"objective must be 'profit' or 'revenue', not {objective!r}")
    if not (np.isfinite(min_gain) and min_gain >= 0):
        raise InputError(f"min_gain must be a number >= 0; got {min_gain}")
    if not 0.0 <= float(explore) <= 1.0:
        raise InputError(f"explore must be a share in [0, 1]; got {explore}")
    explore = float(explore)
    if isinstance(scores, ScoreArrays):
        if scores.objective != objective or scores.risk != float(risk):
            raise InputError(
                f"scores were pivoted for objective {scores.objective!r}, risk "
                f"{scores.risk:g}; the plan asks for {objective!r}, risk {risk:g}"
            )
        arrays = scores
    else:
        arrays = scores_to_arrays(scores, objective, risk)
    ids, offer_ids = arrays.customer_ids, arrays.offer_ids
    value, profit, cost, present = arrays.value, arrays.profit, arrays.cost, arrays.present
    cust = customer_rows(customers_segment, ids)
    seg_codes, seg_names = pd.factorize(cust["segment"], sort=True)
    seg_codes = np.asarray(seg_codes, np.int64)
    seg_names = [str(s) for s in seg_names]
    if rules is not None:
        for name in rules.offers:
            if name not in offer_ids:
                raise ConfigError(
                    f"rules: offers.{name}: offer '{name}' is not in the scores "
                    f"(known: {', '.join(offer_ids)})"
                )
    hold = assign_holdout(cust["segment"].to_numpy(), fraction=holdout, seed=seed)
    comp = compile_rules(
        rules,
        offer_ids=offer_ids,
        customers=cust,
        segment_codes=seg_codes,
        segment_names=seg_names,
        profit=profit,
        cost=cost,
        budget=budget,
        offers=offers,
        as_of=as_of,
        extrapolated=arrays.extrapolated,
    )
    eligible = comp.mask & present  # the one eligibility: the allocation's and the explore draw's
    mrule = None if rules is None else rules.margin
    mg = None
    if mrule is not None:
        r, mc = arrays.revenue, arrays.margin_cost
        mg = margin_terms(r, cost, mc, offer_ids, mrule, margin_rate, offers)
    free_mask = eligible & ~hold[:, None]
    if mg is not None and mg.per_customer:  # each offered customer's margin meets the target
        eligible = eligible & mg.meets
    mask = eligible.copy()
    mask[hold] = False
    n = len(ids)
    explored, x_arm = np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64)
    left = (budget, comp.max_count, comp.max_spend, comp.segment_max_spend, comp.segment_min_spend)
    if explore > 0 and explore_within_budget:
        explore = explore_share_within(
            mask,
            ~hold,
            cost,
            seg_codes,
            fraction=explore,
            budget=budget,
            max_count=comp.max_count,
            max_spend=comp.max_spend,
            segment_max_spend=comp.segment_max_spend,
            redemption_rate=redemption_rate,
        )
    if explore > 0:
        explored, x_arm = draw_explore(mask, ~hold, explore, seed)
        use = explore_usage(
            x_arm,
            cost,
            seg_codes,
            seg_names,
            offer_ids,
            fraction=explore,
            budget=budget,
            max_count=comp.max_count,
            max_spend=comp.max_spend,
            segment_max_spend=comp.segment_max_spend,
        )
        left = (
            max(budget - use.cost, 0.0),
            np.maximum(comp.max_count - use.count, 0.0),
            np.maximum(comp.max_spend - use.spend, 0.0),
            np.maximum(comp.segment_max_spend - use.segment_spend, 0.0),
            np.maximum(comp.segment_min_spend - use.segment_spend, 0.0),
        )
        mask[explored] = False
        free_mask[explored] = False
    if min_gain_reach is not None:
        min_gain = gain_floor(value, mask, min_gain, min_gain_reach)
    # only gains the model's out-of-fold plan value says are worth it: every offer given costs
    # the floor in the allocation's objective (a fairness or segment-floor bonus may still reach
    # a smaller gain where the rules need one)
    v_alloc = value - min_gain if min_gain > 0 else value
    fair = []
    for f in comp.fairness:
        codes = f.codes.copy()
        codes[hold | explored] = -1
        fair.append(type(f)(f.name, codes, f.labels, f.min_ratio))

    def run(v: np.ndarray, m: np.ndarray | None = None) -> Allocation:
        return (allocator or allocate)(
            v,
            cost,
            left[0],
            mask if m is None else m,
            segment=seg_codes,
            segment_max_spend=left[3],
            segment_min_spend=left[4],
            segment_names=seg_names,
            max_count=left[1],
            max_spend=left[2],
            fairness=fair,
            offer_names=offer_ids,
            kernel=kernel,
            threads=threads,
        )

    if mg is None:
        alloc = free = run(v_alloc)
        mu, rate, cut = 0.0, margin_rate, None
    elif mg.per_customer:  # the eligibility holds it; without the target: the rule left out
        rate, cut, mu = mg.rate, mg.cut, 0.0
        alloc, free = run(v_alloc), run(v_alloc, free_mask)
    else:
        rate, cut = mg.rate, mg.cut
        a = np.where(mask, mg.a, 0.0)
        off = float(mg.a[explored, x_arm[explored]].sum())
        only_budget = not fair and not np.isfinite(np.r_[left[1], left[2], left[3]]).any()
        only_budget = only_budget and not (np.asarray(left[4]) > 0).any()
        alloc, mu, free = solve_with_margin(
            run,
            v_alloc,
            a,
            offset=off,
            cost=cost,
            budget=left[0] if only_budget else None,
            eligible=mask,
        )
    ch = alloc.choice.astype(np.int64)
    ch = np.where(ch >= 0, ch, -1)
    ch[explored] = x_arm[explored]
    on = ch >= 0
    rows = np.flatnonzero(on)
    e_cost = np.zeros(len(ch))
    e_prof = np.zeros(len(ch))
    e_cost[rows] = cost[rows, ch[rows]]
    e_prof[rows] = profit[rows, ch[rows]]
    # reasons
    any_elig = mask.any(axis=1)
    best = np.where(mask, value, -np.inf).max(axis=1, initial=-np.inf)
    best_pos = best > 0
    reason = np.full(len(ch), "budget_exhausted", dtype=object)
    reason[~best_pos] = "no_positive_offer"
    reason[best_pos & (best < min_gain)] = "below_min_gain"
    reason[~any_elig] = "ineligible"
    reason[comp.cooldown & ~any_elig] = "cooldown"
    reason[alloc.dropped == DROP_CAP] = "cap_reached"
    reason[alloc.dropped == DROP_SEGMENT] = "segment_budget_reached"
    reason[alloc.dropped == DROP_FAIRNESS] = "fairness"
    reason[on] = "best_net_of_budget_price"
    reason[explored] = "explore"
    reason[hold] = "holdout"
    assignment = np.where(on, ch, -1)
    # what holdout (and explored) customers would have got: the best eligible offer net of the
    # budget price λ (side-constraint prices ignored), so per-offer results compare like with like
    planned = assignment.copy()
    if hold.any() and value.shape[1]:
        planned[hold] = would_get(eligible[hold], v_alloc[hold], cost[hold], alloc.lam)
    exploit = assignment.copy()
    if explored.any() and value.shape[1]:
        exploit[explored] = would_get(
            eligible[explored], v_alloc[explored], cost[explored], alloc.lam
        )
    propensity = plan_propensity(assignment, exploit, eligible, explored, hold, explore)
    margin = None
    if mg is not None and arrays.revenue is not None:
        fch = np.where(free.choice >= 0, free.choice, -1).astype(np.int64)
        fch[explored] = x_arm[explored]
        margin = margin_result(
            assignment,
            fch,
            mu,
            value=value,
            revenue=arrays.revenue,
            cost=mg.cost,
            rate=rate,
            target=mg.target,
            cut=cut,
            per="customer" if mg.per_customer else "campaign",
        )
    frame = pd.DataFrame(
        {
            "offer": np.array(offer_ids + [NO_OFFER], dtype=object)[assignment],
            "segment": cust["segment"].to_numpy(),
            "cost": e_cost,
            "profit": e_prof,
            "treated": on,
        }
    )
    by_offer = (
        frame[on]
        .groupby("offer", as_index=False)
        .agg(n=("treated", "size"), cost=("cost", "sum"), incremental_profit=("profit", "sum"))
    )
    by_segment = frame.groupby("segment", as_index=False).agg(
        n=("treated", "size"),
        n_offered=("treated", "sum"),
        cost=("cost", "sum"),
        incremental_profit=("profit", "sum"),
    )
    return PlanResult(
        customer_ids=ids.to_numpy(),
        offer_ids=offer_ids,
        segments=cust["segment"].to_numpy(),
        assignment=assignment,
        holdout=hold,
        reason=reason,
        expected_cost=e_cost,
        incremental_profit=e_prof,
        allocation=alloc,
        budget=float(budget),
        objective=objective,
        seed=seed,
        lam=alloc.lam,
        by_offer=by_offer,
        by_segment=by_segment,
        holdout_fraction=float(holdout),
        planned=planned,
        as_of="" if as_of is None else pd.Timestamp(as_of).isoformat(),
        risk=float(risk),
        arrays=arrays,
        eligible=mask,
        rules_eligible=eligible,
        explore=explore,
        explored=explored,
        propensity=propensity,
        margin=margin,
        min_gain=float(min_gain),
    )

"""``offerwise plan``: one offer (or none) per customer under a budget and rules, with a holdout.

Loads the data once, computes every customer's features once (the profile at the decision date
gives both the segments and the model's transaction features), pivots the scores once (the
allocation and the frontier share the same arrays, so the frontier obeys rules and holdout).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri

from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import ConfigError, InputError
from offerwise.evaluation.cost import UNCALIBRATED, CostCalibration, CostInterval, cost_interval
from offerwise.features.engine import profile
from offerwise.models.introspect import drivers_json, value_drivers
from offerwise.models.persist import LoadedModel, load_model, min_gain_reason, no_paying_reach
from offerwise.policy.frontier import plan_frontier, write_frontier
from offerwise.policy.margin import price_cut_offers
from offerwise.policy.plan import (
    PlanResult,
    ScoreArrays,
    scores_to_arrays,
    solve_plan,
    write_plan,
)
from offerwise.policy.rules import Rules, load_rules
from offerwise.policy.stock import category_summary, stock_weight_matrix, weighted
from offerwise.vocab import default_as_of, frontier_path, parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.categories import CategoryOutlook, category_outlook
from offerwise.workflows.claims import PlanClaims, model_identification, plan_claims
from offerwise.workflows.margin import margin_check, offer_terms, with_terms
from offerwise.workflows.newcomer import NewcomerDecision, decision_context, newcomer_decision
from offerwise.workflows.score import ScoreResult, score
from offerwise.workflows.templates import (
    RecsArg,
    TemplateCategories,
    category_matrix,
    drop_ineligible,
    template_categories,
)

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.spark.session import SparkConfig

__all__ = [
    "NO_FLOOR",
    "OBJECTIVES",
    "OVERSPEND_RISK",
    "PlanRun",
    "customer_table",
    "make_plan",
    "model_cost_calibration",
    "plan_cost",
]

#: How ``plan_min_gain``'s source starts when ``--min-gain auto`` finds no floor in the model's
#: card (none chosen, or no reach paid out of fold); ``plan`` then says why.
NO_FLOOR = "none: "
#: Default random holdout share, and the one when the model's identification verdict is not ok.
HOLDOUT = 0.10
HOLDOUT_UNVERIFIED = 0.30
#: Default chance that the plan's true discount cost may exceed the budget.
OVERSPEND_RISK = 0.10
#: Value drivers (``drivers`` column) are computed for at most this many treated customers, the
#: highest incremental profit first: each costs (feature groups + 1) model predictions.
DRIVERS_MAX = 5_000
#: What a plan maximises: incremental profit, or incremental revenue (the budget still bounds cost).
OBJECTIVES = ("profit", "revenue")


@dataclass(slots=True)
class PlanRun:
    """A solved and written plan, with the scores and profiles it was made from."""

    result: PlanResult
    written: list[Path]
    scores: ScoreResult
    profiles: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    claims: PlanClaims | None = None  # what the plan may claim about its profit
    cost: CostInterval | None = None  # the interval of the plan's true discount cost
    planning_budget: float = 0.0  # the budget the allocation was given (<= budget)
    templates: TemplateCategories | None = None  # the menu's templates, instantiated
    #: the decision for customers without a plan row (the offer service's cold start)
    newcomer: NewcomerDecision | None = None
    #: the summary's ``drivers`` (:func:`drivers_summary`); None when none were computed
    drivers: dict[str, object] | None = None
    #: per category of the treated customers' offers: customers, cost, profit, revenue, margin
    #: and, where the data tells, demand per week, stock and its weight (:func:`plan_categories`)
    categories: pd.DataFrame | None = None
    #: the per-category outlook the plan read (demand, stock, price index); None without
    #: transactions and products
    outlook: CategoryOutlook | None = None
    #: whether rules ``[stock]`` weighed the allocation's values by stock cover
    stock_weights: bool = False
    #: with rules ``[stock]``: the expected incremental profit of the same plan without the
    #: weights (what pushing overstock and protecting scarce stock costs)
    stock_free_profit: float | None = None
    #: a margin target's plan at each offer's realised cost per unit of revenue
    #: (:func:`margin_check`); None without a target
    margin_check: dict[str, object] | None = None
    #: offers scored from their attributes (too few exposures) and whether the rules let the
    #: plan offer them (``allow_extrapolated_offers``)
    extrapolated: list[str] = field(default_factory=list)
    extrapolated_allowed: bool = False
    #: where the plan's minimum gain (``result.min_gain``) comes from
    min_gain_source: str = ""


def plan_outlook(
    ds: DataSet,
    as_of: pd.Timestamp,
    rules: Rules | None,
    forecast: str | Path | None,
    settings: Settings,
) -> CategoryOutlook | None:
    """The per-category outlook at the decision date (None when the data has no transactions or
    products, unless rules ``[stock]`` need it: then a :class:`ConfigError`)."""
    stock = None if rules is None else rules.stock
    if not (ds.has("transactions") and ds.has("products")):
        if stock is not None or forecast is not None:
            raise ConfigError(
                f"{ds.root}: rules [stock] and --forecast need the transactions and products tables"
            )
        return None
    from offerwise.demand.competition import StockPolicy

    policy = StockPolicy() if stock is None else StockPolicy(**stock.model_dump())
    out = category_outlook(ds, as_of=as_of, forecast=forecast, policy=policy, settings=settings)
    if stock is not None and not out.has_inventory:
        raise ConfigError(
            f"rules: [stock] weighs offers by stock cover, but {ds.root} has no inventory table "
            "(inventory.parquet or .csv: product_id, ts, on_hand; docs/data-contract.md)"
        )
    return out


def plan_categories(
    res: PlanResult,
    outlook: CategoryOutlook | None,
    rate: float,
    offers: pd.DataFrame | None,
) -> pd.DataFrame:
    """The summary's per-category table: :func:`~offerwise.policy.stock.category_summary` with
    the outlook's demand per week, stock on hand, weeks of cover, stock weight, price index."""
    kinds = None if offers is None else dict(zip(offers["offer_id"], offers["kind"], strict=True))
    cut = price_cut_offers(res.offer_ids, kinds)
    t = category_summary(res, rate, cut)
    if outlook is not None:
        cols = ["category", "demand_per_week", "on_hand", "weeks_of_cover", "weight"]
        cols += ["stock_status", "price_index"]
        t = t.merge(outlook.frame[cols], on="category", how="left")
    return t.reset_index(drop=True)


def customer_table(profiles: pd.DataFrame, ds: DataSet) -> pd.DataFrame:
    """Segment (from ``profiles``) beside every column of the ``customers`` table, by customer_id.

    The planner's rules read customer attributes (member, is_new, last_offer_ts, protected
    attributes for fairness) from here: all of the customers table's own columns are kept.
    """
    cust = ds.frame("customers")
    cust["customer_id"] = cust["customer_id"].astype(str)
    cust = cust.drop(columns=[c for c in ("segment",) if c in cust.columns])
    seg = profiles[["customer_id", "segment"]].astype({"customer_id": str})
    return seg.merge(cust, on="customer_id", how="left", validate="one_to_one")


def make_plan(
    model: str | Path | LoadedModel,
    data: DataArg,
    budget: float,
    out: str | Path,
    *,
    holdout: float | None = None,
    rules: str | Path | None = None,
    objective: str = "profit",
    as_of: object = None,
    frontier: bool = True,
    seed: int | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    scored: ScoreResult | None = None,
    risk: float = 0.0,
    explore: float = 0.0,
    overspend_risk: float | None = OVERSPEND_RISK,
    recs: RecsArg = None,
    engine: str = "duckdb",
    spark: SparkConfig | None = None,
    drivers: int = DRIVERS_MAX,
    forecast: str | Path | None = None,
    min_gain: str | float = "auto",
) -> PlanRun:
    """Score ``data`` with ``model`` (unless ``scored`` is given), segment, solve, and write the
    plan, its ``.summary.json`` and (with ``frontier``) its ``.frontier.parquet``/``.png``.

    ``explore``: share of the non-holdout customers given a uniformly random eligible arm (see
    :func:`~offerwise.policy.plan.solve_plan`); every row records its offer's ``propensity``.
    ``holdout``: the random holdout share; by default :data:`HOLDOUT` or, when the model's
    identification verdict is not ``ok``, :data:`HOLDOUT_UNVERIFIED` (its profit needs checking).
    The summary's ``claims`` (:mod:`offerwise.workflows.claims`) say what the profit rests on.
    ``overspend_risk``: the plan is re-solved with a smaller planning budget until its true cost
    (the model's cost calibrated on out-of-fold rows, with its interval:
    :mod:`offerwise.evaluation.cost`) exceeds ``budget`` with probability at most this; ``None``
    plans on the model's costs as predicted. The summary's ``cost`` states the interval.
    ``drivers``: the plan's ``drivers`` column (each customer's top 3 value drivers,
    :func:`~offerwise.models.introspect.value_drivers`) for at most this many treated customers;
    0 skips them.
    ``min_gain``: the smallest value (currency) an offer must have to be given: ``"auto"`` the
    model's (chosen out of fold at ``train``: card ``min_gain.threshold``, 0 without one),
    ``"off"`` (0: any positive value) or a number.
    ``recs``: recommendations (file or frame) for the menu's template offers (``rec:N``;
    :mod:`offerwise.workflows.templates`); computed at the decision date when not given.
    ``engine="spark"``: features and scores as ``score(engine="spark")`` does, and the budget
    price by bisection on Spark (:func:`offerwise.spark.allocate.spark_allocator`; with rules
    that set caps, segment budgets or fairness the allocation runs on the driver).
    ``forecast``: an ``offerwise forecast --level category --target units`` file, the demand
    behind stock cover (default: the last 4 weeks of sales); rules ``[stock]`` weigh
    category-scoped offers by it (:mod:`offerwise.policy.stock`)."""
    from offerwise.spark.session import check_engine

    engine = check_engine(engine)
    if objective not in OBJECTIVES:
        raise InputError(f"--objective must be 'profit' or 'revenue', not {objective!r}")
    if not 0.0 <= float(explore) <= 1.0:
        raise InputError(f"--explore must be a share in [0, 1]; got {explore}")
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    out = Path(out)
    parsed = load_rules(rules) if rules is not None else None
    lm = model if isinstance(model, LoadedModel) else load_model(model)
    if holdout is None:
        ident = model_identification(lm)
        holdout = HOLDOUT if ident is None or ident.verdict == "ok" else HOLDOUT_UNVERIFIED
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers",))
    if scored is not None:
        ts = scored.as_of
    else:
        ts = parse_as_of(as_of) if as_of is not None else default_as_of(ds)
    note(progress, "profiling and segmenting customers")
    features = None
    if engine == "spark":
        from offerwise.spark.features import spark_profile_features

        def features(when: datetime) -> pd.DataFrame:
            return spark_profile_features(ds, when, settings=settings, config=spark)

    prof = profile(ds, ts, settings, features=features)
    ids = ds.frame("customers")["customer_id"].astype(str).to_numpy()
    tc = template_categories(ds, ids, pd.Timestamp(ts), recs=recs, settings=settings, seed=seed)
    if scored is None:
        note(progress, "scoring customers")
        scored = score(
            lm, ds, as_of=ts, settings=settings, computed=prof, engine=engine, spark=spark
        )
    if overspend_risk is not None and not 0.0 < float(overspend_risk) < 0.5:
        raise InputError(
            f"--overspend-risk must be a probability in (0, 0.5); got {overspend_risk}"
        )
    note(progress, "solving the allocation")
    plan_scores = scored.scores if tc is None else drop_ineligible(scored.scores, tc)
    arrays = scores_to_arrays(plan_scores, objective, risk)
    cust = customer_table(prof, ds)
    offers = ds.frame("offers") if ds.has("offers") else None
    terms = None
    if parsed is not None and parsed.margin is not None:  # what the margin target counts
        orders = prof.set_index(prof["customer_id"].astype(str))["frequency"]
        terms = offer_terms(ds, offers, arrays, pd.Timestamp(ts), settings, orders)
        arrays = with_terms(arrays, terms)
    categories = category_matrix(arrays, offers, tc)
    outlook = plan_outlook(ds, pd.Timestamp(ts), parsed, forecast, settings)
    stock_w = None
    unweighted = arrays
    if parsed is not None and parsed.stock is not None and outlook is not None:
        stock_w = outlook.weights()
        arrays = weighted(arrays, stock_weight_matrix(categories, stock_w))
    cal = model_cost_calibration(lm) if overspend_risk is not None else UNCALIBRATED
    allocator = None
    if engine == "spark":
        from offerwise.spark.allocate import spark_allocator
        from offerwise.spark.session import spark_session

        allocator = spark_allocator(spark_session(spark))

    def solve(arr: ScoreArrays, planning_budget: float) -> PlanResult:
        """The plan (rules, holdout, seed, exploration) of ``arr`` within ``planning_budget``."""
        return solve_plan(
            arr,
            cust,
            planning_budget,
            rules=parsed,
            holdout=holdout,
            seed=seed,
            objective=objective,
            offers=offers,
            as_of=pd.Timestamp(ts),
            threads=settings.threads,
            risk=risk,
            explore=explore,
            allocator=allocator,
            margin_rate=settings.margin_rate,
            min_gain=min_value,
            min_gain_reach=min_reach,
        )

    min_value, min_reach, gain_source = plan_min_gain(lm, min_gain)
    planning_budget = float(budget)
    for _ in range(8):  # shrink the planning budget until the overspend risk is met
        res = solve(arrays, planning_budget)
        cost = plan_cost(res, arrays, budget, cal)
        if overspend_risk is None or cost.p_over_budget <= overspend_risk or cost.predicted == 0:
            break
        need = cost.expected + float(-ndtri(overspend_risk)) * cost.sd
        planning_budget *= 0.995 * budget / need
    res.budget = float(budget)
    res.categories = categories
    stock_free = None
    if stock_w is not None:  # what the weights cost: the same plan without them
        stock_free = solve(unweighted, planning_budget).total_incremental_profit

    def resolve(sc: pd.DataFrame) -> PlanResult:
        """The same plan on another model's long scores frame (the audit model's). Where its
        expected revenue is unknown (NaN), the plan model's stands in (a margin target needs it)."""
        sc = sc if tc is None else drop_ineligible(sc, tc)
        margin = parsed is not None and parsed.margin is not None
        if margin and arrays.revenue is not None and sc["expected_revenue"].isna().any():
            own = plan_scores[["customer_id", "offer_id", "expected_revenue"]].astype(
                {"customer_id": str, "offer_id": str}
            )
            sc = sc.drop(columns="expected_revenue").merge(
                own, on=["customer_id", "offer_id"], how="left", validate="one_to_one"
            )
        arr = with_terms(scores_to_arrays(sc, objective, risk), terms)
        if stock_w is not None:
            arr = weighted(arr, stock_weight_matrix(category_matrix(arr, offers, tc), stock_w))
        return solve(arr, planning_budget)

    claims = None
    if scored.features is not None and scored.customer_ids is not None:
        note(progress, "checking the plan's profit on held-out exposures")
        claims = plan_claims(
            res,
            lm,
            ds,
            scored.customer_ids,
            scored.features,
            settings=settings,
            seed=seed,
            as_of=pd.Timestamp(ts),
            scores=plan_scores,
            resolve=None if objective != "profit" else resolve,
        )
    if drivers > 0 and scored.features is not None and scored.customer_ids is not None:
        note(progress, "value drivers of the treated customers' offers")
        res.drivers = plan_drivers(res, lm, scored.customer_ids, scored.features, drivers)
    drivers_sum = None if res.drivers is None else drivers_summary(res.drivers)
    note(progress, "the decision for customers the plan does not list")
    ratios = {} if terms is None else dict(zip(terms.offer_ids, terms.ratio.tolist(), strict=True))
    ctx = decision_context(
        res,
        cust,
        rules=parsed,
        offers=offers,
        as_of=pd.Timestamp(ts),
        stock_weights=stock_w,
        margin_rate=settings.margin_rate,
        margin_ratios={o: r for o, r in ratios.items() if np.isfinite(r)},
        margin_prior={}
        if terms is None
        else {c: p for c, p in terms.prior.items() if np.isfinite(p).all()},
    )
    newcomer = newcomer_decision(lm, ds, ctx, settings)
    rate = settings.margin_rate
    if parsed is not None and parsed.margin is not None and parsed.margin.rate is not None:
        rate = parsed.margin.rate
    cats = plan_categories(res, outlook, rate, offers)
    same = terms is not None and terms.offer_ids == list(res.offer_ids)
    mcheck = margin_check(ds, res, rate, offers, terms.ratio if same and terms else None)
    ext = list(arrays.extrapolated)
    ext_ok = parsed is not None and parsed.allow_extrapolated_offers
    written = list(
        write_plan(
            res,
            out,
            campaign_id=out.stem,
            data_fingerprint=ds.fingerprint,
            extra={
                "cost": {
                    **cost.to_dict(),
                    "overspend_risk": overspend_risk,
                    "planning_budget": planning_budget,
                },
                **({} if claims is None else {"claims": claims.to_dict()}),
                **({} if tc is None else {"templates": tc.to_dict()}),
                **({} if drivers_sum is None else {"drivers": drivers_sum}),
                "newcomer": newcomer.to_dict(),
                "online": ctx.to_dict(),
                "categories": categories_dict(
                    cats, outlook, stock_w is not None, res.total_incremental_profit, stock_free
                ),
                **({} if mcheck is None else {"margin_check": mcheck}),
                "extrapolated_offers": {"offers": ext, "allowed": ext_ok},
                "min_gain_source": gain_source,
                "model_dir": str(Path(lm.path).resolve()),
            },
        )
    )
    if frontier:
        note(progress, "budget frontier")
        # the frontier is money: with stock weights, the model's unweighted values (the plan's
        # own point then sits below the curve by what the weights give up)
        front = res if stock_w is None else replace(res, arrays=unweighted)
        written += list(write_frontier(plan_frontier(front), frontier_path(out)))
    return PlanRun(
        result=res,
        written=written,
        scores=scored,
        profiles=prof,
        warnings=list(scored.warnings),
        claims=claims,
        cost=cost,
        planning_budget=planning_budget,
        templates=tc,
        newcomer=newcomer,
        drivers=drivers_sum,
        categories=cats,
        outlook=outlook,
        stock_weights=stock_w is not None,
        margin_check=mcheck,
        stock_free_profit=stock_free,
        extrapolated=ext,
        extrapolated_allowed=ext_ok,
        min_gain_source=gain_source,
    )


def categories_dict(
    cats: pd.DataFrame,
    outlook: CategoryOutlook | None,
    stock_weights: bool,
    profit: float | None = None,
    free_profit: float | None = None,
) -> dict[str, object]:
    """The summary's ``categories``: where demand came from, whether stock weighed the offers
    (and then the plan's expected incremental ``profit`` against ``free_profit`` without the
    weights), and the rows (NaN as null)."""
    rows = cats.astype(object).where(cats.notna(), None).to_dict("records")
    given_up = None
    if stock_weights and profit is not None and free_profit is not None:
        given_up = {
            "expected_incremental_profit": profit,
            "without_weights": free_profit,
            "value_given_up": free_profit - profit,
        }
    return {
        "demand_source": None if outlook is None else outlook.demand_source,
        "forecast": None if outlook is None else outlook.forecast,
        "stock_weights": stock_weights,
        "stock_cost": given_up,
        "rows": rows,
    }


def plan_drivers(
    res: PlanResult, lm: LoadedModel, customer_ids: pd.Series, X: np.ndarray, limit: int
) -> np.ndarray:
    """(n,) object: each plan row's value drivers as JSON text (:func:`drivers_json`), for the
    ``limit`` treated customers with an offer and the highest incremental profit; None elsewhere."""
    out = np.full(len(res.customer_ids), None, dtype=object)
    on = np.flatnonzero((res.assignment >= 0) & ~res.holdout)
    on = on[np.argsort(-res.incremental_profit[on], kind="stable")][:limit]
    if len(on) == 0:
        return out
    pos = pd.Index(np.asarray(customer_ids).astype(str)).get_indexer(
        res.customer_ids[on].astype(str)
    )
    on, pos = on[pos >= 0], pos[pos >= 0]
    names = np.asarray(res.offer_ids, dtype=object)
    found = value_drivers(lm.model, X[pos], names[res.assignment[on]], list(lm.features.columns))
    for i, d in zip(on, found, strict=True):
        out[i] = drivers_json(d)
    return out


def drivers_summary(drivers: np.ndarray, top: int = 5) -> dict[str, object]:
    """How many rows have value drivers, and the features most often each row's first driver:
    ``{"n_customers": int, "first": [{"feature", "n", "mean_effect"}]}``."""
    import json

    firsts: dict[str, list[float]] = {}
    n = 0
    for d in drivers:
        if d is None:
            continue
        n += 1
        items = json.loads(d)
        if items:
            firsts.setdefault(items[0]["feature"], []).append(float(items[0]["effect"]))
    ranked = sorted(firsts.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return {
        "n_customers": n,
        "first": [{"feature": f, "n": len(v), "mean_effect": float(np.mean(v))} for f, v in ranked],
    }


def plan_min_gain(lm: LoadedModel, setting: str | float) -> tuple[float, float | None, str]:
    """(minimum value per offer in currency, the reach it came with or None, where it comes from)
    for ``plan --min-gain``: ``auto`` (the model card's out-of-fold choice, made a floor over the
    plan's eligible pairs by :func:`~offerwise.policy.plan.gain_floor`), ``off`` or an amount."""
    text = str(setting).strip().lower()
    if text == "off":
        return 0.0, None, "off (--min-gain off): any positive value"
    if text == "auto":
        mg = lm.card.get("min_gain") or {}
        if "threshold" not in mg:
            why = "the model card has no out-of-fold choice (trained before it)"
            return 0.0, None, NO_FLOOR + why
        if mg.get("pays") is False:
            return (
                0.0,
                None,
                f"{NO_FLOOR}{no_paying_reach(mg.get('value_by_share') or {})}; no floor is "
                "set on that (every positive gain is planned): the held-out check of the plan's "
                "profit says what it is worth",
            )
        share = float(mg.get("share", 1.0))
        why = min_gain_reason(mg)
        if share >= 1.0 or float(mg["threshold"]) <= 0:
            return 0.0, None, f"{NO_FLOOR}out of fold {why}"
        return float(mg["threshold"]), share, f"the model's out-of-fold choice: {why}"
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not (np.isfinite(v) and v >= 0):
        raise InputError(f"--min-gain must be auto, off or a number >= 0; got {setting!r}")
    return v, None, "--min-gain"


def plan_cost(
    res: PlanResult, arrays: ScoreArrays, budget: float, cal: CostCalibration
) -> CostInterval:
    """The interval of ``res``'s true cost (:func:`offerwise.evaluation.cost.cost_interval`);
    ``arrays``: the scores ``res`` was solved on (a conversion probability the scores lack
    counts as 1: the offer's whole expected cost is then certain)."""
    on = np.flatnonzero(res.assignment >= 0)
    p = (
        arrays.p_convert[on, res.assignment[on]]
        if arrays.p_convert is not None
        else np.ones(len(on))
    )
    return cost_interval(res.expected_cost[on], np.nan_to_num(p, nan=1.0), budget, cal)


def model_cost_calibration(lm: LoadedModel) -> CostCalibration:
    """The cost calibration in the model's card (none for a model trained without one)."""
    d = lm.card.get("cost_calibration") if isinstance(lm.card, dict) else None
    return CostCalibration.from_dict(d) if isinstance(d, dict) else UNCALIBRATED

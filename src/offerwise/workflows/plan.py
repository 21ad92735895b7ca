"""``offerwise plan``: one offer (or none) per customer under a budget and rules, with a holdout.

Loads the data once, computes every customer's features once (the profile at the decision date
gives both the segments and the model's transaction features), pivots the scores once (the
allocation and the frontier share the same arrays, so the frontier obeys rules and holdout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.errors import InputError
from offerwise.features.engine import profile
from offerwise.models.persist import LoadedModel, load_model
from offerwise.policy.frontier import plan_frontier, write_frontier
from offerwise.policy.plan import PlanResult, scores_to_arrays, solve_plan, write_plan
from offerwise.policy.rules import load_rules
from offerwise.vocab import default_as_of, frontier_path, parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.claims import PlanClaims, model_identification, plan_claims
from offerwise.workflows.score import ScoreResult, score

__all__ = ["OBJECTIVES", "PlanRun", "customer_table", "make_plan"]

#: Default random holdout share, and the one when the model's identification verdict is not ok.
HOLDOUT = 0.10
HOLDOUT_UNVERIFIED = 0.30
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
) -> PlanRun:
    """Score ``data`` with ``model`` (unless ``scored`` is given), segment, solve, and write the
    plan, its ``.summary.json`` and (with ``frontier``) its ``.frontier.parquet``/``.png``.

    ``explore``: share of the non-holdout customers given a uniformly random eligible arm (see
    :func:`~offerwise.policy.plan.solve_plan`); every row records its offer's ``propensity``.
    ``holdout``: the random holdout share; by default :data:`HOLDOUT` or, when the model's
    identification verdict is not ``ok``, :data:`HOLDOUT_UNVERIFIED` (its profit needs checking).
    The summary's ``claims`` (:mod:`offerwise.workflows.claims`) say what the profit rests on."""
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
    prof = profile(ds, ts, settings)
    if scored is None:
        note(progress, "scoring customers")
        scored = score(lm, ds, as_of=ts, settings=settings, computed=prof)
    note(progress, "solving the allocation")
    arrays = scores_to_arrays(scored.scores, objective, risk)
    res = solve_plan(
        arrays,
        customer_table(prof, ds),
        budget,
        rules=parsed,
        holdout=holdout,
        seed=seed,
        objective=objective,
        offers=ds.frame("offers") if ds.has("offers") else None,
        as_of=pd.Timestamp(ts),
        threads=settings.threads,
        risk=risk,
        explore=explore,
    )
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
            scores=scored.scores,
        )
    written = list(
        write_plan(
            res,
            out,
            campaign_id=out.stem,
            data_fingerprint=ds.fingerprint,
            extra=None if claims is None else {"claims": claims.to_dict()},
        )
    )
    if frontier:
        note(progress, "budget frontier")
        written += list(write_frontier(plan_frontier(res), frontier_path(out)))
    return PlanRun(
        result=res,
        written=written,
        scores=scored,
        profiles=prof,
        warnings=list(scored.warnings),
        claims=claims,
    )

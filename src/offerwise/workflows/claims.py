"""What a plan may claim: its expected profit checked against exposures the model did not fit, the
model's identification verdict, and whether the plan's holdout can detect the expected effect.

``offerwise plan`` states, beside the model's own expected incremental profit (the sum of its
predictions for the customers it picked):

- a doubly-robust estimate of the plan's incremental profit on exposures its model did not fit
  (on the model's own data: the plan re-made by its audit model, on the audit fold), with
  a 90 % interval (:func:`offerwise.evaluation.plan_value.incremental_value_dr`); with logged
  propensities those are used, otherwise propensities estimated from the customers' features;
  and whether those exposures look drawn by their propensities for the customers the plan treats
  (:func:`offerwise.evaluation.plan_value.plan_support`);
- the identification verdict of the model (``model_card.json``); when it is not ``ok`` the profit
  is *unverified* and the plan says which experiment would verify it;
- the holdout's minimum detectable effect on net profit per customer (80 % power, 5 % level) next
  to the expected effect, and the holdout share that would detect the effect worth verifying
  (:func:`verify_target`: the expected effect when the verdict is ``ok``, else what the held-out
  check vouches for), at least :data:`MIN_HOLDOUT_CUSTOMERS` customers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from offerwise.config import Settings
from offerwise.data.contract import DataSet
from offerwise.evaluation.identification import (
    Identification,
    Sensitivity,
    e_value,
    logged_or_estimated,
    logged_rows,
)
from offerwise.evaluation.plan_value import (
    PlanSupport,
    PlanValueEstimate,
    incremental_value_dr,
    plan_support,
)
from offerwise.evaluation.power import holdout_to_detect, minimum_detectable_effect
from offerwise.features.model_inputs import customer_features_at
from offerwise.models.persist import LoadedModel, load_model
from offerwise.policy.plan import PlanResult
from offerwise.vocab import NO_OFFER, net_profit_sum
from offerwise.workflows._common import held_out_exposures
from offerwise.workflows.check_spans import check_windows, window_note
from offerwise.workflows.explore_claims import (
    ExploreClaims,
    explore_advice,
    explore_sizing,
    explore_target,
    finite_or_none,
    per_customer,
)

__all__ = [
    "MIN_HOLDOUT_CUSTOMERS",
    "OUTCOME_DAYS",
    "ExploreClaims",
    "PlanClaims",
    "model_identification",
    "plan_claims",
    "verification_holdout",
    "verify_target",
    "holdout_sentence",
    "SUPPORT_CAVEAT",
]

#: The outcome window of the power calculation (days of net profit per customer), as `analyze`.
OUTCOME_DAYS = 14
#: Interval level of the stated profit.
LEVEL = 0.9
#: Fewest customers a verifying holdout is sized at: below it the normal approximation behind the
#: power calculation (and `analyze`'s interval) is poor for skewed profits, whatever the effect.
MIN_HOLDOUT_CUSTOMERS = 200


@dataclass(slots=True)
class PlanClaims:
    """What the plan states about its profit, and how far that can be trusted."""

    verdict: str | None  # the model's identification verdict (None: model without one)
    verified: bool
    reasons: list[str] = field(default_factory=list)
    estimate: PlanValueEstimate | None = None
    estimate_note: str = ""
    support: PlanSupport | None = None  # do the checked exposures look drawn by their propensities
    expected_per_customer: float = float("nan")  # model's expected lift per treatment customer
    outcome_days: int = OUTCOME_DAYS  # the outcome window of the power calculation
    outcome_sd: float = float("nan")  # sd of net profit per customer over outcome_days
    mde: float = float("nan")  # minimum detectable effect per customer at the plan's holdout
    holdout_customers: int = 0  # the plan's random holdout
    unsized: str = ""  # why no holdout can be sized (:func:`unsized_reason`); "" when one can
    holdout_to_detect: float | None = None  # holdout share that detects ``verify_effect``
    verify_effect: float = float("nan")  # the lift per customer the experiment is sized for
    verify_basis: str = ""  # where ``verify_effect`` comes from (see :func:`verify_target`)
    experiment: str = ""
    sensitivity: Sensitivity | None = None
    #: what the plan's exploration detects and what share would detect the effect (None: no
    #: spread of net profit to size it with)
    explore: ExploreClaims | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "verdict": self.verdict,
            "verified": self.verified,
            "reasons": list(self.reasons),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "estimate_note": self.estimate_note,
            "support": None if self.support is None else self.support.to_dict(),
            "expected_per_customer": finite_or_none(self.expected_per_customer),
            "outcome_days": self.outcome_days,
            "outcome_sd": finite_or_none(self.outcome_sd),
            "mde_per_customer": finite_or_none(self.mde),
            "holdout_customers": self.holdout_customers,
            "unsized": self.unsized,
            "holdout_to_detect": self.holdout_to_detect,
            "verify_effect_per_customer": finite_or_none(self.verify_effect),
            "verify_basis": self.verify_basis,
            "experiment": self.experiment,
            "explore": None if self.explore is None else self.explore.to_dict(),
            "explore_note": "" if self.explore is None else self.explore.note(),
            "sensitivity": None
            if self.sensitivity is None
            else {
                k: finite_or_none(v) if isinstance(v, float) else v
                for k, v in asdict(self.sensitivity).items()
            },
        }
        return out


def unsized_reason(has_transactions: bool, days: int) -> str:
    """Why a holdout's power cannot be computed: nothing measures how net profit per customer
    varies (no ``transactions`` table, or no spend in the ``days`` before the plan date)."""
    if not has_transactions:
        return (
            "the data has no transactions table, so nothing measures how much net profit per "
            "customer varies"
        )
    return (
        f"no customer's net profit varies in the {days} days before the plan date (no "
        "transactions in that window)"
    )


def outcome_sd(ds: DataSet, as_of: pd.Timestamp, days: int, margin_rate: float) -> float:
    """Standard deviation (ddof 1) over all customers of net profit in ``[as_of − days, as_of)``.

    The sums are exact (:func:`math.fsum`), so the result does not depend on the order DuckDB
    returns the customers in."""
    if not ds.has("transactions"):
        return float("nan")
    y = ds.con.execute(
        f"""
        SELECT COALESCE({net_profit_sum("t")}, 0) AS y
        FROM customers c
        LEFT JOIN transactions t ON t.customer_id = c.customer_id
         AND t.ts < ? AND t.ts >= ? - INTERVAL '{int(days)} days'
        GROUP BY c.customer_id
        """,
        [float(margin_rate), as_of.to_pydatetime(), as_of.to_pydatetime()],
    ).fetchnumpy()["y"]
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2:
        return float("nan")
    mean = math.fsum(y) / len(y)
    return math.sqrt(math.fsum((y - mean) ** 2) / (len(y) - 1))


@dataclass(frozen=True, slots=True)
class HeldOutCheck:
    """The plan's DR check: the estimate (None: no check, ``note`` says why), how it was made,
    and whether its exposures look drawn by their propensities (:class:`PlanSupport`)."""

    estimate: PlanValueEstimate | None
    note: str
    support: PlanSupport | None = None


#: Re-solves the plan (same budget, rules, holdout, seed) on another model's long scores frame.
Resolver = Callable[[pd.DataFrame], PlanResult]


def dr_estimate(
    res: PlanResult,
    lm: LoadedModel,
    ds: DataSet,
    ids: pd.Series,
    X: np.ndarray,
    *,
    settings: Settings,
    seed: int,
    resolve: Resolver | None = None,
    as_of: pd.Timestamp | None = None,
) -> HeldOutCheck:
    """DR estimate of the plan's incremental profit on exposures its model did not fit (with
    whether they look drawn by their propensities for the plan's customers), or None and why.

    On the model's own training data the saved model saw every exposure, so its plan picks
    customers partly for their own logged outcomes and a DR estimate on them is optimistic. The
    check then uses the model's ``audit/`` model (cross-fitting fold 0's, fitted without that
    fold's customers): it re-makes the plan with ``resolve`` (same budget, rules and holdout) and
    the estimate is that plan's, on the fold's exposures — an honest, slightly conservative proxy
    (the audit model saw 2/3 of the data). On other data: the plan itself, on every exposure.
    With exposure times, the checked exposures are split into spans of at most
    :data:`~offerwise.workflows.check_spans.CHECK_WINDOW_DAYS` days (:func:`check_windows`) and
    each span's rows are checked against the plan re-made (same budget and rules) from every
    customer's features as of the span's first exposure, so its choice does not depend on what
    those offers did to them.
    """
    if not ds.has("exposures"):
        return HeldOutCheck(None, "the data has no exposures to check the plan against")
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    held, rows_note = held_out_exposures(lm, ds, ex)
    if held is None:
        return HeldOutCheck(None, rows_note)
    model, plan, ex = lm.model, res, held.rows
    if held.fold is not None:  # the model's own data: the saved model was fitted on every row
        if not (lm.path / "audit").exists() or resolve is None:
            return HeldOutCheck(
                None, "the model saw every exposure and there is no audit plan to check"
            )
        audit = load_model(lm.path / "audit")
        ex = ex[held.fold == int(audit.meta.get("audit_fold", 0))].reset_index(drop=True)
        model = audit.model
        rows_note = (
            f"the plan re-made by a model fitted without {ex['customer_id'].nunique():,} "
            "customers (same budget and rules), checked on their exposures"
        )
    prop_all = (
        pd.to_numeric(ex["propensity"], errors="coerce").to_numpy(dtype=np.float64)
        if "propensity" in ex.columns
        else None
    )
    mask = logged_rows(prop_all)
    win = None
    if resolve is not None and "ts" in ex.columns:
        win = check_windows(ex["ts"], as_of, mask)
    Xs = [X]
    if win is not None:
        ids_w, Xs = customer_features_at(ds, lm.features, win.starts, settings=settings)
        if np.array_equal(ids_w.astype(str).to_numpy(), ids.astype(str).to_numpy()):
            rows_note += window_note(win)
        else:
            win, Xs = None, [X]
    label = win.label if win is not None else np.zeros(len(ex), dtype=np.int64)
    if held.fold is not None or win is not None:
        assert resolve is not None
        plans = [resolve(model.predict_frame(X_w, ids)) for X_w in Xs]  # NaN revenue: profit
    else:
        plans = [res]
    arms = [NO_OFFER, *plans[0].offer_ids]
    index = {a: i for i, a in enumerate(arms)}
    keep_rows = (ex["offer_id"].isin(index) & ex["customer_id"].isin(set(ids))).to_numpy()
    ex = ex[keep_rows].reset_index(drop=True)
    label = label[keep_rows]
    prop = None if prop_all is None else prop_all[keep_rows]
    if len(ex) < 50:
        return HeldOutCheck(
            None, f"too few exposures to check the plan on ({len(ex)}; {rows_note})"
        )
    pos = pd.Series(np.arange(len(ids)), index=ids.to_numpy()).reindex(ex["customer_id"]).to_numpy()
    Xr = X[pos]  # the plan's own features; a span's rows get theirs as of its first day
    for w, X_w in enumerate(Xs):
        Xr[label == w] = X_w[pos[label == w]]
    action = ex["offer_id"].map(index).to_numpy(dtype=np.int64)
    gp = pd.to_numeric(ex["gross_profit"], errors="coerce").to_numpy(dtype=np.float64)
    reward = np.nan_to_num(gp) - pd.to_numeric(ex["discount_cost"]).to_numpy(dtype=np.float64)
    logged = logged_rows(prop)  # mixed logs: the identified rows alone (of the rows kept)
    if logged is not None:
        assert prop is not None  # a mask comes only from logged propensities
        keep = np.flatnonzero(logged)
        ex, Xr, action, reward, label = (
            ex.iloc[keep].reset_index(drop=True),
            Xr[keep],
            action[keep],
            reward[keep],
            label[keep],
        )
        pscore = prop[keep]
        how = (
            f"on the {len(ex):,} exposures with logged propensities only (mixed logs: the "
            f"other {int((~logged).sum()):,} are observational)"
        )
    else:  # logged everywhere, nowhere, or on too few rows to check on alone: filled
        pscore, n_est = logged_or_estimated(
            prop, Xr, action, len(arms), seed=seed, threads=settings.threads
        )
        if n_est == 0:
            how = "logged propensities"
        elif n_est == len(ex):
            how = "propensities estimated from the features (none were logged)"
        else:
            how = (
                f"propensities logged on {len(ex) - n_est:,} exposures (too few to check on "
                f"alone) and estimated from the features on {n_est:,}"
            )
    if (label < 0).any():  # rows outside the checked spans (counted in the note)
        inside = np.flatnonzero(label >= 0)
        ex, Xr, action, reward, label, pscore = (
            ex.iloc[inside].reset_index(drop=True),
            Xr[inside],
            action[inside],
            reward[inside],
            label[inside],
            pscore[inside],
        )
        if len(ex) < 50:
            return HeldOutCheck(
                None, f"too few exposures to check the plan on ({len(ex)}; {rows_note})"
            )
    plan_action = np.zeros(len(ex), dtype=np.int64)
    for w, plan in enumerate(plans):
        plan_arm = np.where(plan.holdout, -1, plan.assignment) + 1  # 0 = none
        by_customer = pd.Series(plan_arm, index=pd.Index(plan.customer_ids.astype(str)))
        on = label == w
        plan_action[on] = by_customer.reindex(ex.loc[on, "customer_id"]).fillna(0).to_numpy()
    if not (plan_action > 0).any():  # d_i = 0 on every round: an interval [0, 0] would mislead
        n_c = ex["customer_id"].nunique()
        return HeldOutCheck(
            None, f"{rows_note}: the plan offers nothing to any of the {n_c:,} customers checked"
        )
    q = model.predict_net_profit(Xr, arms)
    pscore = np.clip(pscore, 0.01, 1)
    est = incremental_value_dr(
        ex["customer_id"].to_numpy(),
        reward,
        action,
        pscore,
        plan_action,
        q,
        len(res.customer_ids),
        level=LEVEL,
        seed=seed,
    )
    support = plan_support(ex["customer_id"].to_numpy(), action, pscore, plan_action)
    if support is not None and support.mismatch:
        how += (
            "; for the customers this plan treats the exposures do not look drawn by their "
            f"propensities (inverse-propensity mass of the planned offer {support.offer:.2f} ± "
            f"{support.offer_se:.2f}, of none {support.none:.2f} ± {support.none_se:.2f}; 1 "
            "expected): planned actions the logs rarely took, customers picked partly on what "
            "their logged offer did, or propensities that miss why they were offered; the "
            "interval rests partly on the model"
        )
    return HeldOutCheck(est, f"{rows_note}; {how}", support)


def model_identification(lm: LoadedModel) -> Identification | None:
    """The identification report in the model's card (None for a model trained without one)."""
    ident = lm.card.get("identification") if isinstance(lm.card, dict) else None
    return Identification.from_dict(ident) if isinstance(ident, dict) else None


def sensitivity(res: PlanResult, scores: pd.DataFrame) -> Sensitivity | None:
    """E-value of the planned customers' expected conversion lift (risk ratio offer vs none)."""
    on = np.flatnonzero((res.assignment >= 0) & ~res.holdout)
    if len(on) == 0 or not {"p_convert", "p_convert_none"} <= set(scores.columns):
        return None
    chosen = pd.DataFrame(
        {
            "customer_id": res.customer_ids[on].astype(str),
            "offer_id": np.asarray(res.offer_ids, dtype=object)[res.assignment[on]],
        }
    )
    sc = scores.astype({"customer_id": str, "offer_id": str})
    m = chosen.merge(sc, on=["customer_id", "offer_id"], how="left")
    p1, p0 = float(m["p_convert"].mean()), float(m["p_convert_none"].mean())
    if not (p0 > 0 and np.isfinite(p1)):
        return None
    rr = p1 / p0
    ev = e_value(rr)
    return Sensitivity(
        method="E-value (VanderWeele & Ding 2017) of the planned customers' conversion risk ratio",
        risk_ratio=rr,
        e_value=ev,
        note=(
            f"an unobserved trait would have to raise both the chance of being offered and the "
            f"chance of buying by a factor of {ev:.2f} each to explain away the whole expected "
            f"conversion lift (risk ratio {rr:.2f}); erasing the profit takes less, since the "
            "discount cost stays"
        ),
    )


#: Said after the verifying holdout's size when the held-out check it is sized from has its
#: support flagged (:attr:`HeldOutCheck.support`): the size is then a lower bound.
SUPPORT_CAVEAT = (
    "; that check rests partly on the model (its exposures do not bear it out for the plan's "
    "customers), so the true effect may be smaller and the holdout needs to be larger"
)


def holdout_sentence(
    need: float, n_customers: int, basis: str, target: float, at_least: bool
) -> str:
    """The verifying experiment: a holdout of ``need`` (share of ``n_customers``) detects
    ``target`` (currency per customer; ``basis``: where it comes from) with 80 % power;
    ``at_least``: the target comes from a check whose support is flagged, so the size is a lower
    bound (:data:`SUPPORT_CAVEAT`)."""
    return (
        f"a random holdout of {'at least ' if at_least else ''}{need:.1%} "
        f"({int(np.ceil(need * n_customers)):,} customers) detects {basis} "
        f"({per_customer(target)} per customer) with 80% power"
        + (SUPPORT_CAVEAT if at_least else "")
    )


def verify_target(
    per: float, est: PlanValueEstimate | None, n_treated: int, verified: bool
) -> tuple[float | None, str]:
    """The lift per treated customer (currency) the verifying experiment is sized for, and where
    it comes from.

    Verified (verdict ``ok``): the model's expected lift ``per``. Unverified: the model's lift
    is the claim to be checked, and sizing the holdout for it would size it for a possible
    over-claim (on Complete Journey the model expected +23.63 per customer and 8 customers would
    have been "enough"). It is sized instead for the lower end of the held-out DR check's
    interval when that is positive, else for the check's estimate when positive; None when the
    check finds no positive effect (or there is none).
    """
    if verified:
        if np.isfinite(per) and per > 0:
            return per, "the expected effect"
        return None, f"the expected effect is {per_customer(per)} per customer"
    if est is None or n_treated <= 0:
        return None, "no held-out check of the profit could be made"
    low, mid = est.ci_low / n_treated, est.value / n_treated
    pct = f"{est.level:.0%}"
    if low > 0:
        return low, f"the lower end of the held-out check's {pct} interval"
    if mid > 0:
        return mid, f"the held-out check's estimate (its {pct} interval includes 0)"
    return None, f"the held-out check's estimate is {per_customer(mid)} per customer"


def verification_holdout(target: float | None, sd: float, n_customers: int) -> float | None:
    """The holdout share of ``n_customers`` that detects ``target`` per customer (80 % power, 5 %
    level; :func:`~offerwise.evaluation.power.holdout_to_detect`), at least
    :data:`MIN_HOLDOUT_CUSTOMERS` customers; None when no split of them detects it."""
    if target is None or not np.isfinite(target) or target <= 0:
        return None
    need = holdout_to_detect(target, sd, n_customers)
    if need is None:
        return None
    return float(min(0.5, max(need, MIN_HOLDOUT_CUSTOMERS / max(n_customers, 1))))


def plan_claims(
    res: PlanResult,
    lm: LoadedModel,
    ds: DataSet,
    ids: pd.Series,
    X: np.ndarray,
    *,
    settings: Settings,
    seed: int,
    as_of: pd.Timestamp,
    scores: pd.DataFrame | None = None,
    resolve: Resolver | None = None,
) -> PlanClaims:
    """Everything the plan may state about its profit (see the module docstring).

    ids, X: every customer's id (n,) and features (n, p) as of the plan date (from scoring).
    """
    ident = model_identification(lm)
    verdict = None if ident is None else ident.verdict
    reasons = [] if ident is None else list(ident.reasons)
    check = dr_estimate(
        res, lm, ds, ids, X, settings=settings, seed=seed, resolve=resolve, as_of=as_of
    )
    est, note = check.estimate, check.note
    n_t = int((~res.holdout).sum())
    n_h = int(res.holdout.sum())
    per = res.total_incremental_profit / n_t if n_t else float("nan")
    sd = outcome_sd(ds, as_of, OUTCOME_DAYS, settings.margin_rate)
    sized = bool(np.isfinite(sd) and sd > 0)  # else no spread to size a holdout with
    unsized = "" if sized else unsized_reason(ds.has("transactions"), OUTCOME_DAYS)
    mde = minimum_detectable_effect(sd, n_t, n_h) if n_h and sized else float("nan")
    verified = verdict in (None, "ok")
    target, basis = verify_target(per, est, n_t, verified)
    # sized for a check its exposures do not bear out: the size is a lower bound
    at_least = bool(
        not verified and target is not None and check.support is not None and check.support.mismatch
    )
    need = verification_holdout(target, sd, n_t + n_h) if sized else None
    if target is not None and not sized:
        detect = (
            f"no holdout size can be computed for {basis} ({per_customer(target)} per customer): "
            f"{unsized}; a random holdout of at "
            f"least {MIN_HOLDOUT_CUSTOMERS:,} customers measures what the plan really earns"
        )
    elif target is None:
        detect = (
            f"nothing to size a holdout for ({basis}); "
            f"a random holdout of at least {MIN_HOLDOUT_CUSTOMERS:,} customers measures what "
            "the plan really earns"
        )
    elif need is None:
        detect = (
            f"no holdout of these {n_t + n_h:,} customers can detect {basis} "
            f"({per_customer(target)} per customer; net profit over {OUTCOME_DAYS} days varies by "
            f"{sd:,.2f} per customer): run it longer or on more customers"
        )
    else:
        detect = holdout_sentence(need, n_t + n_h, basis, target, at_least)
    x_target, x_basis, x_at_least = explore_target(target, basis, per)
    explore = (
        explore_sizing(res, sd, OUTCOME_DAYS, x_target, x_basis, x_at_least or at_least)
        if sized
        else None
    )
    if verified:
        experiment = detect
    else:
        experiment = (
            f"the model's profit is unverified ({verdict}): launch with a random holdout "
            f"and `offerwise analyze` after {OUTCOME_DAYS} days — {detect}; "
            + explore_advice(explore)
        )
    return PlanClaims(
        verdict=verdict,
        verified=verified,
        reasons=reasons,
        estimate=est,
        estimate_note=note,
        support=check.support,
        expected_per_customer=per,
        outcome_sd=sd,
        mde=mde,
        holdout_customers=n_h,
        unsized=unsized,
        holdout_to_detect=need,
        verify_effect=float("nan") if target is None else target,
        verify_basis=basis,
        experiment=experiment,
        sensitivity=None if scores is None else sensitivity(res, scores),
        explore=explore,
    )

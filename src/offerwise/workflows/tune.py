"""Selection by held-out plan value (``offerwise train --tune off|fast|full``).

Exposures are split into ``N_FOLDS`` folds **by customer**. For every candidate configuration
(learner, min rows per leaf, leaves, rounds) the response model is fitted K times, each time on
the other folds, and predicts its own fold (:mod:`offerwise.workflows.crossfit`): the
out-of-fold (OOF) expected net profit ``q̂(x_i, a)`` (n, A) of every arm a ∈ [none, *menu].

A candidate is scored by the doubly-robust value of the plans it would make, on rows it did not
see: for each share s in :data:`SHARES` the plan gives the top s of the rows (by predicted
incremental profit, when positive) their best offer, and the DR increment over "no offer" is
``c_i(plan) − c_i(none)`` with ``c_i(π) = q̂(x_i, π_i) + 1{a_i = π_i}(r_i − q̂(x_i, a_i)) / p_i``
(p: logged propensities, or out-of-fold estimates when none were logged). The score is the mean
increment per customer over the shares. Never the simulator's truth: only what the logs show.

Rule: the candidate with the best score is chosen only when it beats the default at the 5 % level
(one-sided z test on the paired, per-customer difference, Bonferroni-corrected over the
challengers); the default stays otherwise. On the project simulator (100k exposures) a
one-standard-error rule switched to a candidate whose plans were worse (41.5 % -> 18.3 % of the
oracle at a 10 % budget on market seed 9): the DR score's noise is of the size of the differences.
The chosen configuration is then refitted on every exposure (the saved model); its OOF
predictions give the model card's metrics, the plan's honest value check and the minimum
predicted gain a plan offers (:func:`min_gain`: the reach with the best OOF DR plan value).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from offerwise.errors import InputError
from offerwise.evaluation.cost import CostCalibration, calibrate_cost
from offerwise.evaluation.identification import arm_propensities
from offerwise.evaluation.plan_value import dr_increments, per_customer_mean, top_share_policy
from offerwise.models.defaults import DEFAULT_LEARNER, default_min_child_samples
from offerwise.models.response import OfferResponseModel
from offerwise.vocab import NO_OFFER
from offerwise.workflows._common import Progress, note
from offerwise.workflows.crossfit import (
    Candidate,
    CrossFit,
    Refit,
    cross_fit_all,
    customer_folds,
)

__all__ = [
    "N_FOLDS",
    "SHARES",
    "TUNE_MODES",
    "CandidateScore",
    "TuneResult",
    "candidates",
    "choose",
    "oof_cost_calibration",
    "oof_min_gain",
    "min_gain",
    "paired_z",
    "reach_threshold",
    "reach_values",
    "widest_reach",
    "GAIN_SHARES",
    "MIN_GAIN_SE",
    "MinGain",
    "switch_z",
    "tune",
]

TUNE_MODES = ("off", "fast", "full")
#: Folds of the cross-fitting (by customer).
N_FOLDS = 3
#: Shares of customers reached by the plans a candidate is scored on (budgets, as reach).
SHARES = (0.1, 0.3, 0.6)
#: Level of the test a challenger must pass to replace the default (one-sided, Bonferroni).
ALPHA = 0.05


@dataclass(slots=True)
class CandidateScore:
    """A candidate's out-of-fold DR plan value (currency per customer) and its paired difference
    to the default (mean and standard error over customers)."""

    candidate: Candidate
    value: float
    by_share: dict[str, float]
    diff_vs_default: float
    se_vs_default: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.candidate.to_dict(),
            "label": self.candidate.label,
            "value_per_customer": self.value,
            "value_by_share": dict(self.by_share),
            "diff_vs_default": self.diff_vs_default,
            "se_vs_default": self.se_vs_default,
            "seconds": self.seconds,
        }


@dataclass(slots=True)
class TuneResult:
    """What tuning tried and chose; ``oof`` are the chosen candidate's out-of-fold predictions."""

    mode: str
    n_folds: int
    default: Candidate
    chosen: Candidate
    scores: list[CandidateScore]
    oof: CrossFit
    pscore_source: str
    pscore: np.ndarray  # (n,) probability of each exposure's logged arm (logged or estimated)
    # the chosen candidate fitted on every exposure (``tune(..., refit=...)``), and its seconds
    model: OfferResponseModel | None = None
    refit_seconds: float = 0.0
    rule: str = field(
        default="the best out-of-fold DR plan value, if it beats the default at the 5 % level "
        "(one-sided, Bonferroni over the challengers)"
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "n_folds": self.n_folds,
            "folds_by": "customer",
            "shares": list(SHARES),
            "score": "doubly-robust incremental net profit per customer of the plans reaching "
            + ", ".join(f"{s:.0%}" for s in SHARES)
            + " of the customers, out of fold",
            "propensities": self.pscore_source,
            "rule": self.rule,
            "default": self.default.to_dict(),
            "chosen": self.chosen.to_dict(),
            "candidates": [c.to_dict() for c in self.scores],
        }


def _pinned(c: Candidate, pin: dict[str, int] | None) -> Candidate:
    """``c`` with the settings in ``pin`` (``min_child_samples``, ``n_estimators``) fixed."""
    pin = pin or {}
    return replace(
        c,
        min_child_samples=int(pin.get("min_child_samples", c.min_child_samples)),
        n_estimators=int(pin.get("n_estimators", c.n_estimators)),
    )


def candidates(
    mode: str, n_rows: int, learner: str | None = None, pin: dict[str, int] | None = None
) -> list[Candidate]:
    """The configurations ``mode`` tries, the default first.

    ``off``: the default only; ``fast``: the default, the pooled model with 2x smaller leaves and
    the shared-base T-learner (3 candidates: 100k exposures train in under a minute on 2 cores);
    ``full``: every learner x two leaf sizes x two tree sizes
    (and 300 rounds for the default). ``learner`` pins the learner and ``pin`` any of
    ``min_child_samples`` / ``n_estimators`` (the rest is still tuned).
    """
    if mode not in TUNE_MODES:
        raise InputError(f"--tune must be one of {', '.join(TUNE_MODES)}; got {mode!r}")
    mcs = default_min_child_samples(n_rows)
    small = max(10, mcs // 2)
    base = _pinned(Candidate(learner or DEFAULT_LEARNER, mcs), pin)
    if mode == "off":
        return [base]
    if mode == "fast":
        learners = [learner] if learner else [DEFAULT_LEARNER, "tb"]
        out = [base, replace(base, min_child_samples=small)]
        out += [Candidate(lr, mcs) for lr in learners if lr != base.learner]
    else:
        learners = [learner] if learner else [DEFAULT_LEARNER, "tb", "t", "x", "dr"]
        out = [base]
        for lr in learners:
            for m in (mcs, small):
                for leaves in (7, 15, 31):
                    out.append(Candidate(lr, m, leaves))
        out.append(replace(base, n_estimators=300))
    seen: list[Candidate] = []
    for c in out:
        c = _pinned(c, pin)
        if c not in seen:
            seen.append(c)
    return seen


def _pscores(
    X: np.ndarray,
    action: np.ndarray,
    n_arms: int,
    propensity: np.ndarray | None,
    seed: int,
    threads: int,
) -> tuple[np.ndarray, str]:
    if propensity is not None:
        return np.clip(propensity, 0.01, 1.0), "logged"
    p = arm_propensities(np.nan_to_num(X, nan=0.0), action, n_arms, seed=seed, threads=threads)
    return np.clip(p, 0.01, 1.0), "estimated out of fold (none were logged)"


def switch_z(n_candidates: int, alpha: float = ALPHA) -> float:
    """How many standard errors a candidate must beat the default by: the one-sided ``alpha``
    level, Bonferroni-corrected over the ``n_candidates - 1`` challengers (1.96 for ``fast``'s
    two, 2.94 for ``full``'s thirty)."""
    return float(-ndtri(alpha / max(1, n_candidates - 1)))


def choose(scores: list[CandidateScore], z: float | None = None) -> int:
    """Index of the chosen candidate (``scores[0]`` is the default): the best value, if it beats
    the default by more than ``z`` (default :func:`switch_z`) standard errors of the paired
    difference; else the default (a win the noise could explain is not a win)."""
    best = max(range(len(scores)), key=lambda j: scores[j].value)
    z = switch_z(len(scores)) if z is None else z
    return best if scores[best].diff_vs_default > z * scores[best].se_vs_default else 0


def tune(
    mode: str,
    X: np.ndarray,
    ex: pd.DataFrame,
    menu: list[str],
    *,
    model_kwargs: dict[str, Any],
    propensity: np.ndarray | None,
    seed: int,
    threads: int,
    learner: str | None = None,
    progress: Progress | None = None,
    pin: dict[str, int] | None = None,
    refit: Refit | None = None,
) -> TuneResult:
    """Cross-fit every candidate of ``mode`` and choose one (see the module docstring).

    With ``refit``, the chosen candidate is also fitted on every exposure (``TuneResult.model``):
    the default's fit runs beside the cross-fitting, since the default is kept unless a
    challenger beats it; a chosen challenger is fitted afterwards."""
    cands = candidates(mode, len(ex), learner, pin)
    fold = customer_folds(ex["customer_id"], N_FOLDS, seed)
    if len(np.unique(fold)) < 2:
        raise InputError("exposures: cross-fitting needs at least 2 customers")
    arms = [NO_OFFER, *menu]
    action = ex["offer_id"].astype(str).map({a: i for i, a in enumerate(arms)}).to_numpy()
    reward = pd.to_numeric(ex["gross_profit"]).to_numpy(dtype=np.float64) - pd.to_numeric(
        ex["discount_cost"]
    ).to_numpy(dtype=np.float64)
    pscore, how = _pscores(X, action, len(arms), propensity, seed, threads)
    customer = ex["customer_id"].astype(str).to_numpy()
    run = cross_fit_all(
        cands,
        X,
        ex,
        menu,
        fold,
        model_kwargs=model_kwargs,
        propensity=propensity,
        threads=threads,
        progress=progress,
        refit=refit,
    )
    fits, secs = run.fits, run.seconds
    per: list[np.ndarray] = []  # (m, len(SHARES)) per-customer DR increments of each candidate
    for cf in fits:
        d = dr_increments(reward, action, pscore, top_share_policy(cf.q, SHARES), cf.q)
        per.append(per_customer_mean(customer, d))
    base = per[0].mean(axis=1)
    scores: list[CandidateScore] = []
    for c, p, s in zip(cands, per, secs, strict=True):
        diff = p.mean(axis=1) - base
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
        scores.append(
            CandidateScore(
                candidate=c,
                value=float(p.mean()),
                by_share={
                    f"{sh:.0%}": float(v) for sh, v in zip(SHARES, p.mean(axis=0), strict=True)
                },
                diff_vs_default=float(diff.mean()),
                se_vs_default=se,
                seconds=s,
            )
        )
    pick = choose(scores)
    model, refit_s = run.default_model, run.default_model_seconds
    if refit is not None and pick != 0:
        note(progress, f"fitting {cands[pick].label} on all {len(ex):,} exposures")
        t0 = time.perf_counter()
        model = refit.fit(cands[pick], X, ex, menu, model_kwargs, propensity)
        refit_s = time.perf_counter() - t0
    return TuneResult(
        mode=mode,
        n_folds=N_FOLDS,
        default=cands[0],
        chosen=cands[pick],
        scores=scores,
        oof=fits[pick],
        pscore_source=how,
        pscore=pscore,
        model=model,
        refit_seconds=refit_s,
    )


def oof_cost_calibration(ex: pd.DataFrame, t: TuneResult, seed: int) -> CostCalibration:
    """Calibration of the chosen model's expected cost on its out-of-fold rows
    (:func:`offerwise.evaluation.cost.calibrate_cost`): the treated exposures whose logged offer is
    the one the plan reaching 30 % of the customers would give (at least 50 of them), else every
    treated exposure; weighted by 1 / propensity of the logged arm."""
    oof = t.oof
    arm_of = {a: i for i, a in enumerate(oof.arms)}
    action = ex["offer_id"].astype(str).map(arm_of).to_numpy(dtype=np.int64)
    col = {o: j for j, o in enumerate(oof.scores.offers)}
    offer = ex["offer_id"].astype(str).to_numpy()
    treated = np.array([a > 0 and o in col for a, o in zip(action, offer, strict=True)])
    pred = np.zeros(len(ex))
    rows = np.flatnonzero(treated)
    pred[rows] = oof.scores.expected_cost[rows, [col[o] for o in offer[rows]]]
    picked = treated & (top_share_policy(oof.q, (0.3,))[:, 0] == action)
    if picked.sum() >= 50:
        use, scope = picked, "treated exposures whose offer the 30 % plan would give, out of fold"
    else:
        use, scope = treated, "all treated exposures, out of fold"
    return calibrate_cost(
        ex["customer_id"].astype(str).to_numpy()[use],
        pd.to_numeric(ex["discount_cost"]).to_numpy(dtype=np.float64)[use],
        pred[use],
        1.0 / t.pscore[use],
        scope=scope,
        seed=seed,
    )


#: Reach grid of the minimum-gain choice (:func:`oof_min_gain`): shares of the customers.
GAIN_SHARES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
#: The minimum gain's reach: the largest within this many paired standard errors of the best
#: (the best alone, chosen among eleven noisy values, cut plans to a 2-5 % reach on 2 of 20
#: simulator models: benchmarks/trials/min_gain_budgeted.py, docs/models.md)
MIN_GAIN_SE = 1.0


@dataclass(frozen=True, slots=True)
class MinGain:
    """The smallest predicted incremental profit worth an offer, chosen out of fold.

    ``value_by_share`` (currency per customer): the DR value of the plan giving the top s of the
    rows their best offer, for s in :data:`GAIN_SHARES`; ``se`` its standard error over
    customers. ``share_best``: the reach of the best value. ``share``: the reach chosen, the
    largest at or beyond the best whose value is within :data:`MIN_GAIN_SE` standard errors of
    the best's, paired over customers (the one-standard-error rule, on the difference of the two
    plans' values: the reaches share most customers, so the difference is far less noisy than
    either value); ``z_best_vs_share`` that paired z (< ``MIN_GAIN_SE``). ``threshold``
    (currency): the smallest predicted gain in the top ``share`` of the out-of-fold rows (0 at
    full reach: every positive gain); ``threshold_best`` likewise for ``share_best``. ``pays``:
    whether any reach's value is positive; when none is, the values do not point to a cut (the
    best is then the least loss, usually the grid's smallest reach), so ``share`` is 1 and
    ``threshold`` 0: no floor (docs/models.md, "Minimum predicted gain")."""

    value_by_share: dict[str, float]
    se_by_share: dict[str, float]
    share: float
    threshold: float
    share_best: float
    threshold_best: float
    z_best_vs_share: float = 0.0
    #: one-sided z of the paired difference between the best reach and full reach (100 %):
    #: information (see docs/models.md)
    z_vs_full: float = 0.0
    significant: bool = False
    pays: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "value_by_share": dict(self.value_by_share),
            "se_by_share": dict(self.se_by_share),
            "share": self.share,
            "threshold": self.threshold,
            "share_best": self.share_best,
            "threshold_best": self.threshold_best,
            "z_best_vs_share": self.z_best_vs_share,
            "z_vs_full": self.z_vs_full,
            "significant": self.significant,
            "pays": self.pays,
            "rule": "the largest reach whose out-of-fold DR plan value is within "
            f"{MIN_GAIN_SE:g} standard error of the best reach's (paired over customers); the "
            "threshold is the smallest predicted gain that reach includes (z_vs_full: the best "
            "reach against reaching every positive gain); no threshold when no reach's value is "
            "positive (pays: false)",
        }


def oof_min_gain(ex: pd.DataFrame, t: TuneResult) -> MinGain:
    """:class:`MinGain` of the chosen candidate's out-of-fold predictions ``t.oof`` on the
    exposures ``ex`` (rewards: net profit; propensities ``t.pscore``)."""
    arm_of = {a: i for i, a in enumerate(t.oof.arms)}
    reward = pd.to_numeric(ex["gross_profit"]).to_numpy(np.float64) - pd.to_numeric(
        ex["discount_cost"]
    ).to_numpy(np.float64)
    return min_gain(
        ex["customer_id"].astype(str).to_numpy(),
        reward,
        ex["offer_id"].astype(str).map(arm_of).to_numpy(dtype=np.int64),
        t.pscore,
        t.oof.q,
    )


def reach_values(
    customer: np.ndarray,
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    q: np.ndarray,
) -> np.ndarray:
    """(customers, len(GAIN_SHARES)) DR increments per customer of the plans giving the top s of
    n logged rounds their best offer: ``customer`` (n,) ids, ``reward`` (n,) net profit,
    ``action`` (n,) logged arm (0 = none), ``pscore`` (n,) its probability, ``q`` (n, A)
    out-of-fold expected net profit of each arm. Column means: ``MinGain.value_by_share``."""
    d = dr_increments(reward, action, pscore, top_share_policy(q, GAIN_SHARES), q)
    return per_customer_mean(customer, d)


def reach_threshold(q: np.ndarray, share: float) -> float:
    """The smallest predicted gain (best offer's ``q`` over none's, currency) among the top
    ``share`` of the rows of ``q`` (n, A); 0 at full reach (every positive gain)."""
    if share >= 1.0 or q.shape[1] < 2 or not len(q):
        return 0.0
    gain = np.sort(q[:, 1:].max(axis=1) - q[:, 0])[::-1]
    return float(max(gain[max(0, int(round(share * len(gain))) - 1)], 0.0))


def paired_z(per: np.ndarray, best: int) -> np.ndarray:
    """(G,) how far reach ``best``'s value is above each reach's, in standard errors of the
    difference paired over the customers (rows of ``per``); 0 where the difference is constant."""
    d = per[:, [best]] - per
    sd = d.std(axis=0, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.zeros(per.shape[1])
    z: np.ndarray = np.divide(d.mean(axis=0), sd, out=np.zeros(per.shape[1]), where=sd > 0)
    return z


def widest_reach(per: np.ndarray, best: int, z_max: float = MIN_GAIN_SE) -> int:
    """The largest reach index at or beyond ``best`` whose value is within ``z_max`` paired
    standard errors of ``best``'s (:func:`paired_z`)."""
    z = paired_z(per, best)
    return max(j for j in range(best, per.shape[1]) if j == best or z[j] < z_max)


def min_gain(
    customer: np.ndarray,
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    q: np.ndarray,
) -> MinGain:
    """:class:`MinGain` from n logged rounds (arguments as :func:`reach_values`)."""
    per = reach_values(customer, reward, action, pscore, q)
    mean = per.mean(axis=0)
    se = per.std(axis=0, ddof=1) / np.sqrt(len(per)) if len(per) > 1 else np.zeros_like(mean)
    best = int(np.argmax(mean))
    full = len(GAIN_SHARES) - 1
    pays = bool(mean[best] > 0)
    z = paired_z(per, best)
    chosen = widest_reach(per, best)
    keys = [f"{s:.0%}" for s in GAIN_SHARES]
    z_chosen = float(z[chosen])
    if not pays:  # every reach loses out of fold: the least loss is no evidence for a cut
        best = chosen = full
        z_chosen = 0.0
    return MinGain(
        value_by_share=dict(zip(keys, map(float, mean), strict=True)),
        se_by_share=dict(zip(keys, map(float, se), strict=True)),
        share=GAIN_SHARES[chosen],
        threshold=reach_threshold(q, GAIN_SHARES[chosen]),
        share_best=GAIN_SHARES[best],
        threshold_best=reach_threshold(q, GAIN_SHARES[best]),
        z_best_vs_share=z_chosen,
        z_vs_full=float(z[full]),
        significant=bool(z[full] > -ndtri(0.05)),
        pays=pays,
    )

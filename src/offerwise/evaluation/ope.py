"""Off-policy evaluation: what would a new offer plan have earned on the logged data?

Estimators follow the Open Bandit Pipeline (Saito et al. 2021). For logged rows
``i = 1..n`` with reward ``r_i``, logged action ``a_i``, logging propensity ``p_i = π₀(a_i|x_i)``,
evaluation policy ``π(a|x_i)`` (``action_dist``, shape (n, K)) and a reward model
``q̂(x_i, a)`` (``estimated_rewards``, shape (n, K)), with importance weight
``w_i = π(a_i|x_i) / p_i``:

* IPW:   ``V = mean(w_i · r_i)``
* SNIPW: ``V = Σ w_i r_i / Σ w_i``  (self-normalized; same per-row terms as IPW)
* DM:    ``V = mean(Σ_a π(a|x_i) q̂(x_i, a))``
* DR:    ``V = mean(Σ_a π(a|x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i)))``

Every estimator is a ratio ``Σ c_i / Σ d_i`` of per-row contributions ``c_i``
(:meth:`OffPolicyEstimator._estimate_round_rewards`) and normalizers ``d_i`` (1, or ``w_i`` for
SNIPW). The confidence interval is the percentile bootstrap of that ratio, vectorized: resample
index matrices of shape (chunk, n) and sum per row, never a Python loop per resample.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

from offerwise.data.contract import NO_OFFER
from offerwise.errors import InputError

#: Elements of one bootstrap index chunk (chunk · n); bounds memory at ~32 MB of int64.
_BOOT_CHUNK_ELEMS = 4_000_000


@dataclass(frozen=True, slots=True)
class EstimateResult:
    """One policy-value estimate with its bootstrap CI and weight diagnostics.

    ``ess`` = (Σw)²/Σw² (Kish effective sample size of the importance weights), ``max_weight`` =
    max w_i, ``match_share`` = mean π(a_i|x_i) (for a deterministic plan: the share of logged rows
    whose logged action is the plan's action).
    """

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    ess: float
    max_weight: float
    match_share: float
    alpha: float = 0.05
    n_bootstrap: int = 1000

    def to_dict(self) -> dict[str, object]:
        return {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _first_bad(mask: np.ndarray) -> str:
    idx = np.argwhere(mask)[0]
    return ", ".join(str(int(i)) for i in idx)


def check_ope_inputs(
    reward: np.ndarray,
    action: np.ndarray,
    pscore: np.ndarray,
    action_dist: np.ndarray,
    estimated_rewards: np.ndarray | None = None,
    *,
    need_rewards: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate OPE inputs and return them as float/int arrays.

    Shapes: reward (n,), action (n,) int in [0, K), pscore (n,) in (0, 1], action_dist (n, K)
    non-negative rows summing to 1, estimated_rewards (n, K) finite (required when
    ``need_rewards``). Raises :class:`InputError` naming the argument and the expected shape.
    """
    action_dist = np.asarray(action_dist, dtype=float)
    if action_dist.ndim != 2 or action_dist.shape[0] == 0 or action_dist.shape[1] == 0:
        raise InputError(
            f"action_dist must be a 2-d array of shape (n_rows, n_actions), "
            f"got shape {action_dist.shape}"
        )
    n, k = action_dist.shape
    reward = np.asarray(reward, dtype=float)
    if reward.shape != (n,):
        raise InputError(
            f"reward must have shape ({n},) (one per row of action_dist), got {reward.shape}"
        )
    pscore = np.asarray(pscore, dtype=float)
    if pscore.shape != (n,):
        raise InputError(f"pscore must have shape ({n},), got {pscore.shape}")
    action_raw = np.asarray(action)
    if action_raw.shape != (n,):
        raise InputError(f"action must have shape ({n},), got {action_raw.shape}")
    if not np.issubdtype(action_raw.dtype, np.integer):
        if not np.issubdtype(action_raw.dtype, np.number) or not np.all(
            np.isfinite(action_raw) & (action_raw == np.round(action_raw))
        ):
            raise InputError(
                f"action must hold integer action indices, got dtype {action_raw.dtype}"
            )
    action = action_raw.astype(np.int64)
    bad = (action < 0) | (action >= k)
    if bad.any():
        raise InputError(
            f"action must lie in [0, {k}) (columns of action_dist); "
            f"{int(bad.sum())} row(s) outside, e.g. row {_first_bad(bad)} = {int(action[bad][0])}"
        )
    for name, arr in (("reward", reward), ("pscore", pscore), ("action_dist", action_dist)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(
                f"{name} has {int(bad.sum())} NaN or infinite value(s), e.g. at {_first_bad(bad)}"
            )
    bad = (pscore <= 0) | (pscore > 1)
    if bad.any():
        raise InputError(
            f"pscore must lie in (0, 1]; {int(bad.sum())} row(s) outside, "
            f"e.g. row {_first_bad(bad)} = {float(pscore[bad][0])!r}"
        )
    if (action_dist < 0).any():
        raise InputError(f"action_dist has {int((action_dist < 0).sum())} negative probabilities")
    sums = action_dist.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-6
    if bad.any():
        raise InputError(
            f"action_dist rows must sum to 1; {int(bad.sum())} row(s) do not, "
            f"e.g. row {_first_bad(bad)} sums to {sums[bad][0]:.6g}"
        )
    if estimated_rewards is None:
        if need_rewards:
            raise InputError(f"estimated_rewards of shape ({n}, {k}) is required by this estimator")
        return reward, action, pscore, action_dist, None
    est = np.asarray(estimated_rewards, dtype=float)
    if est.shape != (n, k):
        raise InputError(
            f"estimated_rewards must have shape ({n}, {k}) like action_dist, got {est.shape}"
        )
    bad = ~np.isfinite(est)
    if bad.any():
        raise InputError(
            f"estimated_rewards has {int(bad.sum())} NaN or infinite value(s), "
            f"e.g. at {_first_bad(bad)}"
        )
    return reward, action, pscore, action_dist, est


def importance_weights(
    action: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray
) -> np.ndarray:
    """w_i = π(a_i|x_i) / p_i, shape (n,)."""
    return action_dist[np.arange(len(action)), action] / pscore


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------


def bootstrap_ratio(
    contrib: np.ndarray,
    norm: np.ndarray | None,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``Σ c / Σ d`` (``d`` = 1 when ``norm`` is None), vectorized.

    Draws index matrices of shape (chunk, n) so memory stays ~``_BOOT_CHUNK_ELEMS`` elements.
    """
    if n_bootstrap < 2:
        raise InputError(f"n_bootstrap must be at least 2, got {n_bootstrap}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1), got {alpha}")
    rng = np.random.default_rng(random_state)
    n = len(contrib)
    chunk = max(1, min(n_bootstrap, _BOOT_CHUNK_ELEMS // max(n, 1)))
    stats = np.empty(n_bootstrap)
    done = 0
    while done < n_bootstrap:
        b = min(chunk, n_bootstrap - done)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int32 if n < 2**31 else np.int64)
        num = contrib[idx].sum(axis=1)
        den = float(n) if norm is None else norm[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[done : done + b] = num / den
        done += b
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------------------------


@dataclass
class OffPolicyEstimator(ABC):
    """Base of all estimators: per-row contributions, a normalizer, and the bootstrap CI."""

    estimator_name: str = field(init=False, default="base")
    needs_rewards: bool = field(init=False, default=False)

    @abstractmethod
    def _estimate_round_rewards(
        self,
        reward: np.ndarray,
        action: np.ndarray,
        pscore: np.ndarray,
        action_dist: np.ndarray,
        estimated_rewards: np.ndarray | None,
    ) -> np.ndarray:
        """Per-row contributions c_i, shape (n,)."""

    def _normalizer(self, weights: np.ndarray) -> np.ndarray | None:
        """Per-row normalizers d_i (None means d_i = 1, i.e. the plain mean)."""
        return None

    def _terms(self, reward, action, pscore, action_dist, estimated_rewards):  # noqa: ANN001, ANN202
        r, a, p, pi, q = check_ope_inputs(
            reward, action, pscore, action_dist, estimated_rewards, need_rewards=self.needs_rewards
        )
        w = importance_weights(a, p, pi)
        return self._estimate_round_rewards(r, a, p, pi, q), self._normalizer(w), w, a, pi

    def estimate_policy_value(
        self,
        reward: np.ndarray,
        action: np.ndarray,
        pscore: np.ndarray,
        action_dist: np.ndarray,
        estimated_rewards: np.ndarray | None = None,
    ) -> float:
        """Point estimate ``Σ c_i / Σ d_i``."""
        c, d, *_ = self._terms(reward, action, pscore, action_dist, estimated_rewards)
        return _ratio(c, d)

    def estimate(
        self,
        reward: np.ndarray,
        action: np.ndarray,
        pscore: np.ndarray,
        action_dist: np.ndarray,
        estimated_rewards: np.ndarray | None = None,
        *,
        alpha: float = 0.05,
        n_bootstrap: int = 1000,
        random_state: int | None = 0,
    ) -> EstimateResult:
        """Point estimate, (1−alpha) bootstrap CI and weight diagnostics."""
        c, d, w, a, pi = self._terms(reward, action, pscore, action_dist, estimated_rewards)
        lo, hi = bootstrap_ratio(
            c, d, n_bootstrap=n_bootstrap, alpha=alpha, random_state=random_state
        )
        sw2 = float((w * w).sum())
        return EstimateResult(
            estimator=self.estimator_name,
            value=_ratio(c, d),
            ci_low=lo,
            ci_high=hi,
            n=len(c),
            ess=float(w.sum() ** 2 / sw2) if sw2 > 0 else 0.0,
            max_weight=float(w.max()),
            match_share=float(pi[np.arange(len(a)), a].mean()),
            alpha=alpha,
            n_bootstrap=n_bootstrap,
        )


def _ratio(c: np.ndarray, d: np.ndarray | None) -> float:
    if d is None:
        return float(c.mean())
    den = float(d.sum())
    return float(c.sum() / den) if den > 0 else float("nan")


@dataclass
class InverseProbabilityWeighting(OffPolicyEstimator):
    """IPW: c_i = w_i r_i."""

    estimator_name: str = field(init=False, default="ipw")

    def _estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards):  # noqa: ANN001, ANN201
        return importance_weights(action, pscore, action_dist) * reward


@dataclass
class SelfNormalizedInverseProbabilityWeighting(InverseProbabilityWeighting):
    """SNIPW: IPW's contributions over the normalizer d_i = w_i (so V = Σ w r / Σ w)."""

    estimator_name: str = field(init=False, default="snipw")

    def _normalizer(self, weights: np.ndarray) -> np.ndarray | None:
        return weights


@dataclass
class DirectMethod(OffPolicyEstimator):
    """DM: c_i = Σ_a π(a|x_i) q̂(x_i, a)."""

    estimator_name: str = field(init=False, default="dm")
    needs_rewards: bool = field(init=False, default=True)

    def _estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards):  # noqa: ANN001, ANN201
        return (action_dist * estimated_rewards).sum(axis=1)


@dataclass
class DoublyRobust(OffPolicyEstimator):
    """DR: c_i = Σ_a π(a|x_i) q̂(x_i, a) + w_i (r_i − q̂(x_i, a_i))."""

    estimator_name: str = field(init=False, default="dr")
    needs_rewards: bool = field(init=False, default=True)

    def _estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards):  # noqa: ANN001, ANN201
        rows = np.arange(len(action))
        w = importance_weights(action, pscore, action_dist)
        dm = (action_dist * estimated_rewards).sum(axis=1)
        return dm + w * (reward - estimated_rewards[rows, action])


IPW = InverseProbabilityWeighting
SNIPW = SelfNormalizedInverseProbabilityWeighting
DM = DirectMethod
DR = DoublyRobust

#: One instance of every estimator, in report order.
ALL_ESTIMATORS: list[OffPolicyEstimator] = [IPW(), SNIPW(), DM(), DR()]


# --------------------------------------------------------------------------------------------
# high level: a plan against logged exposures
# --------------------------------------------------------------------------------------------


def _need_cols(df: pd.DataFrame, table: str, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"{table}: required column(s) {', '.join(repr(c) for c in missing)} missing "
            f"(found: {', '.join(map(str, list(df.columns)[:12]))})"
        )


def _net_profit(exposures: pd.DataFrame, reward_col: str, margin_rate: float | None) -> np.ndarray:
    if reward_col in exposures.columns:
        r = pd.to_numeric(exposures[reward_col], errors="coerce").to_numpy(dtype=float)
        label = reward_col
    else:
        _need_cols(exposures, "exposures", ["revenue", "discount_cost"])
        rev = pd.to_numeric(exposures["revenue"], errors="coerce").to_numpy(dtype=float)
        disc = pd.to_numeric(exposures["discount_cost"], errors="coerce").to_numpy(dtype=float)
        if margin_rate is None:
            from offerwise.config import default_settings

            margin_rate = default_settings().margin_rate
        gp = margin_rate * (rev + disc)
        if "gross_profit" in exposures.columns:
            g = pd.to_numeric(exposures["gross_profit"], errors="coerce").to_numpy(dtype=float)
            gp = np.where(np.isnan(g), gp, g)
        r = gp - disc
        label = "gross_profit - discount_cost"
    bad = ~np.isfinite(r)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"exposures: reward ({label}) is missing or not a number in {int(bad.sum())} row(s); "
            f"e.g. customer_id={str(exposures['customer_id'].iloc[i])!r}"
        )
    return r


def check_propensities(exposures: pd.DataFrame) -> np.ndarray:
    """The logged propensities (n,) of ``exposures``, checked: present, numbers, in (0, 1].

    Raises :class:`InputError` naming the column, the number of bad rows and an example.
    """
    hint = (
        "supply the logging policy's probability of each logged offer in column 'propensity'. "
        "Logs without them (a shop's own targeted campaigns) cannot identify a plan's value "
        "off-policy: `offerwise plan` states a doubly-robust check with propensities estimated "
        "from the features, labelled unverified, and the experiment that would verify it; "
        "`offerwise plan --explore 0.2` logs propensities for the next round"
    )
    if "propensity" not in exposures.columns:
        raise InputError(
            f"exposures: column 'propensity' is missing; off-policy evaluation needs it: {hint}"
        )
    ps = pd.to_numeric(exposures["propensity"], errors="coerce").to_numpy(dtype=float)
    miss = np.isnan(ps)
    if miss.any():
        i = int(np.flatnonzero(miss)[0])
        raise InputError(
            f"exposures: column 'propensity' is missing or not a number in {int(miss.sum())} "
            f"of {len(ps)} row(s) "
            f"(e.g. customer_id={str(exposures['customer_id'].iloc[i])!r}): {hint}"
        )
    bad = (ps <= 0) | (ps > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"exposures: column 'propensity' must lie in (0, 1]; {int(bad.sum())} row(s) are 0, "
            f"negative or above 1 (e.g. customer_id={str(exposures['customer_id'].iloc[i])!r}, "
            f"propensity={float(ps[i])!r})"
        )
    return ps


class OPEArrays(TypedDict):
    """What :func:`build_ope_arrays` returns (a plain dict at run time)."""

    reward: np.ndarray
    action: np.ndarray
    pscore: np.ndarray
    action_dist: np.ndarray
    estimated_rewards: np.ndarray | None
    actions: list[str]


def build_ope_arrays(
    decisions: pd.DataFrame,
    exposures: pd.DataFrame,
    estimated_rewards: pd.DataFrame | None,
    offers: Sequence[str],
    *,
    reward_col: str = "reward",
    estimate_col: str = "expected_net_profit",
    margin_rate: float | None = None,
) -> OPEArrays:
    """Turn a plan and logged exposures into the estimators' arrays.

    Actions are ``['none', *offers]`` (index 0 = no offer). Each exposure row is one logged round;
    the plan's action for that row is the plan's offer for the customer, and customers absent from
    ``decisions`` get ``'none'`` (the plan makes them no offer). Returns a dict with keys
    reward, action, pscore, action_dist (one-hot, (n, K)), estimated_rewards ((n, K) or None)
    and actions (the K action ids).
    """
    actions = [NO_OFFER] + [str(o) for o in offers if str(o) != NO_OFFER]
    if len(set(actions)) != len(actions):
        raise InputError(f"offers contains duplicate ids: {list(offers)}")
    index = {a: i for i, a in enumerate(actions)}
    _need_cols(decisions, "decisions", ["customer_id", "offer_id"])
    _need_cols(exposures, "exposures", ["customer_id", "offer_id"])
    if len(exposures) == 0:
        raise InputError("exposures: table is empty; off-policy evaluation needs logged exposures")

    ps = check_propensities(exposures)

    # --- logged actions -------------------------------------------------------------------
    logged = exposures["offer_id"].astype(str).to_numpy()
    a = pd.Series(logged).map(index)
    unknown = a.isna().to_numpy()
    if unknown.any():
        raise InputError(
            f"exposures: {int(unknown.sum())} row(s) have an offer_id not in the menu "
            f"{actions} (e.g. offer_id={str(logged[unknown][0])!r})"
        )
    action = a.to_numpy(dtype=np.int64)

    # --- plan actions ---------------------------------------------------------------------
    dec_cust = decisions["customer_id"].astype(str)
    dup = dec_cust.duplicated()
    if dup.any():
        raise InputError(
            f"decisions: {int(dup.sum())} duplicate customer_id(s) "
            f"(one decision per customer expected), e.g. {str(dec_cust[dup].iloc[0])!r}"
        )
    plan_offer = pd.Series(decisions["offer_id"].astype(str).to_numpy(), index=dec_cust.to_numpy())
    bad_plan = ~plan_offer.isin(actions)
    if bad_plan.any():
        raise InputError(
            f"decisions: {int(bad_plan.sum())} row(s) have an offer_id not in the menu "
            f"{actions} (e.g. offer_id={str(plan_offer[bad_plan].iloc[0])!r})"
        )
    exp_cust = exposures["customer_id"].astype(str)
    planned = exp_cust.map(plan_offer).fillna(NO_OFFER).map(index).to_numpy(dtype=np.int64)
    n, k = len(exposures), len(actions)
    action_dist = np.zeros((n, k))
    action_dist[np.arange(n), planned] = 1.0

    reward = _net_profit(exposures, reward_col, margin_rate)

    # --- reward model ---------------------------------------------------------------------
    est: np.ndarray | None = None
    if estimated_rewards is not None:
        _need_cols(
            estimated_rewards, "estimated_rewards", ["customer_id", "offer_id", estimate_col]
        )
        er = estimated_rewards.assign(
            customer_id=estimated_rewards["customer_id"].astype(str),
            offer_id=estimated_rewards["offer_id"].astype(str),
        )
        dupe = er.duplicated(["customer_id", "offer_id"])
        if dupe.any():
            raise InputError(
                f"estimated_rewards: {int(dupe.sum())} duplicate (customer_id, offer_id) pair(s), "
                f"e.g. {tuple(er.loc[dupe, ['customer_id', 'offer_id']].iloc[0])}"
            )
        wide = er[er["offer_id"].isin(actions)].pivot(
            index="customer_id", columns="offer_id", values=estimate_col
        )
        wide = wide.reindex(columns=actions)
        est_df = wide.reindex(exp_cust.unique())
        vals = est_df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        gaps = np.isnan(vals)
        if gaps.any():
            r_, c_ = np.argwhere(gaps)[0]
            raise InputError(
                f"estimated_rewards: {int(gaps.sum())} (customer, offer) value(s) missing "
                "for logged customers; "
                f"every logged customer needs a '{estimate_col}' for each of {actions} "
                f"(e.g. customer_id={str(est_df.index[r_])!r}, offer_id={actions[c_]!r})"
            )
        pos = pd.Index(est_df.index).get_indexer(exp_cust.to_numpy())
        est = vals[pos]
    return {
        "reward": reward,
        "action": action,
        "pscore": ps,
        "action_dist": action_dist,
        "estimated_rewards": est,
        "actions": actions,
    }


def evaluate_decisions(
    decisions: pd.DataFrame,
    exposures: pd.DataFrame,
    estimated_rewards: pd.DataFrame | None,
    offers: Sequence[str],
    seed: int = 0,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 1000,
    reward_col: str = "reward",
    estimate_col: str = "expected_net_profit",
    margin_rate: float | None = None,
    estimators: Sequence[OffPolicyEstimator] | None = None,
) -> list[EstimateResult]:
    """Estimate the mean net profit per logged round had the plan ``decisions`` been followed.

    ``decisions``: customer_id, offer_id (one row per customer; missing customers → 'none').
    ``exposures``: contract exposures with ``propensity`` (logging probability of the logged offer)
    and a ``reward_col`` column (net profit); without it the reward is
    ``gross_profit − discount_cost`` (gross_profit defaulting to
    ``margin_rate·(revenue+discount_cost)``).
    ``estimated_rewards``: long table customer_id, offer_id, ``estimate_col`` (expected net profit
    of each menu action, ``'none'`` included); DM and DR run only when it is given.
    """
    arr = build_ope_arrays(
        decisions,
        exposures,
        estimated_rewards,
        offers,
        reward_col=reward_col,
        estimate_col=estimate_col,
        margin_rate=margin_rate,
    )
    ests = list(estimators) if estimators is not None else ALL_ESTIMATORS
    out: list[EstimateResult] = []
    for est in ests:  # same seed for all: paired resamples, comparable CIs
        if est.needs_rewards and arr["estimated_rewards"] is None:
            continue
        out.append(
            est.estimate(
                arr["reward"],
                arr["action"],
                arr["pscore"],
                arr["action_dist"],
                arr["estimated_rewards"],
                alpha=alpha,
                n_bootstrap=n_bootstrap,
                random_state=seed,
            )
        )
    return out


__all__ = [
    "ALL_ESTIMATORS",
    "DM",
    "DR",
    "IPW",
    "SNIPW",
    "DirectMethod",
    "DoublyRobust",
    "EstimateResult",
    "InverseProbabilityWeighting",
    "OffPolicyEstimator",
    "SelfNormalizedInverseProbabilityWeighting",
    "bootstrap_ratio",
    "build_ope_arrays",
    "check_ope_inputs",
    "evaluate_decisions",
    "importance_weights",
]

"""The multi-offer response model: per-offer uplift learners combined into profit and cost.

Data (n logged exposures): ``X`` (n, p) features as of each exposure's time; ``offer`` (n,)
logged offer ids (``"none"`` = control); ``converted`` (n,) 0/1; ``revenue`` (n,) currency, after
discount; ``discount_cost`` (n,) currency; ``gross_profit`` (n,) currency; optional logged
``propensity`` (n,) of the logged offer.

For every menu offer k with at least ``min_treated`` exposures, on rows with offer in {k, none}:

* conversion uplift  ``dconv_k(x) = P(conv | x, k) - P(conv | x, none)`` (learner, binary),
* revenue uplift     ``drev_k(x)  = E[revenue | x, k] - E[revenue | x, none]`` (learner),
* profit uplift, by ``profit``:
  - ``"direct"``:   learner on net profit ``gross_profit - discount_cost``;
  - ``"composed"``: learner on gross profit, minus the expected cost
    (``incremental_profit = dGP_k(x) - cost_k(x)``; the control arm has no discount cost),
  - ``"hurdle"``: conversion x value given conversion,
    ``incremental_profit = p_k(x) v(x, k) - p_0(x) v(x, none)`` and
    ``cost_k(x) = p_k(x) d(x, k)``, where ``p`` comes from the conversion learner and
    ``v`` (net profit) and ``d`` (discount cost) are pooled LightGBM regressions on the converted
    rows of all arms (``pooled/*`` boosters: features ``X`` + one indicator per menu offer) that
    start from each arm's mean (``init_score``; the means are kept in ``arm_levels_``). Modelling
    the value given conversion removes the zero-inflation noise of modelling profit on every row;
    pooling shares the basket structure across arms, so the errors of ``v(x, k)`` and
    ``v(x, none)`` largely cancel in their difference; the arm means keep what the offer does to
    the basket level (a 30 % discount at a 30 % margin leaves no profit) even where the trees cannot
    isolate a small arm,
* expected cost ``cost_k(x) = E[discount_cost | x, k]``: a plain regression on the treated rows
  of k (cost exists only under treatment), except in ``"hurdle"`` mode (above).

Control levels ``P(conv | x, none)`` and ``E[revenue | x, none]`` come from models fitted once on
all control rows. Offers with fewer than ``min_treated`` exposures, or none, have no learner of
their own. Given the menu's structure (``offer_specs``), they are scored by the attribute model
of :mod:`offerwise.models.offer_attributes` (fitted on every exposure, the offers described by
kind, depth, threshold, scope and duration) and listed in ``extrapolated_`` with the reason;
without it they are skipped and listed in ``skipped_`` (the scores then have no rows for them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from offerwise.errors import InputError, NotFittedError
from offerwise.models.defaults import default_min_child_samples
from offerwise.models.forest import compiled_arithmetic, predict_arms, run_kernel
from offerwise.models.metalearners import (
    LEARNERS,
    SharedRows,
    TLearner,
    bag_seed_offset,
    bag_suffix,
    fit_booster,
    fit_booster_scored,
    lgb_params,
    make_learner,
    predict_booster,
)
from offerwise.models.offer_attributes import (
    ATTR_PREFIX,
    OfferSpec,
    fit_attribute_model,
    predict_attribute_model,
)
from offerwise.models.params import Params
from offerwise.models.propensity import (
    PropensityReport,
    check_logged_propensities,
    clip_propensities,
    complete_logged_propensities,
    estimate_propensities,
    pairwise_propensity,
)
from offerwise.vocab import NO_OFFER
from offerwise.vocab import SCORE_COLUMNS as VOCAB_SCORE_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    import lightgbm as lgb

__all__ = [
    "CONTROL",
    "LEARNER_NAMES",
    "SCORE_COLUMNS",
    "OfferResponseModel",
    "ResponseScores",
    "net_profit_matrix",
]

CONTROL = NO_OFFER
#: learner name of the pooled shared-base conversion model (per-offer "tb" learners for revenue)
POOLED = "ptb"
#: every learner name the response model takes (``offerwise train --learner``), sorted
LEARNER_NAMES = sorted([*LEARNERS, POOLED])
POOLED_RESIDUAL_LEAVES = 7

#: Columns of the scores frame, in order (one row per customer x scored offer).
SCORE_COLUMNS = list(VOCAB_SCORE_COLUMNS)
_TARGETS = ("conversion", "revenue", "profit")
#: plane of each score column in :attr:`ResponseScores.block`
_PLANE = {c: i for i, c in enumerate(SCORE_COLUMNS[2:])}
#: the planes the compiled pooled hurdle arithmetic writes (its argument ``c``, in this order)
_FUSED_PLANES = (
    "p_convert",
    "p_convert_none",
    "incremental_conversion",
    "expected_cost",
    "incremental_profit",
    "incremental_profit_sd",
)
#: How incremental profit is modelled (see the module docstring).
PROFIT_MODES = ("direct", "composed", "hurdle")


def _bag_names(bag: int) -> tuple[str, str, str]:
    """Booster names (base, control residual, treated residual) of one bag of the pooled model."""
    sfx = bag_suffix(bag)
    return f"control/conv_base{sfx}", f"control/conv_r0{sfx}", f"pooled/conv_r1{sfx}"


def _n_bags(boosters: dict[str, Any]) -> int:
    """How many bags of the pooled conversion model ``boosters`` holds (models saved before
    bagging have one)."""
    return sum(1 for name in boosters if name.split("@")[0] == "control/conv_base")


def _onehot(code: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indicators of action codes 1..k (code 0 = control: all zeros)."""
    out = np.zeros((len(code), k))
    rows = np.flatnonzero(code > 0)
    out[rows, np.asarray(code)[rows] - 1] = 1.0
    return out


def _arm_means(y: np.ndarray, code: np.ndarray, k1: int) -> np.ndarray:
    """(k1,) mean of ``y`` per action code 0..k1-1 (0 for an arm without rows)."""
    n = np.bincount(code, minlength=k1)
    return np.bincount(code, weights=y, minlength=k1) / np.maximum(n, 1)


@dataclass(slots=True)
class ResponseScores:
    """Predictions for n customers x K scored offers; every array is (n, K), currency or prob."""

    offers: list[str]
    p_convert: np.ndarray
    p_convert_none: np.ndarray
    incremental_conversion: np.ndarray
    expected_revenue: np.ndarray
    incremental_revenue: np.ndarray
    expected_cost: np.ndarray
    incremental_profit: np.ndarray
    #: spread (standard deviation) of ``incremental_profit`` over the seed bags of the pooled
    #: conversion model, ``|v(x, k)| * sd_b(dconv_b)``; 0 where the model has no bags to compare
    incremental_profit_sd: np.ndarray
    #: (C, n, K): the arrays above as the planes of one array, in :data:`SCORE_COLUMNS` order,
    #: when :meth:`OfferResponseModel.predict` made them so (``to_frame`` then takes its float
    #: columns from it without a copy); None otherwise
    block: np.ndarray | None = field(default=None, repr=False)

    def _planes(self) -> np.ndarray | None:
        """:attr:`block` when every score array is still its plane, else None."""
        blk = self.block
        if blk is None:
            return None
        for i, col in enumerate(SCORE_COLUMNS[2:]):
            a = getattr(self, col)
            if a.base is not blk or a.ctypes.data != blk[i].ctypes.data or a.shape != blk[i].shape:
                return None
        return blk

    def to_frame(self, customer_ids: Any) -> pd.DataFrame:
        """Long frame with :data:`SCORE_COLUMNS`, ordered by customer then menu offer.

        The id columns are Arrow-backed strings (:data:`~offerwise.vocab.SCORE_ID_DTYPE`) that
        Arrow builds from the n customer ids and K offer ids (no n·K Python strings; converting 7M
        of them to Arrow took 1.4 s of writing 1M x 7 scores). Read back from Parquet: ``string``.
        """
        n, k = self.p_convert.shape
        cols = list(SCORE_COLUMNS[2:])
        blk = self._planes()
        if blk is None:
            blk = np.stack([getattr(self, col) for col in cols])
        # one (C, n·K) float block, as pandas keeps it: no copy (building the frame column by
        # column stacked and consolidated 7M-row columns: about 2.7 s of 1M x 7 scores, ad hoc)
        df = pd.DataFrame(blk.reshape(len(cols), n * k).T, columns=cols, copy=False)
        df.insert(0, "customer_id", repeated_strings(customer_ids, np.repeat(np.arange(n), k)))
        df.insert(1, "offer_id", repeated_strings(self.offers, np.tile(np.arange(k), n)))
        return df


def repeated_strings(values: Any, index: np.ndarray) -> pd.Series:
    """``values[index]`` as an Arrow-backed string Series (``string[pyarrow]``): ``values`` (m,)
    ids (any type; cast with ``str``), ``index`` (N,) positions in them. Arrow expands the
    dictionary, so no N Python strings are made."""
    import pyarrow as pa

    # large_string (64-bit offsets): what pandas keeps Arrow strings as
    dictionary = pa.array(np.asarray(values).astype(str).tolist(), type=pa.large_string())
    codes = pa.array(np.asarray(index, dtype=np.int64))
    arr = pa.DictionaryArray.from_arrays(codes, dictionary).cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(arr), copy=False)


def net_profit_matrix(sc: ResponseScores, base: np.ndarray, actions: list[str]) -> np.ndarray:
    """(n, A) expected net profit of each action: ``base`` (n,) = E[NP | x, none] plus the
    offer's incremental profit; an action ``sc`` has no column for (``none``, a skipped offer)
    gets ``base`` (no effect)."""
    col = {o: j for j, o in enumerate(sc.offers)}
    out = np.empty((len(base), len(actions)))
    for a, o in enumerate(actions):
        out[:, a] = base + (sc.incremental_profit[:, col[o]] if o in col else 0.0)
    return out


@dataclass(slots=True)
class _Skip:
    offer_id: str
    reason: str


class OfferResponseModel(Params):
    """Per-offer uplift learners vs the ``none`` control, combined into profit and cost.

    Parameters: ``learner`` one of ``"t"``, ``"x"``, ``"dr"``; ``profit`` ``"direct"`` or
    ``"composed"`` (see module docstring); LightGBM settings shared by all base models;
    ``min_treated`` exposures an offer needs to be modelled; ``propensity_clip`` overlap bounds;
    ``n_bags`` seed bags averaged in the pooled conversion model (learner ``"ptb"`` only);
    ``revenue=False`` skips the revenue models (``expected_revenue`` and ``incremental_revenue``
    are then NaN; profit and cost do not use them unless ``profit`` is ``"composed"`` or
    ``"direct"``, which still fit their own profit learners): the cross-fitting of candidates
    (:mod:`offerwise.workflows.tune`) needs only profit.
    """

    def __init__(
        self,
        *,
        learner: str = "t",
        profit: str = "composed",
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        n_folds: int = 3,
        min_treated: int = 50,
        propensity_clip: tuple[float, float] = (0.01, 0.99),
        n_jobs: int = 2,
        random_state: int = 0,
        n_bags: int = 1,
        revenue: bool = True,
    ):
        self.learner = learner
        self.profit = profit
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_folds = n_folds
        self.min_treated = min_treated
        self.propensity_clip = propensity_clip
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.n_bags = n_bags
        self.revenue = revenue

    def set_threads(self, n_jobs: int) -> OfferResponseModel:
        """Predict with ``n_jobs`` threads from now on (the model and its per-offer learners,
        saved with it); the fitted boosters are unchanged."""
        self.n_jobs = int(n_jobs)
        for per in getattr(self, "learners_", {}).values():
            for est in per.values():
                if hasattr(est, "set_params"):
                    est.set_params(n_jobs=int(n_jobs))
        return self

    # ------------------------------------------------------------------ helpers
    def _base_kwargs(self, seed: int) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "n_jobs": self.n_jobs,
            "random_state": seed,
            "propensity_clip": tuple(self.propensity_clip),
        }
        if self.learner == "dr":
            kw["n_folds"] = self.n_folds
        if self.learner in ("tb", POOLED):
            kw["residual_estimators"] = max(20, self.n_estimators // 3)
        return kw

    def _params(self, objective: str, seed: int, min_leaf: int | None = None) -> dict[str, Any]:
        return lgb_params(
            objective,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples if min_leaf is None else min_leaf,
            n_jobs=self.n_jobs,
            seed=seed,
        )

    def _validate(self) -> None:
        if self.learner not in LEARNER_NAMES:
            raise InputError(f"unknown learner {self.learner!r}; choose one of {LEARNER_NAMES}")
        if self.profit not in PROFIT_MODES:
            raise InputError(f"profit must be one of {PROFIT_MODES}; got {self.profit!r}")
        if int(self.n_bags) < 1:
            raise InputError(f"n_bags must be at least 1; got {self.n_bags}")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        offer: Any,
        converted: Any,
        revenue: Any,
        discount_cost: Any,
        gross_profit: Any,
        *,
        menu: list[str],
        propensity: Any = None,
        feature_names: list[str] | None = None,
        offer_specs: list[OfferSpec] | None = None,
    ) -> OfferResponseModel:
        """Fit on n logged exposures; ``menu`` lists the offer ids (``none`` may be included).

        ``offer_specs``: the menu's structure; offers with too few exposures are then scored by
        the attribute model (``extrapolated_``) instead of skipped."""
        self._validate()
        X = np.asarray(X, dtype=np.float64)
        offer = np.asarray(pd.Series(offer, dtype="string").to_numpy(dtype=object))
        n = len(offer)
        conv = np.asarray(converted, dtype=np.float64)
        rev = np.asarray(revenue, dtype=np.float64)
        cost = np.asarray(discount_cost, dtype=np.float64)
        gp = np.asarray(gross_profit, dtype=np.float64)
        if X.ndim != 2 or len(X) != n or not (len(conv) == len(rev) == len(cost) == len(gp) == n):
            raise InputError(
                f"X {X.shape} and the outcome arrays must all have {n} rows (one per exposure)"
            )
        offers = [str(o) for o in menu if str(o) != CONTROL]
        unknown = sorted(set(offer) - set(offers) - {CONTROL})
        if unknown:
            n_bad = int(np.isin(offer, unknown).sum())
            raise InputError(
                f"exposures, column 'offer_id': {n_bad} rows name offers not on the menu, "
                f"e.g. {unknown[0]!r} (menu: {offers})"
            )
        is_ctrl = offer == CONTROL
        if is_ctrl.all():
            raise InputError(
                "exposures: no treated exposures (every logged offer_id is 'none'); "
                "uplift needs rows where an offer was given"
            )
        if not is_ctrl.any():
            raise InputError(
                "exposures: no control exposures (no row has offer_id 'none'); "
                "uplift needs a logged control group"
            )
        for name, arr in (
            ("converted", conv),
            ("revenue", rev),
            ("discount_cost", cost),
            ("gross_profit", gp),
        ):
            bad = ~np.isfinite(arr)
            if bad.any():
                raise InputError(f"exposures, column '{name}': {int(bad.sum())} missing values")

        code = {o: i + 1 for i, o in enumerate(offers)}
        code[CONTROL] = 0
        action = np.array([code[o] for o in offer], dtype=np.int64)

        # propensities (needed by X and DR learners)
        P = None
        clip = cast(tuple[float, float], tuple(float(c) for c in self.propensity_clip))
        if propensity is not None:
            logged = check_logged_propensities(np.asarray(propensity, dtype=np.float64))
            source = "logged"
        else:
            logged = None
            source = "estimated"
        n_clipped = 0
        if self.learner in ("x", "dr"):
            if logged is not None:
                P = complete_logged_propensities(
                    X,
                    action,
                    logged,
                    len(offers) + 1,
                    n_jobs=self.n_jobs,
                    seed=self.random_state,
                )
            else:
                P = estimate_propensities(
                    X,
                    action,
                    len(offers) + 1,
                    n_folds=self.n_folds,
                    n_jobs=self.n_jobs,
                    seed=self.random_state,
                )
        else:
            who = f"{self.learner.upper()}-learner"
            source = f"not used ({who})" if logged is None else f"logged (not used by the {who})"

        # control levels, fitted once on all control rows (binned once for every control booster)
        Xc = SharedRows(X[is_ctrl])
        boosters: dict[str, lgb.Booster] = {
            "control/conversion": fit_booster(
                Xc, conv[is_ctrl], self._params("binary", self.random_state), self.n_estimators
            ),
            "control/profit": fit_booster(
                Xc,
                (gp if self.profit == "composed" else gp - cost)[is_ctrl],
                self._params("regression", self.random_state + 2),
                self.n_estimators,
            ),
        }
        if self.revenue:
            boosters["control/revenue"] = fit_booster(
                Xc,
                rev[is_ctrl],
                self._params("regression", self.random_state + 1),
                self.n_estimators,
            )
        pooled = self.learner == POOLED
        if pooled:  # one conversion model over all arms: shared responsiveness across offers
            boosters.update(self._fit_pooled_conversion(X, action, conv, len(offers), Xc))
        profit_y = gp if self.profit == "composed" else gp - cost
        targets = {"conversion": conv, "revenue": rev, "profit": profit_y}
        if pooled:
            del targets["conversion"]
        if not self.revenue:
            del targets["revenue"]
        if self.profit == "hurdle":
            del targets["profit"]
            bought = conv > 0
            if bought.sum() < 2:
                raise InputError("exposures: fewer than 2 converted rows; cannot model order value")
            Z = SharedRows(np.hstack([X, _onehot(action, len(offers))])[bought])
            a_b = action[bought]
            self.arm_levels_ = {}
            for j, (tname, y) in enumerate(
                (("net_profit", (gp - cost)[bought]), ("cost", cost[bought]))
            ):
                level = _arm_means(y, a_b, len(offers) + 1)
                self.arm_levels_[tname] = level.tolist()
                boosters[f"pooled/{tname}"] = fit_booster(
                    Z,
                    y,
                    self._params("regression", self.random_state + 3 + j),
                    self.n_estimators,
                    init_score=level[a_b],
                )

        learners: dict[str, dict[str, Any]] = {}
        skipped: list[_Skip] = []
        n_treated: dict[str, int] = {}
        for o in offers:
            k = code[o]
            treated = action == k
            nt = int(treated.sum())
            n_treated[o] = nt
            if nt == 0:
                skipped.append(_Skip(o, "no exposures of this offer in the logs"))
                continue
            if nt < self.min_treated:
                skipped.append(_Skip(o, f"only {nt} exposures (< min_treated={self.min_treated})"))
                continue
            rows = treated | is_ctrl
            Xk, tk = X[rows], treated[rows].astype(np.float64)
            e = None
            if P is not None:
                e_raw = pairwise_propensity(P, k)[rows]
                e, nc = clip_propensities(e_raw, clip)
                n_clipped += nc
            seed = self.random_state + 100 * k
            per: dict[str, Any] = {}
            for j, (tname, y) in enumerate(targets.items(), start=int(pooled)):
                binary = tname == "conversion"
                kw = self._base_kwargs(seed + 10 * j)
                kw["outcome"] = "binary" if binary else "continuous"
                if self.learner == "t":
                    # reuse the shared control model as mu0: identical data, one fit
                    mu1 = fit_booster(
                        X[treated],
                        y[treated],
                        self._params("binary" if binary else "regression", seed + 10 * j + 1),
                        self.n_estimators,
                    )
                    est = TLearner.from_boosters(
                        TLearner(**kw).get_params(),
                        {"mu0": boosters[f"control/{tname}"], "mu1": mu1},
                        {"n_features_in_": X.shape[1], "n_clipped_": 0},
                    )
                else:
                    est = make_learner("tb" if pooled else self.learner, **kw).fit(
                        Xk, tk, y[rows], propensity=e
                    )
                per[tname] = est
            if self.profit != "hurdle":
                per["cost"] = fit_booster(
                    X[treated],
                    cost[treated],
                    self._params("regression", seed + 50),
                    self.n_estimators,
                )
            learners[o] = per

        if not learners:
            raise InputError(
                "exposures: no offer has enough treated exposures to model "
                f"(min_treated={self.min_treated}): "
                + "; ".join(f"{s.offer_id}: {s.reason}" for s in skipped)
            )
        specs = {s.offer_id: s for s in offer_specs or []}
        extra = [s for s in skipped if s.offer_id in specs]
        self.offer_specs_ = [specs[o] for o in offers if o in specs]
        if extra:  # offers as attributes: score the offers without a learner of their own
            params = self._params("binary", self.random_state + 900)
            params["min_data_in_leaf"] = min(self.min_child_samples, default_min_child_samples(n))
            boosters.update(
                fit_attribute_model(
                    X,
                    action,
                    [None, *(specs.get(o) for o in offers)],
                    conv,
                    rev + cost,
                    gp,
                    cost,
                    feature_names=feature_names,
                    params=params,
                    n_estimators=self.n_estimators,
                )
            )
        self.extrapolated_ = [
            {"offer_id": s.offer_id, "reason": f"{s.reason}: scored from its attributes"}
            for s in extra
        ]
        ext = {s.offer_id for s in extra}
        self.offers_ = [o for o in offers if o in learners or o in ext]
        self.menu_ = offers
        self.skipped_ = [
            {"offer_id": s.offer_id, "reason": s.reason} for s in skipped if s.offer_id not in ext
        ]
        self.control_boosters_ = boosters
        self.learners_ = learners
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = list(feature_names) if feature_names is not None else None
        self.n_treated_ = n_treated
        self.n_control_ = int(is_ctrl.sum())
        self.propensity_ = PropensityReport(
            source=source, clip_low=clip[0], clip_high=clip[1], n_rows=n, n_clipped=n_clipped
        )
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "learners_"):
            raise NotFittedError("this OfferResponseModel is not fitted yet; call fit(...) first")

    def predict(self, X: Any) -> ResponseScores:
        """Scores of the n rows of ``X`` for every modelled offer (``offers_``)."""
        return self._predict(X)[0]

    def _predict(self, X: Any) -> tuple[ResponseScores, np.ndarray]:
        """(scores, E[net profit | x, none] (n,)) — one pass over the boosters."""
        from scipy.special import expit

        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(f"X must have {self.n_features_in_} feature columns; got {X.shape}")
        n, K = len(X), len(self.offers_)
        cb = self.control_boosters_
        p0_raw = predict_booster(cb["control/conversion"], X, self.n_jobs)
        p0 = np.clip(p0_raw, 0, 1)
        has_rev = "control/revenue" in cb
        r0 = predict_booster(cb["control/revenue"], X, self.n_jobs) if has_rev else None
        block = np.empty((len(SCORE_COLUMNS) - 2, n, K))
        out = {c: block[i] for i, c in enumerate(SCORE_COLUMNS[2:])}
        hurdle = self.profit == "hurdle"
        pooled = self.learner == POOLED
        ext = self._extrapolated_scores(X)
        # the pooled boosters (inputs: X and the action's indicators) score every modelled arm
        # in one pass: column col[k] of their (n, arms) predictions is action code k
        codes = np.array(
            [self.menu_.index(o) + 1 for o in self.offers_ if o not in ext], dtype=np.int64
        )
        col = {int(k): a for a, k in enumerate(codes)}
        if hurdle:
            values = self._arms("net_profit", X, np.concatenate([[0], codes]))
            base_profit = p0 * values[:, 0]
            costs = self._arms("cost", X, codes)
        else:
            base_profit = predict_booster(cb["control/profit"], X, self.n_jobs)
        if pooled:  # shared parts of the pooled conversion model (see _fit_pooled_conversion)
            bags = [_bag_names(b) for b in range(_n_bags(cb))]
            rb = [predict_booster(cb[nb], X, self.n_jobs, raw=True) for nb, _, _ in bags]
            q0b = [
                expit(rb[b] + predict_booster(cb[n0], X, self.n_jobs, raw=True))
                for b, (_, n0, _) in enumerate(bags)
            ]
            r1b = [
                predict_arms(cb[n1], X, codes - 1, len(self.menu_), self.n_jobs, raw=True)
                for _, _, n1 in bags
            ]
        # the pooled hurdle model's arithmetic, compiled: every modelled offer in one pass
        fused = compiled_arithmetic(n) if pooled and hurdle else None
        if fused is not None:
            modelled = [j for j, o in enumerate(self.offers_) if o not in ext]
            js = np.array(modelled, dtype=np.int64)
            arms = np.array(
                [col[self.menu_.index(self.offers_[j]) + 1] for j in modelled], dtype=np.int64
            )
            planes = np.array([_PLANE[c] for c in _FUSED_PLANES], dtype=np.int64)
            args = (p0, tuple(rb), tuple(q0b), tuple(r1b), values, costs, js, arms, block, planes)
            run_kernel(fused, "pooled_hurdle", self.n_jobs, *args)
        for j, o in enumerate(self.offers_):
            if o in ext:
                a = ext[o]
                pk = np.clip(p0 + a.dconv, 0.0, 1.0)
                out["p_convert"][:, j] = pk
                out["p_convert_none"][:, j] = p0
                out["incremental_conversion"][:, j] = pk - p0
                drev = pk * a.revenue - p0 * a.revenue_none
                out["expected_revenue"][:, j] = (
                    np.maximum(r0 + drev, 0.0) if r0 is not None else np.full(n, np.nan)
                )
                out["incremental_revenue"][:, j] = drev
                out["expected_cost"][:, j] = pk * a.cost
                out["incremental_profit"][:, j] = pk * a.value - p0 * a.value_none
                out["incremental_profit_sd"][:, j] = 0.0
                continue
            per = self.learners_[o]
            k = self.menu_.index(o) + 1
            drev = per["revenue"].predict(X) if "revenue" in per else np.full(n, np.nan)
            out["expected_revenue"][:, j] = (
                np.maximum(r0 + drev, 0.0) if r0 is not None else np.full(n, np.nan)
            )
            out["incremental_revenue"][:, j] = drev
            if fused is not None:  # it wrote the other columns
                continue
            per_bag = None
            if pooled:
                per_bag = [expit(rb[b] + r1b[b][:, col[k]]) - q0b[b] for b in range(len(bags))]
                dconv = sum(per_bag) / len(per_bag)
            elif self.learner == "t":  # its mu0 is the shared control model: predicted once
                dconv = per["conversion"].predict_mu1(X) - p0_raw
            else:
                dconv = per["conversion"].predict(X)
            pk = np.clip(p0 + dconv, 0.0, 1.0)
            sd = 0.0
            if hurdle:
                ecost = pk * np.maximum(costs[:, col[k]], 0.0)
                value = values[:, 1 + col[k]]
                dprof = pk * value - base_profit
                if per_bag is not None and len(per_bag) > 1:
                    sd = np.abs(value) * np.std(per_bag, axis=0, ddof=1)
            else:
                ecost = np.maximum(predict_booster(per["cost"], X, self.n_jobs), 0.0)
                dprof = per["profit"].predict(X)
                if self.profit == "composed":
                    dprof = dprof - ecost
            out["p_convert"][:, j] = pk
            out["p_convert_none"][:, j] = p0
            out["incremental_conversion"][:, j] = pk - p0
            out["expected_cost"][:, j] = ecost
            out["incremental_profit"][:, j] = dprof
            out["incremental_profit_sd"][:, j] = sd
        return ResponseScores(offers=list(self.offers_), **out, block=block), base_profit

    def extrapolated_offers(self) -> list[str]:
        """The scored offers whose scores come from the attribute model (too few exposures)."""
        return [e["offer_id"] for e in getattr(self, "extrapolated_", [])]

    def _extrapolated_scores(self, X: np.ndarray) -> dict[str, Any]:
        """offer id -> :class:`~offerwise.models.offer_attributes.AttributeScores` of every
        extrapolated offer for the rows of ``X``."""
        ids = self.extrapolated_offers()
        if not ids:
            return {}
        specs = {s.offer_id: s for s in self.offer_specs_}
        got = predict_attribute_model(
            self.control_boosters_,
            X,
            self.feature_names_in_,
            [specs[o] for o in ids],
            self.n_jobs,
        )
        return dict(zip(ids, got, strict=True))

    def _fit_pooled_conversion(
        self, X: np.ndarray, action: np.ndarray, conv: np.ndarray, k: int, Xc: SharedRows
    ) -> dict[str, Any]:
        """Shared-base conversion model over all arms (learner ``"ptb"``).

        ``logit P(conv | x, a) = b(x) + r0(x)`` for ``a = none`` and ``b(x) + r1(x, a)`` for an
        offer, where ``b`` is fitted on every row, ``r0`` on the control rows and ``r1`` on all
        treated rows with the offer one-hot encoded, both started from ``b`` (``init_score``), so
        the trees learn one responsiveness shared by the offers and split on the offer where it
        matters. The residuals have 7 leaves and a third of the base's rounds, as in the TB learner
        (with a single offer the two are the same model). With ``n_bags`` > 1 the three boosters are
        fitted ``n_bags`` times with different seeds (row and feature subsampling differ) and the
        predicted probabilities are averaged, which lowers the variance of the uplift (the
        difference of two noisy probabilities). Returns the boosters ``control/conv_base``,
        ``control/conv_r0``, ``pooled/conv_r1`` (bag 0) and the same names with ``@b`` for bag b.
        """
        ctrl = action == 0
        # each of the rows the bags fit on is binned once (``Xc``: the control rows, X[ctrl])
        Z1 = SharedRows(np.hstack([X[~ctrl], _onehot(action[~ctrl], k)]))
        Xs = SharedRows(X)
        out: dict[str, Any] = {}
        for bag in range(int(self.n_bags)):
            seed = self.random_state + 7 + bag_seed_offset(bag)
            n_base, n_r0, n_r1 = _bag_names(bag)
            base, raw = fit_booster_scored(
                Xs, conv, self._params("binary", seed), self.n_estimators, self.n_jobs
            )
            out[n_base] = base
            for j, (name, rows, Z) in enumerate(((n_r0, ctrl, Xc), (n_r1, ~ctrl, Z1))):
                p = self._params("binary", seed + 1 + j)
                p["num_leaves"] = POOLED_RESIDUAL_LEAVES
                out[name] = fit_booster(
                    Z, conv[rows], p, max(20, self.n_estimators // 3), init_score=raw[rows]
                )
        return out

    def _arms(self, target: str, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """E[target | converted, x, action k] (n, len(codes)) for every action code k in
        ``codes``: the arm's mean plus the pooled booster on ``[X, onehot(k)]``, every code in one
        pass (code 0, ``none``: no indicator set)."""
        levels = np.asarray(self.arm_levels_[target], dtype=np.float64)[codes]
        booster = self.control_boosters_[f"pooled/{target}"]
        return levels + predict_arms(booster, X, codes - 1, len(self.menu_), self.n_jobs)

    def predict_net_profit(self, X: Any, actions: list[str] | None = None) -> np.ndarray:
        """Expected net profit (n, A) of each action in ``actions`` (default ``none`` + menu).

        ``E[NP | x, none]`` is the control profit model; ``E[NP | x, k] = E[NP | x, none] +
        incremental_profit_k(x)``. Offers that were not modelled (skipped) get the ``none`` value,
        i.e. an assumed zero effect.
        """
        self._check_fitted()
        actions = [CONTROL, *self.menu_] if actions is None else list(actions)
        sc, base = self._predict(X)
        return net_profit_matrix(sc, base, actions)

    def predict_frame(self, X: Any, customer_ids: Any) -> pd.DataFrame:
        """:meth:`predict` as a long frame with :data:`SCORE_COLUMNS`."""
        return self.predict(X).to_frame(customer_ids)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> tuple[dict[str, Any], dict[str, lgb.Booster]]:
        """JSON metadata and the boosters by name (``control/...``, ``offer/<j>/<target>/...``)."""
        self._check_fitted()
        boosters = dict(self.control_boosters_)
        offers_meta = []
        for j, o in enumerate(self.offers_):
            if o not in self.learners_:  # extrapolated: the attribute model's boosters
                continue
            per = self.learners_[o]
            entry: dict[str, Any] = {"offer_id": o, "index": j, "targets": {}}
            for tname in [t for t in _TARGETS if t in per]:
                est = per[tname]
                entry["targets"][tname] = {
                    "class": type(est).__name__,
                    "params": {
                        k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in est.get_params().items()
                    },
                    "state": est.fitted_state(),
                    "boosters": sorted(est.boosters()),
                }
                for bname, b in est.boosters().items():
                    boosters[f"offer/{j}/{tname}/{bname}"] = b
            if "cost" in per:
                boosters[f"offer/{j}/cost"] = per["cost"]
            offers_meta.append(entry)
        meta = {
            "params": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()
            },
            "offers": offers_meta,
            "menu": list(self.menu_),
            "skipped": list(self.skipped_),
            "scored_offers": list(self.offers_),
            "extrapolated": list(getattr(self, "extrapolated_", [])),
            "offer_specs": [sp.to_dict() for sp in getattr(self, "offer_specs_", [])],
            "n_features_in": int(self.n_features_in_),
            "feature_names": self.feature_names_in_,
            "n_treated": dict(self.n_treated_),
            "n_control": int(self.n_control_),
            "arm_levels": getattr(self, "arm_levels_", None),
            "propensity": {
                "source": self.propensity_.source,
                "clip_low": self.propensity_.clip_low,
                "clip_high": self.propensity_.clip_high,
                "n_rows": self.propensity_.n_rows,
                "n_clipped": self.propensity_.n_clipped,
            },
        }
        return meta, boosters

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], boosters: dict[str, lgb.Booster]
    ) -> OfferResponseModel:
        """Inverse of :meth:`to_state`."""
        from offerwise.models.metalearners import LEARNERS

        classes = {c.__name__: c for c in LEARNERS.values()}
        params = dict(meta["params"])
        params["propensity_clip"] = tuple(params["propensity_clip"])
        obj = cls(**params)
        obj.control_boosters_ = {
            k: v for k, v in boosters.items() if k.startswith(("control/", "pooled/", ATTR_PREFIX))
        }
        learners: dict[str, dict[str, Any]] = {}
        for entry in meta["offers"]:
            j, o = entry["index"], entry["offer_id"]
            per: dict[str, Any] = {}
            for tname, spec in entry["targets"].items():
                sub = {b: boosters[f"offer/{j}/{tname}/{b}"] for b in spec["boosters"]}
                per[tname] = classes[spec["class"]].from_boosters(
                    spec["params"], sub, spec["state"]
                )
            if f"offer/{j}/cost" in boosters:
                per["cost"] = boosters[f"offer/{j}/cost"]
            learners[o] = per
        obj.learners_ = learners
        obj.offers_ = list(meta.get("scored_offers") or [e["offer_id"] for e in meta["offers"]])
        obj.menu_ = list(meta["menu"])
        obj.skipped_ = list(meta["skipped"])
        obj.extrapolated_ = list(meta.get("extrapolated") or [])
        obj.offer_specs_ = [OfferSpec.from_dict(d) for d in meta.get("offer_specs") or []]
        obj.n_features_in_ = int(meta["n_features_in"])
        obj.feature_names_in_ = meta["feature_names"]
        obj.n_treated_ = dict(meta["n_treated"])
        obj.n_control_ = int(meta["n_control"])
        if meta.get("arm_levels") is not None:
            obj.arm_levels_ = {k: list(v) for k, v in meta["arm_levels"].items()}
        obj.propensity_ = PropensityReport(**meta["propensity"])
        return obj

"""Meta-learners of a binary treatment effect over LightGBM base models.

All learners estimate the conditional average treatment effect (CATE)

    tau(x) = E[Y | X=x, T=1] - E[Y | X=x, T=0]

from arrays ``X`` (n, p) float, ``t`` (n,) in {0, 1} and ``y`` (n,) float (binary outcomes are
modelled with a logistic base model when ``outcome="binary"``). They are sklearn-style
estimators: ``__init__`` stores keyword arguments, ``fit`` sets attributes ending in ``_`` and
returns ``self``; ``predict`` before ``fit`` raises :class:`offerwise.errors.NotFittedError`.

* :class:`TLearner`: one model per arm; ``tau = mu1 - mu0``.
* :class:`XLearner` (Kuenzel et al. 2019): imputed effects ``D1 = y - mu0(x)`` on treated rows,
  ``D0 = mu1(x) - y`` on control rows, regressed to ``tau1``, ``tau0``;
  ``tau = g(x) tau0 + (1 - g(x)) tau1`` with ``g`` the propensity model.
* :class:`SharedBaseTLearner`: a base model on both arms plus a small residual booster per arm
  (``init_score`` = the base), ``tau = mu1 - mu0``.
* :class:`DRLearner` (Kennedy 2020): cross-fitted outcome models and propensities give the
  doubly-robust pseudo-outcome
  ``psi = mu1 - mu0 + t (y - mu1) / e - (1 - t) (y - mu0) / (1 - e)``, regressed on ``x``.

Every learner also exposes ``predict_outcomes(X) -> (mu0, mu1)``: its estimates of the two arm
means (for the DR-learner, the average of its cross-fitted outcome models).
LightGBM models are kept as :class:`lightgbm.Booster` objects so they can be saved as text
(:meth:`boosters` / :meth:`from_boosters`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from offerwise.errors import InputError, NotFittedError
from offerwise.models import forest
from offerwise.models.params import Params

if TYPE_CHECKING:  # pragma: no cover
    import lightgbm as lgb

__all__ = [
    "DRLearner",
    "LEARNERS",
    "SharedBaseTLearner",
    "SharedRows",
    "TLearner",
    "XLearner",
    "dr_pseudo_outcome",
    "fit_booster",
    "fit_booster_scored",
    "lgb_params",
    "make_learner",
    "predict_booster",
]


# --------------------------------------------------------------------------- base models


def lgb_params(
    objective: str,
    *,
    learning_rate: float = 0.05,
    num_leaves: int = 15,
    min_child_samples: int = 50,
    subsample: float = 0.8,
    colsample: float = 0.8,
    reg_lambda: float = 1.0,
    n_jobs: int = 2,
    seed: int = 0,
) -> dict[str, Any]:
    """LightGBM parameters used by every base model: deterministic, quiet, ``n_jobs`` threads."""
    return {
        "objective": objective,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_data_in_leaf": min_child_samples,
        "bagging_fraction": subsample,
        "bagging_freq": 1 if subsample < 1 else 0,
        "feature_fraction": colsample,
        "lambda_l2": reg_lambda,
        "num_threads": n_jobs,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


class SharedRows:
    """Rows ``X`` (n, p) that several boosters are fitted on (bags, targets): LightGBM bins them
    once and each fit sets its own label, weight and init score on the binned rows.

    The boosters are the ones separate copies would give (the bins depend on ``X`` and
    ``min_data_in_leaf`` only; a fit with another ``min_data_in_leaf`` bins again). Used by one
    thread at a time."""

    __slots__ = ("X", "_ds", "_min_leaf")

    def __init__(self, X: np.ndarray):
        self.X = np.asarray(X, dtype=np.float64)
        self._ds: lgb.Dataset | None = None
        self._min_leaf: object = None

    def __len__(self) -> int:
        return len(self.X)

    def dataset(
        self,
        params: dict[str, Any],
        y: np.ndarray,
        weight: np.ndarray | None,
        init_score: np.ndarray | None,
    ) -> lgb.Dataset:
        """The binned rows with ``y``, ``weight`` and ``init_score`` (None: none) set."""
        import lightgbm as lgb

        leaf = params.get("min_data_in_leaf")
        if self._ds is None or leaf != self._min_leaf:
            self._ds = lgb.Dataset(
                self.X, params={"verbose": -1, "max_bin": 63}, free_raw_data=False
            )
            self._min_leaf = leaf
        ds = self._ds
        ds.set_label(np.asarray(y, dtype=np.float64))
        if weight is not None and np.all(np.asarray(weight) == 1):
            weight = None  # LightGBM's setter drops unit weights without clearing the old ones
        for name, v in (("weight", weight), ("init_score", init_score)):
            if v is not None:
                getattr(ds, f"set_{name}")(np.asarray(v, dtype=np.float64))
            elif getattr(ds, name, None) is not None:  # a setter's None keeps the binned value
                ds.set_field(name, None)
                setattr(ds, name, None)
        return ds


def _train_plain(
    X: np.ndarray | SharedRows,
    y: np.ndarray,
    p: dict[str, Any],
    n_estimators: int,
    init_score: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    keep_training: bool = False,
) -> lgb.Booster:
    """``lgb.train(p, Dataset(X, y, ...), max(1, n_estimators) rounds)``, on the binned
    :class:`SharedRows` where ``X`` is one."""
    import lightgbm as lgb

    rows = X if isinstance(X, SharedRows) else SharedRows(X)
    ds = rows.dataset(p, y, weight, init_score)
    rounds = max(1, int(n_estimators))
    return lgb.train(p, ds, num_boost_round=rounds, keep_training_booster=keep_training)


def _train(
    X: np.ndarray | SharedRows,
    y: np.ndarray,
    params: dict[str, Any],
    n_estimators: int,
    weight: np.ndarray | None,
    init_score: np.ndarray | None,
    keep_training: bool,
) -> tuple[lgb.Booster, str]:
    """The trained booster and its objective (``regression`` where ``y`` has one class only)."""
    p = dict(params)
    if len(y) * float(p.get("bagging_fraction", 1.0)) < 2:  # bagging would draw no row at all
        p["bagging_fraction"], p["bagging_freq"] = 1.0, 0
    if p["objective"] == "binary":
        ybar = float(np.mean(y)) if len(y) else 0.5
        if ybar in (0.0, 1.0):  # one class only: a constant logit
            p["objective"] = "regression"
            y = np.full(len(y), ybar)
            p["boost_from_average"] = True
            n_estimators = 1
    b = _train_plain(X, y, p, n_estimators, init_score, weight, keep_training)
    return b, str(p["objective"])


def fit_booster(
    X: np.ndarray | SharedRows,
    y: np.ndarray,
    params: dict[str, Any],
    n_estimators: int,
    weight: np.ndarray | None = None,
    init_score: np.ndarray | None = None,
) -> lgb.Booster:
    """Train one LightGBM booster on ``X`` (n, p) and ``y`` (n,) for ``n_estimators`` rounds.

    With fewer than 2 rows, or a constant target, the booster is trained on the target mean
    only (LightGBM still returns a valid model that predicts the constant).
    """
    return _train(X, y, params, n_estimators, weight, init_score, keep_training=False)[0]


#: Largest training probability turned back into a logit by :func:`fit_booster_scored`.
_MAX_P = 1 - 1e-6


def fit_booster_scored(
    X: np.ndarray | SharedRows,
    y: np.ndarray,
    params: dict[str, Any],
    n_estimators: int,
    n_jobs: int = 2,
    init_score: np.ndarray | None = None,
) -> tuple[lgb.Booster, np.ndarray]:
    """:func:`fit_booster` and the raw score (n,) of every training row: the booster's sum plus
    ``init_score``, i.e. ``predict_booster(b, X, raw=True) + init_score``.

    The scores are LightGBM's own training scores (kept for boosting, bagged-out rows included),
    so the rows are not predicted a second time. A binary objective's probabilities p are turned
    back into logits, ``log p - log1p(-p)``, whose error is about 1e-16 / (1 - p): the rows are
    predicted instead when some p exceeds :data:`_MAX_P` (a logit above ~13.8; the error stays
    below ~1e-10), and for other objectives.
    """
    b, objective = _train(X, y, params, n_estimators, None, init_score, keep_training=True)
    got: list[np.ndarray] = []

    def grab(preds: np.ndarray, _data: object) -> tuple[str, float, bool]:
        got.append(np.array(preds, dtype=np.float64, copy=True))
        return "scores", 0.0, True

    b.eval_train(feval=grab)
    b.model_from_string(b.model_to_string()).free_dataset()  # as lgb.train does: drop the data
    s = got[0] if got and len(got[0]) == len(X) else None
    if s is not None and objective == "binary" and "sigmoid" not in params:
        s = np.log(s) - np.log1p(-s) if 0 < s.min() and s.max() <= _MAX_P else None
    elif objective != "regression":
        s = None
    if s is None:
        s = predict_booster(b, X.X if isinstance(X, SharedRows) else X, n_jobs, raw=True)
        if init_score is not None:
            s = s + np.asarray(init_score, dtype=np.float64)
    return b, s


def predict_booster(
    booster: lgb.Booster, X: np.ndarray, n_jobs: int = 2, raw: bool = False
) -> np.ndarray:
    """Predictions (n,) of ``booster`` on ``X`` (n, p) with ``n_jobs`` threads (``raw``: logits);
    LightGBM's values, by the compiled kernels of :mod:`offerwise.models.forest` where they
    apply."""
    return forest.predict(booster, X, n_jobs, raw=raw)


def dr_pseudo_outcome(
    y: np.ndarray, t: np.ndarray, mu0: np.ndarray, mu1: np.ndarray, e: np.ndarray
) -> np.ndarray:
    """Doubly-robust pseudo-outcome ``mu1 - mu0 + t (y - mu1)/e - (1 - t)(y - mu0)/(1 - e)``.

    All arguments are (n,) arrays; ``e`` = P(T=1 | x) must lie strictly inside (0, 1).
    """
    return mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)


def _check_xty(X: Any, t: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(t).astype(np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (rows, features); got shape {X.shape}")
    if not (len(X) == len(t) == len(y)):
        raise InputError(f"X, t and y must have the same rows; got {len(X)}, {len(t)}, {len(y)}")
    bad = ~np.isin(t, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"treatment t must be 0/1; {int(bad.sum())} rows are not, e.g. {t[bad][0]}"
        )
    n1 = int(t.sum())
    if n1 == 0:
        raise InputError("no treated rows (t == 1): cannot estimate a treatment effect")
    if n1 == len(t):
        raise InputError("no control rows (t == 0): cannot estimate a treatment effect")
    if not np.isfinite(y).all():
        raise InputError(f"outcome y has {int((~np.isfinite(y)).sum())} missing or infinite values")
    return X, t, y


def _check_propensity(e: Any, n: int, clip: tuple[float, float]) -> tuple[np.ndarray, int]:
    """Validate logged propensities (n,) in (0, 1]; return them clipped and the clipped count."""
    e = np.asarray(e, dtype=np.float64).ravel()
    if len(e) != n:
        raise InputError(f"propensity must have one value per row; got {len(e)} for {n} rows")
    if not np.isfinite(e).all():
        raise InputError(f"propensity has {int((~np.isfinite(e)).sum())} missing values")
    if (e <= 0).any() or (e > 1).any():
        bad = e[(e <= 0) | (e > 1)]
        raise InputError(
            f"propensity must lie in (0, 1]; {len(bad)} rows do not, e.g. {bad[0]!r} "
            "(a logged propensity of 0 means the logged offer could not have been chosen)"
        )
    lo, hi = clip
    n_clipped = int(((e < lo) | (e > hi)).sum())
    return np.clip(e, lo, hi), n_clipped


class _BaseLearner(Params):
    """Shared constructor arguments and helpers of the meta-learners."""

    _booster_names: tuple[str, ...] = ()
    # set by fit (annotations only: `hasattr(self, "boosters_")` is False until then)
    n_features_in_: int
    n_clipped_: int
    boosters_: dict[str, lgb.Booster]

    def __init__(
        self,
        *,
        outcome: str = "continuous",
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        n_jobs: int = 2,
        random_state: int = 0,
        propensity_clip: tuple[float, float] = (0.01, 0.99),
    ):
        self.outcome = outcome
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.propensity_clip = propensity_clip

    def fit(self, X: Any, t: Any, y: Any, propensity: Any = None) -> _BaseLearner:
        """Fit on ``X`` (n, p), ``t`` (n,) in {0, 1} and ``y`` (n,); returns ``self``."""
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------
    def _params(self, objective: str, offset: int = 0) -> dict[str, Any]:
        return lgb_params(
            objective,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            colsample=self.colsample,
            reg_lambda=self.reg_lambda,
            n_jobs=self.n_jobs,
            seed=int(self.random_state) + offset,
        )

    def _outcome_objective(self) -> str:
        if self.outcome not in ("continuous", "binary"):
            raise InputError(f"outcome must be 'continuous' or 'binary'; got {self.outcome!r}")
        return "binary" if self.outcome == "binary" else "regression"

    def _pred(self, booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
        return predict_booster(booster, X, self.n_jobs)

    def _check_fitted(self) -> None:
        if not hasattr(self, "boosters_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, t, y) first"
            )

    def _check_X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X must have {self.n_features_in_} feature columns; got shape {X.shape}"
            )
        return X

    # -- persistence --------------------------------------------------------------------
    def boosters(self) -> dict[str, lgb.Booster]:
        """The fitted LightGBM boosters by name (save each with ``booster.save_model``)."""
        self._check_fitted()
        return dict(self.boosters_)

    def fitted_state(self) -> dict[str, Any]:
        """JSON-serialisable fitted attributes besides the boosters."""
        self._check_fitted()
        return {"n_features_in_": int(self.n_features_in_), "n_clipped_": int(self.n_clipped_)}

    @classmethod
    def from_boosters(
        cls, params: dict[str, Any], boosters: dict[str, lgb.Booster], state: dict[str, Any]
    ) -> _BaseLearner:
        """Rebuild a fitted learner from its ``get_params()``, boosters and ``fitted_state()``."""
        if "propensity_clip" in params:
            params = {**params, "propensity_clip": tuple(params["propensity_clip"])}
        obj = cls(**params)
        missing = [n for n in obj._required_boosters() if n not in boosters]
        if missing:
            raise InputError(f"{cls.__name__}: saved model lacks boosters {missing}")
        obj.boosters_ = dict(boosters)
        for k, v in state.items():
            setattr(obj, k, v)
        return obj

    def _required_boosters(self) -> tuple[str, ...]:
        return self._booster_names

    # -- API ----------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        """CATE estimates (n,) for the rows of ``X`` (n, p)."""
        raise NotImplementedError

    def predict_outcomes(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Estimated arm means ``(mu0, mu1)``, each (n,)."""
        X = self._check_X(X)
        return self._pred(self.boosters_["mu0"], X), self._pred(self.boosters_["mu1"], X)


class TLearner(_BaseLearner):
    """Two-model learner: ``tau(x) = mu1(x) - mu0(x)``, one LightGBM model per arm.

    ``propensity`` is accepted for a uniform API and ignored.
    """

    _booster_names = ("mu0", "mu1")

    def fit(self, X: Any, t: Any, y: Any, propensity: Any = None) -> TLearner:
        X, t, y = _check_xty(X, t, y)
        obj = self._outcome_objective()
        c, tr = t == 0, t == 1
        self.boosters_ = {
            "mu0": fit_booster(X[c], y[c], self._params(obj, 0), self.n_estimators),
            "mu1": fit_booster(X[tr], y[tr], self._params(obj, 1), self.n_estimators),
        }
        self.n_features_in_ = X.shape[1]
        self.n_clipped_ = 0
        return self

    def predict(self, X: Any) -> np.ndarray:
        mu0, mu1 = self.predict_outcomes(X)
        return mu1 - mu0

    def predict_mu1(self, X: Any) -> np.ndarray:
        """The treated arm's mean ``mu1(x)`` (n,) alone (when ``mu0`` is known already)."""
        return self._pred(self.boosters_["mu1"], self._check_X(X))


class XLearner(_BaseLearner):
    """X-learner: imputed effects regressed per arm, blended by the propensity model ``g(x)``.

    ``g`` is a LightGBM classifier of ``t`` on ``x`` (or, when logged propensities are given, a
    regression of them on ``x``), clipped to ``propensity_clip``.
    """

    _booster_names = ("mu0", "mu1", "tau0", "tau1", "g")

    def fit(self, X: Any, t: Any, y: Any, propensity: Any = None) -> XLearner:
        X, t, y = _check_xty(X, t, y)
        obj = self._outcome_objective()
        c, tr = t == 0, t == 1
        mu0 = fit_booster(X[c], y[c], self._params(obj, 0), self.n_estimators)
        mu1 = fit_booster(X[tr], y[tr], self._params(obj, 1), self.n_estimators)
        d1 = y[tr] - self._pred(mu0, X[tr])
        d0 = self._pred(mu1, X[c]) - y[c]
        reg = self._params("regression", 2)
        tau1 = fit_booster(X[tr], d1, reg, self.n_estimators)
        tau0 = fit_booster(X[c], d0, self._params("regression", 3), self.n_estimators)
        n_clipped = 0
        if propensity is not None:
            e, n_clipped = _check_propensity(propensity, len(t), self.propensity_clip)
            g = fit_booster(X, e, self._params("regression", 4), max(20, self.n_estimators // 3))
        else:
            g = fit_booster(X, t, self._params("binary", 4), max(20, self.n_estimators // 3))
        self.boosters_ = {"mu0": mu0, "mu1": mu1, "tau0": tau0, "tau1": tau1, "g": g}
        self.n_features_in_ = X.shape[1]
        self.n_clipped_ = n_clipped
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = self._check_X(X)
        lo, hi = self.propensity_clip
        g = np.clip(self._pred(self.boosters_["g"], X), lo, hi)
        return g * self._pred(self.boosters_["tau0"], X) + (1 - g) * self._pred(
            self.boosters_["tau1"], X
        )


class DRLearner(_BaseLearner):
    """Doubly-robust learner with ``n_folds``-fold cross-fitting.

    Per fold, outcome models ``mu0``, ``mu1`` (and, without logged propensities, a propensity
    classifier) are fitted on the other folds and predict the held fold; the pseudo-outcome
    :func:`dr_pseudo_outcome` (propensities clipped to ``propensity_clip``) is regressed on
    ``x`` by the final model ``tau``. ``n_clipped_`` counts rows whose propensity was clipped.
    """

    def __init__(
        self,
        *,
        n_folds: int = 3,
        outcome: str = "continuous",
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        n_jobs: int = 2,
        random_state: int = 0,
        propensity_clip: tuple[float, float] = (0.01, 0.99),
    ):
        super().__init__(
            outcome=outcome,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            subsample=subsample,
            colsample=colsample,
            reg_lambda=reg_lambda,
            n_jobs=n_jobs,
            random_state=random_state,
            propensity_clip=propensity_clip,
        )
        self.n_folds = n_folds

    def _required_boosters(self) -> tuple[str, ...]:
        names = ["tau"]
        for f in range(self.n_folds):
            names += [f"mu0_{f}", f"mu1_{f}"]
        return tuple(names)

    def fit(self, X: Any, t: Any, y: Any, propensity: Any = None) -> DRLearner:
        X, t, y = _check_xty(X, t, y)
        if self.n_folds < 2:
            raise InputError(f"n_folds must be at least 2; got {self.n_folds}")
        obj = self._outcome_objective()
        lo, hi = self.propensity_clip
        logged = propensity is not None
        if logged:
            e_all, _ = _check_propensity(propensity, len(t), (0.0, 1.0))
        rng = np.random.default_rng(self.random_state)
        # stratified fold assignment: each fold gets its share of treated and control rows
        fold = np.empty(len(t), dtype=np.int64)
        for arm in (0.0, 1.0):
            idx = np.flatnonzero(t == arm)
            fold[idx] = rng.permutation(len(idx)) % self.n_folds
        mu0_oof = np.empty(len(t))
        mu1_oof = np.empty(len(t))
        e_oof = np.empty(len(t))
        boosters: dict[str, Any] = {}
        for f in range(self.n_folds):
            tr_idx, te = fold != f, fold == f
            c, tr = tr_idx & (t == 0), tr_idx & (t == 1)
            m0 = fit_booster(X[c], y[c], self._params(obj, 10 * f), self.n_estimators)
            m1 = fit_booster(X[tr], y[tr], self._params(obj, 10 * f + 1), self.n_estimators)
            mu0_oof[te] = self._pred(m0, X[te])
            mu1_oof[te] = self._pred(m1, X[te])
            if not logged:
                g = fit_booster(
                    X[tr_idx],
                    t[tr_idx],
                    self._params("binary", 10 * f + 2),
                    max(20, self.n_estimators // 3),
                )
                e_oof[te] = self._pred(g, X[te])
            boosters[f"mu0_{f}"], boosters[f"mu1_{f}"] = m0, m1
        e_raw = e_all if logged else e_oof
        self.n_clipped_ = int(((e_raw < lo) | (e_raw > hi)).sum())
        e = np.clip(e_raw, lo, hi)
        psi = dr_pseudo_outcome(y, t, mu0_oof, mu1_oof, e)
        boosters["tau"] = fit_booster(X, psi, self._params("regression", 7), self.n_estimators)
        self.boosters_ = boosters
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = self._check_X(X)
        return self._pred(self.boosters_["tau"], X)

    def predict_outcomes(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_X(X)
        k = self.n_folds
        # sum() of arrays is an array (typeshed adds Literal[0] for an empty iterable; k >= 2)
        mu0 = cast(np.ndarray, sum(self._pred(self.boosters_[f"mu0_{f}"], X) for f in range(k)))
        mu1 = cast(np.ndarray, sum(self._pred(self.boosters_[f"mu1_{f}"], X) for f in range(k)))
        return mu0 / k, mu1 / k


class SharedBaseTLearner(_BaseLearner):
    """T-learner on a shared base: ``mu_a(x) = link(b(x) + r_a(x))`` for arms a in {0, 1}.

    ``b`` is fitted on all rows (both arms); each arm's residual ``r_a`` is a small booster
    (``residual_estimators`` rounds, 7 leaves) started from ``b`` (LightGBM ``init_score``) on
    that arm's rows. Both arms share the base's errors, so ``tau = mu1 - mu0`` is less noisy
    than with two independent models; ``link`` is the logistic function for binary outcomes.
    With ``n_bags`` > 1 the three boosters are fitted ``n_bags`` times with different seeds (row
    and feature subsampling differ; boosters ``base@b``, ``r0@b``, ``r1@b``) and ``mu0``, ``mu1``
    are the means over the bags (a variance reduction; ``n_bags`` times the fitting time).
    """

    _booster_names = ("base", "r0", "r1")

    def __init__(
        self,
        *,
        residual_estimators: int = 60,
        n_bags: int = 1,
        outcome: str = "continuous",
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        n_jobs: int = 2,
        random_state: int = 0,
        propensity_clip: tuple[float, float] = (0.01, 0.99),
    ):
        super().__init__(
            outcome=outcome,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            subsample=subsample,
            colsample=colsample,
            reg_lambda=reg_lambda,
            n_jobs=n_jobs,
            random_state=random_state,
            propensity_clip=propensity_clip,
        )
        self.residual_estimators = residual_estimators
        self.n_bags = n_bags

    def _required_boosters(self) -> tuple[str, ...]:
        return tuple(
            f"{name}{bag_suffix(b)}"
            for b in range(int(self.n_bags))
            for name in self._booster_names
        )

    def fit(self, X: Any, t: Any, y: Any, propensity: Any = None) -> SharedBaseTLearner:
        X, t, y = _check_xty(X, t, y)
        if int(self.n_bags) < 1:
            raise InputError(f"n_bags must be at least 1; got {self.n_bags}")
        obj = self._outcome_objective()
        boosters = {}
        Xs = SharedRows(X)  # the bags' rows, binned once
        arms = {arm: (t == arm, SharedRows(X[t == arm])) for arm in (0, 1)}
        for bag in range(int(self.n_bags)):
            sfx, off = bag_suffix(bag), bag_seed_offset(bag)
            base, raw = fit_booster_scored(
                Xs, y, self._params(obj, off), self.n_estimators, self.n_jobs
            )
            boosters[f"base{sfx}"] = base
            for arm, (rows, Xa) in arms.items():
                p = self._params(obj, off + 1 + arm)
                p["num_leaves"] = 7
                boosters[f"r{arm}{sfx}"] = _train_plain(
                    Xa, y[rows], p, self.residual_estimators, raw[rows]
                )
        self.boosters_ = boosters
        self.n_features_in_ = X.shape[1]
        self.n_clipped_ = 0
        return self

    def _raw(self, name: str, X: np.ndarray) -> np.ndarray:
        return predict_booster(self.boosters_[name], X, self.n_jobs, raw=True)

    def predict_outcomes(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mu0, mu1), each (n,): the mean over the bags of ``link(b + r_a)``."""
        X = self._check_X(X)
        n_bags = int(self.n_bags)
        mu0, mu1 = np.zeros(len(X)), np.zeros(len(X))
        for bag in range(n_bags):
            sfx = bag_suffix(bag)
            b = self._raw(f"base{sfx}", X)
            z0, z1 = b + self._raw(f"r0{sfx}", X), b + self._raw(f"r1{sfx}", X)
            if self.outcome == "binary":
                z0, z1 = 1.0 / (1.0 + np.exp(-z0)), 1.0 / (1.0 + np.exp(-z1))
            mu0 += z0 / n_bags
            mu1 += z1 / n_bags
        return mu0, mu1

    def predict(self, X: Any) -> np.ndarray:
        """tau (n,) = mu1 - mu0; for a continuous outcome (identity link) the base cancels: the
        mean over the bags of ``r1 - r0``, without predicting the base."""
        if self.outcome == "binary":
            mu0, mu1 = self.predict_outcomes(X)
            return mu1 - mu0
        X = self._check_X(X)
        n_bags = int(self.n_bags)
        tau = np.zeros(len(X))
        for bag in range(n_bags):
            sfx = bag_suffix(bag)
            tau += (self._raw(f"r1{sfx}", X) - self._raw(f"r0{sfx}", X)) / n_bags
        return tau


def bag_suffix(bag: int) -> str:
    """Booster-name suffix of seed bag ``bag`` (bag 0 keeps the plain names)."""
    return "" if bag == 0 else f"@{bag}"


def bag_seed_offset(bag: int) -> int:
    """Added to every LightGBM seed of seed bag ``bag`` (bag 0 keeps the one-bag seeds)."""
    return 1000 * bag


LEARNERS: dict[str, type[_BaseLearner]] = {
    "t": TLearner,
    "x": XLearner,
    "dr": DRLearner,
    "tb": SharedBaseTLearner,
}


def make_learner(name: str, **kwargs: Any) -> _BaseLearner:
    """Learner by short name: ``"t"``, ``"x"``, ``"dr"`` or ``"tb"`` (shared-base T)."""
    try:
        cls = LEARNERS[name.lower()]
    except KeyError:
        raise InputError(f"unknown learner {name!r}; choose one of {sorted(LEARNERS)}") from None
    return cls(**kwargs)

"""Meta-learners: effect recovery, estimator conformance, bad inputs, persistence."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone

from offerwise.errors import InputError, NotFittedError
from offerwise.models.metalearners import (
    DRLearner,
    SharedBaseTLearner,
    TLearner,
    XLearner,
    dr_pseudo_outcome,
    make_learner,
)

LEARNERS = [TLearner, XLearner, DRLearner, SharedBaseTLearner]
FAST = {"n_estimators": 40, "learning_rate": 0.1, "n_jobs": 1}


def _data(n: int = 3000, seed: int = 0, binary: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    e = 1 / (1 + np.exp(-0.8 * X[:, 1]))  # confounded: x1 drives treatment and outcome
    t = (rng.random(n) < e).astype(int)
    if binary:
        base = 1 / (1 + np.exp(-(X[:, 1] - 0.5)))
        tau = 0.3 / (1 + np.exp(-2 * X[:, 0]))
        y = (rng.random(n) < np.clip(base + t * tau, 0, 1)).astype(float)
    else:
        tau = 1.0 + 2.0 * X[:, 0]
        y = X[:, 1] + X[:, 2] + t * tau + rng.normal(size=n)
    return X, t, y, tau, e


@pytest.mark.parametrize("cls", LEARNERS)
def test_recovers_continuous_effect(cls):
    X, t, y, tau, e = _data()
    m = cls(**FAST).fit(X, t, y)
    rho = spearmanr(m.predict(X), tau)[0]
    assert rho >= 0.8, rho
    # the average effect is about right (true mean 1.0)
    assert abs(m.predict(X).mean() - tau.mean()) < 0.35


@pytest.mark.parametrize("cls", LEARNERS)
def test_recovers_binary_effect(cls):
    X, t, y, tau, e = _data(n=4000, binary=True)
    m = cls(outcome="binary", min_child_samples=200, **FAST).fit(X, t, y, propensity=e)
    assert spearmanr(m.predict(X), tau)[0] >= 0.5
    mu0, mu1 = m.predict_outcomes(X)
    assert ((mu0 >= 0) & (mu0 <= 1)).all() and ((mu1 >= 0) & (mu1 <= 1)).all()


@pytest.mark.parametrize("cls", LEARNERS)
def test_conformance(cls):
    X, t, y, *_ = _data(n=600)
    m = cls(**FAST)
    with pytest.raises(NotFittedError):
        m.predict(X)
    assert m.fit(X, t, y) is m
    p1 = m.predict(X)
    p2 = cls(**FAST).fit(X, t, y).predict(X)
    np.testing.assert_array_equal(p1, p2)  # deterministic with the same seed
    p3 = cls(**{**FAST, "random_state": 7}).fit(X, t, y).predict(X)
    assert not np.array_equal(p1, p3)  # the seed is used
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "boosters_")
    with pytest.raises(InputError, match="feature columns"):
        m.predict(X[:, :2])


@pytest.mark.parametrize("cls", LEARNERS)
def test_booster_round_trip(cls):
    X, t, y, *_ = _data(n=600)
    m = cls(**FAST).fit(X, t, y)
    texts = {k: b.model_to_string() for k, b in m.boosters().items()}
    again = cls.from_boosters(
        m.get_params(), {k: lgb.Booster(model_str=s) for k, s in texts.items()}, m.fitted_state()
    )
    np.testing.assert_allclose(again.predict(X), m.predict(X), rtol=0, atol=1e-12)


def test_bad_inputs():
    X, t, y, *_ = _data(n=300)
    with pytest.raises(InputError, match="0/1"):
        TLearner(**FAST).fit(X, t * 2, y)
    with pytest.raises(InputError, match="no treated rows"):
        TLearner(**FAST).fit(X, np.zeros_like(t), y)
    with pytest.raises(InputError, match="no control rows"):
        XLearner(**FAST).fit(X, np.ones_like(t), y)
    with pytest.raises(InputError, match="same rows"):
        TLearner(**FAST).fit(X[:-1], t, y)
    p = np.full(len(t), 0.5)
    p[3] = 0.0
    with pytest.raises(InputError, match="propensity of 0"):
        DRLearner(**FAST).fit(X, t, y, propensity=p)
    with pytest.raises(InputError, match="unknown learner"):
        make_learner("s")
    with pytest.raises(InputError, match="n_folds"):
        DRLearner(n_folds=1, **FAST).fit(X, t, y)


def test_dr_counts_clipped_propensities():
    X, t, y, *_ = _data(n=600)
    p = np.where(np.arange(len(t)) % 10 == 0, 0.001, 0.5)
    m = DRLearner(**FAST).fit(X, t, y, propensity=p)
    assert m.n_clipped_ == int((p < 0.01).sum())


def test_dr_pseudo_outcome_is_unbiased_under_known_propensity():
    # with correct propensities and zero outcome models the pseudo-outcome is the IPW estimate
    rng = np.random.default_rng(3)
    n = 200_000
    e = rng.uniform(0.2, 0.8, n)
    t = (rng.random(n) < e).astype(float)
    y = 2.0 + 1.5 * t + rng.normal(size=n)
    psi = dr_pseudo_outcome(y, t, np.zeros(n), np.zeros(n), e)
    assert abs(psi.mean() - 1.5) < 0.05


def test_shared_base_bags_average_seeds_and_lower_variance():
    X, t, y, tau, e = _data(n=3000, binary=True)
    one = [
        SharedBaseTLearner(outcome="binary", random_state=s, **FAST).fit(X, t, y) for s in range(4)
    ]
    three = [
        SharedBaseTLearner(outcome="binary", n_bags=3, random_state=s, **FAST).fit(X, t, y)
        for s in range(4)
    ]
    assert sorted(three[0].boosters()) == sorted(
        f"{n}{sfx}" for n in ("base", "r0", "r1") for sfx in ("", "@1", "@2")
    )
    # bag 0 of a bagged model is the one-bag model with the same seed
    b0 = SharedBaseTLearner.from_boosters(
        {**three[0].get_params(), "n_bags": 1},
        {k: v for k, v in three[0].boosters().items() if "@" not in k},
        three[0].fitted_state(),
    )
    np.testing.assert_allclose(b0.predict(X), one[0].predict(X), rtol=0, atol=1e-12)

    # averaging seed bags lowers the spread of the effect estimates across model seeds
    def spread(ms: list) -> float:
        return float(np.mean(np.std([m.predict(X) for m in ms], axis=0)))

    assert spread(three) < 0.8 * spread(one), (spread(three), spread(one))
    assert spearmanr(three[0].predict(X), tau)[0] >= 0.5
    with pytest.raises(InputError, match="n_bags"):
        SharedBaseTLearner(n_bags=0, **FAST).fit(X, t, y)
    with pytest.raises(InputError, match="lacks boosters"):
        SharedBaseTLearner.from_boosters(
            three[0].get_params(), one[0].boosters(), one[0].fitted_state()
        )


def test_shared_base_continuous_effect_skips_the_base():
    """With the identity link the base cancels in mu1 - mu0: predict() reads only the residuals
    and still equals the difference of the predicted outcomes."""
    X, t, y, tau, e = _data(n=2000)
    m = SharedBaseTLearner(n_bags=2, **FAST).fit(X, t, y)
    mu0, mu1 = m.predict_outcomes(X)
    np.testing.assert_allclose(m.predict(X), mu1 - mu0, rtol=0, atol=1e-9)
    assert spearmanr(m.predict(X), tau)[0] >= 0.5


@pytest.mark.parametrize(
    ("objective", "constant", "with_init"),
    [
        ("binary", False, False),
        ("binary", False, True),
        ("regression", False, True),
        ("binary", True, False),
        ("binary", False, "extreme"),  # logits near 20: 1 - p has lost its digits
    ],
)
def test_fit_booster_scored_returns_the_training_rows_raw_scores(objective, constant, with_init):
    """The training scores LightGBM keeps (bagged-out rows included) are the raw predictions of
    the rows plus their init score: a fit need not predict its own rows again."""
    from offerwise.models.metalearners import fit_booster, fit_booster_scored, lgb_params

    X, t, y, _, _ = _data(n=2500, seed=3, binary=objective == "binary")
    if constant:
        y = np.zeros_like(y)  # one class: fitted as a constant regression
    init = np.random.default_rng(1).normal(scale=0.5, size=len(y)) if with_init else None
    if with_init == "extreme":  # log p - log1p(-p) would be off by ~1e-16 e^20 = 5e-8 here
        init = np.where(np.arange(len(y)) % 2 == 0, 20.0, 0.0)
    params = lgb_params(
        objective, learning_rate=0.1, num_leaves=7, min_child_samples=20, n_jobs=1, seed=5
    )
    b, raw = fit_booster_scored(X, y, params, 40, 1, init_score=init)
    want = b.predict(X, raw_score=True) + (0.0 if init is None else init)
    np.testing.assert_allclose(raw, want, rtol=0, atol=1e-9)
    # the same booster as fit_booster's (the same trees)
    same = fit_booster(X, y, params, 40, init_score=init)
    assert same.model_to_string() == b.model_to_string()


def test_shared_rows_fit_the_boosters_separate_copies_fit():
    """Boosters fitted in turn on one SharedRows (other labels, init scores, weights, seeds, a
    one-class label, another min rows per leaf) are the boosters of separate Datasets."""
    from offerwise.models.metalearners import (
        SharedRows,
        fit_booster,
        fit_booster_scored,
        lgb_params,
    )

    X, t, y, _, _ = _data(n=2500, seed=4, binary=True)
    rng = np.random.default_rng(2)
    init = rng.normal(scale=0.5, size=len(y))
    w = rng.uniform(0.5, 2.0, size=len(y))
    yr = X[:, 0] + rng.normal(size=len(y))
    shared = SharedRows(X)
    fits = [  # (objective, label, init score, weight, seed, min rows per leaf)
        ("binary", y, None, None, 1, 20),
        ("binary", y, init, None, 2, 20),
        ("regression", yr, None, w, 3, 20),
        ("binary", y, None, None, 4, 20),  # init score and weight cleared again
        ("binary", np.zeros_like(y), None, None, 5, 20),
        ("regression", yr, init, None, 6, 60),  # rebinned
        ("binary", y, None, np.ones_like(y), 7, 60),
    ]
    for objective, label, i, wt, seed, leaf in fits:
        params = lgb_params(
            objective, learning_rate=0.1, num_leaves=7, min_child_samples=leaf, n_jobs=1, seed=seed
        )
        got = fit_booster(shared, label, params, 25, weight=wt, init_score=i)
        want = fit_booster(X, label, params, 25, weight=wt, init_score=i)
        assert got.model_to_string() == want.model_to_string(), (objective, seed)
    b, raw = fit_booster_scored(shared, y, params, 25, 1, init_score=init)
    np.testing.assert_allclose(raw, b.predict(X, raw_score=True) + init, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2])
def test_fit_booster_with_bagging_on_one_or_two_rows(n: int) -> None:
    """Bagging 80 % of one row draws none (LightGBM: num_data > 0 failed); too few rows to bag
    are fitted whole."""
    from offerwise.models.metalearners import fit_booster

    params = {"objective": "regression", "bagging_fraction": 0.8, "bagging_freq": 1, "verbose": -1}
    b = fit_booster(np.ones((n, 3)), np.arange(n, dtype=float), params, 5)
    assert b.predict(np.ones((1, 3))) == pytest.approx([np.arange(n).mean()])

"""Estimated propensities: the out-of-fold classifier blended with the arm frequencies."""

from __future__ import annotations

import numpy as np

from offerwise.models.propensity import estimate_propensities, shrink_to_frequencies


def _arms(n: int, targeted: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """4 arms; drawn uniformly (randomized) or with P(arm 3) rising steeply with x[:, 0]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    if not targeted:
        return X, rng.integers(0, 4, n)
    logits = np.zeros((n, 4))
    logits[:, 3] = 2.5 * X[:, 0]
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return X, np.array([rng.choice(4, p=p) for p in P])


def test_randomized_logs_get_the_arm_frequencies_not_the_classifier_noise() -> None:
    X, a = _arms(3000, targeted=False, seed=1)
    P = estimate_propensities(X, a, 4, seed=1, n_jobs=1)
    own = P[np.arange(len(a)), a]
    freq = np.bincount(a, minlength=4) / len(a)
    # the classifier alone spreads them from below 0.1 to above 0.5 (true: 0.25 for every row)
    assert np.abs(own - freq[a]).max() < 0.05
    assert abs(float((1 / own).mean()) - 4.0) < 0.1
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)


def test_targeted_logs_keep_what_the_features_predict() -> None:
    X, a = _arms(3000, targeted=True, seed=2)
    P = estimate_propensities(X, a, 4, seed=2, n_jobs=1)
    hi, lo = X[:, 0] > 1, X[:, 0] < -1
    assert P[hi, 3].mean() > 0.6 and P[lo, 3].mean() < 0.1


def test_the_blend_minimises_the_out_of_fold_log_loss() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 500)
    freq = np.bincount(a) / len(a)
    noise = rng.uniform(0.05, 0.95, 500)
    P = np.column_stack([1 - noise, noise])
    out = shrink_to_frequencies(P, a, freq)  # pure noise: λ = 0
    np.testing.assert_allclose(out, np.tile(freq, (500, 1)), atol=0.02)
    perfect = np.column_stack([np.where(a == 0, 0.9, 0.1), np.where(a == 1, 0.9, 0.1)])
    np.testing.assert_allclose(shrink_to_frequencies(perfect, a, freq), perfect)  # λ = 1
    assert shrink_to_frequencies(np.empty((0, 2)), np.empty(0, dtype=int), freq).shape == (0, 2)

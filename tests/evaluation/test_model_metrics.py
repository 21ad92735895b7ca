"""roc_auc: the Mann-Whitney AUC against scikit-learn's, with ties and one-class input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from offerwise.evaluation.model_metrics import roc_auc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(500) < 0.3
    s = np.round(rng.normal(size=500) + y, 1)  # rounded: many tied scores
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert roc_auc(y, -s) == pytest.approx(1 - roc_auc(y, s), abs=1e-12)


def test_roc_auc_edges():
    assert roc_auc(np.array([0, 1]), np.array([0.2, 0.9])) == 1.0
    assert roc_auc(np.array([0, 1, 0, 1]), np.zeros(4)) == 0.5  # all tied
    assert np.isnan(roc_auc(np.ones(3), np.arange(3.0)))

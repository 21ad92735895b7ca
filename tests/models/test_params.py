"""Params: the constructor-argument protocol scikit-learn's clone and searches read."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from offerwise.models.metalearners import DRLearner, SharedBaseTLearner
from offerwise.models.response import OfferResponseModel


def test_get_set_params_and_clone():
    m = SharedBaseTLearner(num_leaves=7, random_state=3)
    p = m.get_params()
    assert p["num_leaves"] == 7 and p["random_state"] == 3 and p["outcome"] == "continuous"
    assert m.set_params(num_leaves=9) is m and m.num_leaves == 9
    c = clone(m)
    assert type(c) is SharedBaseTLearner and c is not m and c.get_params() == m.get_params()
    d = DRLearner(n_folds=4)
    assert d.get_params()["n_folds"] == 4 and "min_child_samples" in d.get_params()
    r = OfferResponseModel(learner="x", min_treated=10)
    assert clone(r).get_params() == r.get_params()


def test_unknown_param_named():
    with pytest.raises(ValueError, match="invalid parameter 'leaves' for SharedBaseTLearner"):
        SharedBaseTLearner().set_params(leaves=3)


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(SharedBaseTLearner()) == "SharedBaseTLearner()"
    assert repr(DRLearner(n_folds=4, num_leaves=7)) == "DRLearner(n_folds=4, num_leaves=7)"

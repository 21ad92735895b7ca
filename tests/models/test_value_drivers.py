"""Value drivers: what moves each customer's expected incremental profit of their offer."""

from __future__ import annotations

import json

import numpy as np
from models_testdata import OFFERS

from offerwise.models.introspect import SEQ_GROUP, drivers_json, feature_groups, value_drivers
from offerwise.models.response import OfferResponseModel

FAST = {"n_estimators": 60, "learning_rate": 0.1, "min_child_samples": 300, "n_jobs": 1}
COLUMNS = ["cust_x1", "cust_x2", "cust_x3"]


def _model(logs) -> OfferResponseModel:  # noqa: ANN001
    ex = logs.exposures.merge(logs.customers, on="customer_id", how="left")
    X = ex[["x1", "x2", "x3"]].to_numpy()
    m = OfferResponseModel(**FAST, learner="tb")
    return m.fit(X, ex["offer_id"], ex["converted"], ex["revenue"], ex["discount_cost"],
                 ex["gross_profit"], menu=list(OFFERS))


def test_groups_read_like_a_user_reads_them() -> None:
    cols = ["recency_days", "region=north", "region=south", "category_share=dairy",
            "category_share=rec:1", "seq_emb_0", "seq_emb_1"]
    assert feature_groups(cols) == [("recency_days", [0]), ("region", [1, 2]),
                                    ("category_share=dairy", [3]), ("category_share=rec:1", [4]),
                                    (SEQ_GROUP, [5, 6])]


def test_drivers_find_the_feature_that_moves_each_offer(logs) -> None:  # noqa: ANN001
    """p10's incremental profit depends on x1 (basket) and x2, p20's on x1 and x3
    (models_testdata): those lead the drivers, the irrelevant one almost never does."""
    m = _model(logs)
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()
    n = len(X)
    offers = np.array(["p10", "p20", "none"] * (n // 3) + ["p10"] * (n % 3), dtype=object)
    drivers = value_drivers(m, X, offers, COLUMNS, top=3)
    assert all(d == [] for d, o in zip(drivers, offers, strict=True) if o == "none")

    def mean_abs(offer: str, feature: str) -> float:
        return float(np.mean([abs(x.effect) for d, o in zip(drivers, offers, strict=True)
                              if o == offer for x in d if x.feature == feature] or [0.0]))

    # the model's effects follow the truth's structure: the irrelevant feature matters least
    assert mean_abs("p10", "cust_x3") < mean_abs("p10", "cust_x2")
    assert mean_abs("p20", "cust_x2") < 0.5 * mean_abs("p20", "cust_x3")
    # each effect is exactly v(x) - v(x with the feature at the median), sorted by |effect|
    ref = np.median(X, axis=0)
    i = 1  # a p20 row
    k = m.offers_.index("p20")
    base = m.predict(X[i : i + 1]).incremental_profit[0, k]
    for d in drivers[i]:
        j = COLUMNS.index(d.feature)
        z = X[i : i + 1].copy()
        z[0, j] = ref[j]
        assert abs(d.effect - (base - m.predict(z).incremental_profit[0, k])) < 1e-9
        assert d.value == f"{X[i, j]:.4g}"
    assert abs(drivers[i][0].effect) >= abs(drivers[i][1].effect)
    back = json.loads(drivers_json(drivers[i]) or "[]")
    assert [b["feature"] for b in back] == [d.feature for d in drivers[i]]
    assert drivers_json([]) is None


def test_one_hot_and_embedding_groups_are_occluded_together(logs) -> None:  # noqa: ANN001
    """A group's columns move together: a one-hot attribute shows its level, the embedding none."""
    m = _model(logs)
    X = logs.customers[["x1", "x2", "x3"]].to_numpy()[:50]
    cols = ["seq_emb_0", "region=x", "region=y"]  # three model inputs under user-facing names
    Xg = np.column_stack([X[:, 0], (X[:, 1] > 0).astype(float), (X[:, 1] <= 0).astype(float)])
    d = value_drivers(m, Xg, np.full(50, "p10", dtype=object), cols, top=5)
    names = {x.feature for row in d for x in row}
    assert names <= {SEQ_GROUP, "region"}
    values = {x.value for row in d for x in row if x.feature == "region"}
    assert values <= {"x", "y"} and values
    assert all(x.value is None for row in d for x in row if x.feature == SEQ_GROUP)

"""The compiled tree kernels give LightGBM's own predictions, and fall back to LightGBM where they
do not apply."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from offerwise.models import forest

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_for_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forest, "MIN_ROWS", 0)  # the tests' small inputs use the kernels too


def _booster(X: np.ndarray, y: np.ndarray, objective: str, **extra: object) -> lgb.Booster:
    params = {
        "objective": objective,
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "verbose": -1,
        "seed": 3,
        "num_threads": 1,
        **extra,
    }
    return lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=40)


def _data(n: int = 3000, p: int = 6, nan_share: float = 0.1, seed: int = 0):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 0] = rng.integers(0, 4, n)  # ties on integer values: thresholds between them
    y = X[:, 1] - 0.5 * X[:, 2] * (X[:, 0] > 1) + rng.normal(scale=0.5, size=n)
    X[rng.random((n, p)) < nan_share] = np.nan
    return X, y


@pytest.mark.parametrize("objective", ["regression", "binary"])
@pytest.mark.parametrize("raw", [True, False])
@pytest.mark.parametrize("n_jobs", [1, 2])  # the serial kernel and the parallel one
def test_predict_equals_lightgbm_with_and_without_nan_handling(
    objective: str, raw: bool, n_jobs: int
) -> None:
    X, y = _data()
    yy = (y > 0).astype(float) if objective == "binary" else y
    with_nan = _booster(X, yy, objective)  # NaN seen in training: missing type NaN
    X_clean = np.nan_to_num(X)
    no_nan = _booster(X_clean, yy, objective)  # no NaN in training: NaN is read as 0
    X_new, _ = _data(n=2500, seed=1)
    for b in (with_nan, no_nan):
        assert forest.flatten(b) is not None
        want = b.predict(X_new, raw_score=raw)
        got = forest.predict(b, X_new, n_jobs=n_jobs, raw=raw)
        if raw:  # the same leaf values summed in the same order: bit for bit
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_arms_equal_one_lightgbm_call_per_arm(n_jobs: int) -> None:
    rng = np.random.default_rng(5)
    n, p, m = 4000, 5, 4
    X = rng.normal(size=(n, p))
    X[rng.random((n, p)) < 0.05] = np.nan
    arm = rng.integers(0, m + 1, n)  # 0: no indicator set
    ind = np.zeros((n, m))
    ind[arm > 0, arm[arm > 0] - 1] = 1.0
    y = X[:, 0] * (arm == 2) + 0.7 * (arm == 3) - 0.3 * np.nan_to_num(X[:, 1]) * (arm == 1)
    y = y + rng.normal(scale=0.3, size=n)
    b = _booster(np.hstack([X, ind]), y, "regression")
    assert forest.flatten(b) is not None
    # the trees do split on the indicators, so arms part inside the walk
    used = {t.get("split_feature") for t in _splits(b.dump_model())}
    assert used & set(range(p, p + m))
    cols = np.array([-1, 0, 1, 2, 3, 1])
    X_new = rng.normal(size=(1500, p))
    X_new[rng.random((1500, p)) < 0.05] = np.nan
    got = forest.predict_arms(b, X_new, cols, m, n_jobs=n_jobs, raw=True)
    for a, c in enumerate(cols):
        ind_new = np.zeros((len(X_new), m))
        if c >= 0:
            ind_new[:, c] = 1.0
        want = b.predict(np.hstack([X_new, ind_new]), raw_score=True)
        np.testing.assert_array_equal(got[:, a], want)


def _splits(node: dict) -> list[dict]:  # type: ignore[type-arg]
    out: list[dict] = []  # type: ignore[type-arg]
    stack = [t["tree_structure"] for t in node["tree_info"]]
    while stack:
        s = stack.pop()
        if "split_index" in s:
            out.append(s)
            stack += [s["left_child"], s["right_child"]]
    return out


def test_unsupported_boosters_fall_back_to_lightgbm(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(nan_share=0.0)
    X[:, 0] = np.where(X[:, 0] == 0, 0.0, X[:, 0])
    zero = _booster(X, y, "regression", zero_as_missing=True)
    cat = lgb.train(
        {"objective": "regression", "verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5},
        lgb.Dataset(
            X, label=y + 3.0 * (X[:, 0] == 1) - 2.0 * (X[:, 0] == 3), categorical_feature=[0]
        ),
        num_boost_round=10,
    )
    pois = _booster(X, np.abs(y), "poisson")
    for b in (zero, cat, pois):
        assert forest.flatten(b) is None
        np.testing.assert_allclose(forest.predict(b, X), b.predict(X), rtol=1e-12)
    # a constant booster (one leaf per tree) and an empty input
    const = lgb.train(
        {"objective": "regression", "verbose": -1},
        lgb.Dataset(X, label=np.ones(len(X))),
        num_boost_round=2,
    )
    np.testing.assert_array_equal(forest.predict(const, X), const.predict(X))
    assert forest.predict(const, X[:0]).shape == (0,)
    # switched off: LightGBM's own predict, same values
    monkeypatch.setenv("OFFERWISE_FAST_TREES", "0")
    b = _booster(X, y, "regression")
    np.testing.assert_array_equal(forest.predict(b, X), b.predict(X))


@pytest.mark.parametrize("n_jobs", [1, 2])  # serial kernels at once; parallel ones in turn
def test_concurrent_calls_from_threads(n_jobs: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    X, y = _data()
    b = _booster(X, y, "regression")
    want = b.predict(X, raw_score=True)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: forest.predict(b, X, n_jobs=n_jobs, raw=True), range(8)))
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_trees_of_up_to_64_leaves_use_the_kernels_and_larger_ones_lightgbm() -> None:
    """A tree's leaves are the bits of one 64-bit word: 64 leaves (a left subtree of up to 63,
    masks reaching the word's last bit) still give LightGBM's sums bit for bit; 65 go to
    LightGBM's own predict."""
    X, y = _data(n=6000, p=8, nan_share=0.05)
    X_new, _ = _data(n=3000, p=8, nan_share=0.05, seed=2)
    for leaves, covered in ((64, True), (65, False)):
        b = _booster(X, y, "regression", num_leaves=leaves, min_data_in_leaf=2)
        sizes = [t["num_leaves"] for t in b.dump_model()["tree_info"]]
        assert max(sizes) == leaves  # the trees do grow to the limit
        assert (forest.flatten(b) is not None) is covered
        np.testing.assert_array_equal(
            forest.predict(b, X_new, raw=True), b.predict(X_new, raw_score=True)
        )


def test_arms_beyond_one_word_of_arms() -> None:
    """Any number of arms (the earlier walk kept the arms in a 62-bit set): 70 arms, repeats
    included, each equal to its own LightGBM call."""
    rng = np.random.default_rng(8)
    n, p, m = 3000, 4, 3
    X = rng.normal(size=(n, p))
    arm = rng.integers(0, m + 1, n)
    ind = np.zeros((n, m))
    ind[arm > 0, arm[arm > 0] - 1] = 1.0
    y = X[:, 0] * (arm == 1) + 0.5 * (arm == 2) + rng.normal(scale=0.3, size=n)
    b = _booster(np.hstack([X, ind]), y, "regression")
    cols = np.resize(np.arange(-1, m), 70)
    got = forest.predict_arms(b, X[:500], cols, m, raw=True)
    assert got.shape == (500, 70)
    for a, c in enumerate(cols[: m + 1]):
        ind_new = np.zeros((500, m))
        if c >= 0:
            ind_new[:, c] = 1.0
        want = b.predict(np.hstack([X[:500], ind_new]), raw_score=True)
        np.testing.assert_array_equal(got[:, a], want)
        np.testing.assert_array_equal(got[:, a + m + 1], want)


@pytest.mark.parametrize("n", [1, 15, 16, 127, 128, 129, 300])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_blocks_of_rows_any_size_with_infinities(n: int, n_jobs: int) -> None:
    """Rows go through the splits in blocks (``block_rows``): a last partial block, a block that
    is all NaN or all -inf in a feature, and ±inf values give LightGBM's sums bit for bit."""
    X, y = _data(seed=4)
    boosters = [_booster(X, y, "regression"), _booster(X, y, "regression", num_leaves=63)]
    rng = np.random.default_rng(n)
    X_new, _ = _data(n=n, seed=n)
    X_new[rng.random(X_new.shape) < 0.1] = np.inf
    X_new[rng.random(X_new.shape) < 0.1] = -np.inf
    X_new[:, 3] = np.nan  # every row NaN in one feature
    X_new[:, 4] = -np.inf  # and -inf in another
    for b in boosters:
        want = b.predict(X_new, raw_score=True)
        np.testing.assert_array_equal(forest.predict(b, X_new, n_jobs=n_jobs, raw=True), want)
        arms = forest.predict_arms(b, X_new[:, :4], np.array([-1, 0, 1]), 2, n_jobs, raw=True)
        for a, c in enumerate([-1, 0, 1]):
            Z = np.hstack([X_new[:, :4], np.zeros((n, 2))])
            if c >= 0:
                Z[:, 4 + c] = 1.0
            np.testing.assert_array_equal(arms[:, a], b.predict(Z, raw_score=True))


def test_many_trees_use_smaller_blocks() -> None:
    from offerwise.models import _forest_kernels as k

    assert [k.block_rows(t) for t in (50, 128, 129, 300, 1100, 5000)] == [128, 128, 64, 32, 16, 16]
    X, y = _data(n=600, seed=2)
    params = {"objective": "regression", "num_leaves": 4, "verbose": -1, "num_threads": 1}
    b = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=1100)
    assert b.num_trees() == 1100 and forest.flatten(b) is not None
    X_new, _ = _data(n=333, seed=3)
    for n_jobs in (1, 2):
        got = forest.predict(b, X_new, n_jobs=n_jobs, raw=True)
        np.testing.assert_array_equal(got, b.predict(X_new, raw_score=True))

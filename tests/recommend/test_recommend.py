"""The recommend package: metrics on hand-computed cases, the matrix, the methods and the
workflow (as-of leakage, fallback, evaluation) on a small shop built here, with real implicit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from offerwise.errors import DataContractError, InputError
from offerwise.recommend.cf import CFParams, confidence, fit_cf
from offerwise.recommend.interactions import build_interactions
from offerwise.recommend.methods import (
    METHODS,
    BuyAgainScorer,
    PopularScorer,
    popularity,
    top_k,
)
from offerwise.recommend.metrics import coverage, explore_relevant, ranking_scores
from offerwise.workflows.recommend import evaluate_recommenders, recommend


def _csr(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    r = [i for i, items in enumerate(rows) for _ in items]
    c = [j for items in rows for j in items]
    return sp.csr_matrix((np.ones(len(c), dtype=bool), (r, c)), shape=(len(rows), n_items))


# ------------------------------------------------------------------------------------------
# metrics, by hand
# ------------------------------------------------------------------------------------------


def test_recall_and_ndcg_by_hand() -> None:
    top = np.array([[0, 1, 2], [3, 4, 0], [1, 2, 3]])
    relevant = _csr([[1], [0, 3, 4], []], 5)
    n_rel = np.array([1, 4, 0])  # user 1 also bought an item the model does not know
    s = ranking_scores(top, relevant, n_rel)
    d = 1 / np.log2([2, 3, 4])
    # user 0: one hit at rank 2 of |R| = 1; user 1: 3 hits of min(3, 4); user 2 not counted
    assert s.n_users == 2
    assert s.recall == pytest.approx((1.0 + 1.0) / 2)
    assert s.ndcg == pytest.approx((d[1] / d[0] + 1.0) / 2)


def test_unknown_items_lower_recall() -> None:
    top = np.array([[0, 1]])
    s = ranking_scores(top, _csr([[0]], 3), np.array([3]))  # 2 of the 3 bought items unknown
    assert s.recall == pytest.approx(1 / 2)
    assert s.ndcg == pytest.approx(1.0 / (1.0 + 1 / np.log2(3)))


def test_explore_drops_items_bought_before_and_keeps_unknown_ones() -> None:
    relevant = _csr([[0, 1], [2]], 3)
    history = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 0, 0]]))
    ex, n = explore_relevant(relevant, np.array([3, 1]), history)
    assert ex.toarray().tolist() == [[False, True, False], [False, False, True]]
    assert n.tolist() == [2, 1]  # user 0: item 1 + the unknown item
    # a list of repeat items scores 0 on explore
    s = ranking_scores(np.array([[0, 2], [0, 1]]), ex, n)
    assert s.recall == 0.0 and s.ndcg == 0.0


def test_coverage() -> None:
    assert coverage(np.array([[0, 1], [1, -1]]), 4) == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------
# matrix and methods
# ------------------------------------------------------------------------------------------


def _purchases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "zz"],
            "item": ["x", "y", "x", "z", "x"],
            "n_orders": [3, 1, 1, 2, 9],
            "decayed": [0.5, 1.0, 1.0, 2.0, 9.0],
        }
    )


def test_build_interactions_keeps_every_customer_in_order() -> None:
    inter = build_interactions(_purchases(), np.array(["c", "b", "a", "d"], dtype=object))
    assert inter.items.tolist() == ["x", "y", "z"]
    assert inter.counts.toarray().tolist() == [[0, 0, 2], [1, 0, 0], [3, 1, 0], [0, 0, 0]]
    assert inter.has_history().tolist() == [True, True, True, False]  # "zz" is not a customer


def test_buy_again_ranks_own_items_by_recency_then_popularity() -> None:
    inter = build_interactions(_purchases(), np.array(["a", "b", "c", "d"], dtype=object))
    pop = popularity(inter.counts)
    assert pop.tolist() == pytest.approx([0.5, 0.25, 0.25])
    tk = top_k(BuyAgainScorer(inter.decayed, pop), *inter.shape, 3)
    assert tk.items[0].tolist() == [1, 0, 2]  # a: y (decayed 1.0) before x (0.5), then z
    assert tk.items[2].tolist() == [2, 0, 1]  # c: z, then by popularity x before y
    assert top_k(PopularScorer(pop), *inter.shape, 5).items.shape == (4, 3)  # k capped


def test_confidence_weightings() -> None:
    counts = sp.csr_matrix(np.array([[1.0, 3.0], [0.0, 2.0]], dtype=np.float32))
    lg = confidence(counts, CFParams(weighting="log1p", alpha=2.0))
    assert lg.toarray() == pytest.approx(2 * np.log1p(counts.toarray()))
    wide = sp.csr_matrix(np.array([[1.0, 3.0] + [0.0] * 8, [0.0, 2.0] + [0.0] * 8]))
    bm = confidence(wide, CFParams(weighting="bm25")).toarray()
    idf = np.log(10) - np.log1p([2, 1])  # per user: 10 items, the user bought 2 and 1
    norm = 0.2 + 0.8 * np.array([1.0, 5.0]) / 0.6  # item totals 1 and 5, mean over items 0.6

    def w(c: float, u: int, i: int) -> float:
        return float(c * 101 / (100 * norm[i] + c) * idf[u])

    assert bm[0, :2] == pytest.approx([w(1, 0, 0), w(3, 0, 1)], rel=1e-5)
    assert bm[1, 1] == pytest.approx(w(2, 1, 1), rel=1e-5) and bm[1, 0] == 0
    with pytest.raises(InputError, match="weighting"):
        CFParams(weighting="tfidf")


def test_als_and_bpr_fit_and_are_seeded() -> None:
    rng = np.random.default_rng(0)
    counts = sp.random(60, 30, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    counts.data = np.ceil(counts.data * 5)
    p = CFParams(factors=4, iterations=3)
    for kind in ("als", "bpr"):
        a = fit_cf(kind, counts, p, seed=3)
        b = fit_cf(kind, counts, p, seed=3)
        assert a.user.shape[0] == 60 and a.item.shape[0] == 30
        assert np.array_equal(a.scores(np.arange(60)), b.scores(np.arange(60)))
    with pytest.raises(InputError):
        fit_cf("svd", counts, p)


# ------------------------------------------------------------------------------------------
# the workflow on a small shop with two tastes
# ------------------------------------------------------------------------------------------

START = pd.Timestamp("2024-01-01")


def _shop(root: Path, *, uncategorised: bool = False, n: int = 60) -> Path:
    """``n`` customers; half buy dairy products, half snacks, every week for 20 weeks; the
    customer 'late' buys only in the last week; 'cold' never buys."""
    rng = np.random.default_rng(1)
    cats = {"dairy": ["milk", "cheese", "yogurt", "butter"], "snacks": ["chips", "nuts", "pretzel"]}
    products = [(p, c) for c, ps in cats.items() for p in ps]
    rows = []
    for i in range(n):
        taste = "dairy" if i % 2 else "snacks"
        for w in range(20):
            day = START + pd.Timedelta(weeks=w, days=int(rng.integers(0, 6)))
            for p in rng.choice(cats[taste], size=2, replace=False):
                rows.append((f"c{i}", f"o{i}-{w}", p, day, 1.0, 2.0, 0.0))
    late = START + pd.Timedelta(weeks=20)
    rows.append(("late", "o-late", "chips", late, 1.0, 2.0, 0.0))
    tx = pd.DataFrame(
        rows,
        columns=["customer_id", "order_id", "product_id", "ts", "quantity", "amount", "discount"],
    )
    ids = [f"c{i}" for i in range(n)] + ["late", "cold"]
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": ids}).to_parquet(root / "customers.parquet")
    prod = pd.DataFrame(products, columns=["product_id", "category"])
    if uncategorised:
        prod.loc[prod["product_id"] == "nuts", "category"] = None
    prod.to_parquet(root / "products.parquet")
    tx.to_parquet(root / "transactions.parquet")
    pd.DataFrame(
        {"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1], "min_spend": [0.0]}
    ).to_parquet(root / "offers.parquet")
    return root


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shop(tmp_path_factory.mktemp("recshop"))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "ranker"])
def test_recommend_every_method_writes_k_rows_per_customer(
    shop: Path, tmp_path: Path, method: str
) -> None:
    out = tmp_path / "recs.parquet"
    res = recommend(shop, out=out, level="product", k=3, method=method, seed=1)
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["customer_id", "item", "rank", "score", "method", "fallback"]
    assert len(recs) == 62 * 3 and res.n_customers == 62
    assert recs.groupby("customer_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3]).all()
    # each customer's own taste comes first (all methods but popularity know it)
    c1 = recs[recs["customer_id"] == "c1"]["item"].tolist()
    if method != "popular":
        assert set(c1) <= {"milk", "cheese", "yogurt", "butter"}
    cold = recs[recs["customer_id"] == "cold"]
    assert cold["fallback"].all() and (cold["method"] == "popular").all()
    assert not recs.loc[recs["customer_id"] != "cold", "fallback"].any()
    assert (recs.loc[~recs["fallback"], "method"] == method).all()


def test_as_of_uses_only_earlier_transactions(shop: Path) -> None:
    # before the late customer's only purchase: no history, so the popularity list
    before = recommend(shop, level="category", k=2, as_of=START + pd.Timedelta(weeks=20))
    late = before.recs[before.recs["customer_id"] == "late"]
    assert late["fallback"].all() and before.n_fallback == 2
    after = recommend(shop, level="category", k=2)
    late = after.recs[after.recs["customer_id"] == "late"]
    assert not late["fallback"].any() and late["item"].iloc[0] == "snacks"
    # as of week 1 only the first week's purchases exist: fewer items known
    early = recommend(shop, level="product", k=10, as_of=START + pd.Timedelta(days=3))
    assert early.n_items <= 7 and early.as_of == START + pd.Timedelta(days=3)
    # too short a history for the default ranker (it learns from the 8 weeks before as_of): the
    # default falls back to blend and says so; asked for by name, the ranker refuses
    assert early.method == "blend"
    assert any("the default method fell back to blend" in w.render() for w in early.warnings)
    with pytest.raises(InputError, match="--method ranker: no purchases before"):
        recommend(shop, level="product", k=10, as_of=START + pd.Timedelta(days=3), method="ranker")


def test_ranker_reads_nothing_at_or_after_its_cutoff(tmp_path: Path) -> None:
    cut = START + pd.Timedelta(weeks=16)
    shop = _shop(tmp_path / "big", n=400)
    a = recommend(shop, level="category", k=2, as_of=cut, method="ranker", seed=3).recs
    # a copy of the shop whose later purchases are all snacks, by everyone
    other = _shop(tmp_path / "other", n=400)
    tx = pd.read_parquet(other / "transactions.parquet")
    late = tx[tx["ts"] >= cut].assign(product_id="chips")
    pd.concat([tx[tx["ts"] < cut], late]).to_parquet(other / "transactions.parquet")
    b = recommend(other, level="category", k=2, as_of=cut, method="ranker", seed=3).recs
    pd.testing.assert_frame_equal(a, b)
    # the ranker's scores are probabilities of buying in the next weeks: each customer's own
    # category first, with a high probability
    top = a[a["rank"] == 1].set_index("customer_id")
    assert top.loc["c1", "item"] == "dairy" and top.loc["c0", "item"] == "snacks"
    assert ((top["score"] > 0.5) & (top["score"] <= 1.0)).loc[[f"c{i}" for i in range(400)]].all()
    # the explore boost multiplies the probability of the category a customer never bought only
    boosted = recommend(shop, level="category", k=2, as_of=cut, seed=3, explore_boost=50.0)
    assert boosted.method == "ranker" and boosted.explore_boost == 50.0
    both = a.merge(boosted.recs, on=["customer_id", "item"], suffixes=("", "_b"))
    c1 = both[both["customer_id"] == "c1"].set_index("item")
    assert c1.loc["dairy", "score_b"] == pytest.approx(c1.loc["dairy", "score"], rel=1e-6)
    # (50 x the probability; the popularity tie-break below 1e-6 is not multiplied)
    assert c1.loc["snacks", "score_b"] == pytest.approx(50 * c1.loc["snacks", "score"], abs=5e-5)
    with pytest.raises(InputError, match="--explore-boost works with --method ranker, not blend"):
        recommend(shop, level="category", method="blend", explore_boost=2.0)
    with pytest.raises(InputError, match="--explore-boost 0.0: use a number > 0"):
        recommend(shop, level="category", explore_boost=0.0)
    # on the 60-customer shop the label window has too few purchases: the ranker refuses
    with pytest.raises(InputError, match=r"--method ranker learns .*it needs at least 200"):
        recommend(_shop(tmp_path / "small"), level="category", k=2, as_of=cut, method="ranker")


def test_evaluate_scores_every_method(shop: Path) -> None:
    ev = evaluate_recommenders(shop, holdout_weeks=4, level="product", k=2, seed=1)
    df = ev.frame().set_index("method")
    assert list(df.index) == list(METHODS)
    assert df.loc["ranker", "ndcg"] > 0.9  # it knows each taste too
    assert ev.cutoff == ev.end - pd.Timedelta(weeks=4)
    # 60 regular customers buy in the held-out weeks; the late one did too, after no history
    assert (df["n_users"] == 61).all()
    # buy-again knows each taste: 2 hits of 2 for everyone but the late customer (popularity)
    assert df.loc["buy-again", "recall"] > 0.95 and df.loc["buy-again", "ndcg"] > 0.95
    assert df.loc["popular", "recall"] < 0.8  # one list for two tastes
    assert df.loc["popular", "coverage"] == pytest.approx(2 / 7)
    assert (df["fit_seconds"] >= 0).all()


def test_bad_arguments_and_data(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    with pytest.raises(InputError, match="--k 0"):
        recommend(shop, out=out, k=0)
    with pytest.raises(InputError, match="--level 'brand'"):
        recommend(shop, out=out, level="brand")
    with pytest.raises(InputError, match="--method 'svd'"):
        recommend(shop, out=out, method="svd")
    bad = _shop(tmp_path / "bad", uncategorised=True)
    with pytest.raises(DataContractError) as e:
        recommend(bad, out=out, level="category")
    msg = str(e.value)
    assert "products.parquet" in msg and "'category'" in msg and "product_id='nuts'" in msg
    assert "(1 row)" in msg
    recommend(bad, out=tmp_path / "ok.parquet", level="product", k=1)  # fine at product level
    (tmp_path / "bad" / "transactions.parquet").unlink()
    with pytest.raises(DataContractError, match="transactions"):
        recommend(bad, out=out, level="product")
    assert not out.exists()


def test_ranker_booster_params_are_what_lgbmclassifier_runs() -> None:
    """The ranker trains with LightGBM's core API (the `offerwise` command does not build its
    sklearn-style classes): the same predictions as ``LGBMClassifier`` with those arguments."""
    import lightgbm as lgb

    from offerwise.recommend.ranker import RankerParams, booster_params

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] + rng.normal(size=3000) > 0.5).astype(np.int8)
    p = RankerParams()
    clf = lgb.LGBMClassifier(
        n_estimators=p.n_estimators, learning_rate=p.learning_rate, num_leaves=p.num_leaves,
        min_child_samples=min(p.min_child_samples, max(5, len(X) // 100)), random_state=7,
        n_jobs=2, deterministic=True, force_row_wise=True, verbose=-1,
    ).fit(X, y)
    booster = lgb.train(booster_params(p, len(X), 7, 2), lgb.Dataset(X, label=y),
                        num_boost_round=p.n_estimators)
    np.testing.assert_array_equal(clf.predict_proba(X)[:, 1], booster.predict(X))

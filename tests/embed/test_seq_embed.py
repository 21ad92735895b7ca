"""Customer sequence embeddings: the order table, point-in-time windows, the GRU, its training and
``train --embeddings seq`` end to end (real JAX where installed, real DuckDB, the real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offerwise.config import load_settings
from offerwise.embed.seq import SeqEncoder, SeqParams, fit_seq_encoder, gru_step
from offerwise.embed.sequences import MAX_TOKENS, load_orders, windows_before
from offerwise.errors import InputError
from offerwise.simulator import simulate, write_market
from offerwise.workflows._common import open_data

SMALL = SeqParams(steps=60, batch=32, max_len=16)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mk = simulate(n_customers=400, n_exposures=800, seed=5, logging="legacy")
    return write_market(mk, tmp_path_factory.mktemp("seqshop") / "shop")


@pytest.fixture(scope="module")
def orders(market: Path):  # noqa: ANN201
    return load_orders(open_data(market, load_settings(threads=1), ("transactions",)))


def _first_exposure(market: Path) -> pd.Timestamp:
    return pd.to_datetime(pd.read_parquet(market / "exposures.parquet")["ts"]).min()


@pytest.fixture(scope="module")
def encoder(orders, market: Path) -> SeqEncoder:  # noqa: ANN001
    pytest.importorskip("jax", reason="extra 'deep' (JAX) not installed")
    return fit_seq_encoder(orders, _first_exposure(market), params=SMALL, seed=3, threads=1)


def test_orders_match_the_transactions(orders, market: Path) -> None:  # noqa: ANN001
    tx = pd.read_parquet(market / "transactions.parquet")
    per = tx.groupby(["customer_id", "order_id"]).agg(ts=("ts", "min"), amount=("amount", "sum"))
    assert orders.n_orders == len(per)
    assert list(orders.customers) == sorted(tx["customer_id"].astype(str).unique())
    # one customer's slice: time-ordered, amounts as summed
    i = len(orders.customers) // 2
    cid = orders.customers[i]
    sl = slice(orders.start[i], orders.start[i + 1])
    assert np.all(np.diff(orders.seconds[sl]) >= 0)
    want = np.sort(np.log1p(per.loc[cid]["amount"].to_numpy()))
    np.testing.assert_allclose(np.sort(orders.numeric[sl, 0]), want, rtol=1e-5)
    # categories: the distinct categories of the order, at most MAX_TOKENS, no duplicates
    cats = orders.categories[sl]
    for row in cats:
        named = [c for c in row if c is not None]
        assert len(named) == len(set(named)) <= MAX_TOKENS


def test_count_before_is_the_orders_strictly_before(orders) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(orders.customers), 200)
    lo, hi = orders.seconds.min(), orders.seconds.max()
    secs = rng.integers(lo - 86400, hi + 86400, 200)
    as_of = pd.to_datetime(secs, unit="s").to_numpy()
    cids = np.append(orders.customers[pick], "no-such-customer")
    as_of = np.append(as_of, as_of[:1])
    end, first = orders.count_before(cids, as_of)
    for j, c in enumerate(pick):
        s = orders.seconds[orders.start[c] : orders.start[c + 1]]
        assert first[j] == orders.start[c]
        assert end[j] - first[j] == int((s < secs[j]).sum())
    assert end[-1] == first[-1]  # an unknown customer has no orders


def test_windows_are_right_aligned_and_bounded() -> None:
    idx, mask = windows_before(np.array([10, 3, 5]), np.array([2, 3, 0]), 4)
    assert mask.tolist() == [[True] * 4, [False] * 4, [True] * 4]
    assert idx[0].tolist() == [6, 7, 8, 9] and idx[2].tolist() == [1, 2, 3, 4]
    idx, mask = windows_before(np.array([4]), np.array([2]), 4)
    assert mask[0].tolist() == [False, False, True, True] and idx[0, 2:].tolist() == [2, 3]


def test_gru_step_is_the_same_in_numpy_and_jax() -> None:
    jnp = pytest.importorskip("jax.numpy", reason="extra 'deep' (JAX) not installed")
    rng = np.random.default_rng(1)
    Wh = rng.standard_normal((4, 12)).astype(np.float32)
    h = rng.standard_normal((3, 4)).astype(np.float32)
    gx = rng.standard_normal((3, 12)).astype(np.float32)
    a = gru_step(np, Wh, h, gx)
    b = np.asarray(gru_step(jnp, jnp.asarray(Wh), jnp.asarray(h), jnp.asarray(gx)))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(a) < 1 + 1e-6)


def test_encoder_learns_and_is_reproducible(encoder: SeqEncoder, orders, market: Path) -> None:  # noqa: ANN001
    assert encoder.loss < encoder.baseline_loss - 0.05  # history tells something about the next order
    again = fit_seq_encoder(orders, _first_exposure(market), params=SMALL, seed=3, threads=1)
    for k, v in encoder.params.items():
        np.testing.assert_array_equal(v, again.params[k])
    other = fit_seq_encoder(orders, _first_exposure(market), params=SMALL, seed=4, threads=1)
    assert not np.array_equal(encoder.params["Wh"], other.params["Wh"])


def test_embedding_is_point_in_time_and_round_trips(encoder: SeqEncoder, orders) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    cids = orders.customers[rng.integers(0, len(orders.customers), 50)]
    as_of = pd.to_datetime(
        rng.integers(orders.seconds.min(), orders.seconds.max(), 50), unit="s"
    ).to_numpy()
    full = encoder.embed(orders, cids, as_of)
    assert full.shape == (50, encoder.dim) and np.isfinite(full).all()
    # the same cutoffs, one at a time, on the orders before each as_of only: same embedding
    t = pd.to_datetime(as_of).to_numpy("datetime64[s]").astype(np.int64)
    for j in range(0, 50, 7):
        keep = orders.seconds < t[j]
        owner = orders.owner()[keep]
        cut = type(orders)(
            customers=orders.customers,
            start=np.append(0, np.cumsum(np.bincount(owner, minlength=len(orders.customers)))),
            seconds=orders.seconds[keep],
            numeric=orders.numeric[keep],
            categories=orders.categories[keep],
        )
        # the gap feature of the first kept order is unchanged: only later orders are removed
        np.testing.assert_allclose(encoder.embed(cut, cids[j : j + 1], as_of[j : j + 1]), full[j : j + 1],
                                   rtol=1e-5, atol=1e-6)
    before_all = pd.to_datetime([orders.seconds.min() - 10] * 3, unit="s").to_numpy()
    assert np.all(encoder.embed(orders, cids[:3], before_all) == 0)
    back = SeqEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    np.testing.assert_array_equal(back.embed(orders, cids, as_of), full)
    assert back.vocab == encoder.vocab and back.fit_before == encoder.fit_before


def test_too_little_history_is_an_error_naming_it(orders) -> None:  # noqa: ANN001
    pytest.importorskip("jax", reason="extra 'deep' (JAX) not installed")
    early = pd.Timestamp(orders.seconds.min() + 86400, unit="s")
    with pytest.raises(InputError, match="orders follow an earlier order before"):
        fit_seq_encoder(orders, early, params=SMALL)


def _ow(*args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["OFFERWISE_EMBEDDING_STEPS"] = "60"  # a short fit: the wiring is tested, not the quality
    return subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_train_with_embeddings_end_to_end(market: Path, tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="extra 'deep' (JAX) not installed")
    model = tmp_path / "m"
    r = _ow("train", "--data", market, "--out", model, "--seed", "3", "--tune", "off",
            "--embeddings", "seq")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sequence embeddings: 16 dimensions from a GRU" in r.stdout
    assert "nats vs" in r.stdout and "…" not in r.stdout
    card = json.loads((model / "model_card.json").read_text())
    assert card["embeddings"]["dim"] == 16
    assert pd.Timestamp(card["embeddings"]["fit_before"]) == _first_exposure(market)
    assert "seq_emb_0" in card["features"] and "seq_emb_15" in card["features"]
    assert "sequence embeddings: 16 columns" in (model / "model_card.md").read_text()
    out = tmp_path / "scores.parquet"
    r = _ow("score", "--model", model, "--data", market, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(pd.read_parquet(out)) > 0


def test_unknown_embeddings_value_is_a_clear_error(market: Path, tmp_path: Path) -> None:
    r = _ow("train", "--data", market, "--out", tmp_path / "m", "--embeddings", "bert")
    assert r.returncode == 2
    assert "--embeddings 'bert'" in r.stderr + r.stdout and "none, seq" in r.stderr + r.stdout
    assert not (tmp_path / "m").exists()


def test_orders_of_some_customers_equal_their_slice_of_all(orders, market: Path) -> None:  # noqa: ANN001
    ds = open_data(market, load_settings(threads=1), ("transactions",))
    some = np.array([orders.customers[3], orders.customers[10], "not-a-customer"])
    sub = load_orders(ds, customers=some)
    assert list(sub.customers) == sorted(some[:2])
    for i, c in enumerate(sub.customers):
        j = int(np.searchsorted(orders.customers, c))
        full = slice(orders.start[j], orders.start[j + 1])
        mine = slice(sub.start[i], sub.start[i + 1])
        np.testing.assert_array_equal(sub.seconds[mine], orders.seconds[full])
        np.testing.assert_array_equal(sub.numeric[mine], orders.numeric[full])
        assert sub.categories[mine].tolist() == orders.categories[full].tolist()
    assert load_orders(ds, customers=np.array(["nobody"])).n_orders == 0

"""Customer sequence embeddings: a small GRU over each customer's orders, trained self-supervised.

Input per order ``o`` (:class:`~offerwise.embed.sequences.OrderTable`):
``x_o = [mean_{c in cats(o)} E[c], (numeric_o - mu) / sd]`` (``E``: (V, d_e) category vectors;
id 0 pads, id 1 is "another category"). A GRU with ``H`` units reads a customer's last
``max_len`` orders before ``as_of``, oldest first::

    gx = x W_x + b;  gh = h W_h;  z = sig(gx_z + gh_z);  r = sig(gx_r + gh_r)
    n = tanh(gx_n + r * gh_n);  h' = (1 - z) * n + z * h          (h_0 = 0)

The embedding is the last ``h`` (H,), 0 for a customer with no orders before ``as_of``. Training
(JAX + Optax, extra ``deep``): after every order, ``softmax(h W_o + b_o)`` predicts the categories
of the customer's next order (cross-entropy against their uniform distribution), on orders before
``fit_before`` only. Applying a fitted encoder is NumPy: a model scores without JAX.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from offerwise.embed.sequences import ORDER_NUMERIC, OrderTable, windows_before
from offerwise.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping

    from jax import Array

__all__ = ["SeqEncoder", "SeqParams", "fit_seq_encoder", "gru_step"]

#: Names of the encoder's arrays.
PARAM_NAMES = ("E", "Wx", "Wh", "b", "Wo", "bo", "mu", "sd")
#: Fewest training targets (orders that follow an earlier order before ``fit_before``).
MIN_TARGETS = 500


@dataclass(frozen=True, slots=True)
class SeqParams:
    """Training settings: ``dim`` H (embedding size), ``token_dim`` d_e, ``vocab`` most frequent
    categories kept (plus pad and "another"), ``max_len`` orders read, ``steps`` Adam steps of
    ``batch`` windows at learning rate ``lr``."""

    dim: int = 16
    token_dim: int = 32
    vocab: int = 256
    max_len: int = 64
    steps: int = 1500
    batch: int = 128
    lr: float = 3e-3


def _sigmoid(xp: ModuleType, a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + xp.exp(-a))


def gru_step(xp: ModuleType, Wh: np.ndarray, h: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """One GRU step for a batch: ``h`` (B, H), ``gx = x W_x + b`` (B, 3H) -> h' (B, H).

    ``xp``: ``numpy`` or ``jax.numpy`` (one definition for scoring and training)."""
    H = h.shape[-1]
    gh = h @ Wh
    z = _sigmoid(xp, gx[..., :H] + gh[..., :H])
    r = _sigmoid(xp, gx[..., H : 2 * H] + gh[..., H : 2 * H])
    n = xp.tanh(gx[..., 2 * H :] + r * gh[..., 2 * H :])
    return (1.0 - z) * n + z * h


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


@dataclass(frozen=True, slots=True)
class SeqEncoder:
    """A fitted encoder: ``vocab`` (category names of ids 2..), ``params`` (:data:`PARAM_NAMES`,
    float32), ``max_len`` and ``fit_before`` (ISO time: only orders before it were learned from);
    ``loss`` the final training loss (nats per target category) and ``seconds`` its fit time."""

    vocab: tuple[str, ...]
    params: dict[str, np.ndarray]
    max_len: int
    fit_before: str
    loss: float = float("nan")
    baseline_loss: float = float("nan")
    seconds: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.params["Wh"].shape[0])

    def columns(self) -> list[str]:
        """Feature column names ``seq_emb_0 .. seq_emb_{H-1}``."""
        return [f"seq_emb_{i}" for i in range(self.dim)]

    def token_ids(self, categories: np.ndarray) -> np.ndarray:
        """(n, T) object category names (None padded) -> (n, T) int64 ids (0 pad, 1 other)."""
        lookup = {c: i + 2 for i, c in enumerate(self.vocab)}
        flat = categories.ravel()
        ids = np.fromiter(
            (0 if c is None else lookup.get(c, 1) for c in flat), dtype=np.int64, count=flat.size
        )
        return ids.reshape(categories.shape)

    def order_inputs(self, orders: OrderTable) -> np.ndarray:
        """(n_o, 3H) float32: ``x_o W_x + b`` for every order."""
        p = self.params
        ids = self.token_ids(orders.categories)
        mask = ids > 0
        cnt = np.maximum(mask.sum(axis=1, keepdims=True), 1)
        tok = (p["E"][ids] * mask[..., None]).sum(axis=1) / cnt
        num = (orders.numeric - p["mu"]) / p["sd"]
        x = np.concatenate([tok, num], axis=1).astype(np.float32)
        return (x @ p["Wx"] + p["b"]).astype(np.float32)

    def embed(
        self, orders: OrderTable, customer_id: np.ndarray, as_of: np.ndarray, chunk: int = 8192
    ) -> np.ndarray:
        """(n, H) float64 embeddings of the cutoffs ``(customer_id[i], as_of[i])``: the GRU state
        after the last ``max_len`` orders with ts < as_of (0 without any)."""
        n = len(customer_id)
        out = np.zeros((n, self.dim), np.float64)
        if n == 0 or orders.n_orders == 0:
            return out
        gx_all = self.order_inputs(orders)
        end, first = orders.count_before(np.asarray(customer_id), np.asarray(as_of))
        Wh = self.params["Wh"]
        for lo in range(0, n, chunk):
            idx, mask = windows_before(end[lo : lo + chunk], first[lo : lo + chunk], self.max_len)
            h = np.zeros((len(idx), self.dim), np.float32)
            for t in range(self.max_len):
                m = mask[:, t]
                if not m.any():
                    continue
                h_new = gru_step(np, Wh, h, gx_all[idx[:, t]])
                h = np.where(m[:, None], h_new, h)
            out[lo : lo + chunk] = h
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: arrays as base64 little-endian float32 with their shapes."""
        return {
            "kind": "seq",
            "vocab": list(self.vocab),
            "max_len": self.max_len,
            "fit_before": self.fit_before,
            "loss": self.loss,
            "baseline_loss": self.baseline_loss,
            "seconds": self.seconds,
            "params": {k: {"shape": list(v.shape), "f4": _b64(v)} for k, v in self.params.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> SeqEncoder:
        raw = d["params"]
        assert isinstance(raw, dict)
        params = {
            k: np.frombuffer(base64.b64decode(v["f4"]), dtype="<f4").reshape(v["shape"]).copy()
            for k, v in raw.items()
        }
        vocab = d["vocab"]
        assert isinstance(vocab, list)
        return cls(
            vocab=tuple(str(v) for v in vocab),
            params=params,
            max_len=int(str(d["max_len"])),
            fit_before=str(d["fit_before"]),
            loss=float(str(d.get("loss", "nan"))),
            baseline_loss=float(str(d.get("baseline_loss", "nan"))),
            seconds=float(str(d.get("seconds", 0.0))),
        )


def _import_jax(threads: int) -> tuple[ModuleType, ModuleType]:
    """(jax, optax), XLA on ``threads`` CPU threads; InputError naming the extra without them."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "intra_op_parallelism_threads" not in flags:
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                f"intra_op_parallelism_threads={threads}"
            ).strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
        import optax
    except ImportError as exc:
        raise InputError(
            "--embeddings seq needs JAX and Optax: pip install 'offerwise[deep]'"
        ) from exc
    return jax, optax


def _vocab(orders: OrderTable, rows: np.ndarray, size: int) -> tuple[str, ...]:
    """The ``size`` categories in most of the ``rows`` orders (ties by name)."""
    cats = orders.categories[rows].ravel()
    s = pd.Series(cats[pd.notna(cats)]).value_counts()
    s = s.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return tuple(str(c) for c in s.index[:size])


def _init(rng: np.random.Generator, v: int, p: SeqParams, n_num: int) -> dict[str, np.ndarray]:
    d_in = p.token_dim + n_num
    H = p.dim

    def g(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)

    return {
        "E": (0.1 * rng.standard_normal((v, p.token_dim))).astype(np.float32),
        "Wx": g(d_in, 3 * H),
        "Wh": g(H, 3 * H),
        "b": np.zeros(3 * H, np.float32),
        "Wo": g(H, v),
        "bo": np.zeros(v, np.float32),
    }


def fit_seq_encoder(
    orders: OrderTable,
    fit_before: pd.Timestamp,
    *,
    params: SeqParams | None = None,
    seed: int = 0,
    threads: int = 1,
    on_step: Callable[[int, int], None] | None = None,
) -> SeqEncoder:
    """Train the encoder on the orders before ``fit_before`` (module docstring).

    Each step draws ``batch`` windows: a customer (weighted by their orders) and an end point
    uniform over their orders; targets are the next order's categories at every step of the
    window. Deterministic for a given ``seed``. InputError when fewer than :data:`MIN_TARGETS`
    orders follow an earlier one before ``fit_before``.
    """
    p = params or SeqParams()
    jax, optax = _import_jax(threads)
    jnp = jax.numpy
    t0 = time.perf_counter()
    cutoff = np.int64(pd.Timestamp(fit_before).value // 10**9)
    owner = orders.owner()
    keep = orders.seconds < cutoff
    # per customer: the orders before fit_before (a prefix of their slice)
    n_before = np.bincount(owner[keep], minlength=len(orders.customers)).astype(np.int64)
    n_targets = int(np.maximum(n_before - 1, 0).sum())
    if n_targets < MIN_TARGETS:
        raise InputError(
            f"sequence embeddings: only {n_targets} orders follow an earlier order before "
            f"{pd.Timestamp(fit_before)} (the first exposure); need at least {MIN_TARGETS}"
        )
    vocab = _vocab(orders, np.flatnonzero(keep), p.vocab - 2)
    v = len(vocab) + 2
    rng = np.random.default_rng(seed)
    init = _init(rng, v, p, len(ORDER_NUMERIC))
    num_tr = orders.numeric[keep]
    mu = num_tr.mean(axis=0).astype(np.float32)
    sd = np.maximum(num_tr.std(axis=0), 1e-3).astype(np.float32)
    enc0 = SeqEncoder(
        vocab=vocab, params={**init, "mu": mu, "sd": sd}, max_len=p.max_len, fit_before=""
    )
    ids = enc0.token_ids(orders.categories)
    num = ((orders.numeric - mu) / sd).astype(np.float32)
    # the marginal next-order category distribution: the loss of a model that ignores history
    tr_ids = ids[keep]
    freq = np.bincount(tr_ids[tr_ids > 0], minlength=v).astype(np.float64) + 1e-9
    logp0 = np.log(freq / freq.sum())
    tm = tr_ids > 0
    baseline = float(
        -(np.where(tm, logp0[tr_ids], 0).sum(1) / np.maximum(tm.sum(1), 1))[tm.any(1)].mean()
    )

    ids_j, num_j = jnp.asarray(ids), jnp.asarray(num)
    H = p.dim

    def loss_fn(theta: dict, win: Array, tgt: Array, m: Array) -> Array:
        tok = ids_j[win]  # (B, L, T)
        tmask = (tok > 0).astype(jnp.float32)
        e = (theta["E"][tok] * tmask[..., None]).sum(2) / jnp.maximum(
            tmask.sum(2, keepdims=True), 1
        )
        x = jnp.concatenate([e, num_j[win]], axis=-1)
        gx = x @ theta["Wx"] + theta["b"]  # (B, L, 3H)

        def step(h: Array, inp: tuple[Array, Array]) -> tuple[Array, Array]:
            g, mk = inp
            # gru_step is typed on NumPy arrays; jax.numpy runs the same expressions
            h2 = gru_step(
                jnp, cast(np.ndarray, theta["Wh"]), cast(np.ndarray, h), cast(np.ndarray, g)
            )
            h2 = jnp.where(mk[:, None], h2, h)
            return h2, h2

        h0 = jnp.zeros((win.shape[0], H))
        _, hs = jax.lax.scan(step, h0, (jnp.swapaxes(gx, 0, 1), jnp.swapaxes(m, 0, 1)))
        hs = jnp.swapaxes(hs, 0, 1)  # (B, L, H)
        logp = jax.nn.log_softmax(hs @ theta["Wo"] + theta["bo"], axis=-1)  # (B, L, V)
        ttok = ids_j[tgt]  # (B, L, T)
        tt = (ttok > 0).astype(jnp.float32)
        ll = jnp.take_along_axis(logp, ttok, axis=-1) * tt
        per = -ll.sum(-1) / jnp.maximum(tt.sum(-1), 1)
        valid = m & (tt.sum(-1) > 0)
        return jnp.where(valid, per, 0).sum() / jnp.maximum(valid.sum(), 1)

    opt = optax.adam(p.lr)
    theta = {k: jnp.asarray(init[k]) for k in init}
    state = opt.init(theta)

    @jax.jit
    def update(theta: dict, state: object, win: Array, tgt: Array, m: Array) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(theta, win, tgt, m)
        upd, state = opt.update(grads, state, theta)
        return optax.apply_updates(theta, upd), state, loss

    cand = np.flatnonzero(n_before >= 2)
    w = (n_before[cand] - 1).astype(np.float64)
    w /= w.sum()
    L = p.max_len
    losses: list[float] = []
    for s in range(p.steps):
        cust = rng.choice(cand, size=p.batch, p=w)
        # end = index (within the customer's prefix) of the target of the window's last step
        end = 1 + np.floor(rng.random(p.batch) * (n_before[cust] - 1)).astype(np.int64)
        first = orders.start[cust]
        win, m = windows_before(first + end, first, L)  # inputs: orders first+end-L .. first+end-1
        tgt = np.where(m, win + 1, 0)
        theta, state, loss = update(
            theta, state, jnp.asarray(win), jnp.asarray(tgt), jnp.asarray(m)
        )
        if s >= p.steps - 20:
            losses.append(float(loss))
        if on_step is not None:
            on_step(s + 1, p.steps)
    fitted = {k: np.asarray(theta[k], dtype=np.float32) for k in init}
    return SeqEncoder(
        vocab=vocab,
        params={**fitted, "mu": mu, "sd": sd},
        max_len=L,
        fit_before=pd.Timestamp(fit_before).isoformat(),
        loss=float(np.mean(losses)) if losses else float("nan"),
        baseline_loss=baseline,
        seconds=time.perf_counter() - t0,
    )

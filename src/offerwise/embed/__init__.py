"""Learned representations: customer sequence embeddings (a small GRU over each customer's orders,
trained self-supervised; :mod:`.seq`) and product text embeddings (a sentence-embedding model
shipped inside a PyPI package; :mod:`.text`).

Training the sequence encoder needs JAX and Optax (extra ``deep``); applying a fitted encoder is
plain NumPy, so a saved model scores without the extra.
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "OrderTable": "sequences",
    "load_orders": "sequences",
    "SeqEncoder": "seq",
    "SeqParams": "seq",
    "fit_seq_encoder": "seq",
    "ProductEmbeddings": "text",
    "TextEncoder": "text",
    "embed_products": "text",
    "product_texts": "text",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

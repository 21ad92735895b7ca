"""The model's feature matrix: point-in-time transaction features, customer attributes, tenure and
category shares, for any list of cutoffs ``(customer_id, as_of)``.

:class:`FeatureSpec` records how the matrix was built, so a saved model rebuilds the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offerwise.config import Settings, default_settings
from offerwise.data.templates import RecScope, is_template, parse_scope
from offerwise.embed.seq import SeqEncoder
from offerwise.embed.sequences import OrderTable, load_orders
from offerwise.errors import InputError, ModelError
from offerwise.features._join import join_unique
from offerwise.features.affinity import AFFINITY_PREFIX, CategoryFactors, affinity_features
from offerwise.features.columns import CATEGORY_SHARE_PREFIX
from offerwise.vocab import EMBEDDINGS, default_as_of, exact, exact_sum, parse_as_of

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.data.contract import DataSet

__all__ = [
    "MAX_LEVELS",
    "FeatureSpec",
    "build_features",
    "category_share_features",
    "customer_features",
    "customer_features_at",
    "fit_sequence_encoder",
    "menu_categories",
    "price_index_features",
    "sequence_features",
    "stable_values",
]

#: Days of competitor prices behind the price index feature (each rival's latest in the window).
PRICE_INDEX_DAYS = 28

#: Categorical customer attributes keep at most this many one-hot levels (most frequent first).
MAX_LEVELS = 20


@dataclass(slots=True)
class FeatureSpec:
    """How the feature matrix is built: its ordered ``columns`` and the encodings behind them.

    ``transaction_features``: columns from :func:`offerwise.features.compute_features`;
    ``numeric``: numeric customer attributes used as is; ``categorical``: customer attribute ->
    one-hot levels (column ``f"{attr}={level}"``; unseen levels are all-zero);
    ``tenure``: whether ``tenure_days`` (as_of - signup_date) is a column;
    ``category_shares``: categories scoped by menu offers; column ``category_share={c}`` is the
    customer's share of spend in category c over the feature window before as_of.
    ``sequence``: the fitted customer sequence encoder (columns ``seq_emb_i``,
    :mod:`offerwise.embed`) when the model was trained with ``--embeddings seq``.
    ``price_index``: whether column ``price_index`` (the customer's basket price against
    competitors, :func:`price_index_features`) is a feature: the training data had competitor
    prices.
    ``affinity``: ALS item factors of the categories when the model was trained with
    ``--affinity cf``: column ``category_affinity={c}`` for every named category of
    ``category_shares`` (:mod:`offerwise.features.affinity`).
    """

    columns: list[str]
    transaction_features: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    tenure: bool = False
    category_shares: list[str] = field(default_factory=list)
    sequence: SeqEncoder | None = None
    price_index: bool = False
    affinity: CategoryFactors | None = None

    def affinity_categories(self) -> list[str]:
        """The categories with a ``category_affinity`` column (named, not ``rec:N``)."""
        if self.affinity is None:
            return []
        return [c for c in self.category_shares if not is_template(c)]

    def to_dict(self) -> dict[str, Any]:
        return {
            **({"sequence": self.sequence.to_dict()} if self.sequence is not None else {}),
            **({"affinity": self.affinity.to_dict()} if self.affinity is not None else {}),
            "columns": list(self.columns),
            "transaction_features": list(self.transaction_features),
            "numeric": list(self.numeric),
            "categorical": {k: list(v) for k, v in self.categorical.items()},
            "tenure": self.tenure,
            "category_shares": list(self.category_shares),
            "price_index": self.price_index,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(
            columns=list(d["columns"]),
            transaction_features=list(d.get("transaction_features", [])),
            numeric=list(d.get("numeric", [])),
            categorical={k: list(v) for k, v in d.get("categorical", {}).items()},
            tenure=bool(d.get("tenure", False)),
            category_shares=list(d.get("category_shares", [])),
            price_index=bool(d.get("price_index", False)),
            sequence=SeqEncoder.from_dict(d["sequence"]) if d.get("sequence") else None,
            affinity=CategoryFactors.from_dict(d["affinity"]) if d.get("affinity") else None,
        )


def _customer_attribute_spec(customers: pd.DataFrame, settings: Settings) -> FeatureSpec:
    protected = set() if settings.allow_protected_features else set(settings.protected_attributes)
    numeric: list[str] = []
    categorical: dict[str, list[str]] = {}
    for col in customers.columns:
        if col in ("customer_id", "signup_date") or col in protected:
            continue
        s = customers[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            numeric.append(col)
        elif pd.api.types.is_datetime64_any_dtype(s):
            continue
        else:
            levels = s.dropna().astype(str).value_counts()
            levels = levels[levels >= 2].index[:MAX_LEVELS].tolist()
            if levels:
                categorical[col] = sorted(levels)
    tenure = "signup_date" in customers.columns and customers["signup_date"].notna().any()
    return FeatureSpec(columns=[], numeric=numeric, categorical=categorical, tenure=bool(tenure))


def _transaction_features(
    ds: DataSet,
    cutoffs: pd.DataFrame,
    settings: Settings,
    names: list[str] | None,
    computed: pd.DataFrame | None = None,
    categories: list[str] | None = None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Point-in-time transaction features keyed (customer_id, as_of), or None without them,
    with the share of spend in each of ``categories`` (plain names) computed by the same query;
    and the names of those share columns (none when none were asked for, or the features were
    ``computed`` already).

    ``computed``: the output of :func:`~offerwise.features.engine.compute_features` for these
    cutoffs when the caller already has it (a profile at the same date), so it is not recomputed.
    """
    if not ds.has("transactions"):
        return None, []
    from offerwise.features.engine import compute_features, decision_feature_columns

    shares: list[str] = []
    if computed is not None:
        feats = computed
    else:
        feats = compute_features(
            ds.con, cutoffs, settings=settings, categories=categories, decision_only=True
        )
        shares = [f"{CATEGORY_SHARE_PREFIX}{c}" for c in categories or []]
    if names is None:
        names = list(decision_feature_columns(list(feats.columns), settings=settings))
        names = [c for c in names if c not in ("customer_id", "as_of", *shares)]
    missing = [c for c in names if c not in feats.columns]
    if missing:
        raise ModelError(
            "the model uses transaction features this offerwise version does not compute: "
            f"{missing[:5]}"
        )
    return feats[["customer_id", "as_of", *names, *shares]], shares


def menu_categories(ds: DataSet) -> list[str]:
    """Categories that menu offers are scoped to (offers.category), sorted."""
    if not ds.has("offers"):
        return []
    cats = ds.con.execute(
        "SELECT DISTINCT CAST(category AS VARCHAR) FROM offers WHERE category IS NOT NULL"
    ).fetchall()
    return sorted(str(c[0]) for c in cats if c[0] is not None and str(c[0]) != "")


def _per_cutoff(
    ds: DataSet,
    cutoffs: pd.DataFrame,
    name: str,
    sql: str,
    params: list[object] | None = None,
) -> pd.DataFrame:
    """Run ``sql`` over the distinct (customer_id, as_of) of ``cutoffs`` registered as view
    ``name``; the result keyed by str customer_id and datetime as_of."""
    con = ds.con
    con.register(name, cutoffs[["customer_id", "as_of"]].drop_duplicates())
    try:
        out = con.execute(sql, params or []).df()
    finally:
        con.unregister(name)
    out["customer_id"] = out["customer_id"].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"])
    return out


def category_share_features(
    ds: DataSet, cutoffs: pd.DataFrame, categories: list[str], window_days: int
) -> pd.DataFrame:
    """Share of spend (n, len(categories)) per category over ``window_days`` before each as_of.

    Keyed by the distinct (customer_id, as_of) of ``cutoffs``; 0 for customers with no spend.
    Needs ``transactions`` and ``products`` (product categories); empty frame otherwise.
    """
    if not categories or not (ds.has("transactions") and ds.has("products")):
        return pd.DataFrame(columns=["customer_id", "as_of"])
    ranked = [c for c in categories if is_template(c)]
    categories = [c for c in categories if not is_template(c)]
    if ranked:
        out = _ranked_shares(ds, cutoffs, ranked, window_days)
        if not categories:
            return out
        rest = category_share_features(ds, cutoffs, categories, window_days)
        return rest.merge(out, on=["customer_id", "as_of"], how="outer")
    from offerwise.features.engine import quote_ident

    names = [quote_ident(f"{CATEGORY_SHARE_PREFIX}{c}") for c in categories]
    sums = ", ".join(
        f"{exact_sum('CASE WHEN p.category = ? THEN t.amount ELSE 0 END')} "
        f"/ NULLIF({exact_sum('t.amount')}, 0) AS {n}"
        for n in names
    )
    sql = f"""
        SELECT c.customer_id, c.as_of, {sums}
        FROM ow_share_cutoffs c
        JOIN transactions t ON t.customer_id = c.customer_id AND t.ts < c.as_of
             AND t.ts >= c.as_of - INTERVAL '{int(window_days)} days'
        LEFT JOIN products p ON p.product_id = t.product_id
        GROUP BY c.customer_id, c.as_of
    """
    return _per_cutoff(ds, cutoffs, "ow_share_cutoffs", sql, list(categories))


def price_index_features(ds: DataSet, cutoffs: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """``price_index`` per distinct (customer_id, as_of) of ``cutoffs``: what the customer's
    basket over ``window_days`` before as_of costs at our shelf prices over what it costs at the
    competitors' (products with a rival's price only)::

        price_index = Σ_lines (amount + discount) / Σ_lines quantity · comp(product, day)

    ``comp`` is the median over rivals of each one's latest price in the
    :data:`PRICE_INDEX_DAYS` days before the decision's day (prices of the decision day itself are
    not used: point in time; the sums are exact, over amounts, quantities and prices to 4
    decimals). NaN when no product bought has a rival's price (the model reads NaN as missing).
    Needs ``transactions`` and ``competitor_prices``; empty frame otherwise.
    """
    if not (ds.has("transactions") and ds.has("competitor_prices")):
        return pd.DataFrame(columns=["customer_id", "as_of", "price_index"])
    sql = f"""
        WITH c AS (SELECT customer_id, as_of, date_trunc('day', as_of) AS day FROM ow_pi_cutoffs),
        d AS (SELECT DISTINCT day FROM c),
        latest AS (
            SELECT d.day, cp.product_id, cp.competitor, arg_max(cp.price, cp.ts) AS price
            FROM d JOIN competitor_prices cp
              ON cp.ts < d.day AND cp.ts >= d.day - INTERVAL '{PRICE_INDEX_DAYS} days'
            GROUP BY 1, 2, 3
        ),
        ref AS (SELECT day, product_id, median(price) AS comp FROM latest GROUP BY 1, 2),
        bought AS (
            SELECT c.customer_id, c.as_of, c.day, t.product_id,
                   SUM({exact("t.amount")} + {exact("t.discount")}) AS shelf,
                   SUM({exact("t.quantity")}) AS q
            FROM c JOIN transactions t ON t.customer_id = c.customer_id AND t.ts < c.as_of
                 AND t.ts >= c.as_of - INTERVAL '{int(window_days)} days' AND t.quantity > 0
            GROUP BY 1, 2, 3, 4
        )
        SELECT b.customer_id, b.as_of,
               CAST(SUM(b.shelf) AS DOUBLE)
               / NULLIF(CAST(SUM(b.q * {exact("r.comp")}) AS DOUBLE), 0)
               AS price_index
        FROM bought b JOIN ref r ON r.product_id = b.product_id AND r.day = b.day
        GROUP BY 1, 2
    """
    return _per_cutoff(ds, cutoffs, "ow_pi_cutoffs", sql)


def _ranked_shares(
    ds: DataSet, cutoffs: pd.DataFrame, templates: list[str], window_days: int
) -> pd.DataFrame:
    """``category_share=rec:N``: the share of spend in the customer's N-th category by spend over
    ``window_days`` before each as_of (ties by category name), for the template scopes in
    ``templates`` (``rec:N..M`` uses rank N: the category a full list instantiates it to).

    The point-in-time stand-in for the share in a template's recommended category: the
    recommendations themselves are not refitted at every logged exposure's date."""
    from offerwise.features.engine import quote_ident

    ranks = {t: (parse_scope(t) or RecScope(1, 1)).first for t in templates}
    cols = ", ".join(
        f"COALESCE(CAST(MAX(CASE WHEN rk = {r} THEN amt END) AS DOUBLE) "
        f"/ NULLIF(CAST(MAX(tot) AS DOUBLE), 0), 0) "
        f"AS {quote_ident(CATEGORY_SHARE_PREFIX + t)}"
        for t, r in ranks.items()
    )
    sql = f"""
        WITH s AS (
            SELECT c.customer_id, c.as_of, p.category, SUM({exact("t.amount")}) AS amt
            FROM ow_rank_cutoffs c
            JOIN transactions t ON t.customer_id = c.customer_id AND t.ts < c.as_of
                 AND t.ts >= c.as_of - INTERVAL '{int(window_days)} days'
            LEFT JOIN products p ON p.product_id = t.product_id
            GROUP BY c.customer_id, c.as_of, p.category
        ), r AS (
            SELECT customer_id, as_of, amt,
                   SUM(amt) OVER (PARTITION BY customer_id, as_of) AS tot,
                   CASE WHEN category IS NULL OR CAST(category AS VARCHAR) = '' THEN NULL
                        ELSE ROW_NUMBER() OVER (PARTITION BY customer_id, as_of,
                            category IS NULL OR CAST(category AS VARCHAR) = ''
                            ORDER BY amt DESC, CAST(category AS VARCHAR)) END AS rk
            FROM s
        )
        SELECT customer_id, as_of, {cols} FROM r GROUP BY customer_id, as_of
    """
    return _per_cutoff(ds, cutoffs, "ow_rank_cutoffs", sql)


def build_features(
    ds: DataSet,
    cutoffs: pd.DataFrame,
    settings: Settings,
    spec: FeatureSpec | None = None,
    computed: pd.DataFrame | None = None,
    embeddings: str = "none",
    affinity: CategoryFactors | None = None,
) -> tuple[np.ndarray, FeatureSpec]:
    """Feature matrix (n, p) float for the rows of ``cutoffs`` (customer_id, as_of), in order.

    ``computed``: transaction features already computed for exactly these cutoffs (e.g. by the
    profile of the same date); reused instead of running the feature SQL again.

    With ``spec`` (from a saved model) the same columns are rebuilt; otherwise a spec is derived:
    transaction features (when the source has ``transactions``) + numeric customer attributes +
    one-hot categorical attributes + ``tenure_days``; protected attributes are excluded unless
    ``settings.allow_protected_features``. ``embeddings="seq"`` (when deriving) also fits a
    customer sequence encoder on the orders before the earliest cutoff and adds its embedding
    (:func:`sequence_features`). ``affinity`` (when deriving): ALS item factors of the categories
    (fitted by the caller on the history before the earliest cutoff); adds
    ``category_affinity={c}`` next to each named ``category_share={c}``.
    """
    if embeddings not in EMBEDDINGS:
        raise InputError(f"--embeddings {embeddings!r}: use one of {', '.join(EMBEDDINGS)}")
    cutoffs = cutoffs[["customer_id", "as_of"]].copy()
    cutoffs["customer_id"] = cutoffs["customer_id"].astype(str)
    # DuckDB's timestamps are microseconds: a finer cutoff would not find its own features
    cutoffs["as_of"] = pd.to_datetime(cutoffs["as_of"]).dt.floor("us")
    customers = ds.frame("customers")
    customers["customer_id"] = customers["customer_id"].astype(str)
    derive = spec is None
    if spec is None:
        spec = _customer_attribute_spec(customers, settings)
    uniq = cutoffs.drop_duplicates().reset_index(drop=True)
    # the menu's plain categories: their shares come with the transaction features (one query)
    wanted = menu_categories(ds) if derive and ds.has("transactions") else spec.category_shares
    plain = [c for c in wanted if not is_template(c)]
    fused: list[str] = []  # share columns that came with the transaction features
    if derive or spec.transaction_features:
        tx, fused = _transaction_features(
            ds, uniq, settings, None if derive else spec.transaction_features, computed, plain
        )
    else:  # the model was trained without transaction features: ignore any transactions
        tx = None
    cols: dict[str, np.ndarray] = {}
    with_tx: pd.DataFrame | None = None  # the cutoffs joined with the transaction features
    if tx is not None:
        tx = tx.copy()
        tx["customer_id"] = tx["customer_id"].astype(str)
        tx["as_of"] = pd.to_datetime(tx["as_of"])
        names = [c for c in tx.columns if c not in ("customer_id", "as_of", *fused)]
        if derive:
            spec.transaction_features = names
            if "tenure_days" in names:
                spec.tenure = False  # already a transaction feature
        elif names != spec.transaction_features:
            missing = sorted(set(spec.transaction_features) - set(names))
            raise ModelError(
                f"the data's transaction features differ from the model's (missing: {missing[:5]})"
            )
        with_tx = join_unique(cutoffs, tx, ["customer_id", "as_of"], "transaction features")
        for c in spec.transaction_features:
            cols[c] = pd.to_numeric(with_tx[c], errors="coerce").to_numpy(dtype=np.float64)
    elif spec.transaction_features:
        raise ModelError(
            "the model was trained with transaction features but the data has no transactions table"
        )
    if derive and tx is not None:
        spec.category_shares = wanted
    if spec.category_shares:
        # the shares the feature query did not give: templates, or all when it was precomputed
        rest = [c for c in spec.category_shares if f"{CATEGORY_SHARE_PREFIX}{c}" not in fused]
        with_rest = (
            join_unique(
                cutoffs,
                category_share_features(ds, uniq, rest, settings.feature_window_days),
                ["customer_id", "as_of"],
                "category shares",
            )
            if rest
            else None
        )
        # a share is in the transaction features' join (``fused``) or in with_rest
        frames = [f for f in (with_tx, with_rest) if f is not None]
        for c in spec.category_shares:
            col = f"{CATEGORY_SHARE_PREFIX}{c}"
            got = next((f for f in frames if col in f), None)
            vals = np.zeros(len(cutoffs)) if got is None else got[col].to_numpy(dtype=np.float64)
            cols[col] = np.nan_to_num(vals, nan=0.0)
    if derive and tx is not None:
        spec.affinity = affinity if spec.category_shares else None
    aff_cats = spec.affinity_categories()
    if spec.affinity is not None and aff_cats:
        aff = affinity_features(ds, uniq, spec.affinity, aff_cats)
        at = pd.MultiIndex.from_frame(uniq).get_indexer(
            pd.MultiIndex.from_frame(cutoffs[["customer_id", "as_of"]])
        )
        for j, c in enumerate(aff_cats):
            cols[f"{AFFINITY_PREFIX}{c}"] = aff[at, j]
    if derive and tx is not None:
        spec.price_index = ds.has("competitor_prices")
    if spec.price_index:
        pi = price_index_features(ds, uniq, settings.feature_window_days)
        merged = join_unique(cutoffs, pi, ["customer_id", "as_of"], "price index")
        cols["price_index"] = pd.to_numeric(merged["price_index"], errors="coerce").to_numpy(
            dtype=np.float64
        )
    cust = join_unique(cutoffs[["customer_id", "as_of"]], customers, ["customer_id"], "customers")
    # an attribute the model reads but the data lacks: every customer would score as if it
    # were unknown (a categorical one as no level at all); refused rather than guessed
    gone = [c for c in (*spec.numeric, *spec.categorical) if c not in cust.columns]
    if gone:
        have = ", ".join(map(str, list(customers.columns)[:12]))
        raise ModelError(
            f"customers: column(s) {', '.join(map(repr, gone))} used by the model are missing "
            f"from the data (its customer columns: {have}); add them back, or retrain the "
            "model on this data"
        )
    for c in spec.numeric:
        cols[f"cust_{c}"] = pd.to_numeric(cust[c], errors="coerce").to_numpy(dtype=np.float64)
    for c, levels in spec.categorical.items():
        vals = cust[c].astype("string")
        for lv in levels:
            cols[f"{c}={lv}"] = (vals == lv).fillna(False).to_numpy(dtype=np.float64)
    if spec.tenure:
        if "signup_date" in cust.columns:
            sd = pd.to_datetime(cust["signup_date"], errors="coerce")
            cols["tenure_days"] = ((cust["as_of"] - sd).dt.total_seconds() / 86400.0).to_numpy(
                dtype=np.float64
            )
        else:
            cols["tenure_days"] = np.full(len(cust), np.nan)
    orders = None
    if derive and embeddings == "seq":
        if not ds.has("transactions"):
            raise InputError(
                "--embeddings seq needs the transactions table (the customers' orders)"
            )
        orders = load_orders(ds)  # every customer's: the encoder learns from all of them
        spec.sequence = fit_sequence_encoder(orders, cutoffs["as_of"].min(), settings)
    if spec.sequence is not None:
        emb = sequence_features(ds, spec.sequence, cutoffs, orders)
        for i, c in enumerate(spec.sequence.columns()):
            cols[c] = emb[:, i]
    if derive:
        spec.columns = list(cols)
    if not spec.columns:
        raise InputError(
            "no usable features: the data has no transactions and the customers table has no "
            "attribute columns besides protected ones"
        )
    X = np.empty((len(cutoffs), len(spec.columns)))
    for j, c in enumerate(spec.columns):  # column by column: no (n, p) temporaries
        X[:, j] = stable_values(cols[c])
    return X, spec


def stable_values(X: np.ndarray) -> np.ndarray:
    """``X`` rounded to float32 precision (about 7 significant digits), as float64. DuckDB sums
    in parallel in no fixed order, so a share or an average can differ in its last bits from one
    run to the next; those bits moved LightGBM's split thresholds and, now and then, a split and
    a plan. Rounded, two runs see the same features (unless a value sits within a last-bit
    difference of a float32 rounding boundary: about 1e-9 of values)."""
    with np.errstate(over="ignore"):
        r = np.asarray(X, np.float64).astype(np.float32).astype(np.float64)
    return np.where(np.isfinite(r) | ~np.isfinite(X), r, X)


def fit_sequence_encoder(
    orders: OrderTable, fit_before: pd.Timestamp, settings: Settings
) -> SeqEncoder:
    """The customer sequence encoder fitted on the orders before ``fit_before`` (the earliest
    training cutoff, so no training row's embedding saw orders after its own exposure)."""
    from offerwise.embed.seq import SeqParams, fit_seq_encoder

    return fit_seq_encoder(
        orders,
        pd.Timestamp(fit_before),
        params=SeqParams(steps=settings.embedding_steps),
        seed=settings.seed,
        threads=settings.threads,
    )


def sequence_features(
    ds: DataSet, encoder: SeqEncoder, cutoffs: pd.DataFrame, orders: OrderTable | None = None
) -> np.ndarray:
    """(n, H) embeddings of the rows of ``cutoffs`` (customer_id, as_of): the encoder's state after
    each customer's orders before as_of (0 without any). ``orders``: already loaded (else the
    orders of the cutoffs' customers are read)."""
    ids = cutoffs["customer_id"].astype(str).to_numpy()
    if orders is None:
        orders = load_orders(ds, customers=np.unique(ids))
    return encoder.embed(orders, ids, pd.to_datetime(cutoffs["as_of"]).to_numpy())


def customer_features(
    ds: DataSet,
    spec: FeatureSpec,
    *,
    as_of: object = None,
    settings: Settings | None = None,
    computed: pd.DataFrame | None = None,
) -> tuple[pd.Series, np.ndarray, pd.Timestamp]:
    """Every customer of ``ds`` with features (n, p) per ``spec`` as of ``as_of``.

    ``as_of`` defaults to :func:`offerwise.vocab.default_as_of`. ``computed``: the transaction
    features of every customer at that date when already computed (a profile). Returns
    (customer ids, X, as_of).
    """
    settings = settings or default_settings()
    ts = parse_as_of(as_of, "as_of") if as_of is not None else default_as_of(ds)
    customers = ds.frame("customers", ["customer_id"])
    ids = customers["customer_id"].astype(str).reset_index(drop=True)
    cutoffs = pd.DataFrame({"customer_id": ids, "as_of": ts})
    X, _ = build_features(ds, cutoffs, settings, spec=spec, computed=computed)
    return ids, X, ts


def customer_features_at(
    ds: DataSet,
    spec: FeatureSpec,
    dates: Sequence[pd.Timestamp],
    *,
    settings: Settings | None = None,
) -> tuple[pd.Series, list[np.ndarray]]:
    """Every customer of ``ds`` with features (n, p) per ``spec`` as of each of ``dates``, from one
    feature pass: (customer ids, [X at dates[0], X at dates[1], ...])."""
    settings = settings or default_settings()
    ids = ds.frame("customers", ["customer_id"])["customer_id"].astype(str).reset_index(drop=True)
    cutoffs = pd.concat(
        [pd.DataFrame({"customer_id": ids, "as_of": pd.Timestamp(d)}) for d in dates],
        ignore_index=True,
    )
    X, _ = build_features(ds, cutoffs, settings, spec=spec)
    n = len(ids)
    return ids, [X[k * n : (k + 1) * n] for k in range(len(dates))]

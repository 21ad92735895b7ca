"""The simulated population: latent customer traits (a Gaussian copula, optionally bootstrapped
from real profiles), the product catalogue, the customers table and the purchase history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit, ndtr, ndtri

from offerwise.errors import InputError
from offerwise.simulator.config import (
    BRANDS,
    CATEGORIES,
    ITEMS_PER_BRAND,
    N_BRANDS,
    PROFILE_COLUMNS,
    SimulatorConfig,
)

# latent Gaussian-copula order: rate, basket, sens, loyal, private-label, lapse
_TRAITS = ("rate", "basket", "sens", "loyal", "pl", "lapse")
_CORR = np.array(
    [
        #  rate  basket  sens  loyal   pl   lapse
        [1.00, -0.10, -0.10, 0.35, -0.05, -0.30],
        [-0.10, 1.00, -0.20, 0.10, -0.10, 0.00],
        [-0.10, -0.20, 1.00, -0.30, 0.50, 0.10],
        [0.35, 0.10, -0.30, 1.00, -0.20, -0.30],
        [-0.05, -0.10, 0.50, -0.20, 1.00, 0.00],
        [-0.30, 0.00, 0.10, -0.30, 0.00, 1.00],
    ]
)


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-based normal scores (ties averaged); NaN stays NaN."""
    s = pd.Series(x, dtype="float64")
    r = s.rank(method="average")
    n = s.notna().sum()
    return ndtri((r.to_numpy() - 0.5) / max(n, 1))


def _profile_scores(profiles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Normal scores of the copula coordinates that the profile table determines."""
    if not isinstance(profiles, pd.DataFrame) or len(profiles) == 0:
        raise InputError("simulator profiles: expected a non-empty DataFrame")
    present = [c for c in PROFILE_COLUMNS if c in profiles.columns]
    if not present:
        raise InputError(
            f"simulator profiles: none of the columns {', '.join(PROFILE_COLUMNS)} found "
            f"(got {', '.join(map(str, profiles.columns[:12]))})"
        )
    cols: dict[str, np.ndarray] = {}
    for c in present:
        v = pd.to_numeric(profiles[c], errors="coerce")
        bad = v.isna() & profiles[c].notna()
        if bad.any():
            ex = profiles.loc[bad, c].iloc[0]
            raise InputError(
                f"simulator profiles, column '{c}': {int(bad.sum())} non-numeric values; "
                f"e.g. {ex!r}"
            )
        cols[c] = v.to_numpy(dtype="float64")
    basket = cols.get("avg_basket")
    if basket is None and "monetary" in cols and "frequency" in cols:
        basket = cols["monetary"] / np.where(cols["frequency"] > 0, cols["frequency"], np.nan)
    sources = {
        "rate": cols.get("frequency", cols.get("monetary")),
        "basket": basket,
        "sens": cols.get("discount_share"),
        "loyal": cols.get("top_national_brand_share", cols.get("top_brand_share")),
        "pl": cols.get("private_label_share"),
        "lapse": cols.get("recency_days"),
    }
    return {k: _normal_scores(v) for k, v in sources.items() if v is not None}


def _latent_normals(cfg: SimulatorConfig, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) correlated standard normals; profile-driven coordinates come from resampled rows."""
    n = cfg.n_customers
    if cfg.profiles is None:
        return rng.standard_normal((n, len(_TRAITS))) @ np.linalg.cholesky(_CORR).T
    scores = _profile_scores(cfg.profiles)
    rows = rng.integers(0, len(cfg.profiles), size=n)
    z = np.empty((n, len(_TRAITS)))
    given = [j for j, t in enumerate(_TRAITS) if t in scores]
    free = [j for j in range(len(_TRAITS)) if j not in given]
    j2 = cfg.profile_jitter**2
    for j in given:
        s = scores[_TRAITS[j]][rows]
        s = np.where(np.isnan(s), rng.standard_normal(n), s)  # missing profile values: fresh draw
        z[:, j] = (s + cfg.profile_jitter * rng.standard_normal(n)) / np.sqrt(1 + j2)
    if free:  # conditional Gaussian given the profile coordinates
        g, f = np.array(given), np.array(free)
        s_gg = _CORR[np.ix_(g, g)]
        s_fg = _CORR[np.ix_(f, g)]
        b = np.linalg.solve(s_gg, s_fg.T).T
        cov = _CORR[np.ix_(f, f)] - b @ s_fg.T
        z[:, f] = z[:, g] @ b.T + rng.standard_normal((n, len(free))) @ np.linalg.cholesky(cov).T
    return z


def _draw_traits(cfg: SimulatorConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-customer latent traits (arrays of length n). Days are relative to the history start."""
    n = cfg.n_customers
    z = _latent_normals(cfg, rng)
    t: dict[str, np.ndarray] = {}
    t["rate"] = np.clip(np.exp(np.log(0.9) + 0.75 * z[:, 0]), 0.05, 12.0)  # orders / 30 days
    t["basket"] = np.clip(np.exp(np.log(38.0) + 0.45 * z[:, 1]), 8.0, 400.0)  # mean gross order
    t["sens"] = expit(-0.35 + 1.1 * z[:, 2])  # logit-normal, mean ≈ 0.43
    t["loyal"] = expit(-0.2 + 1.0 * z[:, 3])
    t["pl"] = expit(-0.8 + 1.0 * z[:, 4])
    h = cfg.history_days
    # tenure: 75% signed up before the history window (up to 4 years), the rest during it
    old = rng.random(n) < 0.75
    signup = np.where(old, -rng.random(n) * 4 * 365, rng.random(n) * (h - 30))
    t["signup_day"] = signup
    active = np.maximum(signup, 0.0)
    lapsed = z[:, 5] > ndtri(1 - cfg.lapsed_share) if cfg.lapsed_share > 0 else np.zeros(n, bool)
    room = (h - 30) - active
    lapsed &= room > 14
    # deeper lapse-score -> earlier lapse
    frac = np.clip(
        ndtr(-(z[:, 5] - ndtri(1 - cfg.lapsed_share)) * 1.5) * 0.8 + 0.1 * rng.random(n), 0, 1
    )
    t["lapse_day"] = np.where(lapsed, active + np.clip(room, 0, None) * frac, np.nan)
    t["lapsed"] = lapsed
    t["lapse_factor"] = np.where(lapsed, rng.uniform(0.02, 0.5, n), 1.0)
    t["rate_now"] = t["rate"] * t["lapse_factor"]
    alpha = rng.gamma(0.8, 1.0, (n, len(CATEGORIES))) + 1e-9
    t["pref"] = alpha / alpha.sum(axis=1, keepdims=True)
    t["fav_brand"] = rng.integers(1, N_BRANDS, n)
    w = t["loyal"] * (1 - t["sens"])
    p_dog = np.clip(cfg.sleeping_dog_share * w / max(w.mean(), 1e-12), 0, 0.5)
    t["dog"] = rng.random(n) < p_dog
    t["dog_strength"] = np.where(t["dog"], rng.uniform(0.4, 1.2, n), 0.0)
    return t


def _products(rng: np.random.Generator, margin_rate: float) -> pd.DataFrame:
    """``CATEGORIES`` × ``BRANDS`` × ``ITEMS_PER_BRAND`` products; unit cost ≈ (1 − margin) ×
    price."""
    base_price = np.array([3.5, 4.0, 2.5, 5.0, 6.0, 4.5])
    n = len(CATEGORIES) * N_BRANDS * ITEMS_PER_BRAND
    idx = np.arange(n)
    cat = idx // (N_BRANDS * ITEMS_PER_BRAND)
    brand = (idx // ITEMS_PER_BRAND) % N_BRANDS
    price = base_price[cat] * np.where(brand == 0, 0.75, 1.0) * np.exp(rng.normal(0, 0.35, n))
    price = np.round(np.clip(price, 0.5, None), 2)
    cats = np.asarray(CATEGORIES, dtype=object)[cat]
    brands = np.asarray(BRANDS, dtype=object)[brand]
    return pd.DataFrame(
        {
            "product_id": pd.array([f"P{i:04d}" for i in idx], dtype="str"),
            "category": pd.array(cats, dtype="str"),
            "brand": pd.array(brands, dtype="str"),
            "price": price,
            "unit_cost": np.round(price * (1 - margin_rate) * np.exp(rng.normal(0, 0.05, n)), 2),
        }
    )


def _history(
    t: dict[str, np.ndarray], cfg: SimulatorConfig, rng: np.random.Generator, products: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Order lines over the history window, vectorised; plus per-customer snapshot features."""
    n, h = cfg.n_customers, float(cfg.history_days)
    active = np.maximum(t["signup_day"], 0.0)
    end_a = np.where(t["lapsed"], t["lapse_day"], h)
    len_a = np.maximum(end_a - active, 0.0)
    len_b = np.where(t["lapsed"], h - end_a, 0.0)
    n_a = rng.poisson(t["rate"] * len_a / 30)
    n_b = rng.poisson(t["rate_now"] * len_b / 30)
    cust = np.concatenate([np.repeat(np.arange(n), n_a), np.repeat(np.arange(n), n_b)])
    lo = np.concatenate([np.repeat(active, n_a), np.repeat(end_a, n_b)])
    ln = np.concatenate([np.repeat(len_a, n_a), np.repeat(len_b, n_b)])
    day = lo + rng.random(cust.size) * ln
    order = np.lexsort((day, cust))
    cust, day = cust[order], day[order]
    n_orders = cust.size
    s = cfg.basket_noise
    target = t["basket"][cust] * np.exp(rng.normal(-s * s / 2, s, n_orders))
    # promotions used in the past: deal seekers use more of them, and deeper ones
    sens_o = t["sens"][cust]
    promo = rng.random(n_orders) < 0.02 + 0.95 * sens_o
    depth = np.where(promo, np.round(rng.uniform(0.1, 0.2 + 0.3 * sens_o), 2), 0.0)

    lines = 1 + rng.poisson(0.7, n_orders)
    o_idx = np.repeat(np.arange(n_orders), lines)
    l_cust = cust[o_idx]
    w = rng.exponential(1.0, o_idx.size)
    w = w / np.bincount(o_idx, weights=w, minlength=n_orders)[o_idx]
    value = target[o_idx] * w
    cum = np.cumsum(t["pref"], axis=1)[l_cust]
    cat = np.minimum((rng.random(o_idx.size)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    u = rng.random(o_idx.size)
    loyal, pl = t["loyal"][l_cust], t["pl"][l_cust]
    brand = np.where(
        u < loyal,
        t["fav_brand"][l_cust],
        np.where(u < loyal + (1 - loyal) * pl, 0, rng.integers(0, N_BRANDS, o_idx.size)),
    )
    pidx = (cat * N_BRANDS + brand) * ITEMS_PER_BRAND + rng.integers(0, ITEMS_PER_BRAND, o_idx.size)
    price = products["price"].to_numpy()[pidx]
    qty = np.maximum(1, np.rint(value / price)).astype("int64")
    gross = np.round(qty * price, 2)
    disc = np.round(depth[o_idx] * gross, 2)

    start = pd.Timestamp(cfg.start_date)
    secs = np.floor(day * 86400).astype("int64")[o_idx]
    ts = (start + pd.to_timedelta(secs, unit="s")).as_unit("us")
    order_ids = pc.binary_join_element_wise("O", pc.cast(pa.array(o_idx + 1), pa.string()), "")
    tx = pd.DataFrame(
        {
            "customer_id": _strings(_customer_ids(n), l_cust),
            "order_id": _strings(order_ids),
            "product_id": _strings(products["product_id"].tolist(), pidx),
            "ts": ts,
            "quantity": qty,
            "amount": np.round(gross - disc, 2),
            "discount": disc,
        }
    )
    # snapshot features at the end of the history (what a legacy system would have seen)
    cnt = np.bincount(cust, minlength=n)
    last = np.full(n, np.nan)
    if n_orders:
        ends = np.cumsum(cnt)
        has = cnt > 0
        last[has] = day[ends[has] - 1]
    spend = np.bincount(
        cust, weights=np.bincount(o_idx, weights=gross, minlength=n_orders), minlength=n
    )
    snap = {
        "n_orders": cnt,
        "recency_days": np.where(np.isnan(last), h - active, h - last),
        "avg_basket": np.where(cnt > 0, spend / np.maximum(cnt, 1), np.nan),
    }
    return tx, snap


def _customer_ids(n: int) -> pa.Array:
    """'C000001', 'C000002', … (at least 6 digits)."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), max(6, len(str(n))), "0"
    )
    return pc.binary_join_element_wise("C", digits, "")


def _strings(
    values: pa.Array | np.ndarray | list[object], idx: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """``values[idx]`` as a pandas ``str`` array (via Arrow: fast for millions of rows)."""
    arr = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    if idx is not None:
        arr = arr.take(pa.array(np.asarray(idx, dtype="int64")))
    return pd.array(arr, dtype="str")


def _customers(
    t: dict[str, np.ndarray], cfg: SimulatorConfig, rng: np.random.Generator
) -> pd.DataFrame:
    n = cfg.n_customers
    start = pd.Timestamp(cfg.start_date)
    signup = (start + pd.to_timedelta(np.floor(t["signup_day"]).astype("int64"), unit="D")).as_unit(
        "us"
    )
    ages = np.array(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], dtype=object)
    incomes = np.array(["<25K", "25-49K", "50-74K", "75-99K", "100K+"], dtype=object)
    inc_z = 0.6 * (np.log(t["basket"]) - np.log(38.0)) / 0.45 + 0.8 * rng.standard_normal(n)
    inc = np.digitize(inc_z, [-1.0, -0.3, 0.3, 1.0])
    age = rng.choice(len(ages), n, p=[0.10, 0.22, 0.22, 0.2, 0.15, 0.11])
    return pd.DataFrame(
        {
            "customer_id": _strings(_customer_ids(n)),
            "signup_date": signup,
            "age": _strings(ages.tolist(), age),
            "income": _strings(incomes.tolist(), inc),
        }
    )


def _offers_frame(cfg: SimulatorConfig) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "offer_id": pd.array([o.offer_id for o in cfg.offers], dtype="str"),
            "kind": pd.array([o.kind for o in cfg.offers], dtype="str"),
            "value": np.array([float(o.value) for o in cfg.offers]),
            "min_spend": np.array([float(o.min_spend) for o in cfg.offers]),
            # "string", not "str": with pandas < 3 "str" writes a site-wide None as "None"
            "category": pd.array([o.category for o in cfg.offers], dtype="string"),
            "description": pd.array([o.description for o in cfg.offers], dtype="str"),
        }
    )

"""Named, explainable customer segments, with an optional data-driven clustering.

Rules are checked in :data:`SEGMENT_ORDER` (first match wins); thresholds come from
``settings.segments`` (:class:`~offerwise.config.SegmentThresholds`). Each customer also gets a
``segment_reason`` naming the rule and the numbers that matched, e.g. ``"recency 143d ≥ 90d"``.
See ``docs/segments.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from offerwise.config import SegmentThresholds, Settings, default_settings
from offerwise.errors import InputError
from offerwise.features.columns import FEATURE_COLUMNS
from offerwise.vocab import SEGMENTS

#: Precedence: the first rule that matches names the segment (:data:`offerwise.vocab.SEGMENTS`):
#: new (tenure_days < new_tenure_days); dormant (recency_days >= dormant_days, or no order in the
#: look-back window); at-risk (churn_risk >= at_risk_churn); loyal-high-value (frequency >=
#: loyal_min_frequency and monetary >= quantile(high_value_quantile)); deal-seeker (discount_share
#: >= deal_seeker_discount_share); brand-loyal (top_brand_share >= brand_loyal_top_brand_share,
#: brand known); regular (everyone else).
SEGMENT_ORDER: tuple[str, ...] = SEGMENTS

_NEEDED = (
    "tenure_days",
    "recency_days",
    "churn_risk",
    "frequency",
    "monetary",
    "discount_share",
    "top_brand_share",
)


def high_value_threshold(monetary: pd.Series, frequency: pd.Series, quantile: float) -> float:
    """The ``quantile`` of ``monetary`` over customers with at least one order (inf when none)."""
    buyers = monetary[frequency > 0]
    return float(buyers.quantile(quantile)) if len(buyers) else float("inf")


def segment_masks(
    df: pd.DataFrame, t: SegmentThresholds
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Boolean mask per rule (before precedence) and the high-value spend threshold per row.

    The high-value quantile is taken per ``as_of`` date when the frame has several.
    """
    missing = [c for c in _NEEDED if c not in df.columns]
    if missing:
        raise InputError(f"segments: profile is missing column(s) {', '.join(missing)}")
    f = df["frequency"].to_numpy(float)
    m = df["monetary"].to_numpy(float)
    if "as_of" in df.columns and df["as_of"].nunique() > 1:
        thr = (
            df.groupby("as_of")["monetary"]
            .transform(
                lambda s: high_value_threshold(
                    s, df.loc[s.index, "frequency"], t.high_value_quantile
                )
            )
            .to_numpy(float)
        )
    else:
        thr = np.full(
            len(df), high_value_threshold(df["monetary"], df["frequency"], t.high_value_quantile)
        )
    brand_known = (
        df["top_brand"].notna().to_numpy() if "top_brand" in df.columns else np.ones(len(df), bool)
    )
    return {
        "new": df["tenure_days"].to_numpy(float) < t.new_tenure_days,
        "dormant": (df["recency_days"].to_numpy(float) >= t.dormant_days) | (f <= 0),
        "at-risk": df["churn_risk"].to_numpy(float) >= t.at_risk_churn,
        "loyal-high-value": (f >= t.loyal_min_frequency) & (m >= thr) & (f > 0),
        "deal-seeker": (df["discount_share"].to_numpy(float) >= t.deal_seeker_discount_share)
        & (f > 0),
        "brand-loyal": (df["top_brand_share"].to_numpy(float) >= t.brand_loyal_top_brand_share)
        & brand_known
        & (f > 0),
        "regular": np.ones(len(df), bool),
    }, thr


def assign_segments(profiles: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Return a copy of ``profiles`` with ``segment`` and ``segment_reason`` columns."""
    settings = settings or default_settings()
    t = settings.segments
    masks, thr = segment_masks(profiles, t)
    seg = np.full(len(profiles), "regular", dtype=object)
    assigned = np.zeros(len(profiles), bool)
    for name in SEGMENT_ORDER:
        hit = masks[name] & ~assigned
        seg[hit] = name
        assigned |= hit
    out = profiles.copy()
    out["segment"] = seg
    out["segment_reason"] = _reasons(out, seg, thr, t)
    return out


def _reasons(
    df: pd.DataFrame, seg: np.ndarray, thr: np.ndarray, t: SegmentThresholds
) -> np.ndarray:
    reason = np.full(len(df), "no rule matched", dtype=object)
    cols = {c: df[c].to_numpy() for c in _NEEDED}
    brand = (
        df["top_brand"].to_numpy(object)
        if "top_brand" in df.columns
        else np.full(len(df), None, object)
    )
    q = f"p{t.high_value_quantile * 100:g}"
    for name in SEGMENT_ORDER[:-1]:
        idx = np.flatnonzero(seg == name)
        if not len(idx):
            continue
        if name == "new":
            vals = [
                f"tenure {x:.0f}d < {t.new_tenure_days}d" + (" (no order yet)" if fr <= 0 else "")
                for x, fr in zip(cols["tenure_days"][idx], cols["frequency"][idx], strict=True)
            ]
        elif name == "dormant":
            vals = [
                f"recency {x:.0f}d ≥ {t.dormant_days}d"
                if fr > 0
                else "no order in the look-back window"
                for x, fr in zip(cols["recency_days"][idx], cols["frequency"][idx], strict=True)
            ]
        elif name == "at-risk":
            vals = [f"churn risk {x:.2f} ≥ {t.at_risk_churn:.2f}" for x in cols["churn_risk"][idx]]
        elif name == "loyal-high-value":
            vals = [
                f"{fr:.0f} orders ≥ {t.loyal_min_frequency} and spend {m:,.0f} ≥ {q} {h:,.0f}"
                for fr, m, h in zip(
                    cols["frequency"][idx], cols["monetary"][idx], thr[idx], strict=True
                )
            ]
        elif name == "deal-seeker":
            vals = [
                f"discount share {x:.2f} ≥ {t.deal_seeker_discount_share:.2f}"
                for x in cols["discount_share"][idx]
            ]
        else:  # brand-loyal
            vals = [
                f"top brand {b} share {x:.2f} ≥ {t.brand_loyal_top_brand_share:.2f}"
                for b, x in zip(brand[idx], cols["top_brand_share"][idx], strict=True)
            ]
        reason[idx] = vals
    return reason


def segment_summary(profiles: pd.DataFrame) -> pd.DataFrame:
    """One row per segment present, in precedence order.

    Columns: segment, customers, share, avg_spend, avg_frequency, avg_discount_share,
    avg_churn_risk, avg_clv.
    """
    if "segment" not in profiles.columns:
        raise InputError("segment_summary: profiles have no 'segment' column (run assign_segments)")
    g = profiles.groupby("segment", sort=False)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "avg_spend": g["monetary"].mean(),
            "avg_frequency": g["frequency"].mean(),
            "avg_discount_share": g["discount_share"].mean(),
            "avg_churn_risk": g["churn_risk"].mean(),
            "avg_clv": g["clv_expected"].mean(),
        }
    )
    out.insert(1, "share", out["customers"] / max(len(profiles), 1))
    order = {s: i for i, s in enumerate(SEGMENT_ORDER)}
    out = out.reset_index().rename(columns={"index": "segment"})
    out["_o"] = out["segment"].map(order).fillna(len(order))
    out = out.sort_values(["_o", "segment"]).drop(columns="_o").reset_index(drop=True)
    out["customers"] = out["customers"].astype(int)
    return out


def cluster_customers(
    profiles: pd.DataFrame,
    *,
    k: int = 5,
    seed: int = 42,
    columns: list[str] | None = None,
    threads: int = 2,
) -> np.ndarray:
    """KMeans cluster label (0..k-1) per row on standardised features (seeded; deterministic).

    ``columns`` default: :data:`~offerwise.features.engine.FEATURE_COLUMNS` present in ``profiles``.
    Missing values are filled with the column median before standardising.
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    if k < 1:
        raise InputError(f"--clusters must be at least 1, got {k}")
    cols = columns or [c for c in FEATURE_COLUMNS if c in profiles.columns]
    if len(profiles) < k:
        raise InputError(f"--clusters {k}: only {len(profiles)} customers")
    x = profiles[cols].astype(float)
    x = x.fillna(x.median()).fillna(0.0).to_numpy()
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    with threadpool_limits(threads):
        if len(x) > 200_000:
            model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
        else:
            model = KMeans(n_clusters=k, random_state=seed, n_init=4)
        labels = model.fit_predict(x)
    return labels.astype(np.int64)


__all__ = [
    "SEGMENT_ORDER",
    "assign_segments",
    "cluster_customers",
    "high_value_threshold",
    "segment_masks",
    "segment_summary",
]

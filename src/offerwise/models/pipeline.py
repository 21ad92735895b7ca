"""Train a response model from a data directory, and score customers with it.

``train``: exposures get features as of their own ``ts`` (point in time, from transactions
before ``ts`` plus customer attributes); a seeded random ``holdout_fraction`` of exposures is held
out for the model card's metrics; the model is fitted on the rest and saved with
:func:`offerwise.models.persist.save_model`.

``score``: every customer of the ``customers`` table gets features as of ``as_of`` (default: the
day after the last transaction or exposure) and one row per scored menu offer (not ``none``).
Menu offers without enough exposures to be modelled are *skipped*: the model card lists them with
the reason and the scores have no rows for them (a planner then never assigns them).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.errors import InputError, ModelError
from offerwise.models.persist import FeatureSpec, LoadedModel, load_model, save_model
from offerwise.models.response import CONTROL, POOLED, SCORE_COLUMNS, OfferResponseModel

__all__ = [
    "DEFAULT_LEARNER",
    "DEFAULT_PROFIT",
    "EvaluateResult",
    "ScoreResult",
    "TrainResult",
    "build_features",
    "customer_features",
    "default_as_of",
    "evaluate_plan",
    "expected_rewards",
    "holdout_metrics",
    "load_exposures",
    "read_decisions",
    "score",
    "train",
]

#: Default learner and profit mode, chosen by ``benchmarks/bench_uplift.py`` (see docs/models.md).
DEFAULT_LEARNER = "ptb"
DEFAULT_PROFIT = "hurdle"
#: Minimum rows per LightGBM leaf (smooth effect surfaces; chosen by the benchmark).
DEFAULT_MIN_CHILD_SAMPLES = 300
#: Seed bags averaged in the pooled conversion model (learner ``ptb``; chosen by the benchmarks).
DEFAULT_BAGS = 3
#: Categorical customer attributes keep at most this many one-hot levels (most frequent first).
MAX_LEVELS = 20

Progress = Callable[[str], None]


@dataclass(slots=True)
class TrainResult:
    """What ``train`` did: where the model went, its card, and timings in seconds."""

    model_dir: Path
    card: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None  # the held-out exposure rows (contract columns)


@dataclass(slots=True)
class ScoreResult:
    """Scores (one row per customer x scored offer) and what was skipped."""

    scores: pd.DataFrame
    as_of: pd.Timestamp
    skipped_offers: list[dict[str, str]]
    out: Path | None = None


# ------------------------------------------------------------------------------ features


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
    ds: Any, cutoffs: pd.DataFrame, settings: Settings, names: list[str] | None
) -> pd.DataFrame | None:
    """Point-in-time transaction features keyed (customer_id, as_of), or None without them."""
    if not ds.has("transactions"):
        return None
    from offerwise import features as fmod

    feats = fmod.compute_features(ds.con, cutoffs, settings=settings)
    if names is None:
        names = list(fmod.decision_feature_columns(list(feats.columns), settings=settings))
        names = [c for c in names if c not in ("customer_id", "as_of")]
    missing = [c for c in names if c not in feats.columns]
    if missing:
        raise ModelError(
            f"the model uses transaction features this offerwise version does not compute: {missing[:5]}"
        )
    return feats[["customer_id", "as_of", *names]]


def menu_categories(ds: Any) -> list[str]:
    """Categories that menu offers are scoped to (offers.category), sorted."""
    if not ds.has("offers"):
        return []
    cats = ds.con.execute(
        "SELECT DISTINCT CAST(category AS VARCHAR) FROM offers WHERE category IS NOT NULL"
    ).fetchall()
    return sorted(str(c[0]) for c in cats if c[0] is not None and str(c[0]) != "")


def category_share_features(
    ds: Any, cutoffs: pd.DataFrame, categories: list[str], window_days: int
) -> pd.DataFrame:
    """Share of spend (n, len(categories)) per category over ``window_days`` before each as_of.

    Keyed by the distinct (customer_id, as_of) of ``cutoffs``; 0 for customers with no spend.
    Needs ``transactions`` and ``products`` (product categories); empty frame otherwise.
    """
    if not categories or not (ds.has("transactions") and ds.has("products")):
        return pd.DataFrame(columns=["customer_id", "as_of"])
    con = ds.con
    con.register("ow_share_cutoffs", cutoffs[["customer_id", "as_of"]])
    sums = ", ".join(
        f"SUM(CASE WHEN p.category = ? THEN t.amount ELSE 0 END) / NULLIF(SUM(t.amount), 0) "
        f"AS \"category_share={c}\"" for c in categories
    )
    sql = f"""
        SELECT c.customer_id, c.as_of, {sums}
        FROM ow_share_cutoffs c
        JOIN transactions t ON t.customer_id = c.customer_id AND t.ts < c.as_of
             AND t.ts >= c.as_of - INTERVAL '{int(window_days)} days'
        LEFT JOIN products p ON p.product_id = t.product_id
        GROUP BY c.customer_id, c.as_of
    """
    try:
        out = con.execute(sql, list(categories)).df()
    finally:
        con.unregister("ow_share_cutoffs")
    out["customer_id"] = out["customer_id"].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"])
    return out


def build_features(
    ds: Any,
    cutoffs: pd.DataFrame,
    settings: Settings,
    spec: FeatureSpec | None = None,
) -> tuple[np.ndarray, FeatureSpec]:
    """Feature matrix (n, p) float for the rows of ``cutoffs`` (customer_id, as_of), in order.

    With ``spec`` (from a saved model) the same columns are rebuilt; otherwise a spec is derived:
    transaction features (when the source has ``transactions``) + numeric customer attributes +
    one-hot categorical attributes + ``tenure_days``; protected attributes are excluded unless
    ``settings.allow_protected_features``.
    """
    cutoffs = cutoffs[["customer_id", "as_of"]].copy()
    cutoffs["customer_id"] = cutoffs["customer_id"].astype(str)
    cutoffs["as_of"] = pd.to_datetime(cutoffs["as_of"])
    customers = ds.frame("customers")
    customers["customer_id"] = customers["customer_id"].astype(str)
    derive = spec is None
    if derive:
        spec = _customer_attribute_spec(customers, settings)
    uniq = cutoffs.drop_duplicates().reset_index(drop=True)
    if derive or spec.transaction_features:
        tx = _transaction_features(
            ds, uniq, settings, None if derive else spec.transaction_features
        )
    else:  # the model was trained without transaction features: ignore any transactions
        tx = None
    cols: dict[str, np.ndarray] = {}
    if tx is not None:
        tx = tx.copy()
        tx["customer_id"] = tx["customer_id"].astype(str)
        tx["as_of"] = pd.to_datetime(tx["as_of"])
        names = [c for c in tx.columns if c not in ("customer_id", "as_of")]
        if derive:
            spec.transaction_features = names
            if "tenure_days" in names:
                spec.tenure = False  # already a transaction feature
        elif names != spec.transaction_features:
            missing = sorted(set(spec.transaction_features) - set(names))
            raise ModelError(
                f"the data's transaction features differ from the model's (missing: {missing[:5]})"
            )
        merged = cutoffs.merge(tx, on=["customer_id", "as_of"], how="left", validate="many_to_one")
        for c in spec.transaction_features:
            cols[c] = pd.to_numeric(merged[c], errors="coerce").to_numpy(dtype=np.float64)
    elif spec.transaction_features:
        raise ModelError(
            "the model was trained with transaction features but the data has no transactions table"
        )
    if derive and tx is not None:
        spec.category_shares = menu_categories(ds)
    if spec.category_shares:
        sh = category_share_features(ds, uniq, spec.category_shares, settings.feature_window_days)
        merged = cutoffs.merge(sh, on=["customer_id", "as_of"], how="left", validate="many_to_one")
        for c in spec.category_shares:
            col = f"category_share={c}"
            vals = merged[col].to_numpy(dtype=np.float64) if col in merged else np.zeros(len(merged))
            cols[col] = np.nan_to_num(vals, nan=0.0)
    cust = cutoffs[["customer_id", "as_of"]].merge(
        customers, on="customer_id", how="left", validate="many_to_one"
    )
    for c in spec.numeric:
        if c not in cust.columns:
            raise ModelError(f"customers: column '{c}' used by the model is missing")
        cols[f"cust_{c}"] = pd.to_numeric(cust[c], errors="coerce").to_numpy(dtype=np.float64)
    for c, levels in spec.categorical.items():
        vals = cust[c].astype("string") if c in cust.columns else pd.Series(pd.NA, index=cust.index)
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
    if derive:
        spec.columns = list(cols)
    if not spec.columns:
        raise InputError(
            "no usable features: the data has no transactions and the customers table has no "
            "attribute columns besides protected ones"
        )
    X = np.column_stack([cols[c] for c in spec.columns]) if len(cutoffs) else np.empty(
        (0, len(spec.columns))
    )
    return X, spec


# ------------------------------------------------------------------------------ exposures


def load_exposures(ds: Any, menu: list[str]) -> pd.DataFrame:
    """The exposures table checked for training: offers on the menu, propensities usable."""
    if not ds.has("exposures"):
        raise InputError("training needs an 'exposures' table (logged offers and outcomes)")
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    ex["ts"] = pd.to_datetime(ex["ts"])
    unknown = ~ex["offer_id"].isin(set(menu) | {CONTROL})
    if unknown.any():
        from offerwise.errors import DataContractError, Problem

        raise DataContractError([
            Problem("exposures", "offer_id", "offer ids not in the offer menu",
                    int(unknown.sum()), repr(ex.loc[unknown, "offer_id"].iloc[0]))
        ])
    if (ex["offer_id"] == CONTROL).all():
        raise InputError(
            "exposures: no treated exposures (every offer_id is 'none'); uplift needs logged offers"
        )
    if "propensity" in ex.columns:
        p = pd.to_numeric(ex["propensity"], errors="coerce")
        if p.isna().all():
            ex = ex.drop(columns="propensity")
        elif p.isna().any():
            raise InputError(
                f"exposures, column 'propensity': {int(p.isna().sum())} of {len(p)} rows are "
                "missing; give every row a propensity or none (they are then estimated)"
            )
        else:
            bad = (p <= 0) | (p > 1)
            if bad.any():
                raise InputError(
                    f"exposures, column 'propensity': {int(bad.sum())} rows outside (0, 1], e.g. "
                    f"{p[bad].iloc[0]!r} (customer {ex.loc[bad, 'customer_id'].iloc[0]!r}); a "
                    "propensity of 0 means the logged offer could never have been chosen"
                )
    return ex.reset_index(drop=True)


def default_as_of(ds: Any) -> pd.Timestamp:
    """The day after the last transaction or exposure (midnight), or today without either."""
    last = []
    for t in ("transactions", "exposures"):
        if ds.has(t):
            v = ds.con.execute(f"SELECT MAX(ts) FROM {t}").fetchone()[0]
            if v is not None:
                last.append(pd.Timestamp(v))
    if not last:
        return pd.Timestamp(datetime.now(UTC).date())
    return (max(last) + pd.Timedelta(days=1)).normalize()


# ------------------------------------------------------------------------------ metrics


def expected_rewards(
    lm: LoadedModel | OfferResponseModel, X: np.ndarray, customer_ids: Any,
    actions: list[str] | None = None,
) -> pd.DataFrame:
    """Long frame (customer_id, offer_id, expected_net_profit) for every action incl. ``none``.

    The reward model of the direct and doubly-robust off-policy estimators.
    """
    model = lm.model if isinstance(lm, LoadedModel) else lm
    actions = [CONTROL, *model.menu_] if actions is None else list(actions)
    V = model.predict_net_profit(X, actions)
    ids = np.asarray(customer_ids).astype(str)
    return pd.DataFrame({
        "customer_id": np.repeat(ids, len(actions)),
        "offer_id": np.tile(np.asarray(actions, dtype=object), len(ids)),
        "expected_net_profit": V.reshape(-1),
    })


def holdout_metrics(
    model: OfferResponseModel, X: np.ndarray, ex: pd.DataFrame, *, propensity: np.ndarray | None
) -> dict[str, Any]:
    """Card metrics on held-out exposures ``ex`` (with features ``X``), per offer vs ``none``.

    Per offer: normalized Qini/AUUC, uplift@10% of net profit ranked by predicted incremental
    profit (IPW-weighted when logged propensities exist), calibration by decile, conversion AUC
    (offer and control rows, predicted conversion of the logged arm) and cost MAE (treated rows).
    """
    from sklearn.metrics import roc_auc_score

    from offerwise.evaluation.uplift import uplift_metrics

    sc = model.predict(X)
    offer = ex["offer_id"].to_numpy(dtype=object)
    np_y = (ex["gross_profit"] - ex["discount_cost"]).to_numpy(dtype=np.float64)
    conv = ex["converted"].to_numpy(dtype=np.float64)
    cost = ex["discount_cost"].to_numpy(dtype=np.float64)
    ctrl = offer == CONTROL
    per: dict[str, Any] = {}
    calib: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    p_logged = np.where(ctrl, sc.p_convert_none[:, 0] if sc.offers else np.nan, np.nan)
    cost_err: list[np.ndarray] = []
    for j, o in enumerate(sc.offers):
        tr = offer == o
        rows = tr | ctrl
        p_logged[tr] = sc.p_convert[tr, j]
        m: dict[str, Any] = {"n_treatment": int(tr.sum()), "n_control": int(ctrl.sum())}
        if tr.sum() >= 2 and ctrl.sum() >= 2:
            w = None
            if propensity is not None:
                w = 1.0 / propensity[rows]
            um = uplift_metrics(
                np_y[rows], tr[rows].astype(float), sc.incremental_profit[rows, j],
                sample_weight=w, ks=(0.1,), n_bins=10, keep_curves=True,
            )
            curves[o] = um
            m.update(
                qini_normalized=_num(um.qini_normalized),
                auuc_normalized=_num(um.auuc_normalized),
                uplift_at_10=_num(um.uplift_at_k.get(0.1)),
            )
            calib[o] = _calibration_records(um.calibration)
            yk, pk = conv[rows], np.where(tr[rows], sc.p_convert[rows, j], sc.p_convert_none[rows, j])
            m["conversion_auc"] = (
                _num(roc_auc_score(yk, pk)) if 0 < yk.sum() < len(yk) else None
            )
            err = np.abs(sc.expected_cost[tr, j] - cost[tr])
            cost_err.append(err)
            m["cost_mae"] = _num(err.mean())
        per[o] = m
    ok = np.isfinite(p_logged)
    auc = None
    if ok.any() and 0 < conv[ok].sum() < ok.sum():
        auc = _num(roc_auc_score(conv[ok], p_logged[ok]))
    all_err = np.concatenate(cost_err) if cost_err else np.array([])
    return {
        "outcome": "net_profit",
        "n": int(len(ex)),
        "per_offer": per,
        "conversion_auc": auc,
        "cost_mae": _num(all_err.mean()) if len(all_err) else None,
        "calibration": calib,
        "_curves": curves,  # popped by train: written as uplift_curves.parquet
    }


def feature_importance(model: OfferResponseModel, features: list[str]) -> pd.DataFrame:
    """LightGBM gain per (offer, feature), summed over each offer's boosters.

    Boosters shared by all offers (control and pooled value models) are reported as offer ``all``.
    Columns: ``offer_id, feature, importance`` (share of that offer's total gain, sums to 1).
    """
    _, boosters = model.to_state()
    frames = []
    for name, b in boosters.items():
        parts = name.split("/")
        offer = model.offers_[int(parts[1])] if parts[0] == "offer" and parts[1].isdigit() else "all"
        gain = b.feature_importance(importance_type="gain")
        extra = len(gain) - len(features)  # pooled models add offer indicator inputs after the features
        names = features + [f"offer indicator {i + 1}" for i in range(extra)] if extra >= 0 else b.feature_name()
        frames.append(pd.DataFrame({"offer_id": offer, "feature": names, "importance": gain}))
    if not frames:
        return pd.DataFrame(columns=["offer_id", "feature", "importance"])
    df = pd.concat(frames).groupby(["offer_id", "feature"], as_index=False)["importance"].sum()
    total = df.groupby("offer_id")["importance"].transform("sum")
    df["importance"] = np.where(total > 0, df["importance"] / total.where(total > 0, 1.0), 0.0)
    return df.sort_values(["offer_id", "importance"], ascending=[True, False]).reset_index(drop=True)


def _num(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _calibration_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Decile rows of :func:`offerwise.evaluation.uplift.uplift_calibration` as JSON records."""
    return [
        {
            "bin": int(r["bin"]),
            "n": int(r["n"]),
            "predicted": _num(r["predicted_uplift"]),
            "observed": _num(r["observed_uplift"]),
            "observed_se": _num(r["observed_se"]),
        }
        for r in df.to_dict(orient="records")
    ]


# ------------------------------------------------------------------------------ train / score


def _note(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def train(
    data: str | Path,
    out: str | Path,
    *,
    learner: str | None = None,
    profit: str | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
    holdout_fraction: float = 0.2,
    min_treated: int = 50,
    propensity_clip: tuple[float, float] = (0.01, 0.99),
    n_estimators: int = 150,
    min_child_samples: int = DEFAULT_MIN_CHILD_SAMPLES,
    n_bags: int | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit the response model on ``data``'s exposures and save it to ``out`` (a model directory)."""
    from offerwise.data.contract import load_data

    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    learner = (learner or DEFAULT_LEARNER).lower()
    profit = profit or DEFAULT_PROFIT
    if not 0 <= holdout_fraction < 1:
        raise InputError(f"holdout_fraction must be in [0, 1); got {holdout_fraction}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    _note(progress, "validating data")
    ds = load_data(data, settings=settings, required=("customers", "offers", "exposures"))
    offers = ds.frame("offers")
    offers["offer_id"] = offers["offer_id"].astype(str)
    menu = [o for o in offers["offer_id"] if o != CONTROL]
    ex = load_exposures(ds, menu)
    timings["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    _note(progress, f"computing features for {len(ex)} exposures")
    X, spec = build_features(
        ds, ex[["customer_id", "ts"]].rename(columns={"ts": "as_of"}), settings
    )
    timings["features"] = time.perf_counter() - t1

    rng = np.random.default_rng(seed)
    hold = rng.random(len(ex)) < holdout_fraction
    if holdout_fraction > 0 and (hold.all() or not hold.any()):
        hold[:] = False
    fit_rows = ~hold
    prop = ex["propensity"].to_numpy(dtype=np.float64) if "propensity" in ex.columns else None

    t2 = time.perf_counter()
    _note(progress, f"fitting {learner.upper()}-learner models ({profit} profit)")
    model = OfferResponseModel(
        learner=learner, profit=profit, n_estimators=n_estimators, min_treated=min_treated,
        min_child_samples=min_child_samples, n_bags=DEFAULT_BAGS if n_bags is None else n_bags,
        propensity_clip=propensity_clip, n_jobs=settings.threads, random_state=seed,
    )
    exf = ex[fit_rows]
    model.fit(
        X[fit_rows], exf["offer_id"], exf["converted"], exf["revenue"], exf["discount_cost"],
        exf["gross_profit"], menu=menu, propensity=None if prop is None else prop[fit_rows],
        feature_names=spec.columns,
    )
    timings["fit"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    metrics: dict[str, Any] = {}
    if hold.any():
        _note(progress, f"holdout metrics on {int(hold.sum())} exposures")
        metrics = holdout_metrics(
            model, X[hold], ex[hold].reset_index(drop=True),
            propensity=None if prop is None else prop[hold],
        )
    timings["metrics"] = time.perf_counter() - t3
    from offerwise.report.tables import curves_table

    extra_tables = {"feature_importance": feature_importance(model, list(spec.columns))}
    curve_src = metrics.pop("_curves", {})
    if curve_src:
        extra_tables["uplift_curves"] = curves_table(curve_src)

    warns = [p.render() for p in getattr(ds, "warnings", [])]
    warns += [f"offer {s['offer_id']} skipped: {s['reason']}" for s in model.skipped_]
    for w in warns:
        warnings.warn(w, stacklevel=2)
    card = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "learner": learner,
        "profit": profit,
        "n_bags": int(model.n_bags) if learner == POOLED else None,
        "seed": seed,
        "n_exposures": int(len(ex)),
        "n_train": int(fit_rows.sum()),
        "n_holdout": int(hold.sum()),
        "holdout_fraction": holdout_fraction,
        "features": spec.columns,
        "offers": menu,
        "scored_offers": list(model.offers_),
        "skipped_offers": list(model.skipped_),
        "n_treated": dict(model.n_treated_),
        "n_control": int(model.n_control_),
        "propensity": {
            "source": model.propensity_.source,
            "clip_low": model.propensity_.clip_low,
            "clip_high": model.propensity_.clip_high,
            "n_rows": model.propensity_.n_rows,
            "n_clipped": model.propensity_.n_clipped,
        },
        "holdout": metrics,
        "warnings": warns,
    }
    _note(progress, "saving model")
    out_path = save_model(
        out, model, features=spec, offers=offers, data_fingerprint=ds.fingerprint, card=card,
        extra={"seed": seed, "holdout_fraction": holdout_fraction},
        tables={"holdout": ex.loc[hold, ["customer_id", "offer_id", "ts"]].assign(
            row=np.flatnonzero(hold)), **extra_tables},
    )
    timings["total"] = time.perf_counter() - t0
    card["timings"] = timings
    return TrainResult(
        model_dir=out_path, card=card, timings=timings, holdout=ex[hold].reset_index(drop=True)
    )


def customer_features(
    ds: Any, spec: FeatureSpec, *, as_of: Any = None, settings: Settings | None = None
) -> tuple[pd.Series, np.ndarray, pd.Timestamp]:
    """Every customer of ``ds`` with features (n, p) per ``spec`` as of ``as_of``.

    ``as_of`` defaults to :func:`default_as_of`. Returns (customer ids, X, as_of).
    """
    settings = settings or default_settings()
    try:
        ts = pd.Timestamp(as_of) if as_of is not None else default_as_of(ds)
    except (TypeError, ValueError) as exc:
        raise InputError(f"as_of {as_of!r}: not a date or timestamp (use YYYY-MM-DD)") from exc
    if ts is pd.NaT:
        raise InputError(f"as_of {as_of!r}: not a date or timestamp")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    customers = ds.frame("customers")
    ids = customers["customer_id"].astype(str).reset_index(drop=True)
    cutoffs = pd.DataFrame({"customer_id": ids, "as_of": ts})
    X, _ = build_features(ds, cutoffs, settings, spec=spec)
    return ids, X, ts


def score(
    model: str | Path | LoadedModel,
    data: str | Path,
    *,
    out: str | Path | None = None,
    as_of: Any = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every customer of ``data`` with ``model``; write Parquet/CSV to ``out`` if given."""
    from offerwise.data.contract import load_data

    settings = settings or default_settings()
    lm = model if isinstance(model, LoadedModel) else load_model(model)
    _note(progress, "validating data")
    ds = load_data(data, settings=settings, required=("customers",))
    _note(progress, "computing customer features")
    ids, X, ts = customer_features(ds, lm.features, as_of=as_of, settings=settings)
    _note(progress, f"scoring {len(ids)} customers as of {ts.date()}")
    df = lm.model.predict_frame(X, ids) if len(X) else pd.DataFrame(columns=SCORE_COLUMNS)
    if out is not None:
        write_table(df, out)
    return ScoreResult(
        scores=df, as_of=ts, skipped_offers=list(lm.model.skipped_),
        out=None if out is None else Path(out),
    )


# ------------------------------------------------------------------------------ evaluate


@dataclass(slots=True)
class EvaluateResult:
    """Off-policy estimates of a plan's mean net profit per logged round (see ``ope``)."""

    estimates: list[Any]  # offerwise.evaluation.ope.EstimateResult
    n_rounds: int
    rows: str  # "all exposures" or "held-out exposures of the model"
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rounds": self.n_rounds,
            "rows": self.rows,
            "model": self.model,
            "estimates": [e.to_dict() for e in self.estimates],
        }


def read_decisions(path: str | Path) -> pd.DataFrame:
    """A plan or decisions file (Parquet or CSV) with customer_id and offer_id columns."""
    from offerwise._io import read_table

    df = read_table(path, "decisions", ("customer_id", "offer_id"))
    return df.astype({"customer_id": "str", "offer_id": "str"})


def evaluate_plan(
    decisions: str | Path | pd.DataFrame,
    data: str | Path,
    *,
    model: str | Path | LoadedModel | None = None,
    settings: Settings | None = None,
    seed: int | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    progress: Progress | None = None,
) -> EvaluateResult:
    """Off-policy value of ``decisions`` from ``data``'s logged exposures: IPW, SNIPW, DM, DR.

    With ``model``, DM and DR use its expected net profit per customer x action (customer
    features as of the default as_of); when the data is the model's training data (same
    fingerprint) only the model's held-out exposures are used, so the reward model is not
    evaluated on rows it was fitted on.
    """
    from offerwise.data.contract import load_data
    from offerwise.evaluation.ope import evaluate_decisions

    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    dec = decisions if isinstance(decisions, pd.DataFrame) else read_decisions(decisions)
    _note(progress, "validating data")
    ds = load_data(data, settings=settings, required=("customers", "offers", "exposures"))
    offers = [str(o) for o in ds.frame("offers")["offer_id"] if str(o) != CONTROL]
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    rows = "all exposures"
    rewards = None
    lm = None
    if model is not None:
        lm = model if isinstance(model, LoadedModel) else load_model(model)
        hp = lm.path / "holdout.parquet"
        if lm.meta.get("data_fingerprint") == ds.fingerprint and hp.exists():
            keys = pd.read_parquet(hp)
            pos = keys["row"].to_numpy(dtype=np.int64)
            if len(pos) and pos.max() < len(ex) and (
                ex["customer_id"].to_numpy()[pos] == keys["customer_id"].astype(str).to_numpy()
            ).all():
                ex = ex.iloc[pos].reset_index(drop=True)
                rows = "held-out exposures of the model"
        _note(progress, "predicting rewards")
        ids, X, _ = customer_features(ds, lm.features, settings=settings)
        keep = ids.isin(set(ex["customer_id"])).to_numpy()
        rewards = expected_rewards(lm, X[keep], ids[keep], [CONTROL, *offers])
    if len(ex) == 0:
        raise InputError("exposures: no rows to evaluate the plan on")
    _note(progress, f"off-policy estimates over {len(ex)} logged rounds")
    est = evaluate_decisions(dec, ex, rewards, offers, seed, alpha=alpha, n_bootstrap=n_bootstrap,
                             margin_rate=settings.margin_rate)
    return EvaluateResult(estimates=est, n_rounds=int(len(ex)), rows=rows,
                          model=None if lm is None else str(lm.path))

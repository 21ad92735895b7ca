"""``offerwise evaluate``: off-policy value of a plan (IPW, SNIPW, DM, DR) from the logged
exposures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise._io import read_table, require_values
from offerwise.config import Settings, default_settings
from offerwise.errors import InputError
from offerwise.evaluation.ope import EstimateResult, check_propensities, evaluate_decisions
from offerwise.features.model_inputs import customer_features
from offerwise.models.introspect import expected_rewards
from offerwise.models.persist import LoadedModel, load_model
from offerwise.vocab import NO_OFFER, summary_path
from offerwise.workflows._common import DataArg, Progress, held_out_exposures, note, open_data

__all__ = [
    "EvaluateResult",
    "evaluate_plan",
    "missing_customers",
    "plan_made_after",
    "read_decisions",
]


@dataclass(slots=True)
class EvaluateResult:
    """Off-policy estimates of a plan's mean net profit per logged round (see ``ope``)."""

    estimates: list[EstimateResult]
    n_rounds: int
    rows: str  # "all exposures" or "held-out exposures of the model"
    model: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "n_rounds": self.n_rounds,
            "rows": self.rows,
            "model": self.model,
            "estimates": [e.to_dict() for e in self.estimates],
            "warnings": list(self.warnings),
        }


def missing_customers(dec: pd.DataFrame, ex: pd.DataFrame) -> list[str]:
    """A warning when logged customers are not in the decisions (they count as offered nothing):
    a plan for another shop, or ids written differently, would otherwise be valued silently."""
    logged = pd.Series(ex["customer_id"].unique())
    gone = logged[~logged.isin(set(dec["customer_id"]))]
    if len(gone) == 0:
        return []
    return [
        f"{len(gone):,} of the {len(logged):,} logged customers ({len(gone) / len(logged):.0%}) "
        f"are not in the decisions (e.g. {gone.iloc[0]!r}; the decisions have e.g. "
        f"{dec['customer_id'].iloc[0]!r}): they count as offered nothing"
    ]


def plan_made_after(decisions: str | Path | pd.DataFrame, ex: pd.DataFrame) -> list[str]:
    """A warning when ``decisions`` is an offerwise plan (its ``.summary.json`` beside it names the
    plan's date ``as_of``) made after exposures of ``ex`` (with ``ts``) it is valued on.

    The plan's features then include what those exposures' offers did (a customer an offer made
    buy looks different afterwards), so its choice for a customer can depend on the logged offer,
    and off-policy estimates on those rows are optimistic. The plan's own held-out check (in the
    summary) re-makes the plan as of each span's first exposure and is quoted when present.
    """
    if isinstance(decisions, pd.DataFrame) or "ts" not in ex.columns or not len(ex):
        return []
    path = summary_path(decisions)
    if not path.exists():
        return []
    try:
        summary = json.loads(path.read_text())
        as_of = pd.Timestamp(summary["as_of"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    ts = pd.to_datetime(ex["ts"], errors="coerce", utc=True).dt.tz_localize(None)
    cut = as_of.tz_convert(None) if as_of.tzinfo is not None else as_of
    before = int((ts < cut).sum())
    if before == 0:
        return []
    out = (
        f"the plan was made as of {as_of.date()}, after {before:,} of the {len(ex):,} exposures it "
        f"is valued on ({ts.min().date()} to {ts.max().date()}): its features include what those "
        "offers did, so its choices can depend on the logged offers and these estimates are "
        "optimistic"
    )
    est = (summary.get("claims") or {}).get("estimate")
    if isinstance(est, dict) and all(k in est for k in ("value", "ci_low", "ci_high", "level")):
        out += (
            f"; the plan's own held-out check (re-made as of each campaign's start, {path.name}): "
            f"incremental profit {est['value']:,.0f}, {est['level']:.0%} interval "
            f"[{est['ci_low']:,.0f}, {est['ci_high']:,.0f}]"
        )
    return [out]


def read_decisions(path: str | Path) -> pd.DataFrame:
    """A plan or decisions file (Parquet or CSV) with customer_id and offer_id columns."""
    df = read_table(path, "decisions", ("customer_id", "offer_id"))
    if len(df) == 0:
        raise InputError(f"{path}: the decisions have no rows (no customer to value)")
    require_values(df, path, ("customer_id", "offer_id"))
    return df.astype({"customer_id": "str", "offer_id": "str"})


def oof_rewards(customer_id: pd.Series, q: np.ndarray, arms: list[str]) -> pd.DataFrame:
    """Long frame (customer_id, offer_id, expected_net_profit): each customer's mean out-of-fold
    expected net profit per arm over its rounds (q: (n, len(arms)), rows as ``customer_id``)."""
    g = pd.DataFrame(q, columns=arms).groupby(customer_id.astype(str).to_numpy()).mean()
    return pd.DataFrame(
        {
            "customer_id": np.repeat(g.index.to_numpy(dtype=object), len(arms)),
            "offer_id": np.tile(np.asarray(arms, dtype=object), len(g)),
            "expected_net_profit": g.to_numpy().reshape(-1),
        }
    )


def evaluate_plan(
    decisions: str | Path | pd.DataFrame,
    data: DataArg,
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
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    dec = decisions if isinstance(decisions, pd.DataFrame) else read_decisions(decisions)
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "offers", "exposures"))
    offers = [str(o) for o in ds.frame("offers")["offer_id"] if str(o) != NO_OFFER]
    ex = ds.frame("exposures")
    ex["customer_id"] = ex["customer_id"].astype(str)
    ex["offer_id"] = ex["offer_id"].astype(str)
    logged = (
        pd.to_numeric(ex["propensity"], errors="coerce").notna()
        if "propensity" in ex.columns
        else pd.Series(False, index=ex.index)
    )
    mixed = bool(logged.any() and not logged.all())  # mixed logs: the logged rows alone
    # before any model work: without logged propensities nothing can be estimated
    check_propensities(ex[logged] if mixed else ex)
    rows = "all exposures"
    rewards = None
    lm = None
    if model is not None:
        lm = model if isinstance(model, LoadedModel) else load_model(model)
        held, why = held_out_exposures(lm, ds, ex)
        arms = [NO_OFFER, *offers]
        q = None
        if held is not None:
            ex, rows = held.rows, why
            q = held.rewards(arms)
        if q is not None:  # out-of-fold: each customer's mean over its own rounds
            rewards = oof_rewards(ex["customer_id"], q, arms)
        else:
            note(progress, "predicting rewards")
            ids, X, _ = customer_features(ds, lm.features, settings=settings)
            keep = ids.isin(set(ex["customer_id"])).to_numpy()
            rewards = expected_rewards(lm, X[keep], ids[keep], arms)
    if mixed:
        keep = pd.to_numeric(ex["propensity"], errors="coerce").notna().to_numpy()
        rows = (
            f"{rows}; the {int(keep.sum()):,} with logged propensities (mixed logs: "
            f"{int((~keep).sum()):,} observational exposures left out)"
        )
        ex = ex[keep].reset_index(drop=True)
    if len(ex) == 0:
        raise InputError("exposures: no rows to evaluate the plan on")
    note(progress, f"off-policy estimates over {len(ex)} logged rounds")
    est = evaluate_decisions(
        dec,
        ex,
        rewards,
        offers,
        seed,
        alpha=alpha,
        n_bootstrap=n_bootstrap,
        margin_rate=settings.margin_rate,
    )
    return EvaluateResult(
        estimates=est,
        n_rounds=int(len(ex)),
        rows=rows,
        model=None if lm is None else str(lm.path),
        warnings=missing_customers(dec, ex) + plan_made_after(decisions, ex),
    )

"""``offerwise analyze``: a launched plan's treatment vs holdout, from the shop's transactions.

Reads the plan file (``customer_id, offer_id, group[, segment, planned_offer_id]``) and its
``.summary.json`` sidecar (campaign start = the plan's ``as_of``, planned holdout share), builds one
row per plan customer with :func:`~offerwise.evaluation.experiment.campaign_outcomes` from the
data source's ``transactions`` (unit costs from ``products`` when present) and runs
:func:`~offerwise.evaluation.experiment.analyze_campaign`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from offerwise._io import read_table, require_values
from offerwise.config import Settings, default_settings
from offerwise.errors import InputError
from offerwise.evaluation.analyze import AnalyzeResult
from offerwise.evaluation.experiment import analyze_campaign, campaign_outcomes
from offerwise.vocab import parse_as_of, summary_path
from offerwise.workflows._common import DataArg, open_data

__all__ = ["analyze_plan", "read_plan_summary"]


def read_plan_summary(plan: Path) -> dict[str, object]:
    """The plan's ``.summary.json`` sidecar, or ``{}`` when there is none."""
    side = summary_path(plan)
    if not side.exists():
        return {}
    try:
        out = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{side}: cannot read the plan summary: {exc}") from exc
    return out if isinstance(out, dict) else {}


def _read_plan(path: Path) -> pd.DataFrame:
    df = read_table(
        path,
        "plan",
        ("customer_id", "offer_id", "group"),
        hint=" (analyze compares treatment with holdout: make the plan with --holdout > 0)",
    )
    if len(df) == 0:
        raise InputError(f"{path}: the plan has no rows (no customer to compare)")
    require_values(df, path, ("customer_id", "offer_id", "group"))
    g = df["group"].astype(str)
    bad = ~g.isin(["treatment", "holdout"])
    if bad.any():
        raise InputError(
            f"{path}: column 'group': {int(bad.sum())} of {len(df)} rows are not "
            f"'treatment' or 'holdout'; e.g. {g[bad].iloc[0]!r}"
        )
    return df


def analyze_plan(
    plan: str | Path,
    data: DataArg,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    days: int | None = None,
    pre_period_days: int = 90,
    holdout_fraction: float | None = None,
    alpha: float = 0.05,
    settings: Settings | None = None,
) -> AnalyzeResult:
    """Treatment vs holdout of ``plan`` on the transactions in ``data``.

    Outcome window ``[start, end)``: ``start`` defaults to the plan's ``as_of``; ``end`` to
    ``start + days`` or, without either, everything after ``start``. CUPED uses each customer's
    spend in the ``pre_period_days`` before ``start`` (0 turns it off). ``holdout_fraction`` (the
    planned share for the SRM check) defaults to the plan summary's. Per-offer results use
    ``planned_offer_id`` (what holdout customers would have got) when the plan has it.
    """
    settings = settings or default_settings()
    plan_path = Path(plan)
    df = _read_plan(plan_path)
    summary = read_plan_summary(plan_path)
    if start is None:
        if not summary.get("as_of"):
            raise InputError(
                f"{plan_path}: the plan summary has no decision date; name the campaign "
                f"start with --start YYYY-MM-DD"
            )
        start = summary["as_of"]
    t0 = parse_as_of(start, "campaign start")
    t1 = None
    if end is not None and days is not None:
        raise InputError("give either the campaign end or its length in days, not both")
    if end is not None:
        t1 = parse_as_of(end, "campaign end")
    elif days is not None:
        if days < 1:
            raise InputError(f"campaign length must be at least 1 day, got {days}")
        t1 = t0 + pd.Timedelta(days=int(days))
    if pre_period_days < 0:
        raise InputError(f"--pre-period must be >= 0 days, got {pre_period_days}")
    if holdout_fraction is None:
        holdout_fraction = summary.get("holdout_fraction")  # type: ignore[assignment]
        if holdout_fraction is None:
            raise InputError(
                f"{plan_path}: the plan summary does not say the planned holdout share; "
                f"give it with --holdout-fraction"
            )
    f = float(holdout_fraction)
    if not 0 <= f < 1:
        raise InputError(f"holdout fraction must lie in [0, 1), got {f}")

    ds = open_data(data, settings, ("customers", "transactions"))
    tx = ds.frame("transactions")
    products = ds.frame("products") if ds.has("products") else None
    notes: list[str] = []
    known = set(ds.frame("customers")["customer_id"].astype(str))
    ids = df["customer_id"].astype(str)
    unknown = ~ids.isin(known)
    if unknown.any():
        notes.append(
            f"{int(unknown.sum())} of {len(df)} plan customers are not in {ds.root}'s customers "
            f"table (e.g. {ids[unknown].iloc[0]!r}); they count as not buying"
        )
    frame = df.copy()
    if "planned_offer_id" in frame.columns:
        frame["offer_id"] = frame["planned_offer_id"].astype(str)
    per_customer = campaign_outcomes(
        frame, tx, t0, t1, pre_period_days, settings.margin_rate, products=products
    )
    if not (per_customer["converted"] > 0).any():
        notes.append(
            f"no plan customer bought in the campaign window from {t0.date()} (the data's last "
            f"transaction is {tx['ts'].max()}); outcomes are all zero — is this data from after "
            f"the campaign?"
        )
    if pre_period_days == 0:
        per_customer = per_customer.drop(columns=["pre_spend"])
    analysis = analyze_campaign(per_customer, f, alpha)
    return AnalyzeResult(
        analysis, str(plan_path), ds.root, t0, t1, int(pre_period_days), f, ds.fingerprint, notes
    )

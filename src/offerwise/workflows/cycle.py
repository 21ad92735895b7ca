"""``offerwise cycle``: relearn from what the service served and swap the live plan.

One pass of the loop: export the service's decisions as exposures (with their outcomes and logged
propensities), merge them with the shop's history (a data directory, a DuckDB file or PostgreSQL)
into a new data directory, train a model on it, plan the next campaign, and make that plan the
live campaign — through the running service's ``POST /v1/admin/plan`` (``server``) or straight
into its database (every worker serves it within a second). Coupons already issued keep their
campaign and its budget. The new model's identification verdict travels in its card and in the
plan's summary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from offerwise._io import FolderKind, atomic_dir, write_table
from offerwise.config import Settings, default_settings
from offerwise.errors import ConfigError, require
from offerwise.workflows._common import Progress, note

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.data.contract import DataSet

__all__ = [
    "CycleResult",
    "copy_tables",
    "merge_exposures",
    "newcomer_rows",
    "propensity_note",
    "run_cycle",
]


@dataclass(slots=True)
class CycleResult:
    """What one cycle did: the merged data, the model, the plan and the campaign now live."""

    data_dir: Path
    model_dir: Path
    plan: Path
    campaign_id: str
    previous_campaign_id: str | None
    exposures_history: int
    exposures_served: int
    verdict: str | None
    swapped_via: str  # "server" or "database"
    propensities: str = ""  # how the merged exposures carry propensities (propensity_note)
    timings: dict[str, float] = field(default_factory=dict)
    #: the merged data's, the model's and the plan's warnings (also issued as Python warnings)
    warnings: list[str] = field(default_factory=list)
    #: customers first seen by the service (not in the history's customers), added to it
    customers_added: int = 0


def merge_exposures(history: pd.DataFrame, served: pd.DataFrame) -> pd.DataFrame:
    """History's exposures followed by the served ones (rows already in the history, same
    customer, offer and ts, are not added twice); the columns of both, in history's order.

    The served rows keep their logged propensities. When the history has none (a shop's own
    targeted campaigns) its rows' propensity is empty and the merged logs are ``mixed``: training
    fits on every row and values the plans on the served rows alone (see
    :func:`propensity_note`).
    """
    if not len(served):
        return history.copy()
    served = served.copy()
    served["ts"] = pd.to_datetime(served["ts"])
    hist = history.copy()
    hist["ts"] = pd.to_datetime(hist["ts"])
    key = ["customer_id", "offer_id", "ts"]
    for f in (hist, served):
        f["customer_id"] = f["customer_id"].astype(str)
        f["offer_id"] = f["offer_id"].astype(str)
    known = hist[key].drop_duplicates().assign(_known=True)
    flag = served[key].merge(known, on=key, how="left")["_known"].notna().to_numpy()
    new = served[~flag]
    cols = list(hist.columns) + [c for c in new.columns if c not in hist.columns]
    return pd.concat([hist, new], ignore_index=True)[cols]


def newcomer_rows(known: pd.Series, served: pd.DataFrame, signup: bool) -> pd.DataFrame:
    """Customer rows for the served customers not among the ``known`` customer ids (the service
    decided for them online or with the plan's newcomer decision): their id and, with
    ``signup`` (the table has the column), ``signup_date`` = the day they were first served;
    their other attributes empty. Without them the data contract drops their exposures and the
    next model never learns from the customers the service met first."""
    ids = served["customer_id"].astype(str)
    new = pd.unique(ids[~ids.isin(set(known.astype(str)))])
    out = pd.DataFrame({"customer_id": pd.Series(new, dtype=object)})
    if signup:
        first = pd.to_datetime(served["ts"]).groupby(ids).min().reindex(new)
        day = first.dt.tz_localize(None) if first.dt.tz is not None else first
        out["signup_date"] = day.dt.normalize().to_numpy()
    return out


def _has_propensities(ex: pd.DataFrame) -> bool:
    return "propensity" in ex.columns and bool(ex["propensity"].notna().all())


def propensity_note(history: pd.DataFrame, served: pd.DataFrame) -> str:
    """How the merged exposures carry propensities, in words."""
    if _has_propensities(history):
        return "logged propensities kept (history and served)"
    if len(served) and "propensity" in served.columns and served["propensity"].notna().any():
        return (
            "the history has no logged propensities and the served rows keep theirs: mixed "
            "logs (the model learns from every row; its tuning and the plan's value check use "
            "the served rows)"
        )
    if len(served):
        return "no logged propensities (the served rows carry none): observational"
    return "no logged propensities"


def copy_tables(src: DataSet, dest: Path, skip: tuple[str, ...] = ()) -> None:
    """The source's tables (but ``skip``) into the folder ``dest``, as stored: a data
    directory's files copied; the tables of a DuckDB file or of PostgreSQL written as
    ``<table>.parquet`` from their rows as read (DuckDB ``COPY``), so any source can be merged."""
    for table in src.source.tables:
        if table in skip:
            continue
        if src.source.kind == "dir":
            shutil.copy2(src.files[table], dest / src.files[table].name)
            continue
        path = str(dest / f"{table}.parquet").replace("'", "''")
        src.con.execute(f"COPY (SELECT * FROM raw_{table}) TO '{path}' (FORMAT parquet)")


def run_cycle(
    data: str | Path,
    db_url: str,
    work: str | Path,
    budget: float,
    *,
    server: str | None = None,
    api_key: str | None = None,
    holdout: float | None = None,
    tune: str = "fast",
    attribution_days: float = 14.0,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> CycleResult:
    """Export, merge, train, plan and swap (see the module docstring).

    ``data``: the shop's data source (a directory of Parquet or CSV contract tables, a DuckDB
    file or a PostgreSQL URL; the merged copy is a directory); ``work``: a folder for
    this cycle's data, model and plan (``work/cycle-<UTC time>/``); ``server`` + ``api_key`` (an
    admin key): swap through the running service, else load the plan into ``db_url`` directly.
    """
    from offerwise.data.contract import load_data
    from offerwise.serving.ledger import export_exposures
    from offerwise.workflows.plan import make_plan
    from offerwise.workflows.train import train

    require("sqlalchemy", "serve")
    settings = settings or default_settings()
    if server and not api_key:
        raise ConfigError("--server needs --api-key (a key with the admin scope)")
    # a shop whose history has no exposures: its first campaign (a plan made without a model)
    src = load_data(data, settings=settings, required=("customers", "offers"))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    root = Path(work) / f"cycle-{stamp}"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    note(progress, "exporting the service's decisions")
    export_dir = root / "served"
    served = export_exposures(db_url, export_dir, attribution_days).frame
    history = src.frame("exposures") if src.has("exposures") else served.iloc[:0]
    merged = merge_exposures(history, served)
    columns = {r[0] for r in src.con.execute("DESCRIBE customers").fetchall()}
    known = src.frame("customers", ["customer_id"])["customer_id"]
    added = newcomer_rows(known, served, "signup_date" in columns)
    note(progress, f"merging {len(served):,} served exposures with {len(history):,} logged")
    data_dir = root / "data"
    with atomic_dir(data_dir, FolderKind("merged data")) as tmp:
        copy_tables(src, tmp, skip=("exposures", "customers") if len(added) else ("exposures",))
        write_table(merged, tmp / "exposures.parquet")
        if len(added):  # the whole table is read only then
            customers = pd.concat([src.frame("customers"), added], ignore_index=True)
            write_table(customers, tmp / "customers.parquet")
    timings["export_merge"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    note(progress, "training on the merged exposures")
    merged_ds = load_data(data_dir, settings=settings)  # validated once, for train and plan
    trained = train(merged_ds, root / "model", tune_mode=tune, settings=settings, progress=progress)
    timings["train"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    note(progress, "planning the next campaign")
    plan_path = root / f"cycle-{stamp}.parquet"
    planned = make_plan(
        trained.model_dir,
        merged_ds,
        budget,
        plan_path,
        holdout=holdout,
        settings=settings,
        progress=progress,
        frontier=False,
    )
    timings["plan"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    note(progress, "swapping the live plan")
    if server:
        previous, campaign = _swap_via_server(server, api_key or "", plan_path, trained.model_dir)
        via = "server"
    else:
        previous, campaign = _swap_in_database(db_url, plan_path, trained.model_dir)
        via = "database"
    timings["swap"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    ident = trained.identification
    return CycleResult(
        data_dir=data_dir,
        model_dir=trained.model_dir,
        plan=plan_path,
        campaign_id=campaign,
        previous_campaign_id=previous,
        exposures_history=len(history),
        exposures_served=len(merged) - len(history),
        verdict=None if ident is None else ident.verdict,
        swapped_via=via,
        propensities=propensity_note(history, served),
        timings=timings,
        warnings=list(
            dict.fromkeys([*map(str, trained.card.get("warnings", [])), *planned.warnings])
        ),
        customers_added=len(added),
    )


def _swap_via_server(
    server: str, api_key: str, plan: Path, model_dir: Path
) -> tuple[str | None, str]:
    """``POST /v1/admin/plan`` on the running service; returns (previous, new) campaign ids."""
    import httpx

    try:
        r = httpx.post(
            server.rstrip("/") + "/v1/admin/plan",
            headers={"X-API-Key": api_key},
            json={"plan": str(plan.resolve()), "model_dir": str(model_dir.resolve())},
            timeout=600,
        )
    except httpx.HTTPError as exc:
        raise ConfigError(f"{server}: the service did not answer ({exc})") from exc
    if r.status_code != 200:
        raise ConfigError(f"{server}: the plan swap was refused ({r.status_code}: {r.text[:500]})")
    body = r.json()
    return body.get("previous_campaign_id"), str(body["campaign_id"])


def _swap_in_database(db_url: str, plan: Path, model_dir: Path) -> tuple[str | None, str]:
    """Load the plan into the service's database as the active campaign (the running workers
    read it within a second); returns (previous, new) campaign ids."""
    from offerwise.serving.storage import load_plan, make_engine, migrate

    engine = make_engine(db_url, pool_size=1, existing=True)
    try:
        migrate(engine)
        got = load_plan(engine, plan, model_dir)
    finally:
        engine.dispose()
    return got.previous_campaign_id, got.campaign_id

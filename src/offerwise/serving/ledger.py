"""Export the ledger as contract ``exposures`` so the next ``offerwise train`` learns from it.

One row per logged decision (an exposure; offer ``none`` for holdout/no-offer): ``converted`` = 1
when the customer has ≥ 1 order event in [ts, ts + attribution window); ``revenue`` = Σ those
orders' revenue; ``discount_cost`` = Σ discounts of the redemptions (not rolled back) of the
customer's coupons in the decision's campaign made in the window (a renewed coupon counts too).
``propensity`` is the logged probability of the served offer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

COLUMNS = [
    "customer_id",
    "offer_id",
    "ts",
    "propensity",
    "converted",
    "revenue",
    "discount_cost",
    "campaign_id",
    "explored",
    "group",
]


def exposures_frame(engine: Engine, attribution_days: float = 14.0) -> pd.DataFrame:
    """The exposures table (columns ``COLUMNS``) from decisions, events and redemptions."""
    import pandas as pd

    window = attribution_days * 86400.0
    with engine.connect() as conn:
        dec = pd.read_sql_query(
            "SELECT campaign_id, customer_id, offer_id, ts, propensity, explored, grp, coupon_code "
            "FROM decisions",
            conn,
        )
        ev = pd.read_sql_query("SELECT customer_id, ts AS ev_ts, revenue_cents FROM events", conn)
        red = pd.read_sql_query(
            "SELECT campaign_id, customer_id, redeemed_ts, discount_cents FROM redemptions "
            "WHERE status = 'redeemed'",
            conn,
        )
    dec = dec.reset_index(names="row")
    m = dec[["row", "customer_id", "ts"]].merge(ev, on="customer_id")
    m = m[(m["ev_ts"] >= m["ts"]) & (m["ev_ts"] < m["ts"] + window)]
    rev = m.groupby("row")["revenue_cents"].agg(["sum", "size"])
    r = dec[["row", "campaign_id", "customer_id", "ts"]].merge(
        red, on=["campaign_id", "customer_id"]
    )
    r = r[(r["redeemed_ts"] >= r["ts"]) & (r["redeemed_ts"] < r["ts"] + window)]
    cost = r.groupby("row")["discount_cents"].sum()
    out = pd.DataFrame(
        {
            "customer_id": dec["customer_id"].astype(str),
            "offer_id": dec["offer_id"].astype(str),
            "ts": pd.to_datetime(dec["ts"], unit="s", utc=True).dt.tz_localize(None),
            "propensity": dec["propensity"].astype(float),
            "converted": dec["row"].map(rev["size"]).fillna(0).gt(0).astype("int64"),
            "revenue": dec["row"].map(rev["sum"]).fillna(0).astype(float) / 100,
            "discount_cost": dec["row"].map(cost).fillna(0).astype(float) / 100,
            "campaign_id": dec["campaign_id"].astype(str),
            "explored": dec["explored"].astype(bool),
            "group": dec["grp"].astype(str),
        }
    )
    return out.sort_values(["ts", "customer_id"], kind="stable").reset_index(drop=True)[COLUMNS]


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting it, and put it back at once
    os.umask(mask)
    return mask


@dataclass(frozen=True, slots=True)
class ExportedExposures:
    """What :func:`export_exposures` wrote: the file and the frame written to it (n, COLUMNS), so a
    caller does not read the file back."""

    path: Path
    frame: pd.DataFrame

    @property
    def rows(self) -> int:
        """Exposures written."""
        return len(self.frame)

    @property
    def converted(self) -> int:
        """Exposures with an order in their attribution window."""
        return int(self.frame["converted"].sum())


def export_exposures(
    db_url: str, out_dir: str | Path, attribution_days: float = 14.0
) -> ExportedExposures:
    """Write ``OUT_DIR/exposures.parquet`` atomically; returns its path and the rows written.

    The file gets the permissions of any file the user creates (0666 less the umask: 0644 under
    umask 022), not those of the temporary file it was written to (``mkstemp``: 0600), so the
    ``train`` run of another user or service can read it.
    """
    from offerwise._io import write_table
    from offerwise.serving.storage import make_engine, migrate

    engine = make_engine(db_url, pool_size=1, existing=True)
    try:
        migrate(engine)
        df = exposures_frame(engine, attribution_days)
    finally:
        engine.dispose()
    path = write_table(df, Path(out_dir) / "exposures.parquet")
    os.chmod(path, 0o666 & ~_umask())
    return ExportedExposures(path, df)


__all__ = ["COLUMNS", "ExportedExposures", "export_exposures", "exposures_frame"]

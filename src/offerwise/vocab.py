"""Names shared by every layer: the no-offer id, offer kinds, score and plan columns, sidecar
paths, money in cents and dates (``as_of``).

One place for them, so ``serving/``, ``policy/``, ``models/`` and ``report/`` cannot drift apart.
This module imports nothing of offerwise but :mod:`offerwise.errors`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from offerwise.errors import InputError

if TYPE_CHECKING:  # pandas is imported where used: the offer service's workers import this
    import pandas as pd  # module for its names and must not pay for pandas

__all__ = [
    "AFFINITY",
    "EMBEDDINGS",
    "NO_OFFER",
    "OFFER_KINDS",
    "ELIGIBLE_SEP",
    "EXACT_DECIMAL",
    "exact",
    "exact_sum",
    "net_profit_sum",
    "EXTRAPOLATED_COLUMN",
    "PLAN_COLUMNS",
    "REC_SCOPE_PREFIX",
    "SCORE_COLUMNS",
    "SCORE_ID_DTYPE",
    "SEGMENTS",
    "SCORE_INPUT_COLUMNS",
    "SCORE_SD_COLUMN",
    "TabularSource",
    "UPLIFT_METRICS_LEGEND",
    "default_as_of",
    "frontier_path",
    "parse_as_of",
    "plan_model_dir",
    "menu_path",
    "summary_path",
    "to_cents",
]

#: Offer id meaning "no offer" (the control arm of the logs, the plan's empty choice).
NO_OFFER = "none"

#: An ``offers.category`` starting with this is a template scoped by recommendation (``rec:1``:
#: the customer's top recommended category; :mod:`offerwise.data.templates`).
REC_SCOPE_PREFIX = "rec:"

#: Learned customer representations ``train --embeddings`` can add to the features: ``seq`` is a
#: GRU over each customer's orders (:mod:`offerwise.embed.seq`).
EMBEDDINGS = ("none", "seq")

#: Customer x category affinity features ``train --affinity`` adds for category-scoped offers:
#: ``share`` is the past share of spend (``category_share=<c>``, always there); ``cf`` adds the
#: collaborative-filtering score ``category_affinity=<c>`` (:mod:`offerwise.features.affinity`).
AFFINITY = ("share", "cf")

#: Offer kinds of the data contract's ``offers.kind``.
OFFER_KINDS = ("percent_off", "amount_off", "spend_threshold", "free_shipping", "gift", "bogo")

#: The named customer segments of ``offerwise profile``, in the order their rules are checked.
SEGMENTS = (
    "new",
    "dormant",
    "at-risk",
    "loyal-high-value",
    "deal-seeker",
    "brand-loyal",
    "regular",
)

#: Columns of a scores frame, in order (one row per customer x scored offer; ``offerwise score``).
SCORE_COLUMNS = (
    "customer_id",
    "offer_id",
    "p_convert",
    "p_convert_none",
    "incremental_conversion",
    "expected_revenue",
    "incremental_revenue",
    "expected_cost",
    "incremental_profit",
    "incremental_profit_sd",
)
#: dtype of a scores frame's ``customer_id`` and ``offer_id`` in memory: Arrow-backed strings
#: (written to Parquet without converting n·K Python strings; read back they are ``string``).
SCORE_ID_DTYPE = "string[pyarrow]"
#: The score columns the planner needs (a subset of :data:`SCORE_COLUMNS`).
SCORE_INPUT_COLUMNS = ("customer_id", "offer_id", "expected_cost", "incremental_profit")
#: Score column (bool): the offer was scored from its attributes (too few exposures of its own).
EXTRAPOLATED_COLUMN = "extrapolated"
#: Optional score column: spread of ``incremental_profit`` over the model's seed bags.
SCORE_SD_COLUMN = "incremental_profit_sd"

#: How to read the per-offer uplift metrics (CLI ``train``, ``model_card.md``, the HTML report).
UPLIFT_METRICS_LEGEND = (
    "Qini and AUUC (normalized) rate the ranking: 0 = random, 1 = the realized-outcome oracle. "
    "uplift@10% is an amount: the observed net profit per customer, offer minus none, among the "
    "10 % the model ranks highest; it is negative when even those customers' offers lose money "
    "on average, however well they are ranked."
)

#: Columns of a plan file (one row per customer; ``offerwise plan``).
PLAN_COLUMNS = (
    "customer_id",
    "offer_id",
    "expected_cost",
    "incremental_profit",
    "group",
    "segment",
    "reason",
    "planned_offer_id",
    "propensity",
    "category",
    "eligible_offers",
    "drivers",
)

#: Separator of the offer ids in a plan's ``eligible_offers`` column.
ELIGIBLE_SEP = "|"

#: SQL sums of money are taken over this exact decimal type (4 places), then turned into doubles:
#: a sum of doubles depends on the order a parallel aggregation adds them in (the same data gave
#: a spend trend of 0 in one run and 8e-17 in the next, on either side of a tree's split at 0),
#: and files written from such sums would differ from run to run. Values up to 10^14.
EXACT_DECIMAL = "DECIMAL(18, 4)"


def exact(expr: str) -> str:
    """SQL (DuckDB, Spark): ``expr`` as :data:`EXACT_DECIMAL`, for sums that stay exact."""
    return f"CAST({expr} AS {EXACT_DECIMAL})"


def exact_sum(expr: str) -> str:
    """SQL (DuckDB, Spark) for the exact sum of ``expr`` as a double: the same bits whatever the
    order of the rows."""
    return f"CAST(SUM({exact(expr)}) AS DOUBLE)"


def net_profit_sum(lines: str = "t") -> str:
    """SQL (DuckDB) for ``Σ margin_rate·(amount + discount) − discount`` over the transaction
    lines aliased ``lines``, as a double (exact sums): the analysis' net profit without unit costs.
    The margin rate is the expression's one ``?`` parameter."""
    return (
        f"? * {exact_sum(f'{lines}.amount + {lines}.discount')} - {exact_sum(f'{lines}.discount')}"
    )


def summary_path(plan: str | Path) -> Path:
    """``PLAN.summary.json``: the plan's sidecar with budget, totals and settings."""
    p = Path(plan)
    return p.with_name(p.stem + ".summary.json")


def plan_model_dir(plan: str | Path) -> Path | None:
    """The model directory ``plan`` was made with (``model_dir`` of its summary, written by
    ``offerwise plan``), when the summary records one that still holds an offer menu; else None."""
    import json

    side = summary_path(plan)
    try:
        got = json.loads(side.read_text()).get("model_dir") if side.exists() else None
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(got, str) or not got or not (Path(got) / "offers.parquet").exists():
        return None
    return Path(got)


def menu_path(plan: str | Path) -> Path:
    """``PLAN.offers.parquet``: the offer menu a plan made without a model was drawn from (the
    offer service reads it where there is no model directory)."""
    p = Path(plan)
    return p.with_name(p.stem + ".offers.parquet")


def frontier_path(plan: str | Path) -> Path:
    """``PLAN.frontier.parquet``: the plan's budget frontier."""
    p = Path(plan)
    return p.with_name(p.stem + ".frontier.parquet")


def to_cents(amount: float) -> int:
    """Currency -> integer cents, rounding half away from zero (2.345 -> 235, -0.005 -> -1)."""
    return int(math.floor(abs(amount) * 100 + 0.5)) * (1 if amount >= 0 else -1)


def parse_as_of(value: object, what: str = "--as-of") -> pd.Timestamp:
    """A date or timestamp as a naive UTC :class:`pandas.Timestamp`; :class:`InputError` if not
    one."""
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} {value!r}: not a date or timestamp (use YYYY-MM-DD)") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{what} {value!r}: not a date or timestamp (use YYYY-MM-DD)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


class TabularSource(Protocol):
    """What :func:`default_as_of` needs of a data source (a :class:`~offerwise.data.DataSet`)."""

    def has(self, table: str) -> bool: ...

    def last_ts(self, table: str) -> datetime | None: ...


def default_as_of(ds: TabularSource) -> pd.Timestamp:
    """The decision date when none is given: midnight after the last transaction or exposure.

    Today's midnight (UTC) when the source has neither. ``profile``, ``score``, ``plan`` and
    ``evaluate`` all use this one rule, so they describe the same day.
    """
    import pandas as pd

    last = [
        v for t in ("transactions", "exposures") if ds.has(t) and (v := ds.last_ts(t)) is not None
    ]
    if not last:
        return pd.Timestamp(datetime.now(UTC).date())
    return (pd.Timestamp(max(last)) + pd.Timedelta(days=1)).normalize()

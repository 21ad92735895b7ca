"""``offerwise elasticity``: own-price elasticity of units per category (double ML with product
and week fixed effects), with 90 % and 95 % intervals, or NaN and a reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from offerwise._io import write_table
from offerwise.config import Settings, default_settings
from offerwise.demand.elasticity import (
    ElasticitySpec,
    add_competitor_prices,
    category_elasticities,
    price_panel,
)
from offerwise.demand.weekly import check_level
from offerwise.errors import Problem
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.forecast import load_lines, transactions_as_of

__all__ = ["ElasticityRun", "run_elasticity"]


@dataclass(slots=True)
class ElasticityRun:
    """What ``offerwise elasticity`` did: ``table`` (one row per category, elasticity-file
    columns, largest sales first), the lines and product-weeks left out, timings (s)."""

    table: pd.DataFrame
    as_of: pd.Timestamp
    spec: ElasticitySpec
    dropped_zero_quantity: int
    free_product_weeks: int
    out: str
    warnings: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_estimated(self) -> int:
        return int(self.table["elasticity"].notna().sum())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary with every category's row."""
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return {
            "out": self.out,
            "as_of": self.as_of.isoformat(),
            "n_categories": int(len(self.table)),
            "n_estimated": self.n_estimated,
            "min_weeks": self.spec.min_weeks,
            "min_obs": self.spec.min_obs,
            "dropped_zero_quantity_lines": self.dropped_zero_quantity,
            "free_product_weeks_dropped": self.free_product_weeks,
            "categories": rows,
            "warnings": [w.to_dict() for w in self.warnings],
            "seconds": self.timings,
        }


def run_elasticity(
    data: DataArg,
    *,
    out: str | Path,
    level: str = "category",
    min_weeks: int = 8,
    min_obs: int = 100,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ElasticityRun:
    """Estimate every category's own-price elasticity of units from ``data``'s transactions and
    write the table atomically to ``out``; with a ``competitor_prices`` table also each
    category's cross-price elasticity to the competitors' median price."""
    settings = settings or default_settings()
    check_level(level, ("category",))
    spec = ElasticitySpec(min_weeks=min_weeks, min_obs=min_obs, seed=settings.seed)
    t0 = time.perf_counter()
    note(progress, "reading transactions")
    ds = open_data(data, settings, ("transactions",))
    as_of = transactions_as_of(ds, None)
    lines = load_lines(ds, with_category=True)
    file = str(ds.files.get("transactions", "transactions"))
    panel = price_panel(lines, as_of, file=file)
    if ds.has("competitor_prices"):
        panel = add_competitor_prices(panel, ds.frame("competitor_prices"), as_of)
    t1 = time.perf_counter()
    note(progress, "double ML per category")
    table = category_elasticities(panel, spec)
    t2 = time.perf_counter()
    write_table(table, out)
    return ElasticityRun(
        table=table,
        as_of=as_of,
        spec=spec,
        dropped_zero_quantity=sum(panel.dropped_zero_quantity.values()),
        free_product_weeks=panel.free_product_weeks,
        out=str(out),
        warnings=list(ds.warnings),
        timings={
            "load": round(t1 - t0, 3),
            "estimate": round(t2 - t1, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    )

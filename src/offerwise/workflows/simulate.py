"""``offerwise simulate``: write a simulated shop (data contract) with the true effect of every
offer on every customer (``truth.parquet``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, cast

from offerwise._io import check_replaceable, read_table
from offerwise.config import Settings, default_settings
from offerwise.errors import InputError
from offerwise.simulator import (
    DEFAULT_OFFERS,
    SHOP_OUTPUT,
    OfferSpec,
    SimulatorConfig,
    offers_from_frame,
    simulate,
    write_market,
)

__all__ = ["SimulateResult", "simulate_shop"]


@dataclass(frozen=True, slots=True)
class SimulateResult:
    """Where the shop went and its size; ``oracle_value``: the true optimum without a budget."""

    out: str
    customers: int
    exposures: int
    transactions: int
    logging: str
    propensity: bool
    oracle_value: float
    offers: int = 0  # offers on the menu

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _menu(path: str | Path) -> tuple[OfferSpec, ...]:
    """The menu in offers table ``path``; an error names the file and its row count."""
    table = read_table(path, "offers")
    try:
        menu = offers_from_frame(table)
        SimulatorConfig(n_customers=10, n_exposures=0, offers=menu)  # checks the kinds
    except InputError as e:
        raise InputError(f"{path} ({len(table):,} rows): {e}") from None
    return menu


def simulate_shop(
    out: str | Path,
    *,
    customers: int,
    exposures: int,
    logging: str = "legacy",
    profiles: str | Path | None = None,
    seed: int | None = None,
    record_propensity: bool = True,
    settings: Settings | None = None,
    offers: str | Path | None = None,
) -> SimulateResult:
    """Simulate a shop (``logging``: random, legacy or confounded; the config checks it), optionally
    bootstrapping customers from a profiles file, and write it atomically to ``out``.
    ``offers``: the menu, a contract offers table (CSV/Parquet; columns offer_id, kind, value and
    optionally min_spend, category, description); default: the simulator's 7-offer menu."""
    settings = settings or default_settings()
    # before the work: a user's folder (or another kind of output) is never replaced
    check_replaceable(Path(out), SHOP_OUTPUT)
    menu = DEFAULT_OFFERS if offers is None else _menu(offers)
    cfg = SimulatorConfig(
        n_customers=customers,
        n_exposures=exposures,
        seed=settings.seed if seed is None else int(seed),
        logging=cast(Literal["random", "legacy", "confounded"], logging),
        profiles=read_table(profiles, "profiles") if profiles is not None else None,
        margin_rate=settings.margin_rate,
        record_propensity=record_propensity,
        offers=menu,
    )
    market = simulate(cfg)
    write_market(market, out)
    return SimulateResult(
        out=str(out),
        customers=len(market.customers),
        exposures=len(market.exposures),
        transactions=len(market.transactions),
        logging=logging,
        propensity=record_propensity,
        oracle_value=float(market.oracle_value()),
        offers=len(cfg.offers),
    )

"""Settings of the offer service, read from ``OFFERWISE_SERVE_*`` environment variables.

``offerwise serve`` fills them from its options; worker processes started by uvicorn read the same
environment, so every worker sees one configuration.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Default database: a SQLite file in the working directory (WAL mode).
DEFAULT_DB_URL = "sqlite:///offerwise.db"


class ServeSettings(BaseSettings):
    """Configuration of :func:`offerwise.serving.create_app` and :func:`run_server`.

    Money is in the shop's currency; it is stored as integer cents.
    """

    model_config = SettingsConfigDict(
        env_prefix="OFFERWISE_SERVE_", extra="forbid", allow_inf_nan=False
    )

    plan: Path | None = Field(
        None, description="plan parquet/csv (sidecar PLAN.summary.json beside it)"
    )
    model_dir: Path | None = Field(
        None, description="model directory holding offers.parquet (the menu)"
    )
    db_url: str = Field(
        DEFAULT_DB_URL, description="sqlite:///FILE or postgresql://user@host:port/db"
    )
    budget: float | None = Field(
        None, ge=0, description="campaign budget override (else summary json)"
    )
    load_plan: bool = Field(
        True, description="load plan + menu into the database at startup (idempotent)"
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    log_level: str = "warning"

    epsilon: float = Field(
        0.0, ge=0, le=1, description="share of decisions randomized for exploration"
    )
    seed: int = Field(
        42, description="seed of the exploration draws (hash of seed, campaign, customer)"
    )
    cold_start_offer: str = Field(
        "plan",
        description="customers not in the plan get: 'plan' (the plan's decision for a customer "
        "without history, its summary's newcomer), 'none', or this offer_id",
    )
    coupon_ttl_days: float = Field(
        14.0, gt=0, description="coupon lifetime from issue (capped by offer end)"
    )
    max_uses_per_coupon: int = Field(1, ge=1, description="redemptions allowed per coupon")
    max_uses_per_customer: int = Field(
        1, ge=1, description="redemptions allowed per customer and campaign"
    )
    shipping_fee: float = Field(
        4.95, ge=0, description="free_shipping discount when the cart has no shipping"
    )
    attribution_days: float = Field(
        14.0, gt=0, description="orders within this many days count as converted"
    )

    rate_per_s: float = Field(
        50.0, gt=0, description="token-bucket refill per API key (per process)"
    )
    rate_burst: int = Field(
        100, ge=1, description="token-bucket capacity per API key (per process)"
    )
    key_cache_s: float = Field(
        30.0, ge=0, description="how long a verified API key is cached in-process"
    )

    pool_size: int = Field(10, ge=1, le=200, description="database connections per worker")
    busy_timeout_ms: int = Field(30_000, ge=0, description="SQLite busy_timeout")
    max_event_batch: int = Field(10_000, ge=1, description="largest POST /v1/events batch")

    @field_validator("db_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("db_url must be sqlite:///FILE or postgresql://...")
        return v


def serve_settings(**values: object) -> ServeSettings:
    """:class:`ServeSettings` from ``values`` and the ``OFFERWISE_SERVE_*`` environment (a
    ``plan`` without ``model_dir``: the model its summary names, ``vocab.plan_model_dir``);
    ConfigError (exit 2) naming each bad key, e.g. ``port: Input should be less than or equal to
    65535``, instead of pydantic's ValidationError."""
    from pydantic import ValidationError

    from offerwise.config import format_validation_error
    from offerwise.errors import ConfigError
    from offerwise.vocab import plan_model_dir

    if values.get("model_dir", "") is None:
        del values["model_dir"]  # not given: OFFERWISE_SERVE_MODEL_DIR, else the plan's own
    try:
        s = ServeSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        where = "serve settings (options and OFFERWISE_SERVE_* variables)"
        raise ConfigError(format_validation_error(exc, where, ServeSettings)) from None
    if s.model_dir is None and s.plan is not None:
        s = s.model_copy(update={"model_dir": plan_model_dir(s.plan)})
    return s


__all__ = ["DEFAULT_DB_URL", "ServeSettings", "serve_settings"]

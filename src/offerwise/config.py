"""Settings, read from ``OFFERWISE_*`` environment variables or a TOML/YAML file.

Nested settings use ``__`` in environment names, e.g. ``OFFERWISE_SEGMENTS__DORMANT_DAYS=120``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from offerwise.errors import ConfigError


class SegmentThresholds(BaseModel):
    """Thresholds of the named segment rules (see ``docs/segments.md``)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    new_tenure_days: int = Field(60, ge=1, description="tenure below this many days: 'new'")
    dormant_days: int = Field(90, ge=1, description="no purchase for this many days: 'dormant'")
    at_risk_churn: float = Field(0.5, ge=0, le=1, description="churn risk at least this: 'at-risk'")
    high_value_quantile: float = Field(
        0.75, gt=0, lt=1, description="monetary quantile for 'loyal high-value'"
    )
    loyal_min_frequency: int = Field(
        8, ge=1, description="orders in the window for 'loyal high-value'"
    )
    deal_seeker_discount_share: float = Field(
        0.20, ge=0, le=1, description="discount share of gross spend for 'deal-seeker'"
    )
    brand_loyal_top_brand_share: float = Field(
        0.60, ge=0, le=1, description="spend share of the top brand for 'brand-loyal'"
    )


class CsvLocale(BaseModel):
    """How CSV files write numbers and dates (a spreadsheet's export in many locales writes
    ``3,50`` and ``16/09/2024``); Parquet and database tables carry typed values and ignore it."""

    model_config = ConfigDict(extra="forbid")

    decimal: Literal[".", ","] = Field(
        ".",
        description="decimal mark of numbers in CSV files; with ',' a '.' groups thousands "
        "(1.234,50)",
    )
    date_format: str | None = Field(
        None,
        description="strptime format of dates in CSV files, e.g. '%d/%m/%Y' (a time after it, "
        "' %H:%M' or ' %H:%M:%S', is read too); default: YYYY-MM-DD[ HH:MM[:SS]]",
    )


class Settings(BaseSettings):
    """All offerwise settings. Every random step takes ``seed``."""

    model_config = SettingsConfigDict(
        env_prefix="OFFERWISE_", env_nested_delimiter="__", extra="forbid", allow_inf_nan=False
    )

    margin_rate: float = Field(
        0.30, ge=0, le=1, description="gross margin rate when a table has no cost or profit"
    )
    protected_attributes: list[str] = Field(
        default_factory=lambda: [
            "age",
            "income",
            "marital_status",
            "household_comp",
            "kids_count",
            "household_size",
        ],
        description="customer columns used only in fairness audits, never as decision features",
    )
    allow_protected_features: bool = Field(
        False, description="explicitly allow protected attributes as features"
    )
    seed: int = Field(42, ge=0, description="seed of every random step (numpy needs >= 0)")
    threads: int = Field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)), ge=1)
    feature_window_days: int = Field(
        365, ge=1, description="look-back window of the profile features"
    )
    segments: SegmentThresholds = Field(default_factory=SegmentThresholds)
    csv: CsvLocale = Field(default_factory=CsvLocale)
    embedding_steps: int = Field(
        1500, ge=1, description="Adam steps of the customer sequence encoder (--embeddings seq)"
    )


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from defaults, environment, an optional TOML/YAML file and
    overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"settings file not found: {p}")
        try:
            raw = p.read_text()
            data = tomllib.loads(raw) if p.suffix == ".toml" else (yaml.safe_load(raw) or {})
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"{p}: cannot parse: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a mapping of settings at the top level")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(exc, str(path) if path else "settings", Settings)
        ) from exc


def _model_in(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside a field's annotation (``Model``, ``Model | None``,
    ``dict[str, Model]``, ``list[Model]``), and whether a mapping key comes before it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    keyed = get_origin(annotation) is dict
    for arg in get_args(annotation):
        found, _ = _model_in(arg)
        if found is not None:
            return found, keyed
    return None, False


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The keys allowed where ``loc`` (an error's location, last part excluded) points in
    ``model``; None when the path cannot be followed."""
    cur: type[BaseModel] | None = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if isinstance(part, int) or cur is None:
            continue
        fields = {(f.alias or n): f for n, f in cur.model_fields.items()}
        if part not in fields:
            return None
        cur, keyed = _model_in(fields[part].annotation)
        if keyed and parts:
            parts.pop(0)  # the mapping's key (an offer id, a segment name)
    if cur is None:
        return None
    return [(f.alias or n) for n, f in cur.model_fields.items()]


def format_validation_error(
    exc: ValidationError, source: str, model: type[BaseModel] | None = None
) -> str:
    """Render a pydantic error as one line per bad key: ``source: key.path: message``. With
    ``model`` (the validated class), an unknown key lists the keys allowed there and the
    closest one."""
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and model is not None and err["loc"]:
            allowed = _keys_at(model, tuple(err["loc"][:-1]))
            if allowed:
                msg = f"unknown key (allowed here: {', '.join(allowed)})"
                close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1, cutoff=0.6)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """Settings from defaults and the environment (cached; call ``.cache_clear()`` in tests)."""
    return load_settings()

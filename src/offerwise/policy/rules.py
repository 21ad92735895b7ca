"""Business rules of a campaign: a TOML/YAML file validated with pydantic (see docs/rules.md).

Eligibility, discount depth, minimum ROI and cooldown compile into a boolean mask (n, K);
caps, segment budgets and fairness become side constraints of
:func:`~offerwise.policy.solver.allocate`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from offerwise.config import format_validation_error
from offerwise.errors import ConfigError
from offerwise.policy.allocation import FairnessGroups
from offerwise.vocab import SEGMENTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class OfferRule(_Strict):
    """Rules of one offer: caps and who may receive it."""

    max_count: int | None = Field(None, ge=0, description="at most this many customers get it")
    max_spend: float | None = Field(None, ge=0, description="at most this expected cost in total")
    segments: list[str] | None = Field(None, description="only customers of these segments")
    members_only: bool = Field(
        False, description="only customers whose 'member' attribute is truthy"
    )
    new_customers_only: bool = Field(
        False, description="only new customers ('is_new' or segment 'new')"
    )


class SegmentRule(_Strict):
    """Rules of one segment: budget share bounds and maximum discount depth."""

    max_share: float | None = Field(None, ge=0, le=1, description="spend <= max_share * budget")
    min_share: float | None = Field(None, ge=0, le=1, description="spend >= min_share * budget")
    max_percent_off: float | None = Field(None, ge=0, le=1, description="percent_off value <= this")
    max_amount_off: float | None = Field(None, ge=0, description="amount_off value <= this")

    @model_validator(mode="after")
    def _shares(self) -> SegmentRule:
        if (
            self.max_share is not None
            and self.min_share is not None
            and self.min_share > self.max_share
        ):
            raise ValueError("min_share must not exceed max_share")
        return self


class RoiRule(_Strict):
    min: float = Field(
        ..., description="incremental_profit / expected_cost >= min for any offer given"
    )


class ContactRule(_Strict):
    cooldown_days: int | None = Field(
        None,
        ge=1,
        description="no offer within N days of the last one (needs customer column last_offer_ts)",
    )


class FairnessRule(_Strict):
    attribute: str = Field(..., description="protected customer column, e.g. 'age'")
    min_ratio: float = Field(0.8, gt=0, le=1, description="min group offer rate / max group rate")


class MarginRule(_Strict):
    """The expected gross margin after discounts stays at or above ``target``: of every offered
    customer's order (``per = "customer"``, the default) or of the campaign as a whole
    (``per = "campaign"``: a side constraint of the allocation)."""

    target: float = Field(
        ...,
        ge=0,
        lt=1,
        description="minimum of (gross profit - discounts) / revenue over the offered customers' "
        "expected orders, e.g. 0.2",
    )
    rate: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="the shop's gross margin before discounts (gross profit / gross sales); "
        "default: the settings' margin_rate",
    )

    per: Literal["customer", "campaign"] = Field(
        "customer",
        description="'customer': every offered customer's expected margin meets the target (an "
        "eligibility rule: it holds in truth where the costs are right, whatever the revenue "
        "errors); 'campaign': the offered customers' total margin does (a side constraint)",
    )

    @model_validator(mode="after")
    def _below_rate(self) -> MarginRule:
        if self.rate is not None and self.target >= self.rate:
            raise ValueError(
                f"target {self.target:g} must be below rate {self.rate:g}: discounts only lower "
                "the margin"
            )
        return self


class StockRule(_Strict):
    """Weigh category-scoped offers by their category's stock cover (weeks of demand on hand):
    below ``scarce_weeks`` the weight falls to 0 (protect scarce stock), above
    ``overstock_weeks`` it rises to at most ``max_weight`` (push overstock). Needs an
    ``inventory`` table; demand from ``plan --forecast`` or the last 4 weeks of sales."""

    scarce_weeks: float = Field(2.0, gt=0, description="cover below this is scarce")
    overstock_weeks: float = Field(8.0, gt=0, description="cover above this is overstock")
    max_weight: float = Field(2.0, ge=1, description="the largest weight of an overstock")

    @model_validator(mode="after")
    def _order(self) -> StockRule:
        if self.scarce_weeks >= self.overstock_weeks:
            raise ValueError(
                f"scarce_weeks ({self.scarce_weeks:g}) must be below overstock_weeks "
                f"({self.overstock_weeks:g})"
            )
        return self


class Rules(_Strict):
    """A whole rules file. Every section is optional."""

    offers: dict[str, OfferRule] = Field(default_factory=dict)
    segments: dict[str, SegmentRule] = Field(default_factory=dict)
    roi: RoiRule | None = None
    contact: ContactRule = Field(default_factory=ContactRule)
    fairness: list[FairnessRule] = Field(default_factory=list)
    margin: MarginRule | None = None
    stock: StockRule | None = None
    allow_extrapolated_offers: bool = Field(
        False,
        description="plan offers scored from their attributes only (too few logged exposures "
        "for a model of their own; scores column 'extrapolated')",
    )

    @model_validator(mode="after")
    def _sum_min_shares(self) -> Rules:
        total = sum(s.min_share or 0.0 for s in self.segments.values())
        if total > 1 + 1e-12:
            raise ValueError(f"segment min_share values add up to {total:g} > 1")
        return self


def parse_rules(data: dict[str, Any], source: str = "rules") -> Rules:
    """Validate a mapping; errors raise ConfigError naming each bad key (``offers.x.max_count``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, Rules)) from exc


def load_rules(path: str | Path) -> Rules:
    """Read a rules file (``.toml``, or YAML for ``.yaml``/``.yml``)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"rules file not found: {p}")
    try:
        raw = p.read_text()
        data = tomllib.loads(raw) if p.suffix == ".toml" else (yaml.safe_load(raw) or {})
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot parse: {exc}") from exc
    return parse_rules(data, str(p))


@dataclass
class CompiledRules:
    """Rules applied to one set of customers (n) and offers (K)."""

    mask: np.ndarray  # (n, K) bool, True = allowed
    cooldown: np.ndarray  # (n,) bool, True = excluded by the cooldown
    max_count: np.ndarray  # (K,) inf = none
    max_spend: np.ndarray  # (K,)
    segment_max_spend: np.ndarray  # (S,)
    segment_min_spend: np.ndarray  # (S,)
    fairness: list[FairnessGroups] = field(default_factory=list)


def _truthy(s: pd.Series) -> np.ndarray:
    """True where ``s`` says yes: booleans, non-zero numbers (a CSV's 1/0 column is read as
    numbers), or the text 1/true/yes/y/t; missing is no."""
    if s.dtype == bool:
        return s.fillna(False).to_numpy(bool)
    if pd.api.types.is_numeric_dtype(s):
        return (s.fillna(0) != 0).to_numpy(bool)
    txt = s.astype("string").str.strip().str.lower()
    return txt.isin(["1", "true", "yes", "y", "t"]).fillna(False).to_numpy(bool)


def _check_segment(name: str, where: str, present: dict[str, int]) -> None:
    """A rule may name a segment of the customer table or one of offerwise's :data:`SEGMENTS`
    (which may have no customer on a given day); anything else is a typo: ConfigError."""
    if name not in present and name not in SEGMENTS:
        known = list(dict.fromkeys([*present, *SEGMENTS]))
        raise ConfigError(
            f"rules: {where}: unknown segment '{name}' (segments: {', '.join(known)})"
        )


def compile_rules(
    rules: Rules | None,
    *,
    offer_ids: list[str],
    customers: pd.DataFrame,
    segment_codes: np.ndarray,
    segment_names: list[str],
    profit: np.ndarray,
    cost: np.ndarray,
    budget: float,
    offers: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
    extrapolated: list[str] | tuple[str, ...] = (),
) -> CompiledRules:
    """Compile ``rules`` for customers (rows aligned with ``profit``/``cost``, with attribute
    columns) and ``offer_ids`` (columns). ``offers`` is the menu (kind, value, members_only);
    ``extrapolated`` offers (scored from their attributes) are not eligible unless the rules
    allow them."""
    n, K = profit.shape
    S = len(segment_names)
    mask = np.ones((n, K), dtype=bool)
    cool = np.zeros(n, dtype=bool)
    cap_n = np.full(K, np.inf)
    cap_s = np.full(K, np.inf)
    smax = np.full(S, np.inf)
    smin = np.zeros(S)
    fair: list[FairnessGroups] = []
    kidx = {o: k for k, o in enumerate(offer_ids)}
    sidx = {s: i for i, s in enumerate(segment_names)}
    menu = None
    if offers is not None and len(offers):
        menu = offers.set_index(offers["offer_id"].astype(str))
        if "members_only" in menu.columns:  # the menu's own flag
            flag = _truthy(menu["members_only"].reindex(offer_ids))
            if flag.any():
                if "member" not in customers.columns:
                    only = [o for o, f in zip(offer_ids, flag, strict=True) if f]
                    raise ConfigError(
                        f"offers menu: {len(only)} members-only offer(s) (e.g. {only[0]!r}) need "
                        "a customers column 'member' (true/false), and customers has none: add "
                        "it, or set the offers' members_only to false"
                    )
                mask[:, flag] &= _truthy(customers["member"])[:, None]
    if rules is None or not rules.allow_extrapolated_offers:
        mask[:, [kidx[o] for o in extrapolated if o in kidx]] = False
    if rules is None:
        return CompiledRules(mask, cool, cap_n, cap_s, smax, smin, fair)
    for name, r in rules.offers.items():
        if name not in kidx:
            raise ConfigError(
                f"rules: offers.{name}: offer '{name}' is not in the scores/offer menu "
                f"(known: {', '.join(offer_ids)})"
            )
        k = kidx[name]
        if r.max_count is not None:
            cap_n[k] = r.max_count
        if r.max_spend is not None:
            cap_s[k] = r.max_spend
        if r.segments is not None:
            for seg in r.segments:
                _check_segment(seg, f"offers.{name}.segments", sidx)
            mask[:, k] &= np.isin(segment_codes, [sidx[s] for s in r.segments if s in sidx])
        if r.members_only:
            if "member" not in customers.columns:
                raise ConfigError(
                    f"rules: offers.{name}.members_only needs a customer column 'member'"
                )
            mask[:, k] &= _truthy(customers["member"])
        if r.new_customers_only:
            if "is_new" in customers.columns:
                new = _truthy(customers["is_new"])
            elif (
                "new" in sidx or "new" in SEGMENTS
            ):  # offerwise's segments: 'new' may be empty today
                new = segment_codes == sidx.get("new", -1)
            else:
                raise ConfigError(
                    f"rules: offers.{name}.new_customers_only needs a customer column "
                    "'is_new' or a segment 'new'"
                )
            mask[:, k] &= new
    for name, sr in rules.segments.items():
        _check_segment(name, f"segments.{name}", sidx)
        if name not in sidx:  # a known segment with no customer today: nothing to limit
            continue
        s = sidx[name]
        if sr.max_share is not None:
            smax[s] = sr.max_share * budget
        if sr.min_share is not None:
            smin[s] = sr.min_share * budget
        for key, kind in (("max_percent_off", "percent_off"), ("max_amount_off", "amount_off")):
            lim = getattr(sr, key)
            if lim is None:
                continue
            if menu is None or not {"kind", "value"} <= set(menu.columns):
                raise ConfigError(
                    f"rules: segments.{name}.{key} needs the offer menu (kind, value)"
                )
            m = menu.reindex(offer_ids)
            too_deep = (
                ((m["kind"] == kind) & (m["value"].astype(float) > lim)).fillna(False).to_numpy()
            )
            mask[np.ix_(segment_codes == s, too_deep)] = False
    if rules.roi is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = np.where(cost > 0, profit / cost >= rules.roi.min, profit >= 0)
        mask &= ok
    if rules.contact.cooldown_days is not None:
        if "last_offer_ts" not in customers.columns:
            raise ConfigError(
                "rules: contact.cooldown_days needs a customer column 'last_offer_ts'"
            )
        ts = pd.to_datetime(customers["last_offer_ts"], errors="coerce", utc=True)
        now = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
        if now.tzinfo is None:
            now = now.tz_localize("UTC")
        recent = (
            (ts > now - pd.Timedelta(days=rules.contact.cooldown_days)).fillna(False).to_numpy(bool)
        )
        cool = recent
        mask[recent] = False
    for fr in rules.fairness:
        if fr.attribute not in customers.columns:
            raise ConfigError(
                f"rules: fairness.attribute: customer column '{fr.attribute}' not found"
            )
        codes, labels = pd.factorize(customers[fr.attribute], sort=True)
        fair.append(
            FairnessGroups(
                fr.attribute, np.asarray(codes, np.int64), tuple(map(str, labels)), fr.min_ratio
            )
        )
    return CompiledRules(mask, cool, cap_n, cap_s, smax, smin, fair)

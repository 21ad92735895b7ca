"""A shop's first campaign, before any model: ``offerwise plan`` without ``--model``.

A shop that never logged offers has nothing to train on, and the data contract's advice is a
first campaign of random offers with their probabilities. This is that campaign: a random
holdout, then every other customer explores with probability f (drawn before anything else), an
explored customer gets an arm drawn uniformly from ``none`` and their eligible offers (the rules
as the planner reads them: members-only, new customers, cooldown, dates, caps, segment budgets),
and the others get none. Every row records the exact probability of its offer (``propensity``),
so the service logs them and the next ``offerwise train`` on the exported exposures is
identified (``logging = logged_propensities``).

Without a model nothing predicts who redeems, so by default the cost counted against the budget
is the cost if every offered customer redeems once (:func:`~offerwise.policy.explore.
redemption_costs`: a percent-off on the customer's average basket, at least the offer's minimum
spend, times their share of spend in the offer's category; every other kind its value). With
``--redeem-rate r`` the user states the share of offered customers expected to redeem: the
expected cost is r times that, and the margin counts each offered customer as redeeming with
probability r. The share f is the largest (up to ``--explore``, default 1) whose draw stays
within the budget and caps with a margin of three standard deviations, fixed before the draw
(:func:`~offerwise.policy.explore.explore_share_within`). The service's ledger enforces the
budget at redemption in any case: if more than r redeem, the redemptions past the budget are
refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offerwise._io import atomic_path
from offerwise.config import Settings, default_settings
from offerwise.data.contract import DataSet
from offerwise.data.templates import is_template
from offerwise.errors import InputError
from offerwise.features.columns import CATEGORY_SHARE_PREFIX
from offerwise.features.engine import profile
from offerwise.features.model_inputs import category_share_features
from offerwise.models.offer_attributes import offer_specs
from offerwise.policy.explore import redemption_costs
from offerwise.policy.plan import PlanResult, ScoreArrays, solve_plan, write_plan
from offerwise.policy.rules import load_rules
from offerwise.vocab import default_as_of, menu_path, parse_as_of
from offerwise.workflows._common import DataArg, Progress, note, open_data
from offerwise.workflows.claims import OUTCOME_DAYS, outcome_sd, unsized_reason
from offerwise.workflows.explore_claims import ExploreClaims, explore_sizing
from offerwise.workflows.plan import HOLDOUT, customer_table

__all__ = [
    "COST_BASIS",
    "COST_BASIS_SHORT",
    "FirstCampaignRun",
    "cost_basis",
    "make_first_campaign",
]

#: How a plan without a model counts an offer's cost (summary ``first_campaign.cost_basis``).
COST_BASIS = (
    "every offered customer redeems once: a percent-off on their average basket (at least the "
    "offer's minimum spend; customers without orders: the shop's median basket) times their "
    "share of spend in the offer's category; other offers at their value"
)
#: The same in a few words, for one line of output.
COST_BASIS_SHORT = (
    "percent-off on each customer's average basket and category share, other offers at value"
)


def cost_basis(redemption_rate: float) -> str:
    """The summary's ``cost_basis`` for an assumed redemption rate (1: :data:`COST_BASIS`)."""
    if redemption_rate >= 1.0:
        return COST_BASIS
    return (
        f"an assumed {redemption_rate:.0%} of offered customers redeem once (--redeem-rate "
        f"{redemption_rate:g}), each redemption costing " + COST_BASIS.split(": ", 1)[1]
    )


def overrun_warning(redemption_rate: float) -> str:
    """What an assumed redemption rate risks, for the plan's warnings."""
    return (
        f"--redeem-rate {redemption_rate:g}: the budget holds if at most about "
        f"{redemption_rate:.0%} of offered customers redeem; the service refuses redemptions past "
        "the budget, so if more redeem the last ones are refused and the campaign measures "
        "fewer redemptions than its offers would have drawn"
    )


@dataclass
class FirstCampaignRun:
    """A written first campaign: the plan, its files, the explore share it could afford, the
    offers left out (with why), and what its randomized customers can detect."""

    result: PlanResult
    written: list[Path]
    share: float  # the explore share of the non-holdout customers (<= the requested one)
    requested: float
    redemption_rate: float = 1.0  # the assumed share of offered customers who redeem
    left_out: dict[str, str] = field(default_factory=dict)  # offer -> why it is not drawn
    explore: ExploreClaims | None = None
    unsized: str = ""  # why ``explore`` is None (no spread of net profit to size with)
    warnings: list[str] = field(default_factory=list)

    @property
    def cost_if_all_redeem(self) -> float:
        """The draw's cost if every offered customer redeemed once (the plan's expected cost
        is this times :attr:`redemption_rate`)."""
        return float(self.result.total_cost) / self.redemption_rate

    def to_dict(self) -> dict[str, object]:
        """The summary's ``first_campaign`` section."""
        return {
            "model": None,
            "explore_share": self.share,
            "explore_requested": self.requested,
            "cost_basis": cost_basis(self.redemption_rate),
            "redemption_rate": self.redemption_rate,
            "cost_if_all_redeem": self.cost_if_all_redeem,
            "incremental_profit": None,
            "offers_left_out": self.left_out,
            "explore": None if self.explore is None else self.explore.to_dict(),
            "explore_note": "" if self.explore is None else self.explore.note(),
            "unsized": self.unsized,
        }


def _scope_shares(
    ds: DataSet, ids: pd.Index, as_of: pd.Timestamp, categories: list[str | None], window: int
) -> np.ndarray:
    """(n, K) the share of each customer's spend that each offer applies to: 1 site-wide; for a
    category offer the customer's share in the window, or the shop's share of that category
    where the customer bought nothing in it (an offer can draw them in)."""
    out = np.ones((len(ids), len(categories)))
    named = sorted({c for c in categories if c is not None})
    if not named:
        return out
    cut = pd.DataFrame({"customer_id": ids, "as_of": as_of})
    sh = category_share_features(ds, cut, named, window)
    sh = sh.drop_duplicates("customer_id").set_index("customer_id").reindex(ids)
    for k, c in enumerate(categories):
        if c is None:
            continue
        col = f"{CATEGORY_SHARE_PREFIX}{c}"
        v = sh[col].to_numpy(np.float64) if col in sh else np.full(len(ids), np.nan)
        pos = v[np.isfinite(v) & (v > 0)]
        shop = float(pos.mean()) if len(pos) else 1.0
        out[:, k] = np.where(np.isfinite(v) & (v > 0), v, shop)
    return out


def make_first_campaign(
    data: DataArg,
    budget: float,
    out: str | Path,
    *,
    holdout: float | None = None,
    rules: str | Path | None = None,
    as_of: object = None,
    explore: float | None = None,
    redemption_rate: float | None = None,
    seed: int | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> FirstCampaignRun:
    """Plan a randomized first campaign of ``data``'s menu (no model) within ``budget`` and
    write it (plan, ``.summary.json`` with ``first_campaign``, and the menu beside it:
    :func:`~offerwise.vocab.menu_path`, which ``offerwise serve`` reads when it has no model).

    ``explore``: the share of the non-holdout customers to randomize; None = as many as the
    budget affords (up to all), a number = exactly that share (an InputError, saying what fits,
    when its draw would not). ``holdout``: default :data:`~offerwise.workflows.plan.HOLDOUT`.
    ``redemption_rate``: the share in (0, 1] of offered customers assumed to redeem; None = 1
    (every one: the budget then holds whoever redeems)."""
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    hold = HOLDOUT if holdout is None else float(holdout)
    if explore is not None and not 0.0 < float(explore) <= 1.0:
        raise InputError(
            f"--explore must be a share in (0, 1] for a first campaign (without --model every "
            f"customer who is not explored gets none); got {explore}"
        )
    rate = 1.0 if redemption_rate is None else float(redemption_rate)
    if not 0.0 < rate <= 1.0:
        raise InputError(
            f"--redeem-rate must be a share in (0, 1] of the offered customers; got "
            f"{redemption_rate}"
        )
    out = Path(out)
    parsed = load_rules(rules) if rules is not None else None
    note(progress, "validating data")
    ds = open_data(data, settings, ("customers", "offers"))
    ts = parse_as_of(as_of) if as_of is not None else default_as_of(ds)
    note(progress, "profiling and segmenting customers")
    prof = profile(ds, ts, settings)
    cust = customer_table(prof, ds)
    offers = ds.frame("offers")
    specs = offer_specs(offers)
    left_out = {
        s.offer_id: "scoped to a recommendation template (rec:N), which needs a trained model"
        for s in specs
        if s.category is not None and is_template(s.category)
    }
    specs = sorted((s for s in specs if s.offer_id not in left_out), key=lambda s: s.offer_id)
    if not specs:
        raise InputError(f"{ds.root}: the offer menu has no offer a first campaign can draw")
    ids = pd.Index(cust["customer_id"].astype(str))
    basket = (
        prof.set_index(prof["customer_id"].astype(str))["avg_basket"]
        .reindex(ids)
        .to_numpy(np.float64)
    )
    known = np.isfinite(basket) & (basket > 0)
    pct = [s.kind == "percent_off" for s in specs]
    if any(pct) and not known.any():
        names = ", ".join(s.offer_id for s, p in zip(specs, pct, strict=True) if p)
        raise InputError(
            f"{ds.root}: percent-off offers ({names}) cost a share of an order, and no customer "
            f"has an order in the {settings.feature_window_days} days before {ts:%Y-%m-%d} "
            "(transactions) to size it: add the shop's orders, or plan amount-off offers"
        )
    basket = np.where(known, basket, float(np.median(basket[known])) if known.any() else 0.0)
    share = _scope_shares(
        ds, ids, pd.Timestamp(ts), [s.category for s in specs], settings.feature_window_days
    )
    cost_all = redemption_costs(
        [s.kind for s in specs],
        np.array([s.value for s in specs]),
        np.array([s.min_spend for s in specs]),
        basket,
        share,
    )
    cost = rate * cost_all  # expected: a share ``rate`` of offered customers redeem
    n, k = cost.shape
    zeros = np.zeros((n, k))
    arrays = ScoreArrays(
        customer_ids=ids,
        offer_ids=[s.offer_id for s in specs],
        value=zeros,
        profit=zeros,
        cost=cost,
        present=np.ones((n, k), dtype=bool),
    )
    note(progress, "drawing the campaign")
    requested = 1.0 if explore is None else float(explore)
    res = solve_plan(
        arrays,
        cust,
        float(budget),
        rules=parsed,
        holdout=hold,
        seed=seed,
        offers=offers,
        as_of=pd.Timestamp(ts),
        threads=settings.threads,
        explore=requested,
        explore_within_budget=explore is None,
        redemption_rate=rate,
    )
    if res.explore <= 0:
        who = "every offered customer redeems" if rate >= 1 else f"{rate:.0%} redeem"
        raise InputError(
            f"budget {float(budget):,.2f} does not pay for exploring any customer: if {who} "
            f"once, the menu costs {float(np.median(cost)):,.2f} per offer at the median; raise "
            "the budget"
        )
    explored = np.zeros(len(res.holdout), bool) if res.explored is None else res.explored
    res.reason[(res.reason == "no_positive_offer") & ~explored & ~res.holdout] = "not_explored"
    sd = outcome_sd(ds, pd.Timestamp(ts), OUTCOME_DAYS, settings.margin_rate)
    sizing = explore_sizing(res, sd, OUTCOME_DAYS, None, "")
    run = FirstCampaignRun(
        result=res,
        written=[],
        share=float(res.explore),
        requested=requested,
        redemption_rate=rate,
        left_out=left_out,
        explore=sizing,
        unsized="" if sizing is not None else unsized_reason(ds.has("transactions"), OUTCOME_DAYS),
        warnings=[f"offer {o} is not drawn: {why}" for o, why in left_out.items()]
        + ([overrun_warning(rate)] if rate < 1 else []),
    )
    if ds.has("exposures"):  # a model could have been trained: say so, the user may have meant it
        got = ds.con.execute("SELECT count(*) FROM exposures").fetchone()
        n_logged = int(got[0]) if got else 0  # counted, not read
        run.warnings.insert(
            0,
            f"no --model: this is a randomized first campaign, although the data has {n_logged:,} "
            "logged exposures that `offerwise train` can learn from (then plan with --model)",
        )
    menu = menu_path(out)
    with atomic_path(menu) as tmp:
        offers.to_parquet(tmp, index=False)
    run.written = [
        *write_plan(
            res,
            out,
            campaign_id=out.stem,
            data_fingerprint=ds.fingerprint,
            extra={"first_campaign": run.to_dict(), "menu": menu.name},
        ),
        menu,
    ]
    return run

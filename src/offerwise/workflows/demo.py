"""``offerwise demo``: the whole loop on the bundled real data, end to end.

Imports The Complete Journey, profiles its households, simulates a shop seeded from those profiles
(known true effects), trains, plans at 30 % of the budget that would give every customer their
best offer, estimates the plan off-policy, runs the campaign in the simulator, analyzes it against
the holdout and writes the report, all under one folder.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from offerwise._io import write_json
from offerwise.config import Settings, default_settings
from offerwise.data.completejourney import ImportSummary, import_completejourney
from offerwise.evaluation.analyze import AnalyzeResult
from offerwise.models.persist import load_model
from offerwise.policy.plan import scores_to_arrays
from offerwise.report import build_report, load_inputs
from offerwise.simulator import (
    CampaignRun,
    SimulatorConfig,
    run_campaign,
    simulate,
    write_campaign_data,
    write_market,
)
from offerwise.workflows._common import open_data
from offerwise.workflows.analyze import analyze_plan
from offerwise.workflows.evaluate import EvaluateResult, evaluate_plan
from offerwise.workflows.plan import PlanRun, make_plan
from offerwise.workflows.profile import ProfileReport, run_profile, write_profile
from offerwise.workflows.score import score
from offerwise.workflows.train import TrainResult, train

__all__ = ["DEMO_BUDGET_SHARE", "DEMO_STEPS", "DemoResult", "run_demo"]

#: The demo's budget: this share of the expected cost of giving every customer their best offer.
DEMO_BUDGET_SHARE = 0.30
#: The steps, in order (for a progress bar).
DEMO_STEPS = (
    "import Complete Journey",
    "profile customers; what can the real logs identify?",
    "simulate shop",
    "train uplift models",
    "plan under budget",
    "off-policy evaluation",
    "run the campaign (simulated) and analyze it",
    "write report",
)


@dataclass(slots=True)
class DemoResult:
    """Everything the demo computed, and where it wrote it."""

    out: Path
    imported: ImportSummary
    cj_profile: ProfileReport
    cj_model: TrainResult
    trained: TrainResult
    plan: PlanRun
    budget: float
    true_incremental_profit: float
    oracle_incremental_profit: float
    evaluation: EvaluateResult
    campaign: CampaignRun
    analysis: AnalyzeResult
    attribution_days: int
    report: Path

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary of the run."""
        return {
            "out": str(self.out),
            "completejourney": {
                "rows": self.imported.rows,
                "fuel_lines_quantity_capped": self.imported.fuel_lines_quantity_capped,
            },
            "segments": self.cj_profile.summary.to_dict("records"),
            "completejourney_identification": self.cj_model.card.get("identification"),
            "model": {
                "learner": self.trained.card["learner"],
                "seconds": self.trained.timings.get("total"),
            },
            "plan": {
                **self.plan.result.summary(),
                "true_incremental_profit": self.true_incremental_profit,
                "oracle_incremental_profit_at_budget": self.oracle_incremental_profit,
            },
            "evaluation": self.evaluation.to_dict(),
            "campaign": {
                "true_lift": self.campaign.true_lift,
                "true_incremental_profit": self.campaign.true_incremental_profit,
                "analysis": self.analysis.to_dict(),
            },
            "report": str(self.report),
        }


def run_demo(
    out: str | Path,
    *,
    customers: int = 20_000,
    exposures: int = 40_000,
    seed: int | None = None,
    settings: Settings | None = None,
    step: Callable[[int], None] | None = None,
) -> DemoResult:
    """Run the demo into folder ``out``; ``step(i)`` is called as step ``DEMO_STEPS[i]`` starts."""
    settings = settings or default_settings()
    seed = settings.seed if seed is None else int(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def at(i: int) -> None:
        if step is not None:
            step(i)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        at(0)
        cj = out / "completejourney"
        imp = import_completejourney(cj, settings=settings)
        at(1)
        rep = run_profile(cj, settings=settings)
        write_profile(rep, out / "profiles.parquet")
        # what the real shop's own logs can identify (targeted campaigns, no propensities)
        cj_model = train(cj, out / "completejourney-model", seed=seed, settings=settings)
        at(2)
        market = simulate(
            SimulatorConfig(
                n_customers=customers,
                n_exposures=exposures,
                seed=seed,
                logging="legacy",
                profiles=rep.profiles,
                margin_rate=settings.margin_rate,
            )
        )
        sim = write_market(market, out / "shop")
        at(3)
        ds = open_data(sim, settings)  # the simulated shop, validated once for every later step
        tr = train(ds, out / "model", seed=seed, settings=settings)
        lm = load_model(tr.model_dir)
        at(4)
        sc = score(lm, ds, settings=settings)
        best_cost = scores_to_arrays(sc.scores, "profit").best_offer_cost()
        budget = round(DEMO_BUDGET_SHARE * best_cost, 2)
        run = make_plan(
            lm, ds, budget, out / "plan.parquet", seed=seed, settings=settings, scored=sc
        )
        decisions = run.result.to_frame()
        oracle_at_budget = market.oracle_value(budget)
        treated = decisions[decisions["group"] == "treatment"][["customer_id", "offer_id"]]
        true_value = market.true_policy_value(treated)
        at(5)
        ev = evaluate_plan(
            out / "plan.parquet", ds, model=lm, settings=settings, seed=seed, n_bootstrap=300
        )
        at(6)
        campaign = run_campaign(market, decisions, seed=seed, start=run.result.as_of or None)
        after = write_campaign_data(market, campaign, out / "shop-after-campaign")
        ana = analyze_plan(
            out / "plan.parquet", after, days=market.config.attribution_days, settings=settings
        )
        write_json(ana.to_dict(), out / "analysis.json")
        at(7)
        # the report describes the simulated shop throughout: its own profiles, not Complete
        # Journey's
        report = build_report(
            load_inputs(
                out / "model",
                plan=out / "plan.parquet",
                profiles=run.profiles,
                analysis=out / "analysis.json",
                compare_models={"The real shop's logs (Complete Journey)": cj_model.model_dir},
                customers=sim,
                settings=settings,
            ),
            out / "report.html",
        )
    return DemoResult(
        out=out,
        imported=imp,
        cj_profile=rep,
        cj_model=cj_model,
        trained=tr,
        plan=run,
        budget=budget,
        true_incremental_profit=float(true_value),
        oracle_incremental_profit=float(oracle_at_budget),
        evaluation=ev,
        campaign=campaign,
        analysis=ana,
        attribution_days=int(market.config.attribution_days),
        report=report,
    )

"""What the report is built from: :class:`ReportInputs` and :func:`load_inputs`.

Every input is optional. A section whose input is missing says so in the report ("not available:
run ...") instead of failing. Paths that were named explicitly but do not exist, or cannot be
read, are an :class:`~offerwise.errors.InputError` (a typo should not give a silently empty report).

Files read (all optional)::

    MODEL_DIR/model.json               version, data_fingerprint, offers
    MODEL_DIR/model_card.json          learner, n_exposures, holdout.per_offer.{offer}.{metric}
    MODEL_DIR/offers.parquet           the offer menu (contract format)
    MODEL_DIR/uplift_curves.parquet    offer_id, fraction (0..1), value, random [, curve]
    MODEL_DIR/feature_importance.parquet  offer_id, feature, importance
    PLAN.parquet | PLAN.csv            customer_id, offer_id, expected_cost, incremental_profit,
                                       group, segment, reason
    PLAN.summary.json                  budget, lambda, n_customers, expected_cost, ...
    PLAN.frontier.parquet              budget, value, cost, n_treated
    ANALYSIS.json                      ``offerwise analyze --out``: parsed once into
                                       :class:`~offerwise.evaluation.analyze.AnalyzeResult`
    PROFILES.parquet | .csv            customer_id, segment, profile features, attributes
    FORECAST.parquet | .csv            ``offerwise forecast``: series, week, model, yhat, lo/hi
    ELASTICITY.parquet | .csv          ``offerwise elasticity``: category, elasticity, ci_low, ...
    CATEGORIES.parquet | .csv          ``offerwise categories``: category, price_index, stock, ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from offerwise import __version__
from offerwise._io import read_parquet, read_table
from offerwise.errors import InputError, ModelError
from offerwise.vocab import frontier_path, menu_path, summary_path

if TYPE_CHECKING:  # pragma: no cover
    from offerwise.evaluation.analyze import AnalyzeResult
    from offerwise.evaluation.experiment import CampaignAnalysis

__all__ = ["ReportInputs", "load_inputs", "read_analysis", "read_frame"]


@dataclass(slots=True)
class ReportInputs:
    """Everything one report shows; ``None`` marks a missing input (its section says so).

    ``customers`` supplies the protected attributes for the fairness audit (joined to the plan on
    ``customer_id``); when it is ``None`` the attributes are looked up in ``profiles``.
    ``currency`` prefixes money amounts on axes and in tables. ``analysis`` is typed: the
    :class:`~offerwise.evaluation.analyze.AnalyzeResult` of ``offerwise analyze`` (or a bare
    :class:`~offerwise.evaluation.experiment.CampaignAnalysis`).
    """

    model_card: dict[str, Any] | None = None
    model_meta: dict[str, Any] | None = None
    offers: pd.DataFrame | None = None
    uplift_curves: pd.DataFrame | None = None
    feature_importance: pd.DataFrame | None = None
    plan: pd.DataFrame | None = None
    plan_summary: dict[str, Any] | None = None
    frontier: pd.DataFrame | None = None
    profiles: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    analysis: AnalyzeResult | CampaignAnalysis | None = None
    protected_attributes: list[str] = field(default_factory=list)
    title: str = "offerwise campaign report"
    currency: str = "$"
    version: str = __version__
    sources: dict[str, str] = field(default_factory=dict)
    # other models' identification reports to show beside this one (label -> card's report)
    other_identifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: demand and prices (section "Demand, prices and margin"): the forecast, elasticity and
    #: per-category (``offerwise categories``) files
    forecast: pd.DataFrame | None = None
    elasticity: pd.DataFrame | None = None
    categories: pd.DataFrame | None = None

    @property
    def data_fingerprint(self) -> str | None:
        """Fingerprint of the data behind the plan, else behind the model."""
        for d in (self.plan_summary, self.model_meta, self.model_card):
            if d and d.get("data_fingerprint"):
                return str(d["data_fingerprint"])
        return None


def read_frame(path: str | Path, what: str) -> pd.DataFrame:
    """Read a Parquet or CSV file; :class:`InputError` naming ``what`` if missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file not found: {p}")
    try:
        if p.suffix == ".parquet":
            return read_parquet(p)
        if p.suffix in (".csv", ".txt"):
            return pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"{what} file {p}: cannot read: {type(exc).__name__}: {exc}") from exc
    raise InputError(f"{what} file {p}: expected a .parquet or .csv file")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} file {path}: cannot parse JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{what} file {path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _frame_or_path(
    obj: pd.DataFrame | str | Path | None, what: str
) -> tuple[pd.DataFrame | None, str | None]:
    if obj is None:
        return None, None
    if isinstance(obj, pd.DataFrame):
        return obj, "(in memory)"
    return read_frame(obj, what), str(obj)


def _customers(
    obj: pd.DataFrame | str | Path | None, settings: Any
) -> tuple[pd.DataFrame | None, str | None]:
    """A customers table from a DataFrame, a table file or a data source (directory/.duckdb/URL)."""
    if obj is None or isinstance(obj, pd.DataFrame):
        return obj, None if obj is None else "(in memory)"
    s = str(obj)
    p = Path(obj)
    if p.suffix in (".parquet", ".csv") and p.is_file():
        return read_frame(p, "customers"), s
    from offerwise.data.contract import load_data

    ds = load_data(obj, settings=settings, required=("customers",))
    return ds.frame("customers"), s


def _ids_as_str(df: pd.DataFrame | None) -> pd.DataFrame | None:
    if df is not None and "customer_id" in df.columns:
        df = df.copy()
        df["customer_id"] = df["customer_id"].astype(str)
    return df


def read_analysis(path: str | Path) -> AnalyzeResult | CampaignAnalysis:
    """The ``offerwise analyze --out`` JSON as its typed result (parsed once, here).

    :class:`InputError` naming the file when it is missing, not JSON or not an analysis.
    """
    from offerwise.report.tables import parse_analysis

    p = Path(path)
    obj = _read_json(p, "campaign analysis")
    try:
        return parse_analysis(obj)
    except InputError as exc:
        raise InputError(f"campaign analysis file {p}: {exc}") from exc


def load_inputs(
    model_dir: str | Path | None,
    plan: str | Path | None = None,
    analysis: str | Path | AnalyzeResult | CampaignAnalysis | None = None,
    profiles: pd.DataFrame | str | Path | None = None,
    customers: pd.DataFrame | str | Path | None = None,
    settings: Any = None,
    *,
    currency: str = "$",
    compare_models: dict[str, str | Path] | None = None,
    forecast: str | Path | None = None,
    elasticity: str | Path | None = None,
    categories: str | Path | None = None,
) -> ReportInputs:
    """Read the report inputs from files (see the module docstring for the layout).

    ``analysis`` is the analysis JSON's path (read with :func:`read_analysis`) or the typed
    result itself. ``customers`` may be a DataFrame, a table file or a data source accepted by
    :func:`offerwise.data.load_data`; ``settings`` (default: :func:`default_settings`) names the
    protected attributes. Optional files inside the model directory and the plan sidecars may be
    absent; explicitly named paths must exist. ``compare_models``: label -> another model
    directory whose identification report is shown beside this model's (the demo shows the real
    Complete Journey logs' verdict beside the simulated shop's).
    """
    from offerwise.config import default_settings

    settings = settings or default_settings()
    inp = ReportInputs(protected_attributes=list(settings.protected_attributes), currency=currency)
    if model_dir is not None:
        d = Path(model_dir)
        if not d.is_dir():
            raise ModelError(f"model directory not found: {d}; run `offerwise train --out {d}`")
        inp.sources["model"] = str(d)
        if (d / "model.json").is_file():
            inp.model_meta = _read_json(d / "model.json", "model metadata")
        if (d / "model_card.json").is_file():
            inp.model_card = _read_json(d / "model_card.json", "model card")
        if (d / "offers.parquet").is_file():
            inp.offers = read_frame(d / "offers.parquet", "offers")
        if (d / "uplift_curves.parquet").is_file():
            inp.uplift_curves = read_frame(d / "uplift_curves.parquet", "uplift curves")
        if (d / "feature_importance.parquet").is_file():
            inp.feature_importance = read_frame(
                d / "feature_importance.parquet", "feature importance"
            )
    for label, other in (compare_models or {}).items():
        card = _read_json(Path(other) / "model_card.json", f"{label} model card")
        ident = card.get("identification")
        if isinstance(ident, dict):
            inp.other_identifications[label] = ident
    if plan is not None:
        p = Path(plan)
        # another table passed as the plan is refused, not drawn as a report of nothing
        hint = " (a plan from `offerwise plan` has customer_id, offer_id, group, ...)"
        inp.plan = _ids_as_str(read_table(p, "plan", ("customer_id", "offer_id"), hint=hint))
        inp.sources["plan"] = str(p)
        if summary_path(p).is_file():
            inp.plan_summary = _read_json(summary_path(p), "plan summary")
        if frontier_path(p).is_file():
            inp.frontier = read_frame(frontier_path(p), "budget frontier")
        if inp.offers is None and menu_path(p).is_file():  # a first campaign: no model's menu
            inp.offers = read_frame(menu_path(p), "offers")
    if isinstance(analysis, (str, Path)):
        inp.analysis = read_analysis(analysis)
        inp.sources["analysis"] = str(analysis)
    elif analysis is not None:
        from offerwise.evaluation.analyze import AnalyzeResult
        from offerwise.evaluation.experiment import CampaignAnalysis

        if not isinstance(analysis, AnalyzeResult | CampaignAnalysis):
            raise InputError(
                f"analysis: expected a path, AnalyzeResult or CampaignAnalysis, "
                f"got {type(analysis).__name__}"
            )
        inp.analysis = analysis
        inp.sources["analysis"] = "(in memory)"
    prof, src = _frame_or_path(profiles, "profiles")
    inp.profiles = _ids_as_str(prof)
    if src:
        inp.sources["profiles"] = src
    cust, src = _customers(customers, settings)
    inp.customers = _ids_as_str(cust)
    if src:
        inp.sources["customers"] = src
    for key, path, what in (
        ("forecast", forecast, "forecast"),
        ("elasticity", elasticity, "elasticity"),
        ("categories", categories, "categories"),
    ):
        if path is not None:
            setattr(inp, key, read_frame(path, what))
            inp.sources[key] = str(path)
    return inp

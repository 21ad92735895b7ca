"""The ``offerwise`` command line (Typer + Rich): parse arguments, call a workflow, print.

Exit codes: 0 ok, 2 bad input or usage, 1 internal error. Every command that reads data validates
it first and writes nothing when the input is bad. ``--json`` prints machine-readable output. The
work itself lives in :mod:`offerwise.workflows`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperOption

from offerwise import __version__
from offerwise.errors import DataContractError, OfferwiseError, Problem
from offerwise.vocab import UPLIFT_METRICS_LEGEND

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from offerwise.config import Settings
    from offerwise.evaluation.cost import CostInterval
    from offerwise.evaluation.identification import Identification
    from offerwise.spark.session import SparkConfig
    from offerwise.workflows.analyze import AnalyzeResult
    from offerwise.workflows.claims import PlanClaims
    from offerwise.workflows.first_campaign import FirstCampaignRun
    from offerwise.workflows.tune import TuneResult

_option_type = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx: Any) -> str | None:
    """Help shows no ``<bool>`` placeholder for on/off flags (they take no value)."""
    return None if self.is_flag else _option_type(self, ctx)


TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]

app = typer.Typer(
    name="offerwise",
    help="Decide which discount to offer each customer, or none, so the shop earns more than it "
    "gives away.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(
    help="Convert a bundled or external dataset to the offerwise data contract.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

#: Width of output that goes to a file or a pipe (a terminal uses its own width).
PIPE_WIDTH = 200


def _console(stderr: bool = False) -> Console:
    """A Rich console; when not writing to a terminal, wide enough that tables are not cut."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPE_WIDTH if wide else None)


console = _console()
err_console = _console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: A data source: a folder, a .duckdb file or a postgresql:// URL, so a string (a Path would
#: fold the URL's "//" into "/").
DataOpt = Annotated[
    str, typer.Option("--data", help="data directory, .duckdb file or postgresql:// URL")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="settings file (TOML or YAML)")]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed", min=0, help="random seed >= 0 (default: 42, or `seed` in the --config file)"
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="decision date YYYY-MM-DD (default: the day after the last transaction or exposure)",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        envvar="OFFERWISE_ENGINE",
        show_envvar=False,  # a long unbreakable token: the help column is narrow in pipes
        help="what computes the features (and scores, budget price): duckdb (this process) or "
        "spark (PySpark, extra 'spark'; data still validated by DuckDB); env OFFERWISE_ENGINE",
    ),
]
SparkMasterOpt = Annotated[
    str,
    typer.Option(
        "--spark-master",
        envvar="OFFERWISE_SPARK_MASTER",
        show_envvar=False,
        help="Spark master for --engine spark: local[N], a spark:// or k8s:// URL, yarn "
        "(docs/spark.md; also from the environment)",
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        metavar="KEY=VALUE",
        help="a Spark setting for --engine spark (repeatable; docs/spark.md)",
    ),
]


def _spark(master: str, conf: list[str] | None) -> SparkConfig:
    """The Spark session settings of ``--spark-master`` and ``--spark-conf``."""
    from offerwise.spark.session import SparkConfig, parse_spark_conf

    return SparkConfig(master=master, conf=parse_spark_conf(conf or []))


def _settings(config: Path | None = None, **overrides: Any) -> Settings:
    from offerwise.config import load_settings

    return load_settings(config, **overrides)


def _flag(fn: Callable[..., Any], name: str) -> str:
    """The option flag of ``fn``'s parameter ``name`` (its first ``param_decls``)."""
    import inspect

    try:
        hint = inspect.signature(fn, eval_str=True).parameters[name].annotation
        decls = [d for m in getattr(hint, "__metadata__", ()) for d in m.param_decls]
    except (KeyError, NameError, AttributeError, TypeError):
        decls = []
    return decls[0] if decls else "--" + name.replace("_", "-")


def _finite_options(fn: Callable[..., Any], values: dict[str, Any]) -> None:
    """InputError when a number option is NaN or infinite (a range without a maximum lets
    infinity through, and NaN passes every comparison the parser makes)."""
    from offerwise.errors import InputError

    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{_flag(fn, name)} must be a finite number (got {value})")


def _check_table_out(out: Path | None) -> None:
    """A table's ``--out`` is a .parquet or .csv file: InputError before any work otherwise."""
    from offerwise._io import table_dest_problem
    from offerwise.errors import InputError

    if out is not None and (problem := table_dest_problem(out)):
        raise InputError(problem)


def handle_errors(fn: F) -> F:
    """Map offerwise errors to exit codes and readable messages; no traceback for bad input."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            _finite_options(fn, kwargs)
            return fn(*args, **kwargs)
        except OfferwiseError as exc:
            if kwargs.get("as_json"):
                payload: dict[str, Any] = {
                    "ok": False,
                    "error": type(exc).__name__,
                    "message": str(exc),
                }
                if isinstance(exc, DataContractError):
                    payload["problems"] = [p.to_dict() for p in exc.problems]
                print(json.dumps(payload, indent=2, default=str))
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}",
                highlight=False,
                soft_wrap=True,
                markup=True,
            )
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - last resort: internal error, exit 1
            err_console.print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False
            )
            if os.environ.get("OFFERWISE_DEBUG"):
                traceback.print_exc()
            else:
                err_console.print("set OFFERWISE_DEBUG=1 for the traceback")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, default=str))


def frame_table(
    df: pd.DataFrame,
    title: str | None = None,
    max_rows: int = 40,
    floatfmt: str = "{:,.2f}",
    colfmt: dict[str, str] | None = None,
) -> Table:
    """A Rich table of a DataFrame (first ``max_rows`` rows); numbers right-aligned, never cut;
    floats as ``floatfmt``, or as ``colfmt[column]`` where given."""
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in df.columns:
        numeric = df[c].dtype.kind in "fiu"
        t.add_column(str(c), justify="right" if numeric else "left", no_wrap=numeric)
    fmts = [(colfmt or {}).get(str(c), floatfmt) for c in df.columns]
    for row in df.head(max_rows).itertuples(index=False):
        cells = []
        for v, fmt in zip(row, fmts, strict=True):
            if isinstance(v, float):
                cells.append(fmt.format(v) if v == v else "–")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    return t


def warn(messages: Sequence[str | Problem]) -> None:
    """Print each warning on stderr (data problems rendered with file, column, rows, example)."""
    for m in messages:
        text = m.render() if isinstance(m, Problem) else m
        err_console.print(f"[yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


def version_callback(value: bool) -> None:
    if value:
        console.print(f"offerwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="show the version and exit"
        ),
    ] = False,
) -> None:
    """offerwise command line."""


@contextmanager
def _status(as_json: bool, first: str) -> Iterator[Callable[[str], None]]:
    """A spinner (on stderr with --json, so stdout stays clean); yields a progress callback."""
    with (err_console if as_json else console).status(first) as st:
        yield lambda msg: st.update(msg)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def validate(
    data: DataOpt,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Check a data source against the data contract; exit 2 on fatal problems.

    With --engine spark, also check that Spark reads every table to the same rows."""
    from offerwise.data.contract import CONTRACT_VERSION
    from offerwise.workflows.validate import run_validate

    rep = run_validate(
        data, _settings(config), engine=engine, spark=_spark(spark_master, spark_conf)
    )
    ds, summary = rep.ds, rep.summary
    if as_json:
        print_json(
            {
                "ok": True,
                "contract_version": CONTRACT_VERSION,
                "fingerprint": ds.fingerprint,
                "engine": rep.engine,
                "tables": summary.to_dict("records"),
                "warnings": [p.to_dict() for p in ds.warnings],
            }
        )
        return
    warn(ds.warnings)
    read = " (and read by Spark to the same rows)" if rep.engine == "spark" else ""
    console.print(
        frame_table(
            summary,
            title=f"{data}: valid against data contract v{CONTRACT_VERSION}{read} "
            f"(fingerprint {ds.fingerprint})",
            floatfmt="{:,.0f}",
        )
    )


@import_app.command("completejourney")
@handle_errors
def import_completejourney_cmd(
    out: Annotated[Path, typer.Option("--out", help="data directory to write (contract tables)")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert the bundled 84.51 Complete Journey dataset to the data contract."""
    import pandas as pd

    from offerwise.data.completejourney import import_completejourney

    with _status(as_json, "importing The Complete Journey"):
        s = import_completejourney(out, settings=_settings(config))
    if as_json:
        print_json({"ok": True, **s.to_dict()})
        return
    console.print(
        frame_table(
            pd.DataFrame({"table": list(s.rows), "rows": list(s.rows.values())}),
            title=f"Complete Journey -> {out} ({s.seconds:.1f} s)",
            floatfmt="{:,.0f}",
        )
    )
    console.print(
        f"fuel lines with quantity capped: {s.fuel_lines_quantity_capped:,}; zero-value lines "
        f"dropped: {s.zero_value_lines_dropped:,}; coupon-only lines dropped: "
        f"{s.coupon_only_lines_dropped:,}; exposures: {s.targeted_exposures:,} targeted, "
        f"{s.control_exposures:,} control (not randomized: no propensity)",
        soft_wrap=True,
    )


@app.command()
@handle_errors
def profile(
    data: DataOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="profiles file (.parquet or .csv)")
    ] = None,
    as_of: AsOfOpt = None,
    clusters: Annotated[
        int | None, typer.Option("--clusters", help="also add a k-means cluster (k)")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Customer profiles (RFM, trend, discount sensitivity, loyalty, churn, CLV) and segments."""
    _check_table_out(out)
    from offerwise.workflows.profile import run_profile, write_profile

    with _status(as_json, "profiling customers"):
        rep = run_profile(
            data,
            as_of=as_of,
            settings=_settings(config),
            clusters=clusters,
            engine=engine,
            spark=_spark(spark_master, spark_conf),
        )
        if out is not None:
            write_profile(rep, out)
    if as_json:
        print_json({"ok": True, "out": str(out) if out else None, **rep.to_dict()})
        return
    warn(rep.warnings)
    console.print(
        frame_table(
            rep.summary,
            title=f"segments as of {rep.as_of.date()} "
            f"({len(rep.profiles):,} customers, {rep.seconds:.1f} s, features by {rep.engine})",
        )
    )
    if out is not None:
        console.print(f"profiles written to [bold]{out}[/]")


@app.command()
@handle_errors
def simulate(
    out: Annotated[
        Path,
        typer.Option("--out", help="data directory to write (contract tables + truth.parquet)"),
    ],
    customers: Annotated[
        int, typer.Option("--customers", min=10, help="number of customers")
    ] = 50_000,
    exposures: Annotated[
        int, typer.Option("--exposures", min=10, help="number of logged exposures")
    ] = 100_000,
    logging: Annotated[
        str,
        typer.Option(
            "--logging",
            help=(
                "logging policy: random, legacy (targets what the history shows) or confounded "
                "(legacy that also targets a hidden in-market state which raises purchases)"
            ),
        ),
    ] = "legacy",
    propensity: Annotated[
        bool,
        typer.Option(
            "--propensity/--no-propensity",
            help="record the logging policy's propensity in the exposures",
        ),
    ] = True,
    profiles: Annotated[
        Path | None, typer.Option("--profiles", help="bootstrap customers from a profiles file")
    ] = None,
    offers: Annotated[
        Path | None,
        typer.Option(
            "--offers",
            help=(
                "the menu to simulate: an offers table (CSV/Parquet: offer_id, kind, value, "
                "optional min_spend, category, description); default: 7 demo offers"
            ),
        ),
    ] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a simulated shop (data contract) with the true effect of every offer on everyone."""
    from offerwise.workflows.simulate import simulate_shop

    with _status(as_json, "simulating"):
        res = simulate_shop(
            out,
            customers=customers,
            exposures=exposures,
            logging=logging,
            profiles=profiles,
            seed=seed,
            record_propensity=propensity,
            settings=_settings(config),
            offers=offers,
        )
    info = res.to_dict()
    if as_json:
        print_json({"ok": True, **info})
        return
    console.print(
        f"simulated shop written to [bold]{out}[/]: {info['customers']:,} customers, "
        f"{info['transactions']:,} transaction lines, {info['offers']} offers, "
        f"{info['exposures']:,} exposures ({logging} "
        f"logging{'' if propensity else ', no propensities recorded'}); true optimum (no budget) "
        f"= {info['oracle_value']:,.0f}",
        soft_wrap=True,
    )


# --------------------------------------------------------------------------------------------
# models: train, score, evaluate
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def train(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="model directory to write")],
    learner: Annotated[
        str | None,
        typer.Option("--learner", help="uplift learner: t, x, dr, tb or ptb (default: ptb)"),
    ] = None,
    bags: Annotated[
        int | None,
        typer.Option(
            "--bags", min=1, help="seed bags averaged in the ptb conversion model (default: 3)"
        ),
    ] = None,
    tune: Annotated[
        str,
        typer.Option(
            "--tune",
            help="off: the default settings; fast: 3 candidates; full: a grid of learners and "
            "tree sizes - each cross-fitted and chosen by its out-of-fold plan value",
        ),
    ] = "fast",
    embeddings: Annotated[
        str,
        typer.Option(
            "--embeddings",
            help="none, or seq: add a customer embedding learned from the order sequences "
            "(extra 'deep'; docs/embeddings.md)",
        ),
    ] = "none",
    affinity: Annotated[
        str,
        typer.Option(
            "--affinity",
            help="share: category-scoped offers see the customer's past share of spend there; "
            "cf: also a collaborative-filtering (ALS) affinity for the category (extra "
            "'recommend'; docs/models.md)",
        ),
    ] = "share",
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Fit the response/uplift models on the logged exposures and write a model directory."""
    import warnings

    import pandas as pd

    from offerwise.workflows.train import train as run_train

    with _status(as_json, "training") as progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_train(
            data,
            out,
            learner=learner,
            seed=seed,
            settings=_settings(config),
            n_bags=bags,
            tune_mode=tune,
            progress=progress,
            engine=engine,
            spark=_spark(spark_master, spark_conf),
            embeddings=embeddings,
            affinity=affinity,
        )
    card = res.card
    if as_json:
        print_json(
            {
                "ok": True,
                "identification": card.get("identification"),
                "model_dir": str(res.model_dir),
                "learner": card["learner"],
                "profit": card["profit"],
                "scored_offers": card["scored_offers"],
                "skipped_offers": card["skipped_offers"],
                "extrapolated_offers": card.get("extrapolated_offers", []),
                "propensity": card["propensity"],
                "holdout": {k: v for k, v in card["holdout"].items() if k != "calibration"},
                "metrics_source": card["metrics_source"],
                "tuning": card["tuning"],
                "embeddings": card["embeddings"],
                "affinity": card["affinity"],
                "warnings": card["warnings"],
                "timings": res.timings,
            }
        )
        return
    warn(card["warnings"])
    if res.identification is not None:
        print_identification(res.identification)
    cols = (
        "n_treatment",
        "qini_normalized",
        "auuc_normalized",
        "uplift_at_10",
        "conversion_auc",
        "cost_mae",
    )
    per = pd.DataFrame(
        [
            {"offer": o, **{k: m.get(k) for k in cols}}
            for o, m in card["holdout"].get("per_offer", {}).items()
        ]
    )
    if res.tuning is not None:
        print_tuning(res.tuning)
    console.print(
        frame_table(
            per,
            title=f"out-of-fold metrics ({card['n_holdout']:,} exposures, "
            f"{card['tuning']['n_folds']} folds by customer)",
            floatfmt="{:,.3f}",
        )
    )
    console.print(UPLIFT_METRICS_LEGEND, style="dim", highlight=False, soft_wrap=True)
    chosen = res.tuning.chosen.label if res.tuning else card["learner"]
    emb = card.get("embeddings")
    if emb:
        console.print(
            f"sequence embeddings: {emb['dim']} dimensions from a GRU over each customer's last "
            f"{emb['max_len']} orders, learned on orders before {emb['fit_before'][:10]} "
            f"(next-order categories: {emb['loss']:.3f} nats vs {emb['baseline_loss']:.3f} "
            f"without history; {emb['seconds']:.1f} s)",
            soft_wrap=True,
        )
    aff = card.get("affinity") or {}
    if aff.get("kind") == "cf" and aff.get("categories"):
        console.print(
            f"category affinity: ALS over {aff['n_categories']} categories ({aff['n_factors']} "
            f"factors, orders of the {aff['window_days']} days before "
            f"{aff['fitted_before'][:10]}) for {', '.join(aff['categories'])}",
            soft_wrap=True,
        )
    console.print(
        f"model written to [bold]{res.model_dir}[/] ({chosen}, "
        f"refit on all {card['n_exposures']:,} exposures, {res.timings['total']:.1f} s; "
        f"training rows' features by {card['features_engine']}); "
        f"card: {res.model_dir / 'model_card.md'}",
        soft_wrap=True,
    )


def print_tuning(t: TuneResult) -> None:
    """The candidates tried by ``--tune``, their out-of-fold plan value and the choice."""
    import pandas as pd

    rows = []
    for c in t.scores:
        mark = (
            "chosen" if c.candidate == t.chosen else ("default" if c.candidate == t.default else "")
        )
        rows.append(
            {
                "candidate": c.candidate.label,
                **{f"value@{k}": v for k, v in c.by_share.items()},
                "vs default": f"{c.diff_vs_default:+.3f} ± {c.se_vs_default:.3f}",
                "fit s": c.seconds,
                "choice": mark,
            }
        )
    console.print(
        frame_table(
            pd.DataFrame(rows),
            title=f"--tune {t.mode}: out-of-fold DR plan value per customer, by share of "
            "customers reached",
            floatfmt="{:,.3f}",
            colfmt={"fit s": "{:,.1f}"},
        )
    )
    console.print(
        f"chosen: {t.chosen.label} ({t.rule}; propensities {t.pscore_source})", highlight=False
    )


def print_identification(ident: Identification) -> None:
    """The verdict of the identification report, its reasons and the placebo, in plain words."""
    colour = {"ok": "green", "warning": "yellow", "unreliable": "red"}.get(ident.verdict, "white")
    console.print(
        f"can these numbers be trusted? [bold {colour}]{ident.verdict}[/] "
        f"(logging: {ident.logging})",
        highlight=False,
    )
    for r in ident.reasons:
        console.print(f"  - {r}", highlight=False, soft_wrap=True, markup=False)
    p = ident.placebo
    if p is not None:
        console.print(
            f"  placebo ({p.outcome} in the {p.window_days} days before the offer, should "
            f"be 0): {p.estimate:+,.2f} per customer [{p.ci_low:+,.2f}, {p.ci_high:+,.2f}], "
            f"p = {p.p_value:.2g}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


@app.command()
@handle_errors
def score(
    model: Annotated[Path, typer.Option("--model", help="model directory from `offerwise train`")],
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="scores file (.parquet or .csv)")],
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    spark_conf: SparkConfOpt = None,
    partitioned: Annotated[
        bool,
        typer.Option(
            "--partitioned",
            help="with --engine spark: Spark writes --out as a Parquet folder partitioned by "
            "offer_id; only the per-offer summary comes back to this process",
        ),
    ] = False,
) -> None:
    """Score every customer x menu offer: conversion, revenue, cost and incremental profit."""
    from offerwise.workflows.score import score as run_score

    with _status(as_json, "scoring") as progress:
        res = run_score(
            model,
            data,
            out=out,
            as_of=as_of,
            settings=_settings(config),
            progress=progress,
            engine=engine,
            spark=_spark(spark_master, spark_conf),
            partitioned=partitioned,
        )
    df = res.scores
    cols = ["p_convert", "incremental_conversion", "expected_cost", "incremental_profit"]
    if res.by_offer is not None:  # Spark wrote a partitioned folder: its per-offer summary
        summ = res.by_offer[["offer_id", *cols]]
        n_rows = int(res.by_offer["rows"].sum())
        n_cust = 0 if res.customer_ids is None else len(res.customer_ids)
        offers = sorted(res.by_offer["offer_id"].tolist())
    else:
        summ = df.groupby("offer_id", sort=False)[cols].mean().reset_index()
        n_rows = len(df)
        # every scored customer has a row per scored offer (counting 1M x 8 ids took a second)
        n_cust = 0 if not len(df) or res.customer_ids is None else len(res.customer_ids)
        offers = sorted(df["offer_id"].unique().tolist()) if len(df) else []
    if as_json:
        print_json(
            {
                "ok": True,
                "out": str(out),
                "as_of": res.as_of.isoformat(),
                "rows": n_rows,
                "customers": n_cust,
                "offers": offers,
                "partitioned": res.by_offer is not None,
                "skipped_offers": res.skipped_offers,
                "extrapolated_offers": res.extrapolated_offers,
                "warnings": res.warnings,
            }
        )
        return
    warn([f"offer {s['offer_id']} not scored: {s['reason']}" for s in res.skipped_offers])
    warn(
        [
            f"offer {s['offer_id']} extrapolated ({s['reason']}): column 'extrapolated' is true; "
            "plan offers it only with the rule allow_extrapolated_offers = true"
            for s in res.extrapolated_offers
        ]
    )
    warn(res.warnings)
    ext = {s["offer_id"] for s in res.extrapolated_offers}
    if ext:
        summ = summ.assign(
            offer_id=[f"{o} (extrapolated)" if o in ext else o for o in summ["offer_id"]]
        )
    console.print(
        frame_table(
            summ, title=f"mean scores per offer as of {res.as_of.date()}", floatfmt="{:,.3f}"
        )
    )
    kind = " (a Parquet folder partitioned by offer_id, written by Spark)" if partitioned else ""
    console.print(f"{n_rows:,} rows written to [bold]{out}[/]{kind}")


@app.command()
@handle_errors
def evaluate(
    decisions: Annotated[
        Path, typer.Option("--decisions", help="plan/decisions file (customer_id, offer_id)")
    ],
    data: DataOpt,
    model: Annotated[
        Path | None, typer.Option("--model", help="model directory: enables DM and DR")
    ] = None,
    seed: SeedOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="bootstrap resamples for the CIs")
    ] = 1000,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Off-policy estimates (IPW, SNIPW, DM, DR) of a plan's net profit per logged round."""
    import pandas as pd

    from offerwise.workflows.evaluate import evaluate_plan

    with _status(as_json, "evaluating") as progress:
        res = evaluate_plan(
            decisions,
            data,
            model=model,
            settings=_settings(config),
            seed=seed,
            n_bootstrap=bootstrap,
            progress=progress,
        )
    if as_json:
        print_json({"ok": True, **res.to_dict()})
        return
    df = pd.DataFrame(
        [
            {
                "estimator": e.estimator,
                "value": e.value,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "ess": e.ess,
                "match_share": e.match_share,
            }
            for e in res.estimates
        ]
    )
    console.print(
        frame_table(
            df,
            title=f"net profit per logged round over {res.n_rounds} rounds ({res.rows})",
            floatfmt="{:,.3f}",
        )
    )
    warn(res.warnings)


@app.command()
@handle_errors
def analyze(
    decisions: Annotated[
        Path,
        typer.Option("--decisions", help="plan file from `offerwise plan` (with its group column)"),
    ],
    data: DataOpt,
    pre_period: Annotated[
        int,
        typer.Option("--pre-period", min=0, help="days of pre-campaign spend for CUPED (0: off)"),
    ] = 90,
    start: Annotated[
        str | None,
        typer.Option("--start", help="campaign start (default: the plan's decision date)"),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="campaign end, exclusive (default: all data after the start)"),
    ] = None,
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="campaign length in days (instead of --end)")
    ] = None,
    holdout_fraction: Annotated[
        float | None,
        typer.Option(
            "--holdout-fraction", help="planned holdout share (default: from the plan summary)"
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", min=0.001, max=0.5, help="1 - confidence level")
    ] = 0.05,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="write the analysis JSON here (for `offerwise report --analysis`)"
        ),
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Treatment vs holdout after a campaign: lift with CIs, CUPED, SRM, ROI, by offer, segment."""
    from offerwise._io import write_json
    from offerwise.workflows.analyze import analyze_plan

    with _status(as_json, "analyzing the campaign"):
        res = analyze_plan(
            decisions,
            data,
            start=start,
            end=end,
            days=days,
            pre_period_days=pre_period,
            holdout_fraction=holdout_fraction,
            alpha=alpha,
            settings=_settings(config),
        )
    payload = res.to_dict()
    if out is not None:
        write_json(payload, out)
    if as_json:
        print_json({"ok": True, "out": str(out) if out else None, **payload})
        return
    print_analysis(res)
    if out is not None:
        console.print(f"analysis written to [bold]{out}[/]")


def print_analysis(res: AnalyzeResult) -> None:
    """Rich tables of an analysis: overall, by offer, by segment; SRM; ROI; warnings."""
    import pandas as pd

    a = res.analysis
    level = f"{1 - a.alpha:.0%}"
    window = f"{res.start.date()} – {res.end.date() if res.end is not None else 'end of data'}"

    def rows(dim: str, metrics: tuple[str, ...]) -> pd.DataFrame:
        out = []
        for r in a.results:
            if r.dimension != dim or r.metric not in metrics:
                continue
            lift, lo, hi = r.best()
            vr = r.variance_reduction
            cuped = bool(r.has_cuped and vr > 0)
            out.append(
                {
                    "level": r.level,
                    "metric": r.metric,
                    "n (T/H)": f"{r.n_treatment}/{r.n_holdout}",
                    "treat": r.mean_treatment,
                    "hold": r.mean_holdout,
                    "rel (raw)": f"{r.rel_lift:+.0%}" if r.rel_lift == r.rel_lift else "–",
                    "lift": lift,
                    "lift is": "CUPED" if cuped else "raw",
                    f"{level} CI": "–" if lo != lo else f"{lo:,.2f}..{hi:,.2f}",
                    "CUPED var. cut": f"{vr:.0%}" if vr == vr else "–",
                    "note": (r.reason or "").split(":")[0],
                }
            )
        df = pd.DataFrame(out)
        return df if len(df) == 0 or df["note"].any() else df.drop(columns=["note"])

    overall = rows("overall", ("converted", "revenue", "discount_cost", "net_profit")).drop(
        columns=["level"]
    )
    console.print(
        frame_table(
            overall,
            title=f"campaign {window}: treatment vs holdout per customer "
            f"({a.n_treatment:,} vs {a.n_holdout:,})",
            floatfmt="{:,.2f}",
        )
    )
    console.print(
        "treat, hold and rel are raw means per customer; where 'lift is' says CUPED, the lift "
        "and its CI are adjusted for pre-campaign spend (less noise, same expectation)",
        soft_wrap=True,
    )
    for dim in ("offer", "segment"):
        tab = rows(dim, ("net_profit",))
        if len(tab):
            console.print(
                frame_table(
                    tab.drop(columns=["metric"]),
                    title=f"net profit per customer by {dim}",
                    floatfmt="{:,.2f}",
                )
            )
    s = a.srm
    srm = "[red]MISMATCH[/]" if s.mismatch else "ok"
    console.print(
        f"sample ratio: {s.n_holdout:,} holdout of {s.n_treatment + s.n_holdout:,} "
        f"(planned {s.expected_holdout_fraction:.1%}, p = {s.p_value:.3g}): {srm}"
    )
    r = a.roi
    if r.reason:
        console.print(f"ROI: not available ({r.reason})", soft_wrap=True)
    else:
        console.print(
            f"incremental net profit {r.incremental_net_profit:,.0f} "
            f"[{r.incremental_net_profit_ci_low:,.0f}, {r.incremental_net_profit_ci_high:,.0f}]; "
            f"incremental discount cost {r.incremental_discount_cost:,.0f}; ROI {r.roi:.2f} "
            f"[{r.roi_ci_low:.2f}, {r.roi_ci_high:.2f}]{' (CUPED)' if r.cuped else ''}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    warn([*res.warnings, *a.warnings])


# --------------------------------------------------------------------------------------------
# plan and report
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def plan(
    data: DataOpt,
    budget: Annotated[
        float, typer.Option("--budget", min=0, help="bound on the summed expected discount cost")
    ],
    out: Annotated[Path, typer.Option("--out", help="plan file (.parquet or .csv)")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="model directory from `offerwise train`; without one: a randomized first "
            "campaign (every offer drawn at random, the cost counted as if every offered "
            "customer redeems), whose served exposures the first `train` learns from",
        ),
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            min=0,
            max=0.9,
            help="random holdout fraction (default: 0.1, or 0.3 when the model's identification "
            "verdict is not ok)",
        ),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="business rules (TOML/YAML)")
    ] = None,
    objective: Annotated[str, typer.Option("--objective", help="profit or revenue")] = "profit",
    as_of: AsOfOpt = None,
    frontier: Annotated[
        bool, typer.Option("--frontier/--no-frontier", help="also write the budget frontier")
    ] = True,
    risk: Annotated[
        float,
        typer.Option(
            "--risk",
            min=0,
            help=(
                "maximise incremental profit - RISK x its spread over the model's seed bags "
                "(0: the estimate itself; 3 keeps a slack budget off uncertain gains)"
            ),
        ),
    ] = 0.0,
    explore: Annotated[
        float | None,
        typer.Option(
            "--explore",
            min=0,
            max=1,
            help=(
                "share of the non-holdout customers given a random eligible offer (or none), "
                "paid from the budget; every row records its offer's propensity (default 0; "
                "without --model: as many as the budget affords)"
            ),
        ),
    ] = None,
    redemption_rate: Annotated[
        float | None,
        typer.Option(
            "--redeem-rate",
            min=0,
            max=1,
            help=(
                "without --model: the share of offered customers expected to redeem, so the "
                "budget reaches more of them (default 1: counted as if every one redeems; the "
                "service refuses redemptions past the budget)"
            ),
        ),
    ] = None,
    overspend_risk: Annotated[
        float,
        typer.Option(
            "--overspend-risk",
            help=(
                "the largest chance that the true discount cost exceeds the budget (the model's "
                "cost calibrated out of fold, with its interval); 0 plans on the costs as predicted"
            ),
        ),
    ] = 0.1,
    recs: Annotated[
        Path | None,
        typer.Option(
            "--recs",
            help=(
                "recommendations (`offerwise recommend --out`) that instantiate the menu's "
                "template offers (category rec:N); default: computed (blend, k 10) at --as-of"
            ),
        ),
    ] = None,
    drivers: Annotated[
        int,
        typer.Option(
            "--drivers",
            min=0,
            help="top-3 value drivers (column drivers) for at most this many treated customers; "
            "0: none",
        ),
    ] = 5_000,
    forecast: Annotated[
        Path | None,
        typer.Option(
            "--forecast",
            help="category units forecast (`offerwise forecast --level category --target "
            "units`): demand for stock cover; default: the last 4 weeks of sales",
        ),
    ] = None,
    min_gain: Annotated[
        str,
        typer.Option(
            "--min-gain",
            help="smallest predicted gain an offer needs: auto (chosen out of fold by train), "
            "off, or an amount",
        ),
    ] = "auto",
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = "local[2]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """One offer (or none) per customer maximising incremental profit under a budget and rules."""
    _check_table_out(out)
    if model is None:
        _first_campaign_options(objective, risk, min_gain, engine)
        from offerwise.workflows.first_campaign import make_first_campaign

        with _status(as_json, "planning a first campaign") as progress:
            first = make_first_campaign(
                data,
                budget,
                out,
                holdout=holdout,
                rules=rules,
                as_of=as_of,
                explore=explore,
                redemption_rate=redemption_rate,
                seed=seed,
                settings=_settings(config),
                progress=progress,
            )
        print_first_campaign(first, budget, out, as_json)
        return
    if redemption_rate is not None:
        from offerwise.errors import InputError

        raise InputError(
            "--redeem-rate is for a first campaign (plan without --model); with --model the "
            "model predicts who redeems"
        )
    from offerwise.workflows.plan import NO_FLOOR, categories_dict, make_plan

    with _status(as_json, "planning") as progress:
        run = make_plan(
            model,
            data,
            budget,
            out,
            holdout=holdout,
            rules=rules,
            objective=objective,
            as_of=as_of,
            frontier=frontier,
            seed=seed,
            settings=_settings(config),
            progress=progress,
            risk=risk,
            explore=explore or 0.0,
            overspend_risk=overspend_risk or None,
            recs=recs,
            engine=engine,
            spark=_spark(spark_master, spark_conf),
            drivers=drivers,
            forecast=forecast,
            min_gain=min_gain,
        )
    res = run.result
    if as_json:
        print_json(
            {
                "ok": True,
                "files": [str(p) for p in run.written],
                "warnings": run.warnings,
                **res.summary(),
                "claims": None if run.claims is None else run.claims.to_dict(),
                "cost": None if run.cost is None else run.cost.to_dict(),
                "planning_budget": run.planning_budget,
                "templates": None if run.templates is None else run.templates.to_dict(),
                "newcomer": None if run.newcomer is None else run.newcomer.to_dict(),
                "categories": None
                if run.categories is None
                else categories_dict(
                    run.categories,
                    run.outlook,
                    run.stock_weights,
                    res.total_incremental_profit,
                    run.stock_free_profit,
                ),
                "margin_check": run.margin_check,
            }
        )
        return
    warn(run.warnings)
    console.print(frame_table(res.by_offer, title="customers offered per offer"))
    console.print(frame_table(res.by_segment, title="per segment"))
    console.print(
        f"budget {budget:,.2f}; expected cost {res.total_cost:,.2f}; expected incremental profit "
        f"{res.total_incremental_profit:,.2f}; ROI "
        f"{'– (nothing spent)' if math.isnan(res.roi) else f'{res.roi:.2f}'}; dual price lambda "
        f"{res.lam:.3f}; holdout {int(res.holdout.sum()):,} customers ({res.holdout_fraction:.0%})",
        soft_wrap=True,
    )
    if not (res.assignment >= 0).any():
        import pandas as pd

        why = pd.Series(res.reason[~res.holdout]).value_counts()
        console.print(
            "nobody is offered anything; why, per customer: "
            + "; ".join(f"{r} ({n:,})" for r, n in why.items())
            + " (the plan's column reason)",
            soft_wrap=True,
            highlight=False,
        )
    if res.min_gain > 0:
        n_low = int((res.reason == "below_min_gain").sum())
        console.print(
            f"minimum predicted gain {res.min_gain:,.2f} per offer ({run.min_gain_source}): "
            f"{n_low:,} customers whose best offer gains less get none (reason below_min_gain)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    elif run.min_gain_source.startswith(NO_FLOOR):
        console.print(
            f"minimum predicted gain: {run.min_gain_source}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if res.margin is not None:
        m = res.margin
        console.print(
            f"margin target {m.target:.1%} "
            + ("for every offered customer" if m.per == "customer" else "for the campaign")
            + f" (gross margin before discounts {m.rate:.1%}): the "
            f"plan's expected margin after discounts {m.expected:.1%}; without the target "
            f"{m.unconstrained:.1%}; value given up {m.value_given_up:,.2f}"
            + (" (the target did not bind)" if m.mu == 0 else ""),
            highlight=False,
            soft_wrap=True,
        )
    if run.margin_check is not None:
        print_margin_check(run.margin_check)
    if run.templates is not None:
        print_templates(run.templates.to_dict())
    if (
        run.categories is not None
        and len(run.categories)
        and (run.outlook is not None or (run.categories["category"] != "(site-wide)").any())
    ):
        print_plan_categories(
            run.categories,
            run.outlook,
            rules_stock=run.stock_weights,
            given_up=None
            if run.stock_free_profit is None
            else run.stock_free_profit - res.total_incremental_profit,
        )
    if run.extrapolated:
        console.print(
            f"extrapolated offers (scored from their attributes): {', '.join(run.extrapolated)}: "
            + (
                "planned like the others (rules: allow_extrapolated_offers = true)"
                if run.extrapolated_allowed
                else "not offered; set allow_extrapolated_offers = true in the rules to plan them"
            ),
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if run.cost is not None:
        print_cost(run.cost, run.planning_budget, overspend_risk)
    if run.claims is not None:
        print_claims(run.claims)
    if run.drivers is not None:
        print_drivers(run.drivers)
    if run.newcomer is not None:
        n = run.newcomer
        what = (
            f"{n.offer_id} (expected incremental profit {n.value:,.2f}, cost {n.expected_cost:,.2f}"
            f", best net of the budget price {n.lam:.3f})"
            if n.offer_id != "none"
            else f"no offer ({n.reason})"
        )
        console.print(
            f"customers not in the plan (e.g. new sign-ups): {what}; eligible for them: "
            f"{', '.join(n.eligible) or 'none'}; the offer service serves this as cold start",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    console.print("written: " + ", ".join(str(p) for p in run.written), soft_wrap=True)


def _first_campaign_options(objective: str, risk: float, min_gain: str, engine: str) -> None:
    """Refuse the options a plan without a model cannot honour (nothing predicts a gain)."""
    from offerwise.errors import InputError

    bad = [
        f"--{name} {value}"
        for name, value, default in (
            ("objective", objective, "profit"),
            ("risk", risk, 0.0),
            ("min-gain", min_gain, "auto"),
            ("engine", engine, "duckdb"),
        )
        if value != default
    ]
    if bad:
        raise InputError(
            f"{', '.join(bad)}: needs --model (without one, plan draws a randomized first "
            "campaign: nothing predicts a gain to rank, bound or floor)"
        )


def print_first_campaign(run: FirstCampaignRun, budget: float, out: Path, as_json: bool) -> None:
    """A first campaign's outcome: who explores, per offer, the cost basis, what it detects."""
    from offerwise.workflows.first_campaign import COST_BASIS_SHORT

    res = run.result
    fc = run.to_dict()
    if as_json:
        print_json(
            {
                "ok": True,
                "files": [str(p) for p in run.written],
                "warnings": run.warnings,
                **res.summary(),
                "first_campaign": fc,
            }
        )
        return
    warn(run.warnings)
    drawn = res.by_offer[["offer", "n", "cost"]].rename(columns={"cost": "cost_if_all_redeem"})
    if run.redemption_rate < 1:  # expected at the assumed rate, and the cost if all redeem
        drawn.insert(2, "expected_cost", drawn["cost_if_all_redeem"])
        drawn["cost_if_all_redeem"] = drawn["expected_cost"] / run.redemption_rate
    console.print(frame_table(drawn, title="customers drawn per offer"))
    n_exp = int(res.explored.sum()) if res.explored is not None else 0
    eligible = int((~res.holdout).sum())
    console.print(
        f"first campaign (no model yet): {n_exp:,} of {eligible:,} customers drawn at random "
        f"(explore share {run.share:g}"
        + (
            f", the most the budget affords; asked {run.requested:g}"
            if run.share < run.requested
            else ""
        )
        + f"), each given none or one of their eligible offers with equal chance; the other "
        f"{eligible - n_exp:,} get none; holdout {int(res.holdout.sum()):,} customers "
        f"({res.holdout_fraction:.0%})",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    cost = (
        f"cost if every offered customer redeems once {res.total_cost:,.2f}"
        if run.redemption_rate >= 1
        else f"expected cost if {run.redemption_rate:.0%} of offered customers redeem once "
        f"{res.total_cost:,.2f} (if all redeem: {run.cost_if_all_redeem:,.2f})"
    )
    console.print(
        f"budget {budget:,.2f}; {cost} "
        f"({COST_BASIS_SHORT}); incremental profit: unknown until a model learns it from this "
        "campaign; every row's propensity (column propensity) is its offer's exact probability",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    sized = fc["explore_note"] or fc["unsized"]
    if sized:
        console.print(f"exploration: {sized}", highlight=False, soft_wrap=True, markup=False)
    console.print(
        f"next: serve it (offerwise serve --plan {out} --db URL; the menu is in "
        f"{run.written[-1].name}), run the campaign, then offerwise export-exposures and "
        "offerwise train on the exported exposures: the model's logging is then "
        "logged_propensities",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    console.print("written: " + ", ".join(str(p) for p in run.written), soft_wrap=True)


def print_margin_check(c: dict[str, Any]) -> None:
    """The margin target's plan at each offer's realised cost per unit of revenue."""
    at = c.get("at_realised_ratios")
    if at is None or at != at:
        return
    ratios = ", ".join(f"{o} {r:.1%}" for o, r in c["realised_cost_ratio"].items())
    head = (
        f"check: at each offer's realised discount cost per unit of revenue on the logged "
        f"exposures ({ratios}), the plan's margin would be {at:.1%}"
    )
    tail = (
        f", below the target {c['target']:.1%}: the plan counts percent-off offers at each "
        "customer's share of spend in the offer's scope, and the logged exposures' average "
        "cost differs; the campaign's holdout measures which is right"
        if c.get("below_target")
        else f", at or above the target {c['target']:.1%}"
    )
    console.print(head + tail, highlight=False, soft_wrap=True, markup=False)


def print_plan_categories(
    cats: Any, outlook: Any, *, rules_stock: bool, given_up: float | None = None, top: int = 10
) -> None:
    """The plan's per-category table (top ``top`` by expected cost) and where demand came from."""
    cols = ["category", "customers", "expected_cost", "incremental_profit", "expected_margin"]
    cols += [c for c in ("demand_per_week", "weeks_of_cover", "weight") if c in cats.columns]
    t = cats[cols].head(top)
    title = "per category the offers are scoped to"
    if len(cats) > top:
        title += f" (top {top} of {len(cats)} by expected cost)"
    console.print(frame_table(t, title=title))
    if outlook is not None:
        src = (
            f"forecast {outlook.forecast}"
            if outlook.demand_source == "forecast"
            else "the last 4 weeks of sales"
        )
        how = (
            "offers weighed by stock cover (rules [stock]: scarce below "
            f"{outlook.policy.scarce_weeks:g} weeks, overstock above "
            f"{outlook.policy.overstock_weeks:g})"
            if rules_stock
            else "stock did not weigh the offers (no [stock] rules)"
        )
        if rules_stock and given_up is not None:
            how += f"; expected incremental profit given up for it {given_up:,.2f}"
        console.print(
            f"demand per week from {src}; {how}", highlight=False, soft_wrap=True, markup=False
        )


def print_drivers(d: dict[str, Any]) -> None:
    """The plan's value drivers: how many customers have them, the most common first driver."""
    first = "; ".join(
        f"{f['feature']} ({f['n']:,}, mean {f['mean_effect']:+,.2f})" for f in d["first"]
    )
    console.print(
        f"value drivers (column drivers: what makes each offer worth more or less than for a "
        f"typical customer) for {d['n_customers']:,} treated customers; most often first: "
        f"{first or 'none'}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def print_templates(t: dict[str, Any]) -> None:
    """The menu's recommendation-scoped templates: scopes, recommendations, who has none."""
    scopes = t["templates"]
    missing = t["n_ineligible"]
    parts = [f"{o} = {s} ({missing.get(o, 0):,} without)" for o, s in scopes.items()]
    console.print(
        f"templates: {'; '.join(parts)}; recommendations {t['source']}, {t['k']} ranks",
        soft_wrap=True,
    )


def print_cost(c: CostInterval, planning_budget: float, risk: float) -> None:
    """The plan's true discount cost: calibrated expectation, interval, chance of overspending."""
    cal = c.calibration
    how = (
        f"model cost x {cal.ratio:.2f} (calibrated on {cal.n_rows:,} {cal.scope})"
        if cal.n_rows
        else "the model's cost as predicted (no calibration)"
    )
    shrunk = (
        f"; planned on {planning_budget:,.2f} of the budget to keep that chance at most {risk:.0%}"
        if planning_budget < c.budget - 1e-9
        else ""
    )
    console.print(
        f"true discount cost: expected {c.expected:,.2f}, {c.level:.0%} interval "
        f"[{c.ci_low:,.2f}, {c.ci_high:,.2f}] ({how}); chance of exceeding the budget "
        f"{c.p_over_budget:.0%}{shrunk}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def print_claims(c: PlanClaims) -> None:
    """What the plan's profit rests on: the verdict, the held-out check, the holdout's power."""
    from offerwise.workflows.explore_claims import per_customer

    if c.verdict is not None and not c.verified:
        console.print(
            f"[bold yellow]UNVERIFIED[/]: the model's identification verdict is "
            f"{c.verdict}; the expected profit above is the model's own estimate",
            highlight=False,
            soft_wrap=True,
        )
        for r in c.reasons:
            console.print(f"  - {r}", highlight=False, soft_wrap=True, markup=False)
    e = c.estimate
    if e is not None:
        console.print(
            f"checked on {e.n_rounds:,} exposures the model did not fit (doubly robust, "
            f"{c.estimate_note}): incremental profit {e.value:,.0f}, {e.level:.0%} interval "
            f"[{e.ci_low:,.0f}, {e.ci_high:,.0f}]",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    elif c.estimate_note:
        console.print(f"no held-out check: {c.estimate_note}", highlight=False, soft_wrap=True)
    if math.isfinite(c.mde):
        detects = f"the holdout detects {c.mde:,.2f} or more (80% power, {c.outcome_days} days)"
    elif c.holdout_customers:
        detects = (
            f"what the holdout of {c.holdout_customers:,} customers can detect is unknown: "
            + c.unsized
        )
    else:
        detects = (
            "no holdout, so nothing can measure it (`offerwise analyze` compares treatment with "
            "the holdout)"
        )
    console.print(
        f"expected effect {per_customer(c.expected_per_customer)} net profit per treatment "
        "customer; " + detects,
        highlight=False,
        soft_wrap=True,
    )
    if c.explore is not None and c.explore.customers > 0:
        console.print(
            f"exploration: {c.explore.note()}", highlight=False, soft_wrap=True, markup=False
        )
    console.print(f"to verify: {c.experiment}", highlight=False, soft_wrap=True, markup=False)
    if c.sensitivity is not None:
        console.print(
            f"sensitivity: {c.sensitivity.note}", highlight=False, soft_wrap=True, markup=False
        )


@app.command()
@handle_errors
def report(
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="model directory from `offerwise train`; default: the one --plan was made with",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="plan file from `offerwise plan` (sidecars are read too)"),
    ] = None,
    analysis: Annotated[
        Path | None, typer.Option("--analysis", help="campaign analysis JSON")
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option("--profiles", help="customer profiles (.parquet/.csv) with a segment column"),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="data source whose customers table holds the protected attributes for the "
            "fairness audit",
        ),
    ] = None,
    currency: Annotated[
        str, typer.Option("--currency", help="currency sign on axes and in tables")
    ] = "$",
    forecast: Annotated[
        Path | None, typer.Option("--forecast", help="forecast file (`offerwise forecast`)")
    ] = None,
    elasticity: Annotated[
        Path | None,
        typer.Option("--elasticity", help="elasticity file (`offerwise elasticity`)"),
    ] = None,
    categories: Annotated[
        Path | None,
        typer.Option("--categories", help="price index and stock (`offerwise categories`)"),
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a one-file HTML report: segments, uplift, frontier, offer mix, categories, demand,
    prices and margin, fairness, results."""
    from offerwise.workflows.report import write_report

    with _status(as_json, "writing the report"):
        res = write_report(
            model,
            out,
            plan=plan,
            analysis=analysis,
            profiles=profiles,
            data=data,
            settings=_settings(config),
            currency=currency,
            forecast=forecast,
            elasticity=elasticity,
            categories=categories,
        )
    if as_json:
        print_json({"ok": True, "out": str(res.path), "bytes": res.bytes, "inputs": res.sources})
        return
    console.print(f"report written to [bold]{res.path}[/] ({res.bytes / 1e6:.1f} MB)")


# --------------------------------------------------------------------------------------------
# assistant (language model; every text checked; docs/assistant.md)
# --------------------------------------------------------------------------------------------

LlmUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-url",
        help="OpenAI-compatible endpoint (env OFFERWISE_LLM_URL; key: OFFERWISE_LLM_API_KEY)",
    ),
]
LlmModelOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-model",
        help="model at --llm-url, or 'smollm2' / a .gguf file for a local model (env "
        "OFFERWISE_LLM_MODEL; default: no model, templates)",
    ),
]


@app.command()
@handle_errors
def brief(
    text: Annotated[str, typer.Argument(help="the campaign brief, in plain words")],
    data: Annotated[
        str | None, typer.Option("--data", help="the shop's data: offer ids, segments, columns")
    ] = None,
    rules_out: Annotated[
        Path, typer.Option("--rules-out", help="rules file to diff against and to --write")
    ] = Path("rules.toml"),
    write: Annotated[
        bool, typer.Option("--write", help="write the draft (only if every check passed)")
    ] = False,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a rules file from a brief with a language model; show it as a diff (checked by the
    rules schema; nothing it rejects is applied)."""
    import tomllib

    from offerwise.assistant.backends import make_backend
    from offerwise.workflows.assistant import draft_brief

    with _status(as_json, "drafting rules"):
        run = draft_brief(
            text,
            data=data,
            rules_out=rules_out,
            write=write,
            backend=make_backend(llm_url, llm_model),
            settings=_settings(config),
        )
    d = run.draft
    if as_json:
        print_json(
            {
                "ok": d.ok,
                "backend": d.backend,
                "refused": d.refused,
                "problems": d.problems,
                "not_expressible": d.not_expressible,
                "rules": None if d.toml is None else tomllib.loads(d.toml),
                "toml": d.toml,
                "diff": run.diff,
                "written": None if run.written is None else str(run.written),
                "model_output": d.raw,
            }
        )
    else:
        console.print(f"backend: {d.backend}", highlight=False, markup=False)
        if d.refused:
            err_console.print(f"[bold red]refused:[/] {escape(d.problems[0])}", soft_wrap=True)
        elif not d.ok:
            err_console.print("[bold red]rejected:[/] the drafted rules fail the checks:")
            for p in d.problems:
                err_console.print(f"  - {p}", highlight=False, soft_wrap=True, markup=False)
            if d.raw:
                err_console.print("model output:", highlight=False)
                err_console.print(d.raw, highlight=False, soft_wrap=True, markup=False)
        else:
            diff = run.diff or f"no change to {run.rules_out}"
            console.print(diff, highlight=False, markup=False)
        for n in d.not_expressible:
            console.print(f"not in the rules: {n}", highlight=False, soft_wrap=True, markup=False)
        if run.written is not None:
            console.print(f"written: {run.written}", highlight=False)
        elif d.ok:
            console.print(f"not written: pass --write to save it to {run.rules_out}")
    if not d.ok:
        raise typer.Exit(2)


@app.command("copy")
@handle_errors
def copy_cmd(
    plan: Annotated[Path, typer.Option("--plan", help="plan file from `offerwise plan`")],
    out: Annotated[Path, typer.Option("--out", help="messages file (.csv or .parquet)")] = Path(
        "copy.csv"
    ),
    data: Annotated[
        str | None, typer.Option("--data", help="the shop's data (its offers table)")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="model directory (its offer menu)")
    ] = None,
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One message per (offer, segment) of a plan; every number and category checked against the
    offer (a failing message is replaced by the template)."""
    _check_table_out(out)
    from offerwise.assistant.backends import make_backend
    from offerwise.workflows.assistant import copy_plan

    with _status(as_json, "writing messages"):
        run = copy_plan(
            plan,
            out,
            data=data,
            model=model,
            backend=make_backend(llm_url, llm_model),
            settings=_settings(config),
        )
    if as_json:
        print_json(
            {
                "ok": True,
                "out": str(run.out),
                "backend": run.backend,
                "n_messages": len(run.messages),
                "n_model": run.n_model,
                "n_fallback": run.n_fallback,
                "messages": [
                    {k: getattr(m, k) for k in ("offer_id", "segment", "message", "source")}
                    | {"fallback_reason": m.fallback}
                    for m in run.messages
                ],
            }
        )
        return
    t = Table(title=f"messages (backend: {run.backend})", header_style="bold")
    for c in ("offer", "segment", "customers", "message", "by"):
        t.add_column(c, justify="right" if c == "customers" else "left")
    for m in run.messages:
        t.add_row(m.offer_id, m.segment, f"{m.n_customers:,}", m.message, m.source)
    console.print(t)
    console.print(
        f"{len(run.messages)} messages: {run.n_model} by the model, "
        f"{len(run.messages) - run.n_model} by the template ({run.n_fallback} fallbacks after a "
        "failed check or backend error); every message states its offer's terms",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"written: {run.out}", highlight=False)


@app.command()
@handle_errors
def explain(
    plan: Annotated[Path, typer.Option("--plan", help="plan file (its .summary.json is read)")],
    llm_url: LlmUrlOpt = None,
    llm_model: LlmModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The plan and its caveats in plain words; every figure is checked against its summary."""
    from offerwise.assistant.backends import make_backend
    from offerwise.workflows.assistant import explain as explain_run

    with _status(as_json, "explaining the plan"):
        run = explain_run(plan, backend=make_backend(llm_url, llm_model))
    e = run.explanation
    if as_json:
        print_json(
            {
                "ok": True,
                "text": e.text,
                "source": e.source,
                "backend": e.backend,
                "fallback_reason": e.fallback,
                "unverified": run.facts.unverified,
            }
        )
        return
    console.print(e.text, highlight=False, soft_wrap=True, markup=False)
    how = "written by the model; every figure checked against the plan's summary"
    if e.source == "template":
        how = "template summary" + (f" ({e.fallback})" if e.fallback else "")
    console.print(f"\n[dim]{e.backend}: {how}[/]", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------
# serving
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def serve(
    plan: Annotated[Path, typer.Option("--plan", help="plan file from `offerwise plan`")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="model directory (holds the offer menu); default: the one the plan was made with",
        ),
    ] = None,
    db: Annotated[
        str, typer.Option("--db", help="database URL: sqlite:///FILE or postgresql://HOST/DB")
    ] = "sqlite:///offerwise.db",
    budget: Annotated[
        float | None, typer.Option("--budget", min=0, help="override the plan's budget")
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit",
            min=0.001,
            help="requests/s per API key and worker, for keys without their own (`apikey "
            "--rate-limit`); default 50 (docs/serving.md: also from the environment)",
        ),
    ] = None,
    burst: Annotated[
        int | None,
        typer.Option(
            "--burst",
            min=1,
            help="requests a key may send at once before --rate-limit applies; default 100",
        ),
    ] = None,
    explore: Annotated[
        float | None,
        typer.Option(
            "--explore",
            min=0.0,
            max=1.0,
            help="share of decisions drawn at random among the customer's offers, with the "
            "propensity logged; default 0 (env OFFERWISE_SERVE_EPSILON)",
        ),
    ] = None,
    no_online: Annotated[
        bool,
        typer.Option(
            "--no-online",
            help="do not score customers without a plan row from the orders the service "
            "records (by default they are, with the plan's model and rules, as orders arrive)",
        ),
    ] = False,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="the shop's data source: customers it holds are scored online with their "
            "history and attributes too (default: recorded orders only)",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve offers, coupons and redemptions over HTTP (OpenAPI at /openapi.json).

    Once the database is ready and the plan loaded, prints where it listens (with --json: one
    JSON line) and serves until interrupted.
    """
    from offerwise.serving import run_server
    from offerwise.serving.settings import ServeSettings, serve_settings
    from offerwise.serving.storage import redact_url

    online = not no_online
    source = None
    if online and data is not None:
        from offerwise.workflows._common import open_data

        source = open_data(data, _settings(), ("customers",))

    def ready(s: ServeSettings) -> None:
        nonlocal online
        online = online and s.model_dir is not None  # a first campaign has no model to score
        if online:
            from offerwise.workflows.online import start_online_scoring

            start_online_scoring(s, source)
        url_host = f"[{s.host}]" if ":" in s.host else s.host
        info = {
            "ok": True,
            "url": f"http://{url_host}:{s.port}",
            "host": s.host,
            "port": s.port,
            "workers": s.workers,
            "rate_limit": s.rate_per_s,
            "burst": s.rate_burst,
            "explore": s.epsilon,
            "db": redact_url(s.db_url),
            "plan": str(s.plan),
            "model": None if s.model_dir is None else str(s.model_dir),
            "online": online,
            "data": None if source is None else str(data),
        }
        if as_json:  # one line, so that a supervisor can read it before the server's own output
            print(json.dumps(info, default=str), flush=True)
        else:
            console.print(
                f"offerwise serving on [bold]{info['url']}[/] ({s.workers} worker(s), "
                f"db {info['db']}; OpenAPI at {info['url']}/docs); Ctrl+C stops it\n"
                f"rate limit {s.rate_per_s:g}/s per key and worker (burst {s.rate_burst}) "
                f"unless the key has its own; exploration {s.epsilon:.0%} of decisions\n"
                + (
                    "online decisions on: customers without a plan row are scored from the "
                    "orders the service records"
                    + (f" and their history in {data}" if source is not None else "")
                    if online
                    else "online decisions off: customers without a plan row get the plan's "
                    "newcomer decision"
                    + (
                        " (none: the plan was made without a model)"
                        if s.model_dir is None and s.plan is not None
                        else ""
                    )
                ),
                highlight=False,
                soft_wrap=True,
            )
            console.file.flush()

    flags = (("rate_per_s", rate_limit), ("rate_burst", burst), ("epsilon", explore))
    given: dict[str, Any] = {k: v for k, v in flags if v is not None}  # else env or default
    run_server(
        serve_settings(
            plan=plan,
            model_dir=model,
            db_url=db,
            budget=budget,
            host=host,
            port=port,
            workers=workers,
            **given,
        ),
        on_ready=ready,
    )


@app.command("apikey")
@handle_errors
def apikey(
    db: Annotated[str, typer.Option("--db", help="the service's database URL")],
    name: Annotated[str, typer.Option("--name", help="who the key is for")],
    scope: Annotated[list[str], typer.Option("--scope", help="decide and/or admin (repeatable)")],
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit",
            min=0.001,
            help="this key's requests/s per worker (a checkout POS may need more); default: "
            "the server's --rate-limit",
        ),
    ] = None,
    burst: Annotated[
        int | None,
        typer.Option("--burst", min=1, help="this key's burst; default: the server's --burst"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key (printed once; stored hashed)."""
    from offerwise.serving import create_api_key

    key = create_api_key(db, name, scope, rate_per_s=rate_limit, burst=burst)
    if as_json:
        print_json(
            {
                "ok": True,
                "name": name,
                "scopes": list(dict.fromkeys(scope)),
                "rate_limit": rate_limit,
                "burst": burst,
                "key": key,
            }
        )
        return
    print(key)


@app.command()
@handle_errors
def cycle(
    data: DataOpt,
    db: Annotated[str, typer.Option("--db", help="the service's database URL")],
    budget: Annotated[float, typer.Option("--budget", min=0, help="next campaign's budget")],
    work: Annotated[
        Path, typer.Option("--work", help="folder for this cycle's data, model and plan")
    ] = Path("cycles"),
    server: Annotated[
        str | None,
        typer.Option("--server", help="swap through the running service at this URL"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="OFFERWISE_API_KEY", show_envvar=False, help="an admin API key"
        ),
    ] = None,
    holdout: Annotated[float | None, typer.Option("--holdout", min=0, max=0.99)] = None,
    tune: Annotated[str, typer.Option("--tune", help="off | fast | full")] = "fast",
    attribution_days: Annotated[float, typer.Option("--attribution-days", min=0)] = 14.0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Relearn and swap: export what the service served, merge it with the history, train,
    plan the next campaign and make it live (via --server, or in the database)."""
    import warnings

    from offerwise.workflows.cycle import run_cycle

    with _status(as_json, "cycle") as progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # printed below, once, as warnings of the result
        res = run_cycle(
            data,
            db,
            work,
            budget,
            server=server,
            api_key=api_key,
            holdout=holdout,
            tune=tune,
            attribution_days=attribution_days,
            settings=_settings(config),
            progress=progress,
        )
    if as_json:
        print_json(
            {
                "ok": True,
                "data_dir": str(res.data_dir),
                "model_dir": str(res.model_dir),
                "plan": str(res.plan),
                "campaign_id": res.campaign_id,
                "previous_campaign_id": res.previous_campaign_id,
                "exposures_history": res.exposures_history,
                "exposures_served": res.exposures_served,
                "verdict": res.verdict,
                "swapped_via": res.swapped_via,
                "propensities": res.propensities,
                "timings": res.timings,
                "warnings": res.warnings,
                "customers_added": res.customers_added,
            }
        )
        return
    warn(res.warnings)
    console.print(
        f"merged {res.exposures_served:,} served exposures with {res.exposures_history:,} logged "
        f"into [bold]{res.data_dir}[/] ({res.propensities})",
        soft_wrap=True,
    )
    if res.customers_added:
        console.print(
            f"{res.customers_added:,} customers first met by the service added to the customers "
            "table (id and signup date; no other attributes)",
            soft_wrap=True,
        )
    console.print(
        f"model [bold]{res.model_dir}[/] (identification verdict: {res.verdict or 'n/a'}); "
        f"plan [bold]{res.plan}[/]",
        soft_wrap=True,
    )
    console.print(
        f"live campaign: {res.previous_campaign_id or 'none'} -> [bold]{res.campaign_id}[/] "
        f"(swapped via the {res.swapped_via}; {res.timings['total']:.1f} s)",
        soft_wrap=True,
    )


@app.command("export-exposures")
@handle_errors
def export_exposures_cmd(
    db: Annotated[str, typer.Option("--db", help="the service's database URL")],
    out: Annotated[
        Path, typer.Option("--out", help="data directory to write exposures.parquet into")
    ],
    attribution_days: Annotated[float, typer.Option("--attribution-days", min=0)] = 14.0,
    as_json: JsonOpt = False,
) -> None:
    """Write contract `exposures` from the service ledger: the next `train` learns from them."""

    from offerwise.serving import export_exposures
    from offerwise.serving.storage import redact_url

    exported = export_exposures(db, out, attribution_days=attribution_days)
    path, rows, n_converted = exported.path, exported.rows, exported.converted
    if as_json:
        print_json(
            {
                "ok": True,
                "out": str(path),
                "rows": rows,
                "converted": n_converted,
                "attribution_days": attribution_days,
                "db": redact_url(db),
            }
        )
        return
    console.print(
        f"exposures written to [bold]{path}[/] ({rows:,} rows, {n_converted:,} converted "
        f"within {attribution_days:g} days)",
        highlight=False,
        soft_wrap=True,
    )


# --------------------------------------------------------------------------------------------
# demand: forecasts and price elasticities
# --------------------------------------------------------------------------------------------


def _forecast_models(spec: str) -> tuple[str, ...] | None:
    """``--models``: ``default`` → None (the workflow's default), ``all`` → every model, else the
    comma-separated names (checked by the workflow)."""
    from offerwise.demand.forecast import MODEL_NAMES

    if spec.strip() == "default":
        return None
    if spec.strip() == "all":
        return MODEL_NAMES
    return tuple(m.strip() for m in spec.split(","))


@app.command()
@handle_errors
def forecast(
    data: DataOpt,
    level: Annotated[str, typer.Option("--level", help="category or product")],
    horizon: Annotated[int, typer.Option("--horizon", help="weeks to forecast")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="forecast file (.parquet or .csv); optional with --evaluate"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="use only sales before this date (default: midnight after the last transaction)",
        ),
    ] = None,
    target: Annotated[
        str, typer.Option("--target", help="amount (paid) or units (quantity)")
    ] = "amount",
    top: Annotated[
        int, typer.Option("--top", help="products level: the N best-selling products")
    ] = 200,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate", help="backtest on the last --holdout-weeks weeks: MASE and coverage"
        ),
    ] = False,
    holdout_weeks: Annotated[int, typer.Option("--holdout-weeks")] = 12,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            help="candidate models, comma-separated (Naive, SeasonalNaive, AutoETS, AutoTheta, "
            "AutoARIMA), 'default' (all but AutoARIMA, the slowest by far) or 'all'",
        ),
    ] = "default",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Weekly sales forecasts per category or product (statsforecast, model chosen per series by
    backtest) with 80 % and 95 % prediction intervals."""
    _check_table_out(out)
    from offerwise.workflows.forecast import run_forecast

    with _status(as_json, "forecasting") as progress:
        run = run_forecast(
            data,
            level=level,
            horizon=horizon,
            out=out,
            as_of=as_of,
            target=target,
            top=top,
            evaluate=evaluate,
            holdout_weeks=holdout_weeks,
            models=_forecast_models(models),
            settings=_settings(config),
            progress=progress,
        )
    if as_json:
        print_json({"ok": True, **run.to_dict()})
        return
    warn(run.warnings)
    day = run.as_of.date() if run.as_of == run.as_of.normalize() else run.as_of
    what = f"{run.n_series:,} {run.level} series ({run.target}), {run.n_weeks} weeks of history"
    console.print(f"{what} before {day}; {run.seasonality}", soft_wrap=True)
    if run.backtest is not None:
        bt = run.backtest
        console.print(
            frame_table(
                bt.metrics,
                title=f"backtest: last {bt.holdout_weeks} weeks held out, models fitted on "
                f"{bt.train_weeks} weeks ({run.timings.get('backtest', 0.0):.1f} s)",
                floatfmt="{:,.3f}",
            )
        )
    if out is not None:
        import pandas as pd

        counts = pd.DataFrame(
            {"model": list(run.model_counts()), "series": list(run.model_counts().values())}
        )
        console.print(frame_table(counts, title="model chosen per series", floatfmt="{:,.0f}"))
        console.print(
            f"{run.horizon}-week forecast written to [bold]{out}[/] "
            f"({run.timings.get('forecast', 0.0):.1f} s, {run.series_per_second:,.0f} series/s)",
            soft_wrap=True,
        )


@app.command()
@handle_errors
def elasticity(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="elasticity file (.parquet or .csv)")],
    level: Annotated[str, typer.Option("--level", help="category (the only level)")] = "category",
    min_weeks: Annotated[
        int, typer.Option("--min-weeks", help="a product enters with sales in at least N weeks")
    ] = 8,
    min_obs: Annotated[
        int, typer.Option("--min-obs", help="a category needs at least N product-weeks")
    ] = 100,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Own-price elasticity of units per category (double ML with product and week effects),
    with 90 % and 95 % intervals; NaN and a reason where the data cannot tell."""
    _check_table_out(out)
    from offerwise.workflows.elasticity import run_elasticity

    with _status(as_json, "estimating elasticities") as progress:
        run = run_elasticity(
            data,
            out=out,
            level=level,
            min_weeks=min_weeks,
            min_obs=min_obs,
            settings=_settings(config),
            progress=progress,
        )
    if as_json:
        print_json({"ok": True, **run.to_dict()})
        return
    warn(run.warnings)
    cols = ["category", "elasticity", "ci_low", "ci_high", "n_obs", "n_products", "reason"]
    console.print(
        frame_table(
            run.table[cols],
            title=f"own-price elasticity of units, 90 % intervals ({run.n_estimated} of "
            f"{len(run.table)} categories estimated; largest sales first)",
            max_rows=25,
        )
    )
    console.print(
        f"written to [bold]{out}[/]; lines with quantity 0 left out: "
        f"{run.dropped_zero_quantity:,}; product-weeks sold only for free left out: "
        f"{run.free_product_weeks:,}",
        soft_wrap=True,
    )


@app.command()
@handle_errors
def categories(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="per-category file (.parquet or .csv)")],
    forecast: Annotated[
        Path | None,
        typer.Option(
            "--forecast",
            help="category units forecast (`offerwise forecast --level category --target "
            "units`); default: demand = the last 4 weeks of sales",
        ),
    ] = None,
    as_of: AsOfOpt = None,
    window_days: Annotated[
        float, typer.Option("--window-days", help="days of prices behind the price index")
    ] = 28.0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per category: price index vs competitors, stock on hand, demand, weeks of cover and the
    weight a plan with rules \\[stock] gives its offers."""
    _check_table_out(out)
    from offerwise.workflows.categories import category_outlook, write_outlook

    with _status(as_json, "reading prices and stock") as progress:
        run = category_outlook(
            data,
            as_of=as_of,
            forecast=forecast,
            window_days=window_days,
            settings=_settings(config),
            progress=progress,
        )
        write_outlook(run, out)
    if as_json:
        print_json({"ok": True, "out": str(out), **run.to_dict()})
        return
    warn(run.warnings)
    cols = ["category", "revenue", "price_index", "n_competitors", "on_hand"]
    cols += ["demand_per_week", "weeks_of_cover", "stock_status", "weight"]
    console.print(
        frame_table(
            run.frame[cols],
            title=f"categories as of {run.as_of.date()} (largest revenue in the last "
            f"{run.window_days:g} days first)",
            max_rows=25,
        )
    )
    src = (
        f"forecast {run.forecast}"
        if run.demand_source == "forecast"
        else ("the last 4 weeks of sales")
    )
    missing = [
        what
        for what, has in (
            ("competitor_prices (no price index)", run.has_competitor_prices),
            ("inventory (no stock cover)", run.has_inventory),
        )
        if not has
    ]
    console.print(
        f"price index = our shelf price / the competitors' median, weighted by units sold "
        f"(1.10: 10 % dearer); demand per week from {src}"
        + (f"; tables not in the data: {', '.join(missing)}" if missing else "")
        + f"; written to {out}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


# --------------------------------------------------------------------------------------------
# demo: the whole pipeline on the bundled real data
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="folder for everything the demo writes")
    ] = Path("offerwise-demo"),
    customers: Annotated[
        int, typer.Option("--customers", min=100, help="simulated customers")
    ] = 20_000,
    exposures: Annotated[
        int, typer.Option("--exposures", min=100, help="simulated logged exposures")
    ] = 40_000,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import Complete Journey, profile it, simulate a shop from its profiles, train, plan,
    evaluate, run and analyze the campaign, report."""
    import pandas as pd
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from offerwise.workflows.demo import DEMO_STEPS, run_demo

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console if as_json else console,
    ) as bar:
        task = bar.add_task(DEMO_STEPS[0], total=len(DEMO_STEPS))

        def step(i: int) -> None:
            bar.update(
                task, completed=i, description=f"[{i + 1}/{len(DEMO_STEPS)}] {DEMO_STEPS[i]}"
            )

        res = run_demo(
            out,
            customers=customers,
            exposures=exposures,
            seed=seed,
            settings=_settings(config),
            step=step,
        )
        bar.update(task, completed=len(DEMO_STEPS), description="done")
    if as_json:
        print_json({"ok": True, **res.to_dict()})
        return
    rep, pr = res.cj_profile, res.plan.result
    if res.cj_model.identification is not None:
        console.print(
            "[bold]The Complete Journey logs[/] (real targeted campaigns):", highlight=False
        )
        print_identification(res.cj_model.identification)
    console.print(
        frame_table(
            rep.summary,
            title=f"Complete Journey segments ({len(rep.profiles):,} households, "
            f"as of {rep.as_of.date()})",
        )
    )
    console.print(
        frame_table(pr.by_offer, title=f"plan on the simulated shop (budget {res.budget:,.0f})")
    )
    console.print(
        f"expected cost {pr.total_cost:,.0f}; "
        f"expected incremental profit {pr.total_incremental_profit:,.0f}; "
        f"true incremental profit (simulator truth) {res.true_incremental_profit:,.0f} vs oracle "
        f"{res.oracle_incremental_profit:,.0f} at the same budget",
        soft_wrap=True,
    )
    if res.plan.claims is not None:
        print_claims(res.plan.claims)
    ev = pd.DataFrame([e.to_dict() for e in res.evaluation.estimates])[
        ["estimator", "value", "ci_low", "ci_high", "n"]
    ]
    console.print(
        frame_table(
            ev, title=f"off-policy value per round ({res.evaluation.rows})", floatfmt="{:,.3f}"
        )
    )
    console.print(
        "[bold]after the campaign[/] (simulated outcomes in "
        f"{out / 'shop-after-campaign'}; `offerwise analyze --decisions {out / 'plan.parquet'} "
        f"--data {out / 'shop-after-campaign'} --days {res.attribution_days}`):",
        soft_wrap=True,
    )
    print_analysis(res.analysis)
    console.print(
        f"true lift of net profit per customer (simulator truth): "
        f"{res.campaign.true_lift['net_profit']:,.3f}"
    )
    console.print(f"everything is in [bold]{out}/[/]; open [bold]{res.report}[/]", soft_wrap=True)


# --------------------------------------------------------------------------------------------
# recommend: categories or products each customer is likely to buy next
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def recommend(
    data: DataOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="recommendations file (.parquet or .csv)")
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="what to recommend: category or product")
    ] = "category",
    k: Annotated[int, typer.Option("--k", help="items per customer")] = 10,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="use only transactions before this date YYYY-MM-DD (default: the day after the "
            "last transaction or exposure); with --evaluate, the end of the held-out weeks",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="als, bpr, popular, buy-again, blend or ranker (default: ranker; blend when "
            "the history is too short to fit it)",
        ),
    ] = None,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate", help="score every method on the last --holdout-weeks; writes nothing"
        ),
    ] = False,
    holdout_weeks: Annotated[
        int | None,
        typer.Option("--holdout-weeks", help="weeks held out by --evaluate (e.g. 8)"),
    ] = None,
    text_embeddings: Annotated[
        bool,
        typer.Option(
            "--text-embeddings",
            help="product level: products never bought get CF vectors from their nearest "
            "products by description (extra 'deep'; docs/embeddings.md)",
        ),
    ] = False,
    explore_boost: Annotated[
        float,
        typer.Option(
            "--explore-boost",
            help="ranker: multiply the probability of items a customer never bought by this, "
            "to list more new items at a cost in predicted purchases (1: calibrated; "
            "docs/recommend.md shows the trade-off)",
        ),
    ] = 1.0,
    similar_to: Annotated[
        str | None,
        typer.Option(
            "--similar-to",
            metavar="PRODUCT_ID",
            help="list the --k products nearest to this one by description; writes nothing",
        ),
    ] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Top-k categories or products per customer (ALS/BPR, buy-again, popularity, blend);
    --evaluate compares the methods on held-out weeks."""
    _check_table_out(out)
    from offerwise.errors import InputError
    from offerwise.recommend.methods import METHODS
    from offerwise.workflows.recommend import evaluate_recommenders
    from offerwise.workflows.recommend import recommend as run_recommend

    settings = _settings(config, seed=seed)
    if similar_to is not None:
        _similar_products(data, similar_to, k, settings, as_json, evaluate or out is not None)
        return
    if evaluate:
        if holdout_weeks is None:
            raise InputError("--evaluate needs --holdout-weeks N (the weeks to hold out)")
        if out is not None:
            raise InputError("--evaluate writes nothing: drop --out")
        if method is not None and method not in METHODS:
            raise InputError(
                f"--method {method!r}: unknown method (use one of {', '.join(METHODS)})"
            )
        with _status(as_json, "evaluating recommenders") as progress:
            ev = evaluate_recommenders(
                data,
                holdout_weeks=holdout_weeks,
                level=level,
                k=k,
                as_of=as_of,
                text_embeddings=text_embeddings,
                explore_boost=explore_boost,
                settings=settings,
                progress=progress,
            )
        if as_json:
            print_json({"ok": True, **ev.to_dict()})
            return
        warn(ev.warnings)
        frame = ev.frame()
        frame["method"] = frame["method"].where(
            ~frame["text_embeddings"], frame["method"] + "+text"
        )
        if ev.explore_boost != 1.0:
            frame["method"] = frame["method"].where(
                frame["method"] != "ranker", f"ranker x{ev.explore_boost:g}"
            )
        table = frame.drop(columns=["text_embeddings"]).rename(
            columns={
                "new_recall": f"new recall@{k}",
                "n_new_users": "new customers",
                "recall": f"recall@{k}",
                "ndcg": f"NDCG@{k}",
                "explore_recall": f"explore recall@{k}",
                "explore_ndcg": f"explore NDCG@{k}",
                "fit_seconds": "fit s",
                "n_users": "customers",
                "n_explore_users": "explore customers",
            }
        )
        console.print(
            frame_table(
                table,
                title=f"{ev.level} recommendations: fitted before {ev.cutoff.date()}, scored on "
                f"{ev.holdout_weeks} held-out weeks to {ev.end.date()} ({ev.n_items:,} items)",
                floatfmt="{:,.4f}",
            )
        )
        console.print(
            f"default method: {ev.default_method}; explore = items the customer had not bought "
            "before the cutoff; new recall = a list of only the products not bought before the "
            "cutoff, scored on those first bought after it"
            + (
                f" (+text: {ev.n_new_items:,} products without purchases added by description)"
                if text_embeddings
                else ""
            )
            + "; coverage = share of items in any list",
            highlight=False,
            soft_wrap=True,
        )
        return
    if holdout_weeks is not None:
        raise InputError("--holdout-weeks is used only with --evaluate")
    if out is None:
        raise InputError("--out is required (or use --evaluate)")
    with _status(as_json, "recommending") as progress:
        res = run_recommend(
            data,
            out=out,
            level=level,
            k=k,
            as_of=as_of,
            method=method,
            text_embeddings=text_embeddings,
            explore_boost=explore_boost,
            settings=settings,
            progress=progress,
        )
    if as_json:
        print_json({"ok": True, **res.to_dict()})
        return
    warn(res.warnings)
    console.print(
        frame_table(
            res.recs.head(min(res.k, 10) * 2),
            title=f"top {min(res.k, res.n_items)} {res.level} recommendations by {res.method}"
            + (f" (explore boost {res.explore_boost:g})" if res.explore_boost != 1.0 else "")
            + " "
            f"(first customers of {res.n_customers:,})",
            floatfmt="{:,.4f}",
        )
    )
    per = min(res.k, res.n_items)  # a list cannot be longer than the items there are
    short = f" (only {res.n_items:,} exist; --k {res.k} asked)" if res.n_items < res.k else ""
    console.print(
        f"recommendations written to [bold]{out}[/]: {res.n_customers:,} customers x "
        f"{per:,} {res.level} items{short} as of {res.as_of.date()} ({res.n_fallback:,} without "
        "history "
        f"got the popularity list); {res.timings['total']:.1f} s",
        soft_wrap=True,
    )
    if res.text_embeddings:
        console.print(
            f"text embeddings: {res.n_new_items:,} products without purchases could be "
            f"recommended; {res.n_new_recommended:,} list entries are such products "
            f"(embedding {res.timings['embed']:.1f} s)",
            soft_wrap=True,
        )


def _similar_products(
    data: str, product_id: str, k: int, settings: Settings, as_json: bool, other: bool
) -> None:
    """``recommend --similar-to``: the products nearest to one by description."""
    from offerwise.errors import InputError
    from offerwise.workflows.recommend import similar_products

    if other:
        raise InputError("--similar-to writes nothing and evaluates nothing: drop --out/--evaluate")
    with _status(as_json, "finding similar products") as progress:
        res = similar_products(data, product_id, k=k, settings=settings, progress=progress)
    if as_json:
        print_json({"ok": True, **res.to_dict()})
        return
    console.print(
        frame_table(
            res.frame,
            title=f"products nearest to {res.product_id} ({res.text}) by description",
            floatfmt="{:,.3f}",
        )
    )
    console.print(
        f"cosine similarity of text embeddings; {res.n_products:,} products, {res.n_texts:,} "
        f"distinct descriptions encoded in {res.seconds:.1f} s",
        soft_wrap=True,
    )


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


_NON_FINITE = frozenset(
    f"{sign}{word}" for sign in ("", "+", "-") for word in ("nan", "inf", "infinity")
)


def non_finite_option(argv: list[str]) -> tuple[str, str] | None:
    """(option, value) of the first number option in ``argv`` (the arguments after the program)
    given NaN or infinity, else None. Typer checks a range before the command runs, and NaN fails
    every comparison: ``--budget nan`` was answered "should be greater than or equal to 0"."""
    if not any(w in a.lower() for a in argv for w in ("nan", "inf")):
        return None  # the common case costs nothing
    cmd: Any = typer.main.get_command(app)
    rest = list(argv)
    while rest and rest[0] in getattr(cmd, "commands", {}):
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    floats = {
        o
        for p in getattr(cmd, "params", [])
        if getattr(getattr(p, "type_descriptor", None), "annotation", None) is float
        for o in getattr(p, "opts", [])
    }
    for i, tok in enumerate(rest):
        name, eq, value = tok.partition("=")
        if not eq:
            name, value = tok, rest[i + 1] if i + 1 < len(rest) else ""
        if name in floats and value.strip().lower() in _NON_FINITE:
            return name, value
    return None


#: Commands that fit or load LightGBM models: `main` imports LightGBM for them without
#: scikit-learn (offerwise._lightgbm); the others import neither unless they need it.
MODEL_COMMANDS = frozenset(
    {"train", "score", "plan", "evaluate", "explain", "cycle", "demo", "recommend", "serve"}
)


def main() -> None:
    """Console-script entry point."""
    if set(sys.argv[1:2]) & MODEL_COMMANDS:
        from offerwise._lightgbm import lean_import

        lean_import()  # LightGBM without scikit-learn's ~1.2 s import; before any thread starts
    bad = non_finite_option(sys.argv[1:])
    if bad is not None:
        err_console.print(
            f"[bold red]error:[/] {escape(bad[0])} must be a finite number (got {escape(bad[1])})",
            highlight=False,
        )
        raise SystemExit(2)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

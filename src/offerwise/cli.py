"""The ``offerwise`` command line (Typer + Rich).

Exit codes: 0 ok, 2 bad input or usage, 1 internal error. Every command that reads data validates
it first and writes nothing when the input is bad. ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from offerwise import __version__
from offerwise.errors import DataContractError, OfferwiseError

app = typer.Typer(
    name="offerwise",
    help="Decide which discount to offer each customer, or none, so the shop earns more than it gives away.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Convert a bundled or external dataset to the offerwise data contract.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DataOpt = Annotated[Path, typer.Option("--data", help="data directory, .duckdb file or postgresql:// URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="settings file (TOML or YAML)")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="random seed (default: settings.seed)")]


def _settings(config: Path | None = None, **overrides: Any):
    from offerwise.config import load_settings

    return load_settings(config, **overrides)


def handle_errors(fn: F) -> F:
    """Map offerwise errors to exit codes and readable messages; never show a traceback for bad input."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OfferwiseError as exc:
            if kwargs.get("as_json"):
                payload: dict[str, Any] = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
                if isinstance(exc, DataContractError):
                    payload["problems"] = [p.to_dict() for p in exc.problems]
                print(json.dumps(payload, indent=2, default=str))
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - last resort: internal error, exit 1
            err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
            if os.environ.get("OFFERWISE_DEBUG"):
                traceback.print_exc()
            else:
                err_console.print("set OFFERWISE_DEBUG=1 for the traceback")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def frame_table(df: Any, title: str | None = None, max_rows: int = 40, floatfmt: str = "{:,.2f}") -> Table:
    """A Rich table of a DataFrame (first ``max_rows`` rows)."""
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in df.columns:
        t.add_column(str(c), justify="right" if df[c].dtype.kind in "fiu" else "left")
    for row in df.head(max_rows).itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append(floatfmt.format(v) if v == v else "–")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    return t


def print_warnings(ds: Any) -> None:
    for p in getattr(ds, "warnings", []):
        err_console.print(f"[yellow]warning:[/] {p.render()}", highlight=False, soft_wrap=True)


def version_callback(value: bool) -> None:
    if value:
        console.print(f"offerwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="show the version and exit")] = False,
) -> None:
    """offerwise command line."""


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def validate(data: DataOpt, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Check a data source against the data contract; exit 2 on fatal problems."""
    from offerwise.data.contract import load_data, summarize

    settings = _settings(config)
    ds = load_data(data, settings=settings, required=())
    summary = summarize(ds)
    if as_json:
        print_json({"ok": True, "fingerprint": ds.fingerprint, "tables": summary.to_dict("records"),
                    "warnings": [p.to_dict() for p in ds.warnings]})
        return
    print_warnings(ds)
    console.print(frame_table(summary, title=f"{data}: valid (fingerprint {ds.fingerprint})", floatfmt="{:,.0f}"))


# --------------------------------------------------------------------------------------------
# models: train, score, evaluate
# --------------------------------------------------------------------------------------------


def _status(as_json: bool, first: str):  # noqa: ANN202 - a Rich status context
    """A spinner on stderr (so --json output stays clean) whose text the pipeline updates."""
    return err_console.status(first) if as_json else console.status(first)


@app.command()
@handle_errors
def train(
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="model directory to write")],
    learner: Annotated[str | None, typer.Option("--learner", help="uplift learner: t, x, dr or tb (default: tb)")] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit the response/uplift models on the logged exposures and write a model directory."""
    import warnings

    from offerwise.models.pipeline import train as run_train

    settings = _settings(config)
    with _status(as_json, "training") as st, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_train(data, out, learner=learner, seed=seed, settings=settings,
                        progress=lambda m: st.update(m))
    card = res.card
    if as_json:
        print_json({"ok": True, "model_dir": str(res.model_dir), "learner": card["learner"],
                    "profit": card["profit"], "scored_offers": card["scored_offers"],
                    "skipped_offers": card["skipped_offers"], "propensity": card["propensity"],
                    "holdout": {k: v for k, v in card["holdout"].items() if k != "calibration"},
                    "warnings": card["warnings"], "timings": res.timings})
        return
    for w in card["warnings"]:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    import pandas as pd

    per = pd.DataFrame([{"offer": o, **{k: m.get(k) for k in ("n_treatment", "qini_normalized",
                                                              "auuc_normalized", "uplift_at_10",
                                                              "conversion_auc", "cost_mae")}}
                        for o, m in card["holdout"].get("per_offer", {}).items()])
    console.print(frame_table(per, title=f"holdout metrics ({card['n_holdout']} exposures)",
                              floatfmt="{:,.3f}"))
    console.print(f"model written to [bold]{res.model_dir}[/] ({card['learner']}-learner, "
                  f"{res.timings['total']:.1f} s); card: {res.model_dir / 'model_card.md'}")


@app.command()
@handle_errors
def score(
    model: Annotated[Path, typer.Option("--model", help="model directory from `offerwise train`")],
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="scores file (.parquet or .csv)")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="feature date (default: day after the logs)")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every customer x menu offer: conversion, revenue, cost and incremental profit."""
    from offerwise.models.pipeline import score as run_score

    settings = _settings(config)
    with _status(as_json, "scoring") as st:
        res = run_score(model, data, out=out, as_of=as_of, settings=settings,
                        progress=lambda m: st.update(m))
    df = res.scores
    if as_json:
        print_json({"ok": True, "out": str(out), "as_of": res.as_of.isoformat(), "rows": int(len(df)),
                    "customers": int(df["customer_id"].nunique()) if len(df) else 0,
                    "offers": sorted(df["offer_id"].unique().tolist()) if len(df) else [],
                    "skipped_offers": res.skipped_offers})
        return
    for s in res.skipped_offers:
        err_console.print(f"[yellow]warning:[/] offer {s['offer_id']} not scored: {s['reason']}",
                          highlight=False)
    summ = df.groupby("offer_id", sort=False)[["p_convert", "incremental_conversion", "expected_cost",
                                                "incremental_profit"]].mean().reset_index()
    console.print(frame_table(summ, title=f"mean scores per offer as of {res.as_of.date()}",
                              floatfmt="{:,.3f}"))
    console.print(f"{len(df)} rows written to [bold]{out}[/]")


@app.command()
@handle_errors
def evaluate(
    decisions: Annotated[Path, typer.Option("--decisions", help="plan/decisions file (customer_id, offer_id)")],
    data: DataOpt,
    model: Annotated[Path | None, typer.Option("--model", help="model directory: enables DM and DR")] = None,
    seed: SeedOpt = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="bootstrap resamples for the CIs")] = 1000,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Off-policy estimates (IPW, SNIPW, DM, DR) of a plan's net profit per logged round, with CIs."""
    from offerwise.models.pipeline import evaluate_plan

    settings = _settings(config)
    with _status(as_json, "evaluating") as st:
        res = evaluate_plan(decisions, data, model=model, settings=settings, seed=seed,
                            n_bootstrap=bootstrap, progress=lambda m: st.update(m))
    if as_json:
        print_json({"ok": True, **res.to_dict()})
        return
    import pandas as pd

    df = pd.DataFrame([{"estimator": e.estimator, "value": e.value, "ci_low": e.ci_low,
                        "ci_high": e.ci_high, "ess": e.ess, "match_share": e.match_share}
                       for e in res.estimates])
    console.print(frame_table(df, title=f"net profit per logged round over {res.n_rounds} rounds "
                                        f"({res.rows})", floatfmt="{:,.3f}"))


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


@app.command()
@handle_errors
def report(
    model: Annotated[Path, typer.Option("--model", help="model directory from `offerwise train`")],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
    plan: Annotated[Path | None, typer.Option("--plan", help="plan file from `offerwise plan` (sidecars are read too)")] = None,
    analysis: Annotated[Path | None, typer.Option("--analysis", help="campaign analysis JSON")] = None,
    profiles: Annotated[Path | None, typer.Option("--profiles", help="customer profiles (.parquet/.csv) with a segment column")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="data source whose customers table holds the protected attributes for the fairness audit")] = None,
    currency: Annotated[str, typer.Option("--currency", help="currency sign on axes and in tables")] = "$",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a one-file HTML report: segments, uplift curves, budget frontier, offer mix, fairness, results."""
    from offerwise.report import build_report, load_inputs

    settings = _settings(config)
    inputs = load_inputs(model, plan=plan, analysis=analysis, profiles=profiles, customers=data,
                         settings=settings, currency=currency)
    path = build_report(inputs, out)
    if as_json:
        print_json({"ok": True, "out": str(path), "bytes": path.stat().st_size, "inputs": inputs.sources})
        return
    console.print(f"report written to [bold]{path}[/] ({path.stat().st_size / 1e6:.1f} MB)")


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

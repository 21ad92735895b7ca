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
# entry point
# --------------------------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

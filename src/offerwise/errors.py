"""One exception tree for offerwise.

Every error a user can cause derives from :class:`OfferwiseError`. The CLI maps
``exit_code`` to the process exit status: 2 for bad input or usage, 1 for internal errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True, slots=True)
class Problem:
    """One data problem: where it is, how many rows, and one example.

    ``fatal`` problems stop the command; tolerable ones are reported and handled as documented.
    """

    table: str
    column: str | None
    message: str
    n_rows: int = 0
    example: str | None = None
    fatal: bool = True
    file: str | None = None

    def render(self) -> str:
        where = self.file or self.table
        col = f", column '{self.column}'" if self.column else ""
        rows = f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''})" if self.n_rows else ""
        ex = f"; e.g. {self.example}" if self.example else ""
        return f"{where}{col}: {self.message}{rows}{ex}"

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "file": self.file,
            "column": self.column,
            "message": self.message,
            "n_rows": self.n_rows,
            "example": self.example,
            "fatal": self.fatal,
        }


class OfferwiseError(Exception):
    """Base class of all offerwise errors."""

    exit_code: int = 1


class InputError(OfferwiseError):
    """Bad input data, arguments or configuration supplied by the user (exit code 2)."""

    exit_code = 2


class DataContractError(InputError):
    """Input tables violate the data contract; carries every problem found."""

    def __init__(self, problems: list[Problem], header: str = "input data violates the contract"):
        self.problems = list(problems)
        lines = [header + ":"] + ["  - " + p.render() for p in self.problems]
        super().__init__("\n".join(lines))


class ConfigError(InputError):
    """A settings or rules file is invalid; the message names the key."""


class MissingExtraError(InputError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"this feature needs the '{package}' package: pip install 'offerwise[{extra}]'"
        )


class ModelError(InputError):
    """A model directory is missing, incompatible or does not match the data."""


class InfeasibleError(InputError):
    """The business rules cannot all be met; ``binding`` names the rule that fails."""

    def __init__(self, message: str, binding: str | None = None):
        self.binding = binding
        super().__init__(message)


class NotFittedError(OfferwiseError, ValueError, AttributeError):
    """An estimator's ``predict`` before its ``fit`` (a ValueError and an AttributeError, as
    scikit-learn's error of the same name)."""


def require(package: str, extra: str) -> ModuleType:
    """Import an optional dependency or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(package, extra) from exc


__all__ = [
    "ConfigError",
    "DataContractError",
    "InfeasibleError",
    "InputError",
    "MissingExtraError",
    "ModelError",
    "NotFittedError",
    "OfferwiseError",
    "Problem",
    "require",
]

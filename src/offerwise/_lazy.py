"""Lazy re-exports for subpackages: ``from offerwise.policy import allocate`` imports only on
use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` for ``package`` exporting ``{name: submodule}``."""

    def __getattr__(name: str) -> Any:
        mod = exports.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target = mod if mod.startswith("offerwise.") else f"{package}.{mod}"
        return getattr(importlib.import_module(target), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__

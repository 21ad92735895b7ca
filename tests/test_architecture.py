"""The layering of ``src/offerwise`` (docs/architecture.md), read from the code's own imports.

Every ``import offerwise...`` in a module (at the top, in a function, or for type checking only)
is an edge. A package may import only packages of a lower layer; no module takes part in an
import cycle; the policy and simulator modules stay small enough to read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "offerwise"

#: Layers, lowest first. A package may import packages of lower layers only (the first layer's
#: modules also each other).
LAYERS: list[set[str]] = [
    {"", "errors", "_version", "_lazy", "vocab", "config", "_io", "_numba", "_lightgbm"},
    {"data"},
    {"embed"},
    {"features", "simulator", "policy", "serving", "recommend", "demand"},
    {"models", "spark"},
    {"evaluation"},
    {"report", "assistant"},
    {"workflows"},
    {"cli"},
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the offerwise modules it imports (``from offerwise.x import y`` counts ``offerwise.x.y``
    when that is a module, else ``offerwise.x``)."""
    modules = {_module(p) for p in SRC.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for p in SRC.rglob("*.py"):
        mod = _module(p)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("offerwise"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("offerwise")}
        out[mod] = {d for d in deps if d != mod}
    return out


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer() -> None:
    missing = {_package(m) for m in _imports()} - set(RANK)
    assert not missing, f"add these packages to LAYERS (and docs/architecture.md): {missing}"


def test_lower_layers_never_import_higher_ones() -> None:
    bad = []
    for mod, deps in _imports().items():
        for d in deps:
            a, b = _package(mod), _package(d)
            # the base layer's small modules may use each other (errors, vocab, config, _io)
            if a != b and (RANK[b] > RANK[a] or (RANK[b] == RANK[a] and RANK[a] > 0)):
                bad.append(f"{mod} -> {d}")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    graph = _imports()
    # package __init__ files re-export lazily (offerwise._lazy): an edge into a package is not an
    # edge into its modules, so cycles are looked for between modules
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package", ["policy", "simulator", "workflows"])
def test_modules_stay_readable(package: str) -> None:
    long = {p.name: n for p in (SRC / package).glob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert not long, f"{package}: modules over 600 lines: {long}"


def test_models_import_neither_report_nor_evaluation() -> None:
    bad = [f"{m} -> {d}" for m, deps in _imports().items() if _package(m) == "models"
           for d in deps if _package(d) in ("report", "evaluation", "workflows")]
    assert not bad, bad

"""The house rules that hold the package together, checked on the source itself.

Layers import downward only (data -> features -> backtest -> ml -> engine -> api/web -> cli/bench), no module
imports itself back through others (no cycles, function-level imports included), no scaffolding that tolerates
missing modules, and no ML module grows past a size a newcomer can read in one sitting.
Run alone: `python -m pytest tests/test_architecture.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "paiid"

#: Rank of each top-level area; a module may import only from areas of lower or equal rank.
RANKS = {
    "errors": 0, "config": 0, "jsonutil": 0, "progress": 0, "metrics": 0, "__init__": 0,
    "data": 1, "features": 2, "backtest": 3, "ml": 4, "engine": 5,
    "api": 6, "web": 6, "cli": 7, "bench": 7,
}
#: Largest ML module, in lines (issue 13: "no module under src/paiid/ml over ~350 lines").
ML_MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The paiid module an import names (the longest known prefix), or None outside the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> set[str]:
    """Every paiid module `module` imports, at any depth of its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import sub` depends on the submodule; `from pkg import name` on pkg itself
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                out.add(target)
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_area_has_a_rank():
    assert {_area(m) for m in MODULES} <= set(RANKS), "a new top-level area needs a rank here"


def test_layers_import_downward_only():
    upward = sorted(
        f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
        if RANKS[_area(t)] > RANKS[_area(m)]
    )
    assert upward == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles() == []


def test_the_cycle_check_can_fail():
    """The checker itself finds a planted cycle (so an empty answer above means something)."""
    saved = {k: set(v) for k, v in GRAPH.items()}
    try:
        GRAPH["paiid.errors"].add("paiid.config")
        GRAPH["paiid.config"].add("paiid.errors")
        assert ["paiid.config", "paiid.errors"] in _cycles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


@pytest.mark.parametrize(
    "needle", ["import_module", "ModuleNotFoundError", "not written yet", "not implemented yet"]
)
def test_no_scaffolding_for_missing_modules(needle):
    hits = [f"{p.relative_to(SRC)}" for p in MODULES.values() if needle in p.read_text()]
    assert hits == []


def test_ml_modules_are_small():
    sizes = {
        m: len(p.read_text().splitlines()) for m, p in MODULES.items() if _area(m) == "ml"
    }
    assert {m: n for m, n in sizes.items() if n > ML_MAX_LINES} == {}


def test_the_package_reads_no_test_runner_variables():
    hits = [f"{p.relative_to(SRC)}" for p in MODULES.values() if "PYTEST" in p.read_text()]
    assert hits == []

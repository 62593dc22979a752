"""Runs the benchmark cases of every area, in the order of the report.

The area modules are imported here (importing one registers its `@case` functions in
`paiid.bench.CASES`); `AREAS` fixes the order of the report, whatever order the imports run in.
A new area is a module `paiid/bench/<area>.py` imported and listed here.
"""

from __future__ import annotations

from dataclasses import asdict
from types import ModuleType
from typing import Any

from paiid.bench import (
    CASES,
    BenchResult,
    Case,
    api,
    backtest,
    data,
    features,
    machine,
    optimize,
    patterns,
    regime,
    scan,
    sweep,
    universe,
    vintages,
)
from paiid.progress import track

#: The areas in report order.
AREAS: tuple[ModuleType, ...] = (
    features, backtest, sweep, regime, patterns, vintages, scan, universe, api, optimize, data,
)


def selected(only: list[str] | None = None) -> list[tuple[str, Case]]:
    """The cases to run, area by area in `AREAS` order: all, or those whose name contains one of `only`."""
    return [
        (name, fn)
        for area in AREAS
        for name, fn in CASES
        if fn.__module__ == area.__name__ and (not only or any(o in name for o in only))
    ]


def run(only: list[str] | None = None) -> dict[str, Any]:
    """Run the selected cases; the report holds the machine and one row per `BenchResult`."""
    results: list[BenchResult] = []
    for _name, fn in track(selected(only), "benchmarks"):
        out = fn()
        results.extend(out if isinstance(out, list) else [out])
    return {"machine": machine(), "results": [asdict(r) for r in results]}

"""`paiid bench`: speed ratios against named peers, measured in the same run.

These machines are noisy, so every figure is a ratio of our code against a peer timed moments
apart in the same process. Each area adds cases in its own module here with the `@case` decorator;
`run()` imports every module listed in `AREAS` and runs their cases in order.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

AREAS = ["features", "backtest", "regime", "patterns", "api", "optimize"]


@dataclass
class BenchResult:
    """One row of the bench report. `ratio` = peer time / our time (higher is better for us)."""

    name: str
    ours_s: float
    peer: str | None = None
    peer_s: float | None = None
    ratio: float | None = None
    target: str | None = None
    meets_target: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)


_CASES: list[tuple[str, Callable[[], BenchResult | list[BenchResult]]]] = []


def case(name: str) -> Callable:
    """Register a benchmark function returning one or more `BenchResult`s."""

    def deco(fn: Callable[[], BenchResult | list[BenchResult]]) -> Callable:
        _CASES.append((name, fn))
        return fn

    return deco


def best_time(fn: Callable[[], Any], repeat: int = 5, number: int = 1) -> float:
    """Best-of-`repeat` wall time of `number` calls, per call (the least noisy estimator)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def run(only: list[str] | None = None) -> dict[str, Any]:
    """Run every registered case (or those whose name contains one of `only`)."""
    from paiid.progress import track

    for area in AREAS:
        try:
            importlib.import_module(f"paiid.bench.{area}")
        except ModuleNotFoundError as exc:
            if exc.name != f"paiid.bench.{area}":
                raise
    selected = [(n, f) for n, f in _CASES if not only or any(o in n for o in only)]
    results: list[BenchResult] = []
    for _name, fn in track(selected, "benchmarks"):
        out = fn()
        results.extend(out if isinstance(out, list) else [out])
    return {"machine": machine(), "results": [asdict(r) for r in results]}

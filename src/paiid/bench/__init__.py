"""`paiid bench`: speed ratios against named peers, measured in the same run.

These machines are noisy, so every figure is a ratio of our code against a peer timed moments
apart in the same process. Each area adds cases in its own module here with the `@case` decorator;
`paiid.bench.runner` imports every area module and runs their cases in its order. This module holds
only what the areas share, so that they can import it without importing each other.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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


Case = Callable[[], BenchResult | list[BenchResult]]

#: Every case of the imported area modules, as (name, function), in the order they were defined.
CASES: list[tuple[str, Case]] = []


def case(name: str) -> Callable[[Case], Case]:
    """Register a benchmark function returning one or more `BenchResult`s under `name`."""

    def deco(fn: Case) -> Case:
        CASES.append((name, fn))
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
    """Where and when the figures were measured (they only mean something beside these)."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }

"""What the chart-pattern detectors share: their tolerances (`ChartParams`) and the `Candidate` they propose.

A detector looks at the pivots around one newly confirmed pivot and, if their geometry fits its pattern,
returns a `Candidate`: a breakout line, an invalidation line, the pattern's height (its measured move) and
its stop. Whether and where the candidate is confirmed is decided by `chart.scan_chart`, the same way for
every pattern. Lines are functions of bar positions so that sloped sides (triangles, a tilted neckline)
and flat levels are handled alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from paiid.ml.patterns.swings import DEFAULT_K, Pivot

#: A price line over bar positions: takes an array of bar positions, returns the line's price at each.
Line = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ChartParams:
    """Detector tolerances. Distances are in pattern heights (`*_frac`) or ATRs (`*_atr`)."""

    ks: tuple[float, ...] = (DEFAULT_K, 4.0)  # zigzag reversal thresholds in ATRs, one pivot set per scale
    eq_frac: float = 0.10  # "equal" prices (double tops, flat triangle sides, S/R touches): within this share
    eq_atr: float = 0.5  # ... of the height, or this many ATRs, whichever is larger
    slope_frac: float = 0.15  # triangles narrow by at least 2x this share of their height
    min_height_atr: float = 4.0
    min_height_k: float = 1.6  # ... and at least this many zigzag thresholds
    trend_frac: float = 0.3  # reversal patterns need price to have come in from this share of height beyond
    min_width: int = 8
    max_width: int = 160
    max_wait: int = 40  # bars after the last pivot's confirmation within which the breakout must come
    leg_ratio: float = 3.0  # a triangle's longest swing lasts at most this many times its shortest
    converge: float = 0.6  # a triangle breakout counts once its width is at most this share of the opening
    min_touches: int = 3  # support / resistance level tested at least this many times


@dataclass
class Candidate:
    """A pattern whose shape fits, waiting for a close beyond its breakout line."""

    type: str
    direction: int
    start: int
    level: Line  # breakout line
    invalid: Line  # close beyond this (against direction) cancels
    height: float
    stop_fn: Callable[[int], float]  # the stop for a breakout at a given bar
    points: list[tuple[int, float]]
    levels: dict[str, float]
    asymmetry: float
    width: int
    apex: int | None = None  # no breakout at or after this bar (where a triangle's sides meet)
    ready: int = 0  # no breakout before this bar


def flat_line(value: float) -> Line:
    """A horizontal line at `value`."""
    return lambda t: np.full(len(t), value)


def straight_line(i0: int, p0: float, i1: int, p1: float) -> Line:
    """The line through (i0, p0) and (i1, p1); flat at p0 if both are on one bar."""
    slope = (p1 - p0) / (i1 - i0) if i1 != i0 else 0.0
    return lambda t: p0 + slope * (np.asarray(t, dtype=np.float64) - i0)


def at(line: Line, i: int) -> float:
    """The line's price at bar `i`."""
    return float(line(np.array([i]))[0])


def pivot_points(*ps: Pivot) -> list[tuple[int, float]]:
    """(bar, price) of each pivot, the shape `Detection.points` has."""
    return [(p.index, p.price) for p in ps]


def equal_tolerance(height: float, atr: float, prm: ChartParams) -> float:
    """How far apart two prices may be and still count as "equal" for a pattern of this height."""
    return max(prm.eq_frac * height, prm.eq_atr * atr)

"""A seeded benchmark for the chart-pattern detectors: known patterns planted in noise, and pure noise.

Each planted series is a random walk lead-in, the pattern's turning points joined by Brownian bridges
(so the pattern is as noisy as the walk around it, with the same per-bar volatility), the breakout, and a
random-walk tail. The planted window runs from the pattern's first turning point to the first close
beyond its breakout line (the bar a trader would see it confirmed). Pure-noise series are random walks
of the same length and volatility with nothing planted, where every detection is a false positive.

Match rule (used by `benchmark`): a detection is a true positive if its type equals the planted type and
its window [start, confirm] overlaps the planted window; every other detection, in any series, is a
false positive of its type. Precision = TP detections / all detections of the type; recall = planted
series of the type with at least one true positive / planted series of the type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paiid.ml.patterns.candidate import ChartParams, Line, flat_line, straight_line
from paiid.ml.patterns.chart import CHART_TYPES, scan_chart

SIGMA = 1.0  # per-bar standard deviation of closes, in price units around 100
LEAD, TAIL = 30, 30

# Turning points of each pattern in units of its height above a base level (tops; bottoms are mirrored).
# Each entry: list of (name, y) after the trend-in point; the last one is the post-breakout point.
_SHAPES: dict[str, list[tuple[str, float]]] = {
    "double_top": [("in", -0.9), ("p1", 1.0), ("neck", 0.0), ("p2", 1.0), ("out", -0.6)],
    "head_and_shoulders": [("in", -0.5), ("s1", 0.6), ("n1", 0.0), ("head", 1.0), ("n2", 0.0), ("s2", 0.6),
                           ("out", -0.6)],
    "ascending_triangle": [("in", 0.5), ("l1", 0.0), ("r1", 1.0), ("l2", 0.4), ("r2", 1.0), ("l3", 0.7),
                           ("out", 1.6)],
    # Drawn breaking up; a downward break is the same drawing flipped (y -> 1 - y).
    "symmetric_triangle": [("in", 0.6), ("l1", 0.0), ("h1", 1.0), ("l2", 0.25), ("h2", 0.75), ("l3", 0.45),
                           ("out", 1.25)],
    "resistance_break": [("in", 0.3), ("l0", 0.0), ("r1", 1.0), ("l1", 0.0), ("r2", 1.0), ("l2", 0.0),
                         ("r3", 1.0), ("l3", 0.1), ("out", 1.55)],
}
_MIRROR = {
    "double_bottom": "double_top",
    "inverse_head_and_shoulders": "head_and_shoulders",
    "descending_triangle": "ascending_triangle",
    "support_break": "resistance_break",
}


@dataclass
class Series:
    """One benchmark series: OHLCV arrays, what was planted (None for noise) and where."""

    bars: pd.DataFrame
    planted: str | None
    start: int = -1
    end: int = -1


def _bridge(rng: np.random.Generator, a: float, b: float, n: int, sigma: float) -> np.ndarray:
    """n steps from a to b (excluding a, ending exactly at b) with random-walk noise pinned at both ends."""
    steps = rng.normal(0.0, sigma, n)
    walk = np.cumsum(steps)
    t = np.arange(1, n + 1) / n
    return a + walk - t * walk[-1] + t * (b - a)


def _ohlcv(rng: np.random.Generator, close: np.ndarray, start: str = "2000-01-03") -> pd.DataFrame:
    n = len(close)
    opens = np.empty(n)
    opens[0] = close[0]
    opens[1:] = close[:-1] + rng.normal(0, 0.2 * SIGMA, n - 1)
    top = np.maximum(opens, close) + np.abs(rng.normal(0, 0.5 * SIGMA, n))
    bot = np.minimum(opens, close) - np.abs(rng.normal(0, 0.5 * SIGMA, n))
    vol = rng.lognormal(13.0, 0.3, n)
    idx = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame({"open": opens, "high": top, "low": bot, "close": close, "volume": vol}, index=idx)


def planted_series(kind: str, rng: np.random.Generator) -> Series:
    """A random-walk series with one `kind` pattern planted in it (see module docstring)."""
    base_kind = _MIRROR.get(kind, kind)
    sign = -1.0 if kind in _MIRROR else 1.0
    shape = list(_SHAPES[base_kind])
    height = rng.uniform(10.0, 16.0) * SIGMA
    jitter = 0.04
    ys = []
    for name, y in shape:
        if name in ("p2", "r2", "r3", "s2", "l2", "l1", "l0", "n2") and base_kind != "ascending_triangle":
            y = y + rng.uniform(-jitter, jitter)
        ys.append(y)
    if base_kind == "symmetric_triangle" and rng.random() < 0.5:
        ys = [1.0 - y for y in ys]  # break down instead of up
    # Rising prices for bullish patterns are mirrored for bearish ones.
    level = 100.0
    prices = [level + sign * y * height for y in ys]
    legs = rng.integers(8, 17, size=len(prices) - 1)
    path = [np.array([prices[0]])]
    anchors = [LEAD]
    for k, n_leg in enumerate(legs):
        path.append(_bridge(rng, prices[k], prices[k + 1], int(n_leg), SIGMA))
        anchors.append(anchors[-1] + int(n_leg))
    lead = prices[0] - np.cumsum(rng.normal(0, SIGMA, LEAD))[::-1]
    tail = prices[-1] + np.cumsum(rng.normal(0, SIGMA, TAIL))
    close = np.concatenate([lead] + path + [tail])
    # Planted window: first turning point after the trend-in .. first close beyond the breakout line.
    start = anchors[1]
    last_pivot = anchors[-2]
    direction, line = _breakout_line(base_kind, sign, prices, anchors, ys)
    t = np.arange(last_pivot, anchors[-1] + 1)
    crossed = np.flatnonzero(direction * (close[t] - line(t)) > 0)
    end = int(t[crossed[0]]) if len(crossed) else anchors[-1]
    return Series(_ohlcv(rng, close), kind, start, end)


def _breakout_line(
    base_kind: str, sign: float, prices: list[float], anchors: list[int], ys: list[float],
) -> tuple[float, Line]:
    """Direction and breakout line of the planted pattern (as the detector will see it if it is clean)."""
    if base_kind == "double_top":
        return -sign, flat_line(prices[2])
    if base_kind == "head_and_shoulders":
        return -sign, straight_line(anchors[2], prices[2], anchors[4], prices[4])
    if base_kind == "ascending_triangle":
        return sign, flat_line(max(prices[2], prices[4]) if sign > 0 else min(prices[2], prices[4]))
    if base_kind == "resistance_break":
        tops = [prices[2], prices[4], prices[6]]
        return sign, flat_line(max(tops) if sign > 0 else min(tops))
    # symmetric triangle: the line through the two turning points opposite the last one
    return (1.0 if ys[-1] > ys[-2] else -1.0), straight_line(anchors[2], prices[2], anchors[4], prices[4])


def noise_series(rng: np.random.Generator, n: int = 160) -> Series:
    """A random walk of `n` bars with nothing planted (every detection on it is a false positive)."""
    close = 100.0 + np.cumsum(rng.normal(0, SIGMA, n))
    return Series(_ohlcv(rng, close), None)


def make_benchmark(n_per_type: int = 40, n_noise: int = 80, seed: int = 0) -> list[Series]:
    """`n_per_type` planted series per chart type plus `n_noise` pure-noise series, reproducibly."""
    rng = np.random.default_rng(seed)
    out = [planted_series(t, rng) for t in CHART_TYPES for _ in range(n_per_type)]
    out += [noise_series(rng, int(rng.integers(140, 181))) for _ in range(n_noise)]
    return out


def benchmark(
    n_per_type: int = 40, n_noise: int = 80, seed: int = 0, params: ChartParams | None = None,
) -> dict:
    """Precision and recall per chart type under the module's match rule."""
    series = make_benchmark(n_per_type, n_noise, seed)
    tp = dict.fromkeys(CHART_TYPES, 0)
    det = dict.fromkeys(CHART_TYPES, 0)
    hit = dict.fromkeys(CHART_TYPES, 0)
    noise_fp = 0
    noise_bars = 0
    for s in series:
        b = s.bars
        dets = scan_chart(b["high"].to_numpy(), b["low"].to_numpy(), b["close"].to_numpy(), params)
        found = False
        for d in dets:
            det[d.type] += 1
            if s.planted == d.type and d.start <= s.end and s.start <= d.confirm:
                tp[d.type] += 1
                found = True
        if s.planted is None:
            noise_fp += len(dets)
            noise_bars += len(b)
        elif found:
            hit[s.planted] += 1
    report = {
        t: {
            "precision": tp[t] / det[t] if det[t] else None,
            "recall": hit[t] / n_per_type,
            "planted": n_per_type,
            "detections": det[t],
            "true_positives": tp[t],
        }
        for t in CHART_TYPES
    }
    report["_setup"] = {
        "series_per_type": n_per_type, "noise_series": n_noise, "seed": seed,
        "noise_false_positives_per_1000_bars": 1000 * noise_fp / max(noise_bars, 1),
        "match_rule": "same type and [start, confirmation] overlaps the planted window",
    }
    return report

"""Chart patterns on confirmed swing points: the scan that runs every detector and confirms its candidates.

Every detector works the same way, which is what keeps it free of lookahead:

1. When a pivot is *confirmed* (bar `c`, see `swings.zigzag`), look at it and the few pivots before it.
   If their geometry fits a pattern, that is a *candidate* with a breakout line, an invalidation
   level and a measured move (`candidate.Candidate`; the detectors are in `reversals` and `consolidations`).
2. Walk forward from `c` over closes: the first close beyond the breakout line (before any close beyond
   the invalidation level, before the line runs out, and before a second newer pivot is confirmed)
   is the confirmation bar `b`. The detection is reported at `b` with entry = close[b].

Everything a detection holds is known at the close of `b`; a scan on bars cut at any date D returns
exactly the detections with `b <= D` (tested).

Where one breakout fits several patterns (a head-and-shoulders' last four pivots also look like a
descending triangle), the more specific one wins: a detection is dropped if a higher-ranked one in the
same direction, overlapping in time, was confirmed at most `SUPPRESS_BARS` bars *earlier or at the same
bar* (never later, which would be lookahead).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from paiid.ml.patterns.candidate import Candidate, ChartParams, at
from paiid.ml.patterns.consolidations import support_resistance, triangles
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.reversals import double_top_bottom, head_and_shoulders
from paiid.ml.patterns.swings import Pivot, causal_atr, zigzag

CHART_TYPES = [
    "double_top",
    "double_bottom",
    "head_and_shoulders",
    "inverse_head_and_shoulders",
    "ascending_triangle",
    "descending_triangle",
    "symmetric_triangle",
    "support_break",
    "resistance_break",
]

#: Higher wins when two detections describe the same breakout (more specific structure first).
RANK = {
    "head_and_shoulders": 4, "inverse_head_and_shoulders": 4,
    "ascending_triangle": 3, "descending_triangle": 3, "symmetric_triangle": 3,
    "double_top": 2, "double_bottom": 2,
    "support_break": 1, "resistance_break": 1,
}
SUPPRESS_BARS = 3

#: Every detector, each given every confirmed pivot (see `candidate` for what they return).
DETECTORS = (head_and_shoulders, triangles, double_top_bottom, support_resistance)


def _confirm(cand: Candidate, close: np.ndarray, lo: int, hi: int) -> int | None:
    """First bar in [lo, hi) whose close breaks the candidate's line, unless a close cancelled it first."""
    lo = max(lo, cand.ready)
    if hi <= lo:
        return None
    if cand.apex is not None:
        hi = min(hi, cand.apex)
        if hi <= lo:
            return None
    t = np.arange(lo, hi)
    c = close[lo:hi]
    d = cand.direction
    brk = d * (c - cand.level(t)) > 0
    bad = d * (c - cand.invalid(t)) < 0
    first_brk = int(np.argmax(brk)) if brk.any() else None
    if first_brk is None:
        return None
    if bad[:first_brk].any():
        return None
    return lo + first_brk


def scan_chart(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, params: ChartParams | None = None,
    atr: np.ndarray | None = None, pivots: list[Pivot] | None = None,
) -> list[Detection]:
    """All confirmed chart patterns in the series, ordered by confirmation bar."""
    prm = params or ChartParams()
    if atr is None:
        atr = causal_atr(high, low, close)
    found: dict[tuple[str, int, int], Detection] = {}
    ks = prm.ks if pivots is None else prm.ks[:1]
    for k in ks:
        pv = pivots if pivots is not None else zigzag(high, low, atr, k)
        # A pattern must stand out from the swings of its own scale, not just from the daily noise.
        prm_k = replace(prm, min_height_atr=max(prm.min_height_atr, prm.min_height_k * k))
        _scan_pivots(pv, close, atr, prm_k, found)
    dets = sorted(found.values(), key=lambda x: (x.confirm, -RANK[x.type], x.start))
    return _suppress(dets)


def _scan_pivots(
    pivots: list[Pivot], close: np.ndarray, atr: np.ndarray, prm: ChartParams,
    found: dict[tuple[str, int, int], Detection],
) -> None:
    """Run every detector at every pivot of one scale and add the confirmed detections to `found`."""
    n = len(close)
    for j, pj in enumerate(pivots):
        a = float(atr[pj.confirmed])
        lo = pj.confirmed
        hi = min(n, lo + prm.max_wait + 1)
        if j + 2 < len(pivots):
            hi = min(hi, pivots[j + 2].confirmed)
        for det in DETECTORS:
            for cand in det(pivots, j, a, prm):
                b = _confirm(cand, close, lo, hi)
                if b is None:
                    continue
                key = (cand.type, cand.direction, b)
                if key in found:  # already found from an earlier pivot or a finer scale: keep that one
                    continue
                d = cand.direction
                entry = float(close[b])
                lvl = at(cand.level, b)
                target = lvl + d * cand.height
                stop = float(cand.stop_fn(b))
                if d * (target - entry) <= 0 or d * (entry - stop) <= 0:
                    continue  # already past its target, or stop on the wrong side: nothing to trade
                ab = float(atr[b])
                found[key] = Detection(
                    type=cand.type, kind="chart", direction=d, start=cand.start, confirm=b, entry=entry,
                    target=target, stop=stop, levels={**cand.levels, "breakout_level": lvl},
                    points=cand.points + [(b, entry)],
                    geometry={
                        "height_atr": cand.height / ab,
                        "log_width": math.log(max(cand.width, 1)),
                        "asymmetry": cand.asymmetry,
                        "breakout_atr": d * (entry - lvl) / ab,
                        "target_atr": abs(target - entry) / ab,
                        "stop_atr": abs(entry - stop) / ab,
                    },
                )


def _suppress(dets: list[Detection]) -> list[Detection]:
    """Drop a detection when a higher-ranked one (or the same type, seen at another scale) in the same
    direction covers it; only detections confirmed earlier or at the same bar count (no lookahead)."""
    kept: list[Detection] = []
    for d in dets:
        covered = False
        for e in reversed(kept):
            if e.confirm < d.confirm - SUPPRESS_BARS:
                break
            if ((RANK[e.type] > RANK[d.type] or e.type == d.type) and e.direction == d.direction
                    and e.start <= d.confirm and d.start <= e.confirm):
                covered = True
                break
        if not covered:
            kept.append(d)
    return kept

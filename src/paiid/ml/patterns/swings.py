"""Swing points (zigzag pivots) found without lookahead.

A swing high at bar i is not knowable at bar i: it only becomes a swing high once price has
fallen a threshold below it. The zigzag here walks the bars once, in order, keeping the running
extreme of the current leg; the extreme is *confirmed* as a pivot at the first bar where the
opposite move reaches `k * ATR` (ATR taken at that confirming bar, so only past data is used).
Each pivot records both the bar where the extreme happened (`index`) and the bar at which it became
known (`confirmed`). Pattern detectors only use pivots whose `confirmed` bar is at or before the bar
they decide on, which is what makes detections as of a date equal detections on data cut at it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import talib

#: Default reversal threshold in ATRs: large enough to ignore day-to-day noise, small enough that
#: the legs of a typical daily chart pattern (a few weeks) register as separate swings.
DEFAULT_K = 2.5
ATR_PERIOD = 14


@dataclass(frozen=True)
class Pivot:
    """One confirmed swing point. `kind` is +1 for a swing high, -1 for a swing low."""

    index: int
    price: float
    kind: int
    confirmed: int


def causal_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = ATR_PERIOD) -> np.ndarray:
    """Wilder ATR with the warm-up filled by the expanding mean true range (still only past bars).

    Filling the warm-up lets swings be found from the first bars of a short series instead of
    silently skipping them.
    """
    a = talib.ATR(high, low, close, timeperiod=period)
    tr = np.empty_like(high)
    tr[0] = high[0] - low[0]
    if len(high) > 1:
        prev = close[:-1]
        tr[1:] = np.maximum(high[1:], prev) - np.minimum(low[1:], prev)
    expanding = np.cumsum(tr) / np.arange(1, len(tr) + 1)
    out = np.where(np.isnan(a), expanding, a)
    # A zero ATR (flat synthetic bars) would make every tick a swing; floor it at a tiny fraction of price.
    floor = np.abs(close) * 1e-6 + 1e-12
    return np.maximum(out, floor)


def zigzag(high: np.ndarray, low: np.ndarray, atr: np.ndarray, k: float = DEFAULT_K) -> list[Pivot]:
    """Confirmed pivots in order of confirmation (which is also their order in time; they alternate).

    One pass, O(n). At bar t a new extreme in the direction of the current leg extends the leg; otherwise
    a move of `k * atr[t]` against the leg's extreme confirms that extreme as a pivot at bar t and starts
    the opposite leg from bar t.
    """
    n = len(high)
    pivots: list[Pivot] = []
    if n == 0:
        return pivots
    hi = high.tolist()
    lo = low.tolist()
    thr = (k * atr).tolist()
    direction = 0  # 0 until the first leg is known, +1 rising leg (tracking a high), -1 falling leg
    max_i, max_p = 0, hi[0]
    min_i, min_p = 0, lo[0]
    ext_i, ext_p = 0, 0.0
    for t in range(1, n):
        h, lw, th = hi[t], lo[t], thr[t]
        if direction == 0:
            if h > max_p:
                max_i, max_p = t, h
            if lw < min_p:
                min_i, min_p = t, lw
            if max_p - min_p >= th:
                if min_i < max_i:  # rose from the low: the low is a confirmed swing low
                    pivots.append(Pivot(min_i, min_p, -1, t))
                    direction, ext_i, ext_p = 1, max_i, max_p
                else:
                    pivots.append(Pivot(max_i, max_p, 1, t))
                    direction, ext_i, ext_p = -1, min_i, min_p
            continue
        if direction == 1:
            if h > ext_p:
                ext_i, ext_p = t, h
            elif ext_p - lw >= th:
                pivots.append(Pivot(ext_i, ext_p, 1, t))
                direction, ext_i, ext_p = -1, t, lw
        else:
            if lw < ext_p:
                ext_i, ext_p = t, lw
            elif h - ext_p >= th:
                pivots.append(Pivot(ext_i, ext_p, -1, t))
                direction, ext_i, ext_p = 1, t, h
    return pivots

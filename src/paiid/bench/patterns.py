"""Pattern benchmarks: scanning SPX's whole history for every chart and candlestick pattern.

Target: the full scan (ATR, zigzag at every scale, all chart detectors with their breakout search,
all 61 TA-Lib candlestick functions turned into detections) under 1 s. Peers, timed in the same run:
TA-Lib's own 61-function CDL scan (the floor: our scan includes it) and a naive pure-Python swing
finder that re-checks a centred window at every bar, the way pivot highs/lows are often written.
"""

from __future__ import annotations

import numpy as np

from paiid.bench import BenchResult, best_time, case
from paiid.data import load_bars
from paiid.ml.patterns.candles import cdl_matrix
from paiid.ml.patterns.scan import scan
from paiid.ml.patterns.swings import DEFAULT_K, causal_atr, zigzag


def _naive_pivots(high: list[float], low: list[float], width: int = 5) -> list[tuple[int, int]]:
    """Pivot highs/lows as the max/min of a centred window, re-scanned at every bar (pure Python)."""
    out = []
    for t in range(width, len(high) - width):
        window_h = high[t - width: t + width + 1]
        window_l = low[t - width: t + width + 1]
        if high[t] == max(window_h):
            out.append((t, 1))
        elif low[t] == min(window_l):
            out.append((t, -1))
    return out


@case("patterns")
def bench_patterns() -> list[BenchResult]:
    bars = load_bars("SPX")
    o, h, lo, c = (bars[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close"))
    n_found = len(scan(bars).detections)
    ours = best_time(lambda: scan(bars), repeat=5)
    talib_only = best_time(lambda: cdl_matrix(o, h, lo, c), repeat=7, number=3)
    a = causal_atr(h, lo, c)
    ours_swings = best_time(lambda: zigzag(h, lo, a, DEFAULT_K), repeat=7, number=3)
    hl, ll = h.tolist(), lo.tolist()
    naive = best_time(lambda: _naive_pivots(hl, ll), repeat=3)
    return [
        BenchResult(
            name="full pattern scan of SPX (chart patterns at every scale + 61 CDL candlesticks)",
            ours_s=ours,
            peer="TA-Lib's 61 CDL functions alone (part of our scan)",
            peer_s=talib_only,
            ratio=talib_only / ours,
            target="< 1 s",
            meets_target=ours < 1.0,
            details={"bars": len(bars), "detections": n_found},
        ),
        BenchResult(
            name="swing points on SPX: one-pass causal zigzag vs centred-window pivots",
            ours_s=ours_swings,
            peer="naive pure-Python centred-window pivot scan (width 5, uses lookahead)",
            peer_s=naive,
            ratio=naive / ours_swings,
            target=">= 1x (no slower than the naive scan)",
            meets_target=naive >= ours_swings,
            details={"bars": len(bars)},
        ),
    ]

"""Candlestick patterns through TA-Lib's 61 CDL functions, reported like chart patterns.

TA-Lib marks a bar +100 (bullish) or -100 (bearish); +-80 is an unconfirmed variant and +-200 a
confirmed one (Hikkake), so the sign carries the direction. A few functions only say "present"
(+100 for a doji whatever comes next) or give the candle's colour rather than a signal; those are
reported as `neutral` with no target or stop, since there is no trade to measure.

Candlesticks have no measured move, so a directional candle gets a simple, fixed trade plan that the
outcome and the random-entry baseline both use: the stop just beyond the extreme of the last
`CANDLE_SPAN` bars (at least half an ATR away) and the target `REWARD_RISK` times that risk.
"""

from __future__ import annotations

import numpy as np
import talib

from paiid.ml.patterns.detection import Detection

CDL_FUNCTIONS: list[str] = sorted(talib.get_function_groups()["Pattern Recognition"])

#: Functions whose +100 means "present" or whose sign is only the candle's colour (indecision candles).
NEUTRAL = {
    "CDLDOJI", "CDLLONGLEGGEDDOJI", "CDLRICKSHAWMAN", "CDLDRAGONFLYDOJI", "CDLGRAVESTONEDOJI",
    "CDLSPINNINGTOP", "CDLHIGHWAVE", "CDLSHORTLINE",
}
CANDLE_SPAN = 3
REWARD_RISK = 2.0


def candle_type(func: str) -> str:
    """'CDLENGULFING' -> 'candle_engulfing' (one namespace with the chart types)."""
    return "candle_" + func.removeprefix("CDL").lower()


CANDLE_TYPES = [candle_type(f) for f in CDL_FUNCTIONS]


def cdl_matrix(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(n_functions, n_bars) int array of every CDL function's output (TA-Lib's own scan)."""
    return np.vstack([getattr(talib, f)(o, h, lo, c) for f in CDL_FUNCTIONS]).astype(np.int32)


def scan_candles(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, atr: np.ndarray, since: int = 0,
) -> list[Detection]:
    """Every candlestick signal at bars >= `since`, ordered by bar.

    TA-Lib's CDL output at bar t depends on bars up to t only (and on a trailing body/shadow average),
    so scanning cut data gives the same signals up to the cut.
    """
    mat = cdl_matrix(o, h, lo, c)
    if since:
        mat[:, :since] = 0
    rows, cols = np.nonzero(mat)
    order = np.lexsort((rows, cols))
    out: list[Detection] = []
    for r, t in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        func = CDL_FUNCTIONS[r]
        val = int(mat[r, t])
        direction = 0 if func in NEUTRAL else int(np.sign(val))
        a0 = max(0, t - CANDLE_SPAN + 1)
        a = float(atr[t])
        entry = float(c[t])
        target = stop = None
        geometry = {
            "height_atr": float(h[a0: t + 1].max() - lo[a0: t + 1].min()) / a,
            "log_width": float(np.log(CANDLE_SPAN)),
            "asymmetry": 0.0 if abs(val) >= 100 else 1.0,
            "breakout_atr": float(c[t] - o[t]) * (direction or 1) / a,
            "target_atr": 0.0,
            "stop_atr": 0.0,
        }
        if direction:
            ext = float(lo[a0: t + 1].min()) if direction > 0 else float(h[a0: t + 1].max())
            risk = max(direction * (entry - ext), 0.5 * a)
            stop = entry - direction * risk
            target = entry + direction * REWARD_RISK * risk
            geometry["target_atr"] = REWARD_RISK * risk / a
            geometry["stop_atr"] = risk / a
        out.append(Detection(
            type=candle_type(func), kind="candle", direction=direction, start=a0, confirm=t, entry=entry,
            target=target, stop=stop, levels={"talib_value": float(val)},
            points=[(t, entry)], geometry=geometry,
        ))
    return out

"""Candlesticks: all 61 TA-Lib CDL functions, direction from TA-Lib's sign, same shape as chart patterns."""

from __future__ import annotations

import numpy as np
import talib

from paiid.data import load_bars
from paiid.ml.patterns.candles import CANDLE_TYPES, CDL_FUNCTIONS, NEUTRAL, candle_type, scan_candles
from paiid.ml.patterns.swings import causal_atr


def test_every_talib_candlestick_function_is_used() -> None:
    assert len(CDL_FUNCTIONS) == 61 == len(set(CANDLE_TYPES))
    assert set(CDL_FUNCTIONS) == set(talib.get_function_groups()["Pattern Recognition"])


def test_candle_detections_match_talib_output_and_sign() -> None:
    bars = load_bars("GOOG")
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    dets = scan_candles(o, h, lo, c, causal_atr(h, lo, c))
    by_type: dict[str, dict[int, int]] = {}
    for d in dets:
        by_type.setdefault(d.type, {})[d.confirm] = d.direction
    for func in CDL_FUNCTIONS:
        out = getattr(talib, func)(o, h, lo, c)
        bars_with = np.flatnonzero(out)
        got = by_type.get(candle_type(func), {})
        assert sorted(got) == bars_with.tolist(), func
        for t in bars_with:
            assert got[t] == (0 if func in NEUTRAL else int(np.sign(out[t]))), (func, t)


def test_a_bullish_engulfing_bar_is_reported_bullish_with_a_trade_plan() -> None:
    # a falling run, then a white candle whose body engulfs the previous black one
    closes = list(np.linspace(120, 100, 20))
    o = np.array([x + 0.8 for x in closes] + [99.0])
    c = np.array(closes + [102.0])
    h = np.maximum(o, c) + 0.2
    lo = np.minimum(o, c) - 0.2
    o[-2], c[-2] = 100.8, 100.0
    dets = [d for d in scan_candles(o, h, lo, c, causal_atr(h, lo, c)) if d.type == "candle_engulfing"]
    last = [d for d in dets if d.confirm == len(c) - 1]
    assert len(last) == 1
    d = last[0]
    assert d.signal == "bullish" and d.kind == "candle"
    assert d.stop < d.entry < d.target
    assert d.target - d.entry == 2 * (d.entry - d.stop)


def test_indecision_candles_are_neutral_without_a_trade() -> None:
    bars = load_bars("SPX")
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    doji = [d for d in scan_candles(o, h, lo, c, causal_atr(h, lo, c)) if d.type == "candle_doji"]
    assert doji and all(d.direction == 0 and d.target is None and d.stop is None for d in doji)

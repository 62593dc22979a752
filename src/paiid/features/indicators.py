"""Thin, typed wrappers over TA-Lib (C speed) for the indicators paiid uses.

Each takes float64 numpy arrays and returns arrays of the same length with NaN during warm-up.
They only look backwards: the value at bar t depends on bars 0..t, which the no-lookahead
property test checks for the whole feature frame.
"""

from __future__ import annotations

import numpy as np
import talib

Array = np.ndarray


def rsi(close: Array, period: int = 14) -> Array:
    return talib.RSI(close, timeperiod=period)


def macd(close: Array, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[Array, Array, Array]:
    """MACD line, signal line, histogram."""
    return talib.MACD(close, fastperiod=fast, slowperiod=slow, signalperiod=signal)


def bbands(close: Array, period: int = 20, nbdev: float = 2.0) -> tuple[Array, Array, Array]:
    """Upper, middle, lower Bollinger band (population standard deviation, as Bollinger defines it)."""
    return talib.BBANDS(close, timeperiod=period, nbdevup=nbdev, nbdevdn=nbdev, matype=0)


def atr(high: Array, low: Array, close: Array, period: int = 14) -> Array:
    return talib.ATR(high, low, close, timeperiod=period)


def adx(high: Array, low: Array, close: Array, period: int = 14) -> tuple[Array, Array, Array]:
    """ADX, +DI, -DI (Wilder)."""
    return (
        talib.ADX(high, low, close, timeperiod=period),
        talib.PLUS_DI(high, low, close, timeperiod=period),
        talib.MINUS_DI(high, low, close, timeperiod=period),
    )


def sma(x: Array, period: int) -> Array:
    return talib.SMA(x, timeperiod=period)


def ema(x: Array, period: int) -> Array:
    return talib.EMA(x, timeperiod=period)


def rolling_std(x: Array, period: int) -> Array:
    """Population standard deviation over `period` bars."""
    return talib.STDDEV(x, timeperiod=period, nbdev=1.0)


def rolling_max(x: Array, period: int) -> Array:
    return talib.MAX(x, timeperiod=period)


def rolling_min(x: Array, period: int) -> Array:
    return talib.MIN(x, timeperiod=period)


def obv(close: Array, volume: Array) -> Array:
    return talib.OBV(close, volume)


def linreg_slope(x: Array, period: int) -> Array:
    return talib.LINEARREG_SLOPE(x, timeperiod=period)


def shift_ratio(x: Array, k: int) -> Array:
    """x[t] / x[t-k] - 1, NaN for the first k bars."""
    out = np.full_like(x, np.nan)
    out[k:] = x[k:] / x[:-k] - 1.0
    return out


def log_return(x: Array, k: int) -> Array:
    out = np.full_like(x, np.nan)
    out[k:] = np.log(x[k:] / x[:-k])
    return out

"""One call that finds every chart and candlestick pattern in a bar frame, and the scorer's inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paiid.backtest.strategies import is_close_only
from paiid.features import build_features
from paiid.ml.patterns.candidate import ChartParams
from paiid.ml.patterns.candles import scan_candles
from paiid.ml.patterns.chart import scan_chart
from paiid.ml.patterns.detection import GEOMETRY, Detection
from paiid.ml.patterns.swings import causal_atr

#: Context columns from `paiid.features.build_features` at the confirmation bar. The directional ones
#: are multiplied by the pattern's direction, so "with the trend" means the same thing for longs and shorts.
DIRECTIONAL = ["ret_20", "ret_60", "dist_sma_50", "dist_sma_200", "ma_slope_50", "macd_hist_pct", "obv_slope"]
CENTRED = {"rsi_14": (50.0, 50.0), "bb_pctb": (0.5, 1.0)}  # (centre, scale), then times direction
UNSIGNED = ["adx_14", "atr_pct", "rvol_20", "vol_ratio", "volume_z", "volume_trend"]
CONTEXT = DIRECTIONAL + list(CENTRED) + UNSIGNED
FEATURES = GEOMETRY + [f"ctx_{c}" for c in CONTEXT] + ["is_candle"]


#: Why a close-only scan has no candlesticks (the answer's note names the symbol before it).
CANDLES_NEED = "candlestick patterns need open, high and low"


@dataclass
class ScanResult:
    """Detections (chart patterns and candles, by confirmation bar) and what they were found on.

    `close_only`: the bars were a close-only series, scanned on their close view (see `scan`): chart
    patterns only, `atr` the ATR of closes."""

    detections: list[Detection]
    bars: pd.DataFrame
    atr: np.ndarray
    close_only: bool = False


def close_view(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high, low, close) of a close-only series as the backtest's close-only variant sees it
    (`paiid.backtest.strategies.execution_arrays`): each bar's high and low are its close. One convention
    for the whole engine, so the swings' ATR is Wilder's average of absolute close changes, breakouts and
    invalidations are closes, and targets and stops come out in close terms."""
    c = np.ascontiguousarray(bars["close"].to_numpy(dtype=np.float64))
    return c, c, c


def scan(
    bars: pd.DataFrame, params: ChartParams | None = None, *, candles_since: int = 0,
    close_only: bool | None = None,
) -> ScanResult:
    """Every pattern in `bars`; each detection only uses bars up to its confirmation bar.

    A close-only series (`close_only`, by default `is_close_only(bars)`) is scanned for chart patterns on
    its close view (`close_view`) and for no candlestick: a candle is the relation of open, high, low and
    close, which flat bars do not have (TA-Lib would call every flat bar a doji)."""
    if close_only is None:
        close_only = is_close_only(bars)
    if close_only:
        h, lo, c = close_view(bars)
        atr = causal_atr(h, lo, c)
        dets = scan_chart(h, lo, c, params, atr=atr)
        dets.sort(key=lambda d: (d.confirm, d.kind != "chart", d.type))
        return ScanResult(dets, bars, atr, close_only=True)
    o, h, lo, c = (bars[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close"))
    atr = causal_atr(h, lo, c)
    dets = scan_chart(h, lo, c, params, atr=atr)
    dets += scan_candles(o, h, lo, c, atr, since=candles_since)
    dets.sort(key=lambda d: (d.confirm, d.kind != "chart", d.type))
    return ScanResult(dets, bars, atr)


def context_matrix(features: pd.DataFrame, at: np.ndarray, direction: np.ndarray | None = None) -> np.ndarray:
    """(len(at), len(CONTEXT)) context at bars `at`, directional columns times `direction` (default +1)."""
    at = np.asarray(at, dtype=np.int64)
    sign = np.ones(len(at)) if direction is None else np.asarray(direction, dtype=np.float64)
    out = np.full((len(at), len(CONTEXT)), np.nan)
    col = 0
    for name in DIRECTIONAL:
        out[:, col] = features[name].to_numpy(dtype=np.float64)[at] * sign
        col += 1
    for name, (centre, scale) in CENTRED.items():
        out[:, col] = (features[name].to_numpy(dtype=np.float64)[at] - centre) / scale * sign
        col += 1
    for name in UNSIGNED:
        vals = features[name].to_numpy(dtype=np.float64)[at]
        out[:, col] = vals / 100.0 if name == "adx_14" else vals
        col += 1
    return out


def typicality_inputs(context: np.ndarray) -> np.ndarray:
    """What the out-of-distribution check compares: the context with the direction taken out.

    A detection's context columns are signed by its direction, so the same market reads differently for
    a long and a short; the magnitudes of the signed columns (and the unsigned ones as they are) describe
    the market alone, which is what "have we seen a market like this?" is about, and they can be computed
    for the latest bar whether or not a pattern was confirmed on it.
    """
    out = np.array(context, dtype=np.float64, copy=True)
    n_signed = len(DIRECTIONAL) + len(CENTRED)
    out[:, :n_signed] = np.abs(out[:, :n_signed])
    return out


#: Columns of the design matrix holding the context (the rest is geometry and `is_candle`).
CONTEXT_SLICE = slice(len(GEOMETRY), len(GEOMETRY) + len(CONTEXT))


def design_matrix(dets: list[Detection], features: pd.DataFrame) -> np.ndarray:
    """(n_detections, len(FEATURES)) float matrix; NaN where a context feature is still warming up."""
    m = len(dets)
    out = np.full((m, len(FEATURES)), np.nan)
    if m == 0:
        return out
    at = np.array([d.confirm for d in dets], dtype=np.int64)
    direction = np.array([d.direction or 1 for d in dets], dtype=np.float64)
    for j, g in enumerate(GEOMETRY):
        out[:, j] = [d.geometry.get(g, np.nan) for d in dets]
    out[:, CONTEXT_SLICE] = context_matrix(features, at, direction)
    out[:, -1] = [1.0 if d.kind == "candle" else 0.0 for d in dets]
    return out


def scan_with_features(
    bars: pd.DataFrame, params: ChartParams | None = None,
) -> tuple[ScanResult, np.ndarray]:
    """`scan` plus the scorer's input matrix for every detection."""
    res = scan(bars, params)
    return res, design_matrix(res.detections, build_features(bars))

"""`patterns_answer`: the contract's detect-patterns JSON, computed as of the last bar it is given.

The caller cuts the bars at the requested date; everything here only looks at those bars, so the answer
for a date equals the answer on data that ends there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paiid.data import timeframe_of
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import build_features
from paiid.ml.context import AnswerContext
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import HORIZON
from paiid.ml.patterns.scan import design_matrix, scan

#: Fewest bars a scan is meaningful on (ATR warm-up plus room for a few swings).
MIN_BARS = 100
#: Chart patterns confirmed within this many bars of the last one are reported.
RECENT_BARS = 20
#: Candlesticks on this many last bars are reported.
CANDLE_BARS = 1

_RULES = {"hourly": "1h", "daily": "1D", "weekly": "W-FRI"}
_ORDER = ["15min", "hourly", "daily", "weekly"]


def native_timeframe(bars: pd.DataFrame, default: str = "daily") -> str:
    return timeframe_of(bars.index) if len(bars) > 1 else default


def to_timeframe(bars: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """The bars at `timeframe`: the same object if native, aggregated if coarser, an error if finer."""
    native = native_timeframe(bars, timeframe)
    tf = (timeframe or native).strip().lower()
    if tf == native:
        return bars
    if tf not in _RULES:
        raise BadInput(f"unknown timeframe {timeframe!r}; use one of {', '.join(_RULES)}")
    if native in _ORDER and _ORDER.index(tf) < _ORDER.index(native):
        raise BadInput(f"these bars are {native}; {tf!r} needs finer data (use {native} or coarser)")
    agg = bars.resample(_RULES[tf], label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    out = agg.dropna(subset=["close"])
    out.index.name = "date"
    return out


def _date(bars: pd.DataFrame, i: int) -> str:
    return bars.index[i].isoformat()


def _row(
    d: Detection, bars: pd.DataFrame, model: Any, symbol: str, timeframe: str, confidence: float | None,
) -> dict[str, Any]:
    rate = model.success_rate(d.type, d.kind, symbol)
    return {
        "type": d.type,
        "kind": d.kind,
        "confidence": confidence,
        "signal": d.signal,
        "target_price": d.target,
        "stop_loss": d.stop,
        "entry_price": d.entry,
        "historical_success_rate": rate["rate"],
        "success_rate_cases": rate["cases"],
        "success_rate_scope": rate["scope"],
        "random_entry_success_rate": rate["random_entry_rate"],
        "horizon_bars": HORIZON[d.kind],
        "timeframe": timeframe,
        "start_date": _date(bars, d.start),
        "end_date": _date(bars, d.end),
        "confirmation_date": _date(bars, d.confirm),
        "bars_since_confirmation": len(bars) - 1 - d.confirm,
        "levels": dict(d.levels),
        "points": [{"date": _date(bars, i), "price": float(p)} for i, p in d.points],
    }


def recent_detections(
    bars: pd.DataFrame, *, recent_bars: int = RECENT_BARS, candle_bars: int = CANDLE_BARS,
) -> tuple[list[Detection], list[Detection]]:
    """(chart patterns confirmed in the last `recent_bars`, candlesticks on the last `candle_bars`)."""
    n = len(bars)
    res = scan(bars, candles_since=max(0, n - candle_bars))
    chart = [d for d in res.detections if d.kind == "chart" and d.confirm >= n - recent_bars]
    candles = [d for d in res.detections if d.kind == "candle" and d.confirm >= n - candle_bars]
    return chart, candles


def patterns_answer(
    model: Any, bars: pd.DataFrame, symbol: str, timeframe: str = "daily", *,
    recent_bars: int = RECENT_BARS, candle_bars: int = CANDLE_BARS, context: AnswerContext | None = None,
) -> dict[str, Any]:
    """`{"symbol","as_of","patterns":[...]}` as of the last bar of `bars`.

    `patterns` holds recent chart patterns and directional candlesticks, each with the model's
    confidence and the type's historical success rate (beside the random-entry rate with the same
    target/stop distances). Indecision candles (doji and the like) have no trade to score; they are
    listed under `indecision_candles`. `context`: the shared `AnswerContext` of these bars, whose
    features serve when the timeframe is the bars' own.
    """
    tf_bars = to_timeframe(bars, timeframe)
    tf = (timeframe or "").strip().lower() if tf_bars is not bars else native_timeframe(bars, timeframe)
    if len(tf_bars) < MIN_BARS:
        raise NotEnoughHistory(f"pattern detection on {tf} bars", MIN_BARS, len(tf_bars))
    chart, candles = recent_detections(tf_bars, recent_bars=recent_bars, candle_bars=candle_bars)
    scored = chart + [d for d in candles if d.direction != 0]
    conf = np.zeros(0)
    if scored:
        native = tf_bars is bars
        feats = AnswerContext.of(symbol, bars, context).features if native else build_features(tf_bars)
        X = design_matrix(scored, feats)
        conf = model.predict_proba(X, [d.type for d in scored], [d.kind for d in scored])
    rows = [_row(d, tf_bars, model, symbol, tf, float(p)) for d, p in zip(scored, conf, strict=True)]
    rows.sort(key=lambda r: (r["kind"] != "chart", r["bars_since_confirmation"], -r["confidence"]))
    neutral = [
        {"type": d.type, "kind": d.kind, "signal": "neutral", "timeframe": tf,
         "start_date": _date(tf_bars, d.start), "end_date": _date(tf_bars, d.end)}
        for d in candles if d.direction == 0
    ]
    return {
        "symbol": symbol,
        "as_of": tf_bars.index[-1].isoformat(),
        "timeframe": tf,
        "patterns": rows,
        "indecision_candles": neutral,
    }

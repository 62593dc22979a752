"""`patterns_answer`: the contract's detect-patterns JSON, computed as of the last bar it is given.

The caller cuts the bars at the requested date; everything here only looks at those bars, so the answer
for a date equals the answer on data that ends there.

A close-only series (index levels, adjusted closes: `paiid.backtest.strategies.is_close_only`) gets an
answer of its own shape (`"data": "close-only"`): chart patterns found on its closes (`scan.close_view`),
no candlestick (a note says why), no scorer confidence or typicality (the scorer is fitted on OHLCV
detections, so its numbers would describe other data), and success rates from the symbol's own resolved
close-only detections within the bars given (`own_rate_table`), so still point in time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest.strategies import is_close_only
from paiid.data import timeframe_of
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import build_features
from paiid.ml.context import AnswerContext
from paiid.ml.patterns.baseline import MATCH_WINDOW, matched_random_rate
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import HORIZON, detection_outcomes, random_entry_rate
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES, rate_block
from paiid.ml.patterns.scan import (
    CANDLES_NEED,
    ScanResult,
    close_view,
    context_matrix,
    design_matrix,
    scan,
    typicality_inputs,
)
from paiid.ml.patterns.scorer import rate_table

#: Fewest bars a scan is meaningful on (ATR warm-up plus room for a few swings).
MIN_BARS = 100
#: Chart patterns confirmed within this many bars of the last one are reported.
RECENT_BARS = 20
#: Candlesticks on this many last bars are reported.
CANDLE_BARS = 1

#: The data model a close-only answer names (the backtest's `CLOSE_ONLY_MODEL` spelling).
CLOSE_ONLY_DATA = "close-only"
#: Why a close-only answer has no confidence: said on the answer and on every row.
NOT_SCORED = ("the pattern scorer (confidence, typicality) and its success-rate tables are fitted on OHLCV "
              "detections; not applied to a close-only series")
#: How close-only chart patterns are found, in the answer's words.
ON_CLOSES = ("found on closes: each bar's high and low taken as its close (the close-only backtest's "
             "convention), swings on the ATR of closes (Wilder's average of absolute close changes); "
             "entries, targets and stops are closes and outcomes are checked on closes")
#: Random draws per detection and seed of the own-history baselines (`dataset.symbol_dataset`'s defaults,
#: so a close-only rate is counted the way the scorer's tables are).
OWN_DRAWS, OWN_SEED = 10, 0

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
    d: Detection, bars: pd.DataFrame, model: Any, symbol: str, timeframe: str, p: float, factor: float,
) -> dict[str, Any]:
    rate = model.success_rate(d.type, d.kind, symbol)
    conf = {"confidence": p * factor, "model_confidence": p, "typicality_factor": factor}
    return _detection_row(d, bars, rate, timeframe, conf)


def _detection_row(
    d: Detection, bars: pd.DataFrame, rate: dict[str, Any], timeframe: str, conf: dict[str, Any],
) -> dict[str, Any]:
    """One `patterns` row: the detection, its confidence keys (`conf`) and its type's rate (`rate`)."""
    return {
        "type": d.type,
        "kind": d.kind,
        **conf,
        "signal": d.signal,
        "target_price": d.target,
        "stop_loss": d.stop,
        "entry_price": d.entry,
        "historical_success_rate": rate["success_rate"],
        "success_rate_ci95": rate["success_rate_ci95"],
        "resolved_cases": rate["resolved"],
        "success_rate_note": rate["note"],
        "success_rate_cases": rate["cases"],
        "success_rate_scope": rate["scope"],
        "baseline_rate": rate["baseline_rate"],
        "baseline_rate_ci95": rate["baseline_rate_ci95"],
        "edge": rate["edge"],
        "edge_intervals_separate": rate["intervals_separate"],
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


def typicality_block(model: Any, features: pd.DataFrame) -> dict[str, Any]:
    """The `typicality` of the latest bar's market context (trend, volatility, volume magnitudes) against
    the scorer's training rows. The latest bar, not each detection's confirmation bar, because the reader
    acts now, and because it exists whether or not a pattern was confirmed today."""
    typ = getattr(model, "typicality_", None)
    if typ is None:
        return {"percentile": None, "unusual": False, "confidence_factor": 1.0, "training_rows": 0,
                "note": "this scorer has no typicality reference (too few complete training rows)",
                "of": "latest bar"}
    x = typicality_inputs(context_matrix(features, np.array([len(features) - 1])))
    return {**typ.assess(x[0]), "of": "latest bar"}


def _rates_block(model: Any, as_of: pd.Timestamp) -> dict[str, Any]:
    through = getattr(model, "resolved_through_", None)
    return {
        "resolved_through": through,
        "point_in_time": through is None or pd.Timestamp(through) <= as_of,
        "min_resolved_cases": MIN_RESOLVED_CASES,
        "counted": "detections whose outcome resolved within the scorer's training bars; unresolved ones "
                   "are left out, not counted as failures",
        "baseline": f"random entries within {MATCH_WINDOW} bars of each detection, same side and horizon, "
                    "target and stop at the same multiples of the ATR at entry",
    }


def recent_detections(
    bars: pd.DataFrame, *, recent_bars: int = RECENT_BARS, candle_bars: int = CANDLE_BARS,
) -> tuple[list[Detection], list[Detection]]:
    """(chart patterns confirmed in the last `recent_bars`, candlesticks on the last `candle_bars`)."""
    n = len(bars)
    res = scan(bars, candles_since=max(0, n - candle_bars))
    return _recent(res, recent_bars, candle_bars)


def _recent(res: ScanResult, recent_bars: int, candle_bars: int) -> tuple[list[Detection], list[Detection]]:
    n = len(res.bars)
    chart = [d for d in res.detections if d.kind == "chart" and d.confirm >= n - recent_bars]
    candles = [d for d in res.detections if d.kind == "candle" and d.confirm >= n - candle_bars]
    return chart, candles


def patterns_answer(
    model: Any, bars: pd.DataFrame, symbol: str, timeframe: str = "daily", *,
    recent_bars: int = RECENT_BARS, candle_bars: int = CANDLE_BARS, context: AnswerContext | None = None,
) -> dict[str, Any]:
    """`{"symbol","as_of","patterns":[...]}` as of the last bar of `bars`.

    `patterns` holds recent chart patterns and directional candlesticks, each with the model's
    confidence (times the typicality factor of the latest bar: halved when the market is unlike the
    training rows) and the type's historical success rate with its Wilson interval, beside the matched
    random-entry baseline (`baseline_rate`) and the edge; the rate is null with a `success_rate_note` below
    `MIN_RESOLVED_CASES` resolved cases. Nothing here counts outcomes from the bars: the rates are the
    scorer's tables, built from outcomes resolved within its training bars (`success_rates`).
    Indecision candles (doji and the like) have no trade to score; they are listed under
    `indecision_candles`. `typicality`: the latest bar's market context against the training rows.
    `context`: the shared `AnswerContext` of these bars, whose features serve when the timeframe is the
    bars' own.
    """
    tf_bars = to_timeframe(bars, timeframe)
    tf = (timeframe or "").strip().lower() if tf_bars is not bars else native_timeframe(bars, timeframe)
    if len(tf_bars) < MIN_BARS:
        raise NotEnoughHistory(f"pattern detection on {tf} bars", MIN_BARS, len(tf_bars))
    if is_close_only(bars):  # `model` is not used: see `close_only_answer`
        return close_only_answer(tf_bars, symbol, tf, recent_bars=recent_bars)
    chart, candles = recent_detections(tf_bars, recent_bars=recent_bars, candle_bars=candle_bars)
    scored = chart + [d for d in candles if d.direction != 0]
    native = tf_bars is bars
    feats = AnswerContext.of(symbol, bars, context).features if native else build_features(tf_bars)
    typicality = typicality_block(model, feats)
    factor = float(typicality["confidence_factor"])
    conf = np.zeros(0)
    if scored:
        X = design_matrix(scored, feats)
        conf = model.predict_proba(X, [d.type for d in scored], [d.kind for d in scored])
    rows = [_row(d, tf_bars, model, symbol, tf, float(p), factor) for d, p in zip(scored, conf, strict=True)]
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
        "typicality": typicality,
        "success_rates": _rates_block(model, tf_bars.index[-1]),
    }


def own_rate_table(res: ScanResult) -> tuple[dict[str, list[float]], str | None]:
    """The symbol's own success-rate table from a scan of all its bars up to the as-of date: per type,
    the `scorer.rate_table` row of its directional detections whose outcome resolved within those bars (on
    the scan's close view for a close-only series), and the date the last counted outcome became known.

    Point in time by construction: the bars end at the as-of date, and unresolved detections are left
    out, never counted as failures, exactly as `dataset.symbol_dataset` counts them for the scorer."""
    dets = [d for d in res.detections if d.direction != 0]
    if res.close_only:
        h, lo, c = close_view(res.bars)
    else:
        h, lo, c = (res.bars[k].to_numpy(dtype=np.float64) for k in ("high", "low", "close"))
    y, resolved = detection_outcomes(h, lo, dets)
    keep = np.flatnonzero(~np.isnan(y))
    if not len(keep):
        return {}, None
    rnd = random_entry_rate(h, lo, c, dets, draws=OWN_DRAWS, seed=OWN_SEED)
    mat = matched_random_rate(h, lo, c, res.atr, dets, draws=OWN_DRAWS, seed=OWN_SEED)
    table = rate_table([dets[i].type for i in keep], y[keep], rnd[keep], mat[keep])
    return table, _date(res.bars, int(resolved[keep].max()))


def _own_rate(table: dict[str, list[float]], type_: str, as_of: str, scope: str) -> dict[str, Any]:
    """`PatternScorer.success_rate`'s keys from an own table (withheld below `MIN_RESOLVED_CASES`)."""
    n, s, rnd, rnd_n, mat, mat_n = table.get(type_, [0.0] * 6)
    block = rate_block(n, s, mat, mat_n, through=as_of)
    return {**block, "rate": block["success_rate"], "cases": int(n), "scope": scope,
            "random_entry_rate": rnd / rnd_n if rnd_n else None}


def close_only_answer(
    tf_bars: pd.DataFrame, symbol: str, timeframe: str, *, recent_bars: int = RECENT_BARS,
) -> dict[str, Any]:
    """The answer for a close-only series as of the last of `tf_bars` (see the module docstring).

    Rows keep the OHLCV rows' keys so every reader works; `confidence`, `model_confidence` and
    `typicality_factor` are null with `confidence_note`, and the success rate is the symbol's own
    (`own_rate_table`) rather than the scorer's tables, which count OHLCV detections whose stops and
    targets were checked on highs and lows: a different trade from one checked on closes."""
    res = scan(tf_bars, close_only=True)
    chart, _ = _recent(res, recent_bars, 0)
    as_of = tf_bars.index[-1].isoformat()
    table, through = own_rate_table(res)
    scope = f"{symbol}'s own close-only chart detections resolved by {as_of[:10]}"
    conf = {"confidence": None, "model_confidence": None, "typicality_factor": None,
            "confidence_note": NOT_SCORED}
    rows = [_detection_row(d, tf_bars, _own_rate(table, d.type, as_of, scope), timeframe, conf)
            for d in chart if d.direction != 0]
    rows.sort(key=lambda r: (r["bars_since_confirmation"], r["type"]))
    return {
        "symbol": symbol,
        "as_of": as_of,
        "timeframe": timeframe,
        "data": CLOSE_ONLY_DATA,
        "patterns": rows,
        "indecision_candles": [],
        "chart_patterns": ON_CLOSES,
        "candlesticks": f"skipped: {symbol} is close-only ({CANDLES_NEED})",
        "confidence_note": NOT_SCORED,
        "typicality": None,
        "success_rates": {
            "resolved_through": through,
            "point_in_time": True,
            "min_resolved_cases": MIN_RESOLVED_CASES,
            "scope": "this symbol's own close-only history up to the as-of date",
            "counted": f"{symbol}'s chart detections whose outcome (target before stop within "
                       f"{HORIZON['chart']} bars, checked on closes) resolved by the as-of date; unresolved "
                       "ones are left out, not counted as failures",
            "baseline": f"random entries within {MATCH_WINDOW} bars of each detection, same side and "
                        "horizon, target and stop at the same multiples of the ATR of closes at entry, "
                        "checked on closes",
        },
    }

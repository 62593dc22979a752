"""The four served answers — market regime, strategy recommendation, trade probability, patterns — built
in one place for the CLI and the HTTP API, and each one logged in the prediction log.

Why here and not in the front ends: both must validate the same way (bad input fails before any model is
loaded or trained), cut the bars at the as-of date the same way, serve the models fitted up to that
date's refit date (`engine/vintages.py`: point in time, named in each answer's `model`), and log what
they served, so that `paiid track` can score every answer a user saw after the fact (its model
version and as-of date go with it). Routers and commands only parse and render.
"""

from __future__ import annotations

from typing import Any

from paiid.backtest import get_strategy
from paiid.data import BEYOND_CLOSE, CLOSE_ONLY, load_bars, normalise_symbol, real_columns, require_columns
from paiid.engine.tracking import log_served
from paiid.engine.vintages import describe, serving
from paiid.errors import NotEnoughHistory, PaiidError
from paiid.ml import context as ml_context
from paiid.ml import patterns as ml_patterns
from paiid.ml import regime as ml_regime
from paiid.ml import selector as ml_selector
from paiid.ml.tradeprob import parse_side, trade_answer


def regime(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid regime` / `GET /api/ml/market-regime` as of the close of `date` (default: last bar)."""
    sym = normalise_symbol(symbol)
    require_columns(sym, ("high", "low", "volume"), f"regime detection for {sym}")
    bars = load_bars(sym, end=date)
    if len(bars) < ml_regime.MIN_BARS:
        raise NotEnoughHistory(f"regime detection for {sym}", ml_regime.MIN_BARS, len(bars))
    model, info = serving("regime", bars)
    answer = ml_regime.regime_answer(model, bars, sym)
    answer["model"] = describe(info)
    answer["prediction_id"] = log_served("regime", sym, answer, model_name="regime",
                                         model_version=info.version, user_id=user_id)
    return answer


def recommendation(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid recommend` / `GET /api/ml/recommend-strategy`: templates ranked for the next 20 bars."""
    sym = normalise_symbol(symbol)
    require_columns(sym, BEYOND_CLOSE, f"a strategy recommendation for {sym}")
    bars = load_bars(sym, end=date, min_bars=ml_selector.MIN_BARS,
                     what=f"a strategy recommendation for {sym}")
    model, info = serving("selector", bars)
    models = {"selector": describe(info)}
    try:
        regime_model, regime_info = serving("regime", bars)
        models["regime"] = describe(regime_info)
    except PaiidError:  # the recommendation still works with the selector's own regime rule
        regime_model = None
    answer = ml_selector.recommend_answer(model, regime_model, bars, sym)
    answer["model"], answer["models"] = models["selector"], models
    answer["prediction_id"] = log_served("recommendation", sym, answer, model_name="selector",
                                         model_version=info.version, user_id=user_id)
    return answer


def trade(symbol: str, strategy: str, side: str | None = None, date: str | None = None, *,
          user_id: str | None = None) -> dict[str, Any]:
    """`paiid predict-trade` / `POST /api/ml/predict-trade`: win probability of a proposed trade."""
    tid = get_strategy(strategy).id  # names the valid ids
    if side is not None:
        parse_side(side)
    sym = normalise_symbol(symbol)
    require_columns(sym, BEYOND_CLOSE, f"a trade prediction for {sym}")
    bars = load_bars(sym, end=date, min_bars=ml_context.MIN_BARS, what=f"a trade prediction for {sym}")
    model, info = serving("tradeprob", bars)
    answer = trade_answer(model, bars, sym, tid, side)
    answer["model"] = describe(info)
    answer["prediction_id"] = log_served("trade", sym, answer, model_name="tradeprob",
                                         model_version=info.version, user_id=user_id)
    return answer


def patterns(symbol: str, date: str | None = None, timeframe: str = "daily", *,
             user_id: str | None = None) -> dict[str, Any]:
    """`paiid patterns` / `GET /api/ml/detect-patterns`: patterns confirmed recently, as of `date`."""
    sym = normalise_symbol(symbol)
    close_only = real_columns(sym) == CLOSE_ONLY  # chart patterns on closes, no scorer (see below)
    if not close_only:
        require_columns(sym, BEYOND_CLOSE, f"pattern detection for {sym}")
    bars = load_bars(sym, end=date)
    n_bars = len(ml_patterns.to_timeframe(bars, timeframe))
    if n_bars < ml_patterns.MIN_BARS:
        raise NotEnoughHistory(f"pattern detection for {sym} on {timeframe} bars", ml_patterns.MIN_BARS,
                               n_bars)
    if close_only:  # the scorer is fitted on OHLCV detections: not loaded (nor trained) for a close-only one
        answer = ml_patterns.patterns_answer(None, bars, sym, timeframe)
        answer["model"] = None
        answer["prediction_id"] = log_served("pattern", sym, answer, user_id=user_id)
        return answer
    model, info = serving("pattern_scorer", bars)
    answer = ml_patterns.patterns_answer(model, bars, sym, timeframe)
    answer["model"] = describe(info)
    answer["prediction_id"] = log_served("pattern", sym, answer, model_name="pattern_scorer",
                                         model_version=info.version, user_id=user_id)
    return answer

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
from paiid.engine.catalog import FAMILY_NAMES, ROLES
from paiid.engine.orchestrator import family_of, panel_snapshot
from paiid.engine.tracking import log_served
from paiid.engine.vintages import describe, serving
from paiid.errors import NotEnoughHistory, PaiidError
from paiid.ml import context as ml_context
from paiid.ml import patterns as ml_patterns
from paiid.ml import regime as ml_regime
from paiid.ml import selector as ml_selector
from paiid.ml.panel import serve as panel
from paiid.ml.tradeprob import parse_side, trade_answer


def _named(answer: dict[str, Any], family: str, info: Any) -> dict[str, Any]:
    """The answer with its `model` block and `model_family` (which kind of model answered)."""
    answer["model"] = describe(info)
    answer["model_family"] = FAMILY_NAMES[family]
    return answer


def regime(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid regime` / `GET /api/ml/market-regime` as of the close of `date` (default: last bar).

    A close-only series is answered by the close-volatility detector fitted on the universe's close
    views (`panel_regime`), any other by the OHLCV one."""
    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date)
    if len(bars) < ml_regime.MIN_BARS:
        raise NotEnoughHistory(f"regime detection for {sym}", ml_regime.MIN_BARS, len(bars))
    family = family_of(bars)
    name = ROLES[family]["regime"]
    model, info = serving(name, bars)
    answer_of = panel.regime_answer if family == "close_only" else ml_regime.regime_answer
    answer = _named(answer_of(model, bars, sym), family, info)
    answer["prediction_id"] = log_served("regime", sym, answer, model_name=name,
                                         model_version=info.version, user_id=user_id)
    return answer


def recommendation(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid recommend` / `GET /api/ml/recommend-strategy`: templates ranked for the next 20 bars
    (a close-only series: by the panel selector, with the panel regime shown)."""
    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date, min_bars=ml_selector.MIN_BARS,
                     what=f"a strategy recommendation for {sym}")
    family = family_of(bars)
    roles = ROLES[family]
    model, info = serving(roles["selector"], bars)
    models = {roles["selector"]: describe(info)}
    try:
        regime_model, regime_info = serving(roles["regime"], bars)
        models[roles["regime"]] = describe(regime_info)
    except PaiidError:  # the recommendation still works with the selector's own regime rule
        regime_model = None
    if family == "close_only":
        answer = panel.recommend_answer(model, regime_model, bars, sym, panel_snapshot(info))
    else:
        answer = ml_selector.recommend_answer(model, regime_model, bars, sym)
    _named(answer, family, info)
    answer["models"] = models
    answer["prediction_id"] = log_served("recommendation", sym, answer, model_name=roles["selector"],
                                         model_version=info.version, user_id=user_id)
    return answer


def trade(symbol: str, strategy: str, side: str | None = None, date: str | None = None, *,
          user_id: str | None = None) -> dict[str, Any]:
    """`paiid predict-trade` / `POST /api/ml/predict-trade`: win probability of a proposed trade
    (a close-only series: by the panel trade model, barriers in the ATR of the closes)."""
    tid = get_strategy(strategy).id  # names the valid ids
    if side is not None:
        parse_side(side)
    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date, min_bars=ml_context.MIN_BARS, what=f"a trade prediction for {sym}")
    family = family_of(bars)
    name = ROLES[family]["tradeprob"]
    model, info = serving(name, bars)
    answer_of = panel.trade_answer if family == "close_only" else trade_answer
    answer = _named(answer_of(model, bars, sym, tid, side), family, info)
    answer["prediction_id"] = log_served("trade", sym, answer, model_name=name,
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

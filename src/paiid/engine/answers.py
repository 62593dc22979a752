"""The four served answers — market regime, strategy recommendation, trade probability, patterns — built
in one place for the CLI and the HTTP API, and each one logged in the prediction log.

Why here and not in the front ends: both must validate the same way (bad input fails before any model is
loaded or trained), cut the bars at the as-of date the same way, and log what they served, so that
`paiid track` can score every answer a user saw after the fact (its model version and as-of date go
with it). Routers and commands only parse and render.
"""

from __future__ import annotations

from typing import Any

from paiid.engine.tracking import log_served


def regime(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid regime` / `GET /api/ml/market-regime` as of the close of `date` (default: last bar)."""
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.errors import NotEnoughHistory
    from paiid.ml.regime import MIN_BARS, regime_answer

    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date)
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"regime detection for {sym}", MIN_BARS, len(bars))
    answer = regime_answer(get_model("regime"), bars, sym)
    log_served("regime", sym, answer, model_name="regime", user_id=user_id)
    return answer


def recommendation(symbol: str, date: str | None = None, *, user_id: str | None = None) -> dict[str, Any]:
    """`paiid recommend` / `GET /api/ml/recommend-strategy`: templates ranked for the next 20 bars."""
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.errors import PaiidError
    from paiid.ml.selector import MIN_BARS, recommend_answer

    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date, min_bars=MIN_BARS, what=f"a strategy recommendation for {sym}")
    model = get_model("selector")
    try:
        regime_model = get_model("regime")
    except PaiidError:  # the recommendation still works with the selector's own regime rule
        regime_model = None
    answer = recommend_answer(model, regime_model, bars, sym)
    log_served("recommendation", sym, answer, model_name="selector", user_id=user_id)
    return answer


def trade(symbol: str, strategy: str, side: str | None = None, date: str | None = None, *,
          user_id: str | None = None) -> dict[str, Any]:
    """`paiid predict-trade` / `POST /api/ml/predict-trade`: win probability of a proposed trade."""
    from paiid.backtest import get_strategy
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.ml.selector import MIN_BARS
    from paiid.ml.tradeprob import parse_side, trade_answer

    tid = get_strategy(strategy).id  # names the valid ids
    if side is not None:
        parse_side(side)
    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date, min_bars=MIN_BARS, what=f"a trade prediction for {sym}")
    answer = trade_answer(get_model("tradeprob"), bars, sym, tid, side)
    log_served("trade", sym, answer, model_name="tradeprob", user_id=user_id)
    return answer


def patterns(symbol: str, date: str | None = None, timeframe: str = "daily", *,
             user_id: str | None = None) -> dict[str, Any]:
    """`paiid patterns` / `GET /api/ml/detect-patterns`: patterns confirmed recently, as of `date`."""
    from paiid.data import load_bars, normalise_symbol
    from paiid.engine.service import get_model
    from paiid.errors import NotEnoughHistory
    from paiid.ml.patterns import MIN_BARS, patterns_answer, to_timeframe

    sym = normalise_symbol(symbol)
    bars = load_bars(sym, end=date)
    n_bars = len(to_timeframe(bars, timeframe))
    if n_bars < MIN_BARS:
        raise NotEnoughHistory(f"pattern detection for {sym} on {timeframe} bars", MIN_BARS, n_bars)
    answer = patterns_answer(get_model("pattern_scorer"), bars, sym, timeframe)
    log_served("pattern", sym, answer, model_name="pattern_scorer", user_id=user_id)
    return answer

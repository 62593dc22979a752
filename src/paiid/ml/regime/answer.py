"""The market-regime answer of the contract (`paiid regime`, `GET /api/ml/market-regime`)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sklearn.utils.validation import check_is_fitted

from paiid.errors import NotEnoughHistory
from paiid.metrics import bars_per_year
from paiid.ml.context import AnswerContext
from paiid.ml.regime.inputs import INPUT_NAMES, MIN_BARS
from paiid.ml.regime.model import RegimeDetector
from paiid.ml.regime.naming import REGIMES

#: |volume_trend| below this (about 5 % between the 10- and 50-bar mean volume) is "flat".
VOLUME_FLAT = 0.05


def _volume_trend_label(value: float) -> str:
    if not math.isfinite(value) or abs(value) < VOLUME_FLAT:
        return "flat"
    return "increasing" if value > 0 else "decreasing"


def regime_answer(
    model: RegimeDetector, bars: pd.DataFrame, symbol: str, *, context: AnswerContext | None = None
) -> dict[str, Any]:
    """The market-regime JSON of the contract, as of the last bar of `bars` (callers cut at `--date`).

    `context`: the shared `AnswerContext` of these bars, when other answers read them too.
    Beside the contract's keys: `detail` (which kind of regime: e.g. ``volatile_bear`` for a crash in a
    falling market, see `market`), `state` (the fitted volatility/direction state behind it) and
    `typicality` (how far today's inputs are from the training inputs; when unusual, the confidence is
    multiplied by its `confidence_factor`).
    """
    check_is_fitted(model, ["means_", "strategy_ranking_", "typicality_"])
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"regime detection for {symbol}", MIN_BARS, len(bars))
    ctx = AnswerContext.of(symbol, bars, context)
    hist = ctx.regime_history(model)
    regime = hist["regime"][-1]
    if regime is None:  # past the warm-up: an input the data leave undefined (raises, naming it)
        x = model.inputs(bars, ctx.features)[-1]
        ctx.require_defined(f"regime detection for {symbol}", INPUT_NAMES, x)
    x_last = model.inputs(bars, ctx.features)[-1]
    typicality = model.typicality_.assess(x_last)
    last = ctx.features.iloc[-1]
    ann = math.sqrt(bars_per_year(bars.index))
    proba = hist["proba"][-1]
    days = int(hist["days"][-1])
    since = bars.index[len(bars) - days]
    ranking = list(model.strategy_ranking_.get(regime, []))
    raw = hist["raw"]
    pending = None
    if raw[-1] != regime:  # another regime leads but has not lasted `min_duration` bars yet
        run = 1
        while run < len(raw) and raw[-1 - run] == raw[-1]:
            run += 1
        pending = {"regime": raw[-1], "bars_so_far": run, "bars_needed": int(model.min_duration)}
    return {
        "symbol": symbol,
        "as_of": bars.index[-1].isoformat(),
        "current_regime": regime,
        "detail": hist["detail"][-1],
        "confidence": float(hist["confidence"][-1]) * float(typicality["confidence_factor"]),
        "features": {
            "volatility": float(last["rvol_20"]) * ann,
            "trend_strength": float(last["adx_14"]),
            "volume_trend": _volume_trend_label(float(last["volume_trend"])),
        },
        "recommended_strategies": ranking,
        "probabilities": {r: float(p) for r, p in zip(REGIMES, proba, strict=True)},
        "most_probable_today": raw[-1],
        "state": hist["state"][-1],
        "typicality": typicality,
        "pending_change": pending,
        "days_in_regime": days,
        "regime_since": since.isoformat(),
        "strategy_sharpe": dict(model.strategy_sharpe_.get(regime, {})),
        "method": model.method,
        "notes": {
            "volatility": "20-bar realised volatility, annualised",
            "trend_strength": "ADX(14), 0-100; above 25 is usually read as a trend",
            "confidence": "forward-filtered probability of the reported regime (uses no later bar), "
                          "times typicality.confidence_factor",
            "detail": "volatile_bear, bear_market_range, bear_market_rally, bear_trend, volatile_bull, "
                      "volatile_whipsaw, bull_pullback, range, bull_trend or recovery "
                      "(see paiid.ml.regime.market)",
            "recommended_strategies":
                "families with a positive out-of-sample Sharpe in this regime, best first",
        },
    }

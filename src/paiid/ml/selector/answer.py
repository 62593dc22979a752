"""The `recommend-strategy` answer: templates ranked by calibrated probability, with expectations and reasons.

Served as of the last bar of the bars given (callers cut them at `--date`). The features are rebuilt the
way the model was trained (`regime_source`), the probabilities come from the calibrated model, expected
return and risk from the out-of-sample history it was fitted with, and each reason from the features
that pushed that template's probability up.

Two honesty checks go with every answer:

* `stand_aside` (`paiid.ml.selector.edge`): true, with `stand_aside_reason`, when no template's forward
  return among the most similar past decision dates clears zero by one standard error (effective count
  n x step / horizon); the ranking is still given.
* `typicality` (`paiid.ml.typicality`): how far today's inputs are from the selector's training rows.
  When unusual, the probabilities are shrunk toward uniform, p -> f p + (1 - f) / k with f the
  `confidence_factor` (the order is kept), and every reason says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from paiid.errors import NotEnoughHistory
from paiid.metrics import bars_per_year
from paiid.ml.context import MIN_BARS, AnswerContext, SymbolContext, feature_matrix
from paiid.ml.selector.edge import EDGE_Z, verdict
from paiid.ml.selector.explain import describe_feature, past_rank, tercile
from paiid.ml.selector.model import StrategySelector


def market_conditions(ctx: SymbolContext, regime: str, confidence: float | None) -> dict[str, Any]:
    """Regime, volatility (low/normal/high against the symbol's own past) and trend at the last bar."""
    f = ctx.features
    rv = f["rvol_20"].to_numpy(np.float64)
    last = rv[-1]
    pct = past_rank(last, rv)
    adx = float(f["adx_14"].iloc[-1])
    slope = float(f["ma_slope_50"].iloc[-1])
    trend = "sideways" if adx < 20 else ("up" if slope > 0 else "down")
    return {
        "regime": regime,
        "regime_confidence": None if confidence is None else float(confidence),
        "volatility": tercile(pct),
        "volatility_annualized": float(last * np.sqrt(bars_per_year(ctx.bars.index))),
        "volatility_percentile": round(100 * pct, 1),
        "trend": trend,
        "trend_strength_adx": adx,
    }


def _served_regime(regime_model: Any, shared: AnswerContext, ctx: SymbolContext) -> tuple[str, float | None]:
    """The regime to show: the regime model's at the last bar when there is one, else the features'.

    The regime model's is what the market-regime answer reports (the same history, read from the shared
    context). A selector trained on rule-based regimes can meet a regime model that has no answer at
    this bar (an input undefined there); the answer then shows the rule's regime, which its features used.
    """
    if regime_model is not None:
        hist = shared.regime_history(regime_model)
        if hist["regime"][-1] is not None:
            return str(hist["regime"][-1]), float(hist["confidence"][-1])
    return str(ctx.regime[-1]), float(ctx.regime_conf[-1])


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def recommend_answer(
    model: StrategySelector, regime_model: Any, bars: pd.DataFrame, symbol: str, *,
    context: AnswerContext | None = None,
) -> dict[str, Any]:
    """The contract's `recommend-strategy` JSON as of the last bar of `bars`.

    Probabilities over all templates sum to 1 and are sorted descending; each entry has the expected
    forward return over `horizon_bars` and a risk score (0-100) from the out-of-sample history, and a
    reason naming the features that drove it; `stand_aside` / `stand_aside_reason` and `typicality`
    as in the module docstring. `context`: the shared `AnswerContext` of these bars.
    """
    check_is_fitted(model)
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a strategy recommendation for {symbol}", MIN_BARS, len(bars))
    shared = AnswerContext.of(symbol, bars, context)
    used_regime_model = regime_model if model.regime_source == "model" else None
    ctx = shared.symbol_context(model.templates_, used_regime_model)
    x = feature_matrix(ctx, model.templates_)[-1]
    shared.require_defined(f"a strategy recommendation for {symbol}", model.feature_names_, x)
    feat_regime = str(ctx.regime[-1])
    shown_regime, conf = _served_regime(regime_model, shared, ctx)
    proba, drivers = model.proba_and_drivers(x)  # the forests asked once for both
    typicality = model.typicality_.assess(x)
    factor = float(typicality["confidence_factor"])
    if factor < 1.0:
        proba = factor * proba + (1.0 - factor) / proba.size
    exp = model.expectations(x, feat_regime)
    stand_aside, stand_aside_reason, lower = verdict(exp, model.templates_, model.horizon, model.step)
    recs = []
    for j, tid in enumerate(model.templates_):
        names = [n for n, _ in drivers[j]]
        phrases = [describe_feature(model, n, x, shown_regime, ctx.features) for n in names]
        if "regime" not in names:
            phrases.append(describe_feature(model, "regime", x, shown_regime))
        if factor < 1.0:
            phrases.append(f"inputs unusual for the model ({typicality['percentile']:.1f}th percentile of "
                           f"distance to its training rows): probability shrunk toward uniform by "
                           f"{factor:g}")
        recs.append(
            {
                "strategy_id": tid,
                "probability": float(proba[j]),
                "expected_return": _finite(exp["expected_return"][j]),
                "risk_score": _finite(exp["risk_score"][j]),
                "reason": ", ".join(phrases),
                "expected_return_lower": _finite(lower[j]),
                "expected_drawdown": _finite(exp["drawdown"][j]),
                "historical_win_rate": _finite(exp["win_rate"][j]),
                "drivers": [{"feature": n, "effect": round(v, 4)} for n, v in drivers[j]],
            }
        )
    recs.sort(key=lambda r: (-r["probability"], r["strategy_id"]))
    return {
        "symbol": symbol,
        "as_of": bars.index[-1].isoformat(),
        "recommendations": recs,
        "market_conditions": market_conditions(ctx, shown_regime, conf),
        "stand_aside": bool(stand_aside),
        "stand_aside_reason": stand_aside_reason,
        "typicality": typicality,
        "horizon_bars": int(model.horizon),
        "validation": dict(model.validation_) or None,
        "basis": f"expected_return and risk_score from the {exp['neighbours']} most similar out-of-sample "
        f"decision dates of the walk-forward validation; risk_score = percentile of the mean "
        f"{model.horizon}-bar drawdown; expected_return_lower = mean - {EDGE_Z:g} standard error of those "
        f"returns (the stand-aside rule)",
    }

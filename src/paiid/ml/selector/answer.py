"""The `recommend-strategy` answer: templates ranked by calibrated probability, with expectations and reasons.

Served as of the last bar of the bars given (callers cut them at `--date`). The features are rebuilt the
way the model was trained (`regime_source`), the probabilities come from the calibrated model, expected
return and risk from the out-of-sample history it was fitted with, and each reason from the features
that pushed that template's probability up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from paiid.backtest import bars_per_year
from paiid.errors import NotEnoughHistory
from paiid.ml.context import MIN_BARS, SymbolContext, build_context, feature_matrix
from paiid.ml.regime import regime_answer
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


def _served_regime(
    regime_model: Any, bars: pd.DataFrame, symbol: str, ctx: SymbolContext
) -> tuple[str, float | None]:
    """The regime to show: the regime model's answer when there is one, else the rule at the last bar.

    A selector trained on rule-based regimes can meet a regime model that has no answer yet at this bar
    (its inputs still warming up); the answer then shows the rule's regime, which its features used.
    """
    if regime_model is not None:
        try:
            ans = regime_answer(regime_model, bars, symbol)
        except NotEnoughHistory:
            pass
        else:
            return str(ans["current_regime"]), float(ans["confidence"])
    return str(ctx.regime[-1]), float(ctx.regime_conf[-1])


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def recommend_answer(
    model: StrategySelector, regime_model: Any, bars: pd.DataFrame, symbol: str
) -> dict[str, Any]:
    """The contract's `recommend-strategy` JSON as of the last bar of `bars`.

    Probabilities over all templates sum to 1 and are sorted descending; each entry has the expected
    forward return over `horizon_bars` and a risk score (0-100) from the out-of-sample history, and a
    reason naming the features that drove it.
    """
    check_is_fitted(model)
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a strategy recommendation for {symbol}", MIN_BARS, len(bars))
    used_regime_model = regime_model if model.regime_source == "model" else None
    ctx = build_context(symbol, bars, used_regime_model, model.templates_)
    x = feature_matrix(ctx, model.templates_)[-1]
    if not np.isfinite(x).all():
        bad = [n for n, v in zip(model.feature_names_, x, strict=True) if not np.isfinite(v)]
        raise NotEnoughHistory(
            f"a strategy recommendation for {symbol} (undefined: {', '.join(bad[:4])})", MIN_BARS, len(bars)
        )
    feat_regime = str(ctx.regime[-1])
    shown_regime, conf = _served_regime(regime_model, bars, symbol, ctx)
    proba = model.predict_proba(x[None, :])[0]
    exp = model.expectations(x, feat_regime)
    drivers = model.drivers(x)
    recs = []
    for j, tid in enumerate(model.templates_):
        names = [n for n, _ in drivers[j]]
        phrases = [describe_feature(model, n, x, shown_regime, ctx.features) for n in names]
        if "regime" not in names:
            phrases.append(describe_feature(model, "regime", x, shown_regime))
        recs.append(
            {
                "strategy_id": tid,
                "probability": float(proba[j]),
                "expected_return": _finite(exp["expected_return"][j]),
                "risk_score": _finite(exp["risk_score"][j]),
                "reason": ", ".join(phrases),
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
        "horizon_bars": int(model.horizon),
        "validation": dict(model.validation_) or None,
        "basis": f"expected_return and risk_score from the {exp['neighbours']} most similar out-of-sample "
        f"decision dates of the walk-forward validation; risk_score = percentile of the mean "
        f"{model.horizon}-bar drawdown",
    }

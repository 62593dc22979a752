"""The symbol context: what the strategy selector and the trade-probability model both read about a symbol.

Why one context: both models look at the same four templates on the same bars. Each template is
backtested once over the symbol's whole history (`paiid.backtest.run_backtest`, costs included) and the
models read its per-bar returns and positions from there; running one backtest per decision date
instead would restart every template flat and mislabel held trends. Everything here is known at the
close of bar t (features from bars 0..t, each template's position decided at t, its realised returns up
to t), which `paiid.ml.leakage.check_causal` proves on real bars.

* `build_context` - features, one backtest per template and the regime per bar for one symbol;
* `template_state` - each template's position and trailing risk-adjusted performance per bar;
* `regime_per_bar` / `rule_regime` / `regime_matrix` - the regime columns (trained model or rule);
* `feature_matrix` / `feature_names` - the selector's inputs per bar, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES, run_backtest
from paiid.data import load_bars
from paiid.features import SCALE_FREE, WARMUP, build_features
from paiid.ml.regime import regime_history

#: The four templates in a fixed order: class k of the selector is TEMPLATES[k].
TEMPLATES: list[str] = list(STRATEGIES)
#: Short names used in feature names.
SHORT = {
    "trend-following-ma-cross": "trend",
    "mean-reversion-bb-rsi": "meanrev",
    "momentum-macd": "macd",
    "momentum-breakout": "breakout",
}
REGIMES = ["trending_bullish", "trending_bearish", "ranging", "high_volatility"]
REGIME_FEATURES = [f"regime_{r}" for r in REGIMES] + ["regime_confidence"]
#: Trailing windows for the templates' own recent performance (a feature known at t).
PERF_WINDOWS = (20, 60)
#: Bars a symbol needs before a model can answer (feature warm-up + longest trailing window).
MIN_BARS = WARMUP + max(PERF_WINDOWS) + 1
#: Label horizon in bars: how far ahead the selector's label looks, and so how far past a decision
#: date `check_causal` must stay.
HORIZON = 20


def _short(tid: str) -> str:
    return SHORT.get(tid, tid.replace("-", "_"))


def template_feature_names(templates: Sequence[str] = TEMPLATES) -> list[str]:
    """Per-template state features: current position and trailing risk-adjusted performance."""
    names = [f"pos_{_short(t)}" for t in templates]
    for w in PERF_WINDOWS:
        names += [f"perf{w}_{_short(t)}" for t in templates]
    return names


def feature_names(templates: Sequence[str] = TEMPLATES) -> list[str]:
    """Every input column of the selector, in order."""
    return list(SCALE_FREE) + REGIME_FEATURES + template_feature_names(templates)


def load_symbols(symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Bars for each symbol (whole history)."""
    return {s: load_bars(s) for s in symbols}


# ------------------------------------------------------------------------------------------ regime


def rule_regime(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A transparent fallback regime per bar (labels, confidence) from features known at t.

    Used when no trained regime model is given. high_volatility when 20-bar volatility is 1.5x its
    60-bar level or in the top decile of its own past (expanding, so causal); otherwise trending when
    ADX >= 25 with the 50-bar MA sloping in the trend's direction, else ranging. Confidence is a crude
    distance from the nearest rule threshold, squashed to 0.5..1.
    """
    adx = features["adx_14"].to_numpy(np.float64)
    slope = features["ma_slope_50"].to_numpy(np.float64)
    dist = features["dist_sma_50"].to_numpy(np.float64)
    rv = features["rvol_20"].to_numpy(np.float64)
    ratio = features["vol_ratio"].to_numpy(np.float64)
    past_q = pd.Series(rv).expanding(min_periods=WARMUP).quantile(0.9).to_numpy()
    with np.errstate(invalid="ignore"):
        hv = (ratio > 1.5) | (rv > past_q)
        trending = adx >= 25
        bull = trending & (slope > 0) & (dist > 0)
        bear = trending & (slope < 0) & (dist < 0)
    labels = np.full(len(features), "ranging", dtype=object)
    labels[bull] = "trending_bullish"
    labels[bear] = "trending_bearish"
    labels[hv] = "high_volatility"
    with np.errstate(invalid="ignore"):
        margin = np.where(hv, np.abs(ratio - 1.5) / 0.5, np.abs(adx - 25) / 10)
    conf = 0.5 + 0.5 * np.tanh(np.nan_to_num(margin))
    return labels, conf


def regime_per_bar(
    regime_model: Any, bars: pd.DataFrame, features: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, str]:
    """Regime label and confidence at every bar, plus where they came from ("model" or "rules").

    With a trained regime model its causal per-bar history (`paiid.ml.regime.regime_history`: each
    bar's regime from data up to it); without one, `rule_regime`, so that a selector can be trained
    and served before any regime model exists.
    """
    if regime_model is not None:
        hist = regime_history(regime_model, bars)
        return np.asarray(hist["regime"], dtype=object), np.asarray(hist["confidence"], np.float64), "model"
    labels, conf = rule_regime(features)
    return labels, conf, "rules"


def regime_matrix(labels: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """One-hot regime columns plus confidence (REGIME_FEATURES order)."""
    out = np.zeros((len(labels), len(REGIMES) + 1))
    for k, r in enumerate(REGIMES):
        out[:, k] = labels == r
    out[:, -1] = conf
    return out


# ------------------------------------------------------------------------------------------ context


@dataclass
class SymbolContext:
    """Everything per symbol that both the selector and the trade-probability model read.

    `returns[tid]` are the template's per-bar returns after costs (`returns[t]` is earned from the close
    of t-1 to the close of t by the position decided at t-1); `signals[tid][t]` is the position it
    wants at the close of t.
    """

    symbol: str
    bars: pd.DataFrame
    features: pd.DataFrame
    returns: dict[str, np.ndarray]
    signals: dict[str, np.ndarray]
    regime: np.ndarray
    regime_conf: np.ndarray
    regime_source: str
    asset_returns: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return len(self.bars)


def build_context(
    symbol: str, bars: pd.DataFrame, regime_model: Any = None, templates: Sequence[str] = TEMPLATES
) -> SymbolContext:
    """Features, one full-history backtest per template and the regime for one symbol."""
    feats = build_features(bars)
    rets: dict[str, np.ndarray] = {}
    sigs: dict[str, np.ndarray] = {}
    for tid in templates:
        # close_at_end=False: an open trade is marked to market on the last bar instead of paying its
        # exit costs there, so returns up to t are identical whether or not later bars exist (causal).
        res = run_backtest(bars, tid, features=feats, close_at_end=False)
        rets[tid] = np.asarray(res.returns, dtype=np.float64)
        sigs[tid] = np.asarray(res.signals, dtype=np.float64)
    labels, conf, source = regime_per_bar(regime_model, bars, feats)
    close = bars["close"].to_numpy(np.float64)
    asset = np.zeros(len(close))
    asset[1:] = close[1:] / close[:-1] - 1.0
    return SymbolContext(symbol, bars, feats, rets, sigs, labels, conf, source, asset)


def _rolling_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum of x[t-w+1..t] (NaN before w values exist)."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(x.size, np.nan)
    out[w - 1 :] = c[w:] - c[:-w]
    return out


def template_state(ctx: SymbolContext, templates: Sequence[str] = TEMPLATES) -> np.ndarray:
    """Per bar: each template's position at the close and its trailing return over PERF_WINDOWS bars,
    scaled by the asset's 20-bar volatility (so it is comparable across symbols). Known at t."""
    vol = ctx.features["rvol_20"].to_numpy(np.float64)
    cols = [ctx.signals[t] for t in templates]
    for w in PERF_WINDOWS:
        with np.errstate(invalid="ignore", divide="ignore"):
            cols += [_rolling_sum(ctx.returns[t], w) / (vol * np.sqrt(w)) for t in templates]
    return np.column_stack(cols)


#: Extra feature columns: name -> function of a SymbolContext returning one value per bar. Used by tests
#: (e.g. an intentionally leaky column) and experiments; `check_causal` must accept every one of them.
ExtraFeatures = Mapping[str, Callable[[SymbolContext], np.ndarray]]


def feature_matrix(
    ctx: SymbolContext, templates: Sequence[str] = TEMPLATES, extra: ExtraFeatures | None = None
) -> np.ndarray:
    """The selector's inputs at every bar (rows during warm-up contain NaN)."""
    base = ctx.features[list(SCALE_FREE)].to_numpy(np.float64)
    cols = [base, regime_matrix(ctx.regime, ctx.regime_conf), template_state(ctx, templates)]
    cols += [np.asarray(fn(ctx), dtype=np.float64)[:, None] for fn in (extra or {}).values()]
    return np.column_stack(cols)

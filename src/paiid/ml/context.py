"""The symbol context: what the strategy selector and the trade-probability model both read about a symbol.

Why one context: both models look at the same four templates on the same bars. Each template is
backtested once over the symbol's whole history (`paiid.backtest.run_backtest`, costs included) and the
models read its per-bar returns and positions from there; running one backtest per decision date
instead would restart every template flat and mislabel held trends. Everything here is known at the
close of bar t (features from bars 0..t, each template's position decided at t, its realised returns up
to t), which `paiid.ml.leakage.check_causal` proves on real bars.

* `AnswerContext` - one symbol's bars as of one bar and everything the served answers compute from
  them (features, backtests, regime history), each computed once, on first use;
* `build_context` - features, one backtest per template and the regime per bar for one symbol;
* `template_state` - each template's position and trailing risk-adjusted performance per bar;
* `regime_per_bar` / `rule_regime` / `regime_matrix` - the regime columns (trained model or rule);
* `feature_matrix` / `feature_names` - the selector's inputs per bar, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES, run_backtest
from paiid.data import load_bars
from paiid.errors import BadInput
from paiid.features import SCALE_FREE, WARMUP, build_features

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


def feature_names(templates: Sequence[str] = TEMPLATES, *, features: Sequence[str] | None = None,
                  regime: bool = True) -> list[str]:
    """Every input column of the selector, in order: `features` (default `SCALE_FREE`), the regime
    columns unless `regime=False`, then the template state. The panel selector passes the features
    closes define and no regime (`paiid.ml.panel`: the regime rules need high and low)."""
    base = list(SCALE_FREE if features is None else features)
    return base + (REGIME_FEATURES if regime else []) + template_feature_names(templates)


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

    With a trained regime model its causal per-bar history (`RegimeDetector.history`: each bar's regime
    from data up to it); without one, `rule_regime`, so that a selector can be trained and served before
    any regime model exists.
    """
    if regime_model is not None:
        return _model_regime(regime_model.history(bars, features))
    labels, conf = rule_regime(features)
    return labels, conf, "rules"


def _model_regime(history: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, str]:
    return np.asarray(history["regime"], dtype=object), np.asarray(history["confidence"], np.float64), "model"


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


class AnswerContext:
    """One symbol's bars as of one bar, and what the served answers compute from them, each piece once.

    Why: an AI recommendation asks four models about the same bars, and each used to compute its own
    features, template backtests and regime history (the regime answer twice, the four backtests once
    per model). The engine builds one context per (symbol, as-of) and hands it to every answer
    (`context=`); a piece is computed the first time an answer reads it, so a single answer pays only
    for what it reads. The regime history is kept per regime model, so answers given different models
    never share one. Not thread-safe: one context serves one request.
    """

    def __init__(self, symbol: str, bars: pd.DataFrame) -> None:
        self.symbol = symbol
        self.bars = bars
        self._backtests: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._regimes: dict[int, tuple[Any, dict[str, np.ndarray]]] = {}

    @classmethod
    def of(cls, symbol: str, bars: pd.DataFrame, context: AnswerContext | None = None) -> AnswerContext:
        """`context` if given (it must have been built on these very bars), else a new context."""
        if context is None:
            return cls(symbol, bars)
        if context.bars is not bars:
            raise ValueError(f"the context of {context.symbol} was built on other bars than these")
        return context

    @cached_property
    def features(self) -> pd.DataFrame:
        return build_features(self.bars)

    @cached_property
    def asset_returns(self) -> np.ndarray:
        close = self.bars["close"].to_numpy(np.float64)
        out = np.zeros(len(close))
        out[1:] = close[1:] / close[:-1] - 1.0
        return out

    @cached_property
    def rule_regime(self) -> tuple[np.ndarray, np.ndarray]:
        return rule_regime(self.features)

    def backtest(self, tid: str) -> tuple[np.ndarray, np.ndarray]:
        """(per-bar returns after costs, per-bar target position) of template `tid` over all bars."""
        if tid not in self._backtests:
            # close_at_end=False: an open trade is marked to market on the last bar instead of paying its
            # exit costs there, so returns up to t are identical whether or not later bars exist (causal).
            res = run_backtest(self.bars, tid, features=self.features, close_at_end=False)
            self._backtests[tid] = (np.asarray(res.returns, np.float64), np.asarray(res.signals, np.float64))
        return self._backtests[tid]

    def regime_history(self, regime_model: Any) -> dict[str, np.ndarray]:
        """`regime_model.history` on these bars (per-bar regime, confidence, probabilities, run length)."""
        key = id(regime_model)
        if key not in self._regimes:  # the model is kept with its history so that its id stays unique
            self._regimes[key] = (regime_model, regime_model.history(self.bars, self.features))
        return self._regimes[key][1]

    def regime_columns(self, regime_model: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """`regime_per_bar` from this context's memory."""
        if regime_model is None:
            return (*self.rule_regime, "rules")
        return _model_regime(self.regime_history(regime_model))

    def symbol_context(self, templates: Sequence[str] = TEMPLATES, regime_model: Any = None) -> SymbolContext:
        """What a model reads: the backtests of `templates` and the regime of `regime_model` (None: rules)."""
        tests = {tid: self.backtest(tid) for tid in templates}
        labels, conf, source = self.regime_columns(regime_model)
        return SymbolContext(
            self.symbol, self.bars, self.features, {t: r for t, (r, _) in tests.items()},
            {t: s for t, (_, s) in tests.items()}, labels, conf, source, self.asset_returns,
        )

    def require_defined(self, what: str, names: Sequence[str], values: np.ndarray) -> None:
        """BadInput naming the model inputs (`names`, `values` at the last bar) that are undefined.

        Why not NotEnoughHistory: past the warm-up an input is undefined only when the data make it so
        (a price that does not move has zero volatility, and a ratio to it has no value), and
        "needs at least 201 bars, but only 400 are available" would send the user after more history.
        """
        bad = [n for n, v in zip(names, np.asarray(values, np.float64), strict=True) if not np.isfinite(v)]
        if not bad:
            return
        shown = ", ".join(bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
        noun, verb = ("feature", "is") if len(bad) == 1 else ("features", "are")
        raise BadInput(
            f"{what}: {self.symbol} has {len(self.bars)} bars, but {noun} {shown} {verb} undefined at the "
            f"last bar ({self.bars.index[-1].date()}), typically because the price did not move over the "
            "look-back window; check the data, or ask for a date before that stretch"
        )


def build_context(
    symbol: str, bars: pd.DataFrame, regime_model: Any = None, templates: Sequence[str] = TEMPLATES
) -> SymbolContext:
    """Features, one full-history backtest per template and the regime for one symbol."""
    return AnswerContext(symbol, bars).symbol_context(templates, regime_model)


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
    ctx: SymbolContext, templates: Sequence[str] = TEMPLATES, extra: ExtraFeatures | None = None, *,
    features: Sequence[str] | None = None, regime: bool = True,
) -> np.ndarray:
    """The selector's inputs at every bar (rows during warm-up contain NaN), in `feature_names` order
    for the same `features` and `regime`."""
    base = ctx.features[list(SCALE_FREE if features is None else features)].to_numpy(np.float64)
    cols = [base] + ([regime_matrix(ctx.regime, ctx.regime_conf)] if regime else [])
    cols += [template_state(ctx, templates)]
    cols += [np.asarray(fn(ctx), dtype=np.float64)[:, None] for fn in (extra or {}).values()]
    return np.column_stack(cols)

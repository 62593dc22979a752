"""The strategy-selector training set: one row per decision date, features known at t, label from t+1..t+H.

Why it is built this way:

* **Real backtests, run once.** Each of the four templates is backtested once over a symbol's whole
  history (`paiid.backtest.run_backtest`, costs included). The label of decision date t is read from the
  templates' per-bar returns `r[t+1..t+H]`, i.e. what following that template would have earned over the
  next H bars *given the position it already held at t* — exactly what a user switching to it at t gets.
  Running one backtest per window instead would restart every template flat and mislabel held trends.
* **No lookahead.** Features at t come from `build_features` (bars 0..t), the templates' own signals at
  the close of t (they act at t+1's open) and their realised returns up to t. Nothing from t+1 on enters
  a feature; every row carries its label window `[t+1, t+H]` (`t_pos`, `end_pos`, `t_date`, `end_date`)
  so validation can purge rows whose label overlaps a test window (`label_end_rows`).
* **Risk-adjusted label.** Score of template j = sum of its H forward returns divided by
  `sqrt(H) * max(std_j, floor)`, where the floor is half the asset's own per-bar volatility over the same
  window: a template that sits almost flat cannot win on a tiny denominator. The label is the template
  with the highest score; windows where every template is flat (a four-way tie at 0) carry no
  information about which to pick and are dropped.
* **Subsampled decision dates** (every `step` bars, default 5) cut the overlap between neighbouring labels
  (and the cost); the purge still handles what remains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES, run_backtest
from paiid.features import SCALE_FREE, WARMUP, build_features

#: Label horizon in bars (the issue's default).
HORIZON = 20
#: Decision dates are every STEP bars.
STEP = 5
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
#: Trailing windows for the templates' own recent performance (a feature known at t).
PERF_WINDOWS = (20, 60)


def _short(tid: str) -> str:
    return SHORT.get(tid, tid.replace("-", "_"))


def template_feature_names(templates: Sequence[str] = TEMPLATES) -> list[str]:
    """Per-template state features: current position and trailing risk-adjusted performance."""
    names = [f"pos_{_short(t)}" for t in templates]
    for w in PERF_WINDOWS:
        names += [f"perf{w}_{_short(t)}" for t in templates]
    return names


REGIME_FEATURES = [f"regime_{r}" for r in REGIMES] + ["regime_confidence"]


def feature_names(templates: Sequence[str] = TEMPLATES) -> list[str]:
    """Every input column of the selector, in order."""
    return list(SCALE_FREE) + REGIME_FEATURES + template_feature_names(templates)


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

    The trained regime model (issue 4, `deps["regime"]`) is asked for its per-bar history through
    `regime_history(model, bars)` when that exists (causal: each bar's regime from data up to it); any
    failure falls back to `rule_regime` so the selector never depends on another area being finished.
    """
    if regime_model is not None:
        try:
            from paiid.ml import regime as regime_mod

            fn = getattr(regime_mod, "regime_history", None)
            if fn is not None:
                hist = fn(regime_model, bars)
                labels = np.asarray(hist["regime"], dtype=object)
                conf = np.asarray(hist["confidence"], dtype=np.float64)
                if labels.shape == (len(bars),) and conf.shape == (len(bars),):
                    return labels, conf, "model"
        except Exception:  # noqa: BLE001 - a broken dependency must not break the selector
            pass
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


class LeakageError(AssertionError):
    """A feature at bar t changed when bars after t were removed: it looks into the future."""


def check_causal(
    bars: pd.DataFrame,
    *,
    symbol: str = "CHECK",
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    extra: ExtraFeatures | None = None,
    points: int = 4,
    horizon: int = HORIZON,
) -> dict[str, Any]:
    """Prove the feature rows are causal: recompute them on bars cut just after t and compare with the
    full-history row t, at `points` decision dates. Raises `LeakageError` naming every column that
    differs (i.e. whose look-back reaches into the label window t+1..t+H).

    This is the check that catches a feature that *is* the future return: walk-forward purging stops
    overlapping labels from leaking between train and test, but cannot see inside a feature column.
    """
    names = feature_names(templates) + list(extra or {})
    full = feature_matrix(build_context(symbol, bars, regime_model, templates), templates, extra)
    n = len(bars)
    lo = min(WARMUP + 60, n - 1)
    at = np.unique(np.linspace(lo, max(lo, n - 1 - horizon), points).astype(int))
    bad: dict[str, int] = {}
    for t in at:
        cut = build_context(symbol, bars.iloc[: t + 1], regime_model, templates)
        row = feature_matrix(cut, templates, extra)[t]
        same = np.isclose(row, full[t], rtol=1e-9, atol=1e-12) | (np.isnan(row) & np.isnan(full[t]))
        for j in np.flatnonzero(~same):
            bad.setdefault(names[j], int(t))
    if bad:
        raise LeakageError(
            "features change when later bars are removed (they use data after the decision date, which "
            "overlaps the label window): " + ", ".join(f"{k} (at bar {v})" for k, v in bad.items())
        )
    return {"checked_bars": [int(t) for t in at], "features": len(names), "causal": True}


# ------------------------------------------------------------------------------------------ labels


def forward_scores(
    ctx: SymbolContext, horizon: int = HORIZON, templates: Sequence[str] = TEMPLATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every bar t with a full window: (score, total return, max drawdown) per template over
    r[t+1..t+H], and the asset's return over the same window. Rows without a full window are NaN."""
    n, k = ctx.n, len(templates)
    score = np.full((n, k), np.nan)
    total = np.full((n, k), np.nan)
    mdd = np.full((n, k), np.nan)
    asset_total = np.full(n, np.nan)
    m = n - horizon - 1  # last t with r[t+H] available is n-1-H
    if m < 0:
        return score, total, mdd, asset_total
    idx = np.arange(m + 1)[:, None] + 1 + np.arange(horizon)[None, :]  # (t, h) -> t+1+h
    a = ctx.asset_returns[idx]
    a_sd = a.std(axis=1, ddof=1)
    asset_total[: m + 1] = np.prod(1.0 + a, axis=1) - 1.0
    for j, tid in enumerate(templates):
        r = ctx.returns[tid][idx]
        s = r.sum(axis=1)
        sd = r.std(axis=1, ddof=1)
        score[: m + 1, j] = s / (np.sqrt(horizon) * np.maximum(sd, 0.5 * a_sd + 1e-12))
        eq = np.cumprod(1.0 + r, axis=1)
        peak = np.maximum.accumulate(np.concatenate([np.ones((m + 1, 1)), eq], axis=1), axis=1)[:, 1:]
        total[: m + 1, j] = eq[:, -1] - 1.0
        mdd[: m + 1, j] = (eq / peak - 1.0).min(axis=1)
    return score, total, mdd, asset_total


# ------------------------------------------------------------------------------------------ dataset


@dataclass
class SelectorDataset:
    """The pooled training set, rows sorted by decision date (then symbol) so walk-forward folds are
    periods of time. Plain numpy arrays; `label_end_rows` is what `walk_forward(label_end=...)` wants."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    templates: list[str]
    scores: np.ndarray  # (n, k) forward risk-adjusted score per template
    fwd_return: np.ndarray  # (n, k) forward total return per template
    fwd_drawdown: np.ndarray  # (n, k) forward max drawdown per template (<= 0)
    asset_return: np.ndarray  # (n,) forward buy-and-hold return
    symbol: np.ndarray
    t_pos: np.ndarray  # bar position of the decision date within its symbol
    end_pos: np.ndarray  # t_pos + H: the last bar the label looks at
    t_date: np.ndarray  # datetime64[ns]
    end_date: np.ndarray
    regime: np.ndarray
    horizon: int
    step: int
    contexts: dict[str, SymbolContext] = field(repr=False, default_factory=dict)
    dropped_ties: int = 0

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def label_end_rows(self) -> np.ndarray:
        """For row i, the last row index whose decision date falls inside row i's label window.

        Rows are sorted by date, so a training row i with label_end_rows[i] >= a test window's first
        row has a label that overlaps the test period and must be purged.
        """
        return np.searchsorted(self.t_date, self.end_date, side="right") - 1

    def embargo_rows(self) -> int:
        """Rows spanning H bars of time (H/step decision dates per symbol, all symbols pooled)."""
        n_sym = max(1, len(np.unique(self.symbol)))
        return int(np.ceil(self.horizon / self.step)) * n_sym

    def subset(self, rows: np.ndarray) -> SelectorDataset:
        """The same dataset restricted to `rows` (kept in order)."""
        rows = np.asarray(rows)
        return SelectorDataset(
            self.X[rows],
            self.y[rows],
            self.feature_names,
            self.templates,
            self.scores[rows],
            self.fwd_return[rows],
            self.fwd_drawdown[rows],
            self.asset_return[rows],
            self.symbol[rows],
            self.t_pos[rows],
            self.end_pos[rows],
            self.t_date[rows],
            self.end_date[rows],
            self.regime[rows],
            self.horizon,
            self.step,
            self.contexts,
            self.dropped_ties,
        )


def decision_positions(n: int, horizon: int, step: int, start: int = WARMUP) -> np.ndarray:
    """Decision bars t = start, start+step, ... with a full label window (t + H <= n - 1)."""
    last = n - 1 - horizon
    if last < start:
        return np.zeros(0, dtype=np.int64)
    return np.arange(start, last + 1, step, dtype=np.int64)


def build_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    *,
    horizon: int = HORIZON,
    step: int = STEP,
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    contexts: Mapping[str, SymbolContext] | None = None,
    progress: bool = True,
    extra: ExtraFeatures | None = None,
) -> SelectorDataset:
    """Slide over every symbol's history and pool the rows (see the module docstring).

    `contexts` (optional) reuses already computed backtests/features per symbol.
    """
    from paiid.progress import track

    if horizon < 1 or step < 1:
        raise ValueError("horizon and step must be >= 1")
    names = feature_names(templates) + list(extra or {})
    parts: list[dict[str, Any]] = []
    ctxs: dict[str, SymbolContext] = {}
    dropped = 0
    items = list(bars_by_symbol.items())
    for sym, bars in track(items, "selector dataset") if progress else items:
        ctx = (contexts or {}).get(sym) or build_context(sym, bars, regime_model, templates)
        ctxs[sym] = ctx
        X_all = feature_matrix(ctx, templates, extra)
        score, total, mdd, asset_total = forward_scores(ctx, horizon, templates)
        t = decision_positions(ctx.n, horizon, step)
        if t.size == 0:
            continue
        X = X_all[t]
        s = score[t]
        ok = np.isfinite(X).all(axis=1) & np.isfinite(s).all(axis=1)
        tie = np.abs(s).max(axis=1) < 1e-12  # every template flat: no information
        dropped += int((ok & tie).sum())
        keep = ok & ~tie
        t = t[keep]
        idx = ctx.bars.index
        parts.append(
            {
                "X": X[keep],
                "y": np.argmax(s[keep], axis=1),
                "scores": s[keep],
                "fwd_return": total[t],
                "fwd_drawdown": mdd[t],
                "asset_return": asset_total[t],
                "symbol": np.full(t.size, sym, dtype=object),
                "t_pos": t,
                "end_pos": t + horizon,
                "t_date": idx.values[t].astype("datetime64[ns]"),
                "end_date": idx.values[t + horizon].astype("datetime64[ns]"),
                "regime": ctx.regime[t],
            }
        )
    if not parts:
        k = len(templates)
        empty = np.zeros((0, k))
        return SelectorDataset(
            np.zeros((0, len(names))),
            np.zeros(0, np.int64),
            names,
            list(templates),
            empty,
            empty,
            empty,
            np.zeros(0),
            np.zeros(0, object),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, "datetime64[ns]"),
            np.zeros(0, "datetime64[ns]"),
            np.zeros(0, object),
            horizon,
            step,
            ctxs,
            dropped,
        )
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["symbol"].astype(str), cat["t_date"]))
    cat = {k: v[order] for k, v in cat.items()}
    return SelectorDataset(
        cat["X"],
        cat["y"].astype(np.int64),
        names,
        list(templates),
        cat["scores"],
        cat["fwd_return"],
        cat["fwd_drawdown"],
        cat["asset_return"],
        cat["symbol"],
        cat["t_pos"],
        cat["end_pos"],
        cat["t_date"],
        cat["end_date"],
        cat["regime"],
        horizon,
        step,
        ctxs,
        dropped,
    )


def load_symbols(symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Bars for each symbol (whole history)."""
    from paiid.data import load_bars

    return {s: load_bars(s) for s in symbols}


def regime_columns(ds: SelectorDataset, regime_model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Regime feature columns (REGIME_FEATURES order) and labels for every row of `ds` from
    `regime_model` (e.g. one refitted on an earlier period for a walk-forward fold)."""
    cols = np.full((len(ds), len(REGIME_FEATURES)), np.nan)
    labels = np.full(len(ds), None, dtype=object)
    for sym, ctx in ds.contexts.items():
        sel = np.flatnonzero(ds.symbol == sym)
        if sel.size == 0:
            continue
        lab, conf, _ = regime_per_bar(regime_model, ctx.bars, ctx.features)
        t = ds.t_pos[sel]
        cols[sel] = regime_matrix(lab, conf)[t]
        labels[sel] = lab[t]
    return cols, labels


def refit_regime(
    regime_model: Any, ds: SelectorDataset, cutoff: np.datetime64, min_bars: int = WARMUP + 250
) -> Any:
    """A copy of `regime_model` (same parameters) fitted only on bars before `cutoff`, or None when no
    symbol has `min_bars` bars before it. Walk-forward folds use it so that not even the regime
    model's cluster definitions have seen the test period."""
    from sklearn.base import clone

    cut = [c.bars.loc[c.bars.index < pd.Timestamp(cutoff)] for c in ds.contexts.values()]
    cut = [b for b in cut if len(b) >= min_bars]
    if not cut:
        return None
    return clone(regime_model).fit(cut)

"""Serving the panel models: what answers for a symbol with closes only (AAPL, SP500, a `date,close` file).

Three model kinds, each trained on the close views (`universe.close_view`) of every suitable stored daily
symbol - the close-only ones and the closes of the OHLCV ones - and registered like the OHLCV models
(`engine/catalog.py`: `panel_regime`, `panel_selector`, `panel_trade`):

* `train_regime`: `RegimeDetector(volatility="close")` (volatility from closes instead of the high-low
  range) with its family ranking and walk-forward scores, as `paiid.ml.regime.train` fits the OHLCV one;
* `train_selector`: the panel selector's recipe (`selector.panel_model` on `build_panel_dataset`), given
  the test rows of a pooled purged walk-forward as its out-of-sample history (`OutOfSample`), so that its
  expected returns, risk and the stand-aside rule (`paiid.ml.selector.edge`) read rows no fold trained on;
* `train_trade`: the panel trade model's recipe (`trade.HYPERPARAMETERS`) with 3 purged walk-forward
  validation folds, so that `informative` says whether its odds beat the base rate out of sample.

The answers have the keys of the OHLCV ones plus `model_family`; what closes cannot define (ADX, volume
trend, candlesticks, the pattern scorer) is absent (null) with a note, never filled in from the close.

**Why the OHLCV symbols (SPX, GOOG) keep the OHLCV models.** Measured (`paiid evaluate --part universe`
and `--part selector`, same seeds): the panel selector's lift over the majority class is +6.0 points
[4.6, 7.5] pooled, +5.2 on held-out symbols and +1.4 per symbol, while the OHLCV selector's on SPX + GOOG
is about +7 [2.6, 11.6]. The intervals overlap, so neither is shown better on SPX/GOOG; the OHLCV model
reads columns that are real for those symbols (ATR, ADX, volume, the trained regime) and its numbers are
the ones its users were shown. Replacing it would need the panel to beat it on the same SPX/GOOG test
rows with separated intervals, which the evaluate numbers do not show. So the engine serves the panel
only to symbols lacking high, low or volume, and the OHLCV models to the others.

Cross-sectional inputs (`dataset.CROSS_SECTIONAL`: the 60-bar return rank among the universe, the index's
60-bar return and volatility) come from `universe_columns` on a `universe_snapshot`, whose values at a
date use bars up to that date only: an answer as of D reads nothing after D.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from paiid.backtest import get_strategy
from paiid.data import load_bars
from paiid.data.splits import label_end_within
from paiid.errors import BadInput, ModelError, NotEnoughHistory
from paiid.features import build_features
from paiid.metrics import brier
from paiid.ml import regime as ml_regime
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.context import MIN_BARS, AnswerContext, feature_matrix
from paiid.ml.panel import selector as panel_selector
from paiid.ml.panel import trade as panel_trade
from paiid.ml.panel.dataset import CROSS_SECTIONAL, build_panel_dataset
from paiid.ml.panel.universe import INDEX_SYMBOL, PANEL_FEATURES, close_view
from paiid.ml.regime.inputs import input_names
from paiid.ml.regime.ranking import strategy_returns
from paiid.ml.regime.validation import MIN_VALIDATION_BARS
from paiid.ml.selector.answer import market_conditions
from paiid.ml.selector.edge import EDGE_Z, verdict
from paiid.ml.selector.explain import describe_feature
from paiid.ml.selector.model import OutOfSample
from paiid.ml.tradeprob.answer import parse_side
from paiid.ml.tradeprob.features import event_features
from paiid.ml.tradeprob.model import model_for

MODEL_FAMILY = "panel (close-only features)"
#: Walk-forward validation folds of the served trade model (`TradeProbModel.validation_splits`).
TRADE_VALIDATION_SPLITS = 3
#: K-Means restarts of the close-only regime detector (the OHLCV one uses 30). On the 23-series universe
#: (~185,000 rows) 5 restarts reach the same inertia (184,638 vs 184,642 with 30, seed 0) at a sixth of
#: the cost (6.8 s vs 42 s of CPU per fit, and the fit runs once more per walk-forward ranking fold).
N_INIT = 5
#: Trees of the served forests: the evaluated recipes' (read at call time, so a test can shrink them).
SELECTOR_TREES, TRADE_TREES = panel_selector.N_ESTIMATORS, panel_trade.N_ESTIMATORS
ABSENT = "needs high and low (or volume), which a close-only series does not have: absent, not faked"


def close_views(symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Close views of `symbols`' bars (whole history, or up to the active `paiid.data.as_of`)."""
    return {s: close_view(load_bars(s), s) for s in symbols}


def train_regime(symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None) -> Trained:
    """The close-volatility regime detector on the close views of `symbols` (those long enough to be
    fitted and walk-forward tested), with its family ranking learned out of sample."""
    del deps
    views = {s: b for s, b in close_views(symbols).items() if len(b) >= MIN_VALIDATION_BARS}
    if not views:
        raise NotEnoughHistory("training the close-only regime model", MIN_VALIDATION_BARS, 0)
    feats = {s: build_features(b) for s, b in views.items()}
    params = {"method": "kmeans", "random_state": seed, "volatility": "close", "n_init": N_INIT}
    model = ml_regime.RegimeDetector(**params).fit(
        list(views.values()), features=list(feats.values()),
        strategy_returns=[strategy_returns(views[s], feats[s]) for s in views])
    return Trained(model, {
        "features": input_names("close"),
        "params": params, "model_family": MODEL_FAMILY,
        "scores": {"cv": "walk-forward", "oos_sharpe_by_regime": model.strategy_sharpe_,
                   **model.walk_forward_scores_},
        "data": [data_fingerprint(s, b) for s, b in views.items()],
        "strategy_ranking": model.strategy_ranking_})


def train_selector(symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None) -> Trained:
    """The panel selector on every decision row of the universe, with a pooled purged walk-forward's
    test rows as its out-of-sample history and its top-1 accuracy beside the majority baseline."""
    del deps
    views = close_views(symbols)
    ds = build_panel_dataset(views, index=INDEX_SYMBOL if INDEX_SYMBOL in views else None)
    est = panel_selector.panel_model(ds, seed=seed, n_estimators=SELECTOR_TREES)
    time_cv, _ = panel_selector.splitters(ds, seed)
    rows, hits, majority = [], [], []
    for tr, te in time_cv.split(ds.X, ds.y):
        m = clone(est).fit(ds.X[tr], ds.y[tr], label_end=label_end_within(ds.label_end_rows, tr),
                           embargo=ds.embargo_rows())
        rows.append(te)
        hits.append(m.predict(ds.X[te]) == ds.y[te])
        majority.append(ds.y[te] == np.bincount(ds.y[tr], minlength=len(ds.templates)).argmax())
    if not rows:
        raise NotEnoughHistory("validating the panel selector (walk-forward windows)", 2, 0)
    oos = np.concatenate(rows)
    acc, base = float(np.concatenate(hits).mean()), float(np.concatenate(majority).mean())
    scores = {"cv": "pooled purged walk-forward", "top1_accuracy": acc, "majority_baseline": base,
              "lift_over_majority": acc - base, "test_rows": int(oos.size)}
    history = OutOfSample(ds.X[oos], ds.fwd_return[oos], ds.fwd_drawdown[oos], ds.regime[oos], scores=scores)
    model = est.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), oos=history)
    return Trained(model, {
        "features": list(ds.feature_names), "params": panel_selector.hyperparameters(SELECTOR_TREES),
        "model_family": MODEL_FAMILY, "scores": scores, "universe": sorted(views),
        "data": [data_fingerprint(s, b) for s, b in views.items()]})


def train_trade(symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None) -> Trained:
    """The panel trade model on every resolved close-only entry event of the universe."""
    del deps
    views = close_views(symbols)
    ds = panel_trade.panel_dataset(views)
    model = model_for(ds, n_estimators=TRADE_TREES, seed=seed).set_params(
        min_samples_leaf=panel_trade.MIN_SAMPLES_LEAF, calib_splits=panel_trade.CALIB_SPLITS,
        validation_splits=TRADE_VALIDATION_SPLITS)
    model.fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr,
              exit_dates=ds.t1_date)
    return Trained(model, {
        "features": list(ds.feature_names), "params": dict(panel_trade.HYPERPARAMETERS),
        "model_family": MODEL_FAMILY, "scores": dict(model.validation_ or {}), "events": len(ds),
        "data": [data_fingerprint(s, b) for s, b in views.items()]})


def holdout_regime(model: Any, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *,
                   deps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`paiid.ml.regime.holdout_score` on the close views of `bars`."""
    return ml_regime.holdout_score(model, {s: close_view(b, s) for s, b in bars.items()}, start, deps=None)


def holdout_selector(model: Any, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *,
                     deps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Top-1 accuracy on the panel decision dates at or after `start`; baseline: the majority before."""
    views = {s: close_view(b, s) for s, b in bars.items()}
    ds = build_panel_dataset(views, index=INDEX_SYMBOL if INDEX_SYMBOL in views else None)
    if list(model.feature_names_) != list(ds.feature_names):
        raise ModelError("the panel selector was trained on other columns than these bars give "
                         "(is the index among the symbols?)")
    test = ds.t_date >= np.datetime64(pd.Timestamp(start))
    if not test.any():
        raise NotEnoughHistory("scoring the panel selector on the holdout (decision dates)", 1, 0)
    before = ds.y[~test]
    majority = int(np.bincount(before).argmax()) if len(before) else 0
    value = float(np.mean(model.predict(ds.X[test]) == ds.y[test]))
    return {"metric": "top1_accuracy", "value": value, "higher_is_better": True, "n": int(test.sum()),
            "baseline": float(np.mean(ds.y[test] == majority)),
            "baseline_is": "always the template that was best most often before the holdout"}


def holdout_trade(model: Any, bars: Mapping[str, pd.DataFrame], start: pd.Timestamp, *,
                  deps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Brier score on the events at or after `start`; baseline: the base rate of the events before."""
    ds = panel_trade.panel_dataset(dict(bars))
    test = ds.t_date >= np.datetime64(pd.Timestamp(start))
    if not test.any() or test.all():
        raise NotEnoughHistory("scoring the panel trade model on the holdout (entry events)", 1, 0)
    y = ds.y[test]
    return {"metric": "brier", "value": brier(y, model.predict_proba(ds.X[test])[:, 1]),
            "higher_is_better": False, "n": int(test.sum()),
            "baseline": brier(y, np.full(y.size, float(ds.y[~test].mean()))),
            "baseline_is": "the win rate of the events before the holdout"}


def universe_snapshot(views: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """Per universe symbol its ret_60 per bar, and the index's ret_60 / rvol_60 (the inputs of
    `universe_columns`); each value at t from bars up to t."""
    out = {}
    for s, b in views.items():
        f = build_features(b)
        out[s] = pd.Series(f["ret_60"].to_numpy(np.float64), index=b.index)
        if s == INDEX_SYMBOL:
            out["__index_rvol_60"] = pd.Series(f["rvol_60"].to_numpy(np.float64), index=b.index)
    return out


def universe_columns(snapshot: Mapping[str, pd.Series], symbol: str, own_ret60: float, date: pd.Timestamp,
                     names: Sequence[str]) -> np.ndarray:
    """The `CROSS_SECTIONAL` columns among `names` at `date`, as `dataset` builds them for training:
    the percentile rank of `own_ret60` among the universe symbols with a bar on `date`, and the index's
    ret_60 / rvol_60 at its latest bar on or before `date`."""
    vals = {s: float(v.get(date, np.nan)) for s, v in snapshot.items() if not s.startswith("__")}
    vals[symbol] = own_ret60
    rank = pd.Series(vals).rank(pct=True)[symbol]
    cols = [float(rank)]
    if "index_ret_60" in names:
        for key in (INDEX_SYMBOL, "__index_rvol_60"):
            s = snapshot.get(key)
            past = s[s.index <= date] if s is not None else None
            cols.append(float(past.iloc[-1]) if past is not None and len(past) else np.nan)
    return np.array(cols)


def _view_context(symbol: str, bars: pd.DataFrame, context: AnswerContext | None) -> AnswerContext:
    """The shared context, which callers build on the close view (`close_view(bars)`)."""
    return context if context is not None else AnswerContext(symbol, close_view(bars, symbol))


def regime_answer(model: Any, bars: pd.DataFrame, symbol: str, *, context: AnswerContext | None = None
                  ) -> dict[str, Any]:
    """The market-regime answer from the close-volatility detector; ADX and volume trend absent."""
    ctx = _view_context(symbol, bars, context)
    answer = ml_regime.regime_answer(model, ctx.bars, symbol, context=ctx)
    answer["features"].update(trend_strength=None, volume_trend=None)
    answer["notes"].update(trend_strength=f"ADX {ABSENT}", volume_trend=f"volume trend {ABSENT}",
                           volatility="20-bar close-to-close volatility, annualised (the regime's input)")
    return {**answer, "model_family": MODEL_FAMILY}


def recommend_answer(model: Any, regime_model: Any, bars: pd.DataFrame, symbol: str,
                     snapshot: Mapping[str, pd.Series], *, context: AnswerContext | None = None
                     ) -> dict[str, Any]:
    """The recommend-strategy answer from the panel selector (the keys of
    `paiid.ml.selector.recommend_answer`: probabilities, expectations, stand-aside, typicality)."""
    check_is_fitted(model)
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a strategy recommendation for {symbol}", MIN_BARS, len(bars))
    shared = _view_context(symbol, bars, context)
    ctx = shared.symbol_context(model.templates_)
    base = feature_matrix(ctx, model.templates_, features=PANEL_FEATURES, regime=False)[-1]
    names = model.feature_names_
    xs = [n for n in names if n in CROSS_SECTIONAL]
    x = np.concatenate([base, universe_columns(snapshot, symbol, float(ctx.features["ret_60"].iloc[-1]),
                                               ctx.bars.index[-1], xs) if xs else []])
    if x.size != len(names):
        raise ModelError(f"the panel selector has {len(names)} inputs, the answer built {x.size}")
    shared.require_defined(f"a strategy recommendation for {symbol}", names, x)
    shown, conf = str(ctx.regime[-1]), None
    if regime_model is not None:
        hist = shared.regime_history(regime_model)
        if hist["regime"][-1] is not None:
            shown, conf = str(hist["regime"][-1]), float(hist["confidence"][-1])
    proba, drivers = model.proba_and_drivers(x)
    typicality = model.typicality_.assess(x)
    factor = float(typicality["confidence_factor"])
    if factor < 1.0:
        proba = factor * proba + (1.0 - factor) / proba.size
    exp = model.expectations(x, str(ctx.regime[-1]))
    stand_aside, why, lower = verdict(exp, model.templates_, model.horizon, model.step)

    def num(v: Any) -> float | None:
        return float(v) if np.isfinite(v) else None

    recs = []
    for j, tid in enumerate(model.templates_):
        phrases = [describe_feature(model, n, x, shown, ctx.features) for n, _ in drivers[j]]
        if factor < 1.0:
            phrases.append(f"inputs unusual for the model ({typicality['percentile']:.1f}th percentile of "
                           f"distance to its training rows): probability shrunk toward uniform by {factor:g}")
        recs.append({"strategy_id": tid, "probability": float(proba[j]),
                     "expected_return": num(exp["expected_return"][j]),
                     "risk_score": num(exp["risk_score"][j]),
                     "reason": ", ".join(phrases) or f"{shown.replace('_', ' ')} regime",
                     "expected_return_lower": num(lower[j]), "expected_drawdown": num(exp["drawdown"][j]),
                     "historical_win_rate": num(exp["win_rate"][j]),
                     "drivers": [{"feature": n, "effect": round(v, 4)} for n, v in drivers[j]]})
    recs.sort(key=lambda r: (-r["probability"], r["strategy_id"]))
    conditions = market_conditions(ctx, shown, conf)
    conditions.update(trend_strength_adx=None, trend=None, trend_note=f"ADX {ABSENT}")
    return {"symbol": symbol, "as_of": bars.index[-1].isoformat(), "recommendations": recs,
            "market_conditions": conditions, "stand_aside": bool(stand_aside), "stand_aside_reason": why,
            "typicality": typicality, "horizon_bars": int(model.horizon),
            "validation": dict(model.validation_) or None, "model_family": MODEL_FAMILY,
            "basis": f"panel selector on close-only features of the universe; expected_return and risk_score "
                     f"from the {exp['neighbours']} most similar out-of-sample decision dates of its pooled "
                     f"walk-forward; expected_return_lower = mean - {EDGE_Z:g} standard error (stand-aside)"}


def trade_answer(model: Any, bars: pd.DataFrame, symbol: str, strategy_id: str, side: str | None = None, *,
                 context: AnswerContext | None = None) -> dict[str, Any]:
    """The predict-trade answer from the panel trade model: barriers in the close view's ATR (the unit
    its labels used), entry at the next close (the close-only execution variant)."""
    check_is_fitted(model)
    tid = get_strategy(strategy_id).id
    s = parse_side(side) if side is not None else 0
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a trade prediction for {symbol}", MIN_BARS, len(bars))
    shared = _view_context(symbol, bars, context)
    ctx = shared.symbol_context(model.templates_)
    signal = ctx.signals[tid]
    if s == 0:
        s = int(np.sign(signal[-1]))
        if s == 0:
            raise BadInput(f"{tid} has no position on {symbol} as of {bars.index[-1].date()}; "
                           "give a side: long or short")
    j, t = model.templates_.index(tid), ctx.n - 1
    x = event_features(ctx, np.array([t]), np.array([float(s)]), np.array([j]), model.templates_,
                       horizon=int(model.horizon), profit_atr=float(model.profit_atr),
                       stop_atr=float(model.stop_atr), features=PANEL_FEATURES, regime=False)
    shared.require_defined(f"a trade prediction for {symbol}", model.feature_names_, x[0])
    w, raw, base = float(model.blend_weight_), float(model.forest_proba(x)[0]), float(model.base_rate_)
    typicality = model.typicality_.assess(x[0])
    w_eff = w * float(typicality["confidence_factor"])
    p = w_eff * raw + (1.0 - w_eff) * base
    val = dict(model.validation_ or {})
    informative = w > 0 and bool(val.get("skill_significant"))
    close, atr = float(ctx.bars["close"].iloc[-1]), float(panel_trade.close_atr(ctx)[-1])
    side_name = "long" if s > 0 else "short"
    tpl_side = "long" if signal[-1] > 0 else "short" if signal[-1] < 0 else "flat"
    why = ("" if informative else f"no information beyond the base rate of {base:.1%} ({model.n_events_} "
           f"resolved events up to {model.resolved_through_}): " + (
               "blend weight 0" if w == 0 else "out-of-sample Brier skill not significant") + "; ")
    return {
        "symbol": symbol, "as_of": bars.index[-1].isoformat(), "strategy_id": tid, "side": side_name,
        "side_from": "given" if side is not None else "template signal", "win_probability": p,
        "expected_return": float((p * model.win_ret_atr_ + (1 - p) * model.loss_ret_atr_) * atr / close),
        "horizon_bars": int(model.horizon),
        "barriers": {"reference_price": close, "entry": "next bar's close (close-only execution)",
                     "profit_take": close + s * model.profit_atr * atr,
                     "stop_loss": close - s * model.stop_atr * atr,
                     "profit_take_atr": float(model.profit_atr),
                     "stop_loss_atr": float(model.stop_atr), "atr_14": atr, "atr": "ATR(14) of the closes",
                     "time_bars": int(model.horizon)},
        "base_rate": base, "model_probability": raw, "blend_weight": w, "effective_blend_weight": w_eff,
        "informative": informative, "typicality": typicality, "validation": val or None,
        "template_signal": tpl_side,
        "template_entry_now": bool(signal[-1] == s and (signal[-2] if ctx.n > 1 else 0.0) != signal[-1]),
        "model_family": MODEL_FAMILY,
        "note": why + "a win is the profit barrier reached (on closes) before the stop and before the time "
                "barrier; barriers in ATR(14) of the closes; expected_return is before costs"
                + (f"; inputs unusual for the model ({typicality['percentile']:.1f}th percentile): the "
                   f"weight on the forest is multiplied by {typicality['confidence_factor']:g}"
                   if typicality["unusual"] else "")
                + ("" if tpl_side == side_name else f"; the template's own signal is {tpl_side}, so this "
                   "trade is off-signal (the model was trained on the templates' entry signals)"),
    }

"""Strategy selector: which of the four templates to follow over the next H bars, with calibrated odds.

Model: a Random Forest (``class_weight="balanced"``, as planned; ``kind="gb"`` swaps in histogram
gradient boosting) on the features of `paiid.ml.dataset`. Class weighting makes the forest look at the
rarer winners (breakout) but distorts its probabilities, so the forest is wrapped in a sigmoid
calibration fitted on **walk-forward** folds of the training rows (train on the past, calibrate on the
later block, purged of overlapping labels) — never on shuffled folds, which would calibrate on
leaked, overlapping windows and make the odds look better than they are.

Each recommendation also carries what the model's *out-of-sample* history says about that template in
similar conditions: the trainer keeps the walk-forward test rows (features, realised forward return
and drawdown per template) and a query looks at its nearest neighbours among them (same regime when
there are enough, distance weighted by feature importance). Expected return is their mean forward
return; the risk score (0-100) is where their mean drawdown ranks among every drawdown in that
history. The reason names the features that moved this template's probability most (occlusion: reset
one feature to its training median and see how much the probability falls).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from paiid.data import walk_forward
from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import WARMUP
from paiid.ml.dataset import (
    HORIZON,
    PERF_WINDOWS,
    REGIME_FEATURES,
    REGIMES,
    SHORT,
    STEP,
    TEMPLATES,
    build_context,
    feature_matrix,
)

#: Bars a symbol needs before a recommendation can be made (feature warm-up + longest trailing window).
MIN_BARS = WARMUP + max(PERF_WINDOWS) + 1
#: Neighbours used for expected return and risk.
NEIGHBOURS = 50


def _base_estimator(kind: str, n_estimators: int, min_samples_leaf: int, max_features: Any, seed: int) -> Any:
    if kind == "rf":
        return RandomForestClassifier(
            n_estimators=n_estimators,
            min_samples_leaf=min_samples_leaf,
            max_features=max_features,
            class_weight="balanced",
            n_jobs=1,
            random_state=seed,
        )
    if kind == "gb":
        return HistGradientBoostingClassifier(
            max_iter=n_estimators,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=max(min_samples_leaf, 20),
            class_weight="balanced",
            random_state=seed,
        )
    raise BadInput(f"unknown selector kind {kind!r}; use 'rf' (random forest) or 'gb' (gradient boosting)")


def calibration_splits(n: int, label_end: np.ndarray | None, embargo: int, n_splits: int) -> list[tuple]:
    """Walk-forward (train, calibrate) index pairs over the training rows, purged by label window."""
    n_splits = max(1, min(n_splits, n // 60))
    splits = walk_forward(
        n, n_splits=n_splits, min_train=max(n // 2, 1), embargo=min(embargo, n // 10), label_end=label_end
    )
    return [(s.train, s.test) for s in splits]


class StrategySelector(ClassifierMixin, BaseEstimator):
    """Calibrated classifier over the templates plus the out-of-sample history used for expectations.

    Fitted state is numpy arrays, python scalars/lists and sklearn estimators only (skops-safe).
    """

    def __init__(
        self,
        kind: str = "rf",
        n_estimators: int = 300,
        min_samples_leaf: int = 5,
        max_features: Any = "sqrt",
        calibration: str = "sigmoid",
        calib_splits: int = 3,
        random_state: int = 0,
        templates: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        horizon: int = HORIZON,
        step: int = STEP,
    ):
        self.kind = kind
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.calibration = calibration
        self.calib_splits = calib_splits
        self.random_state = random_state
        self.templates = templates
        self.feature_names = feature_names
        self.horizon = horizon
        self.step = step

    # ------------------------------------------------------------------------------------------ fit

    def fit(
        self, X: np.ndarray, y: np.ndarray, label_end: np.ndarray | None = None, embargo: int = 0
    ) -> StrategySelector:
        """Fit the calibrated model. `label_end` (row index each label reaches, rows in time order) lets
        the internal calibration folds purge overlapping labels; `embargo` adds a gap in rows."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        self.templates_ = list(self.templates or TEMPLATES)
        k = len(self.templates_)
        self.classes_ = np.arange(k)
        self.feature_names_ = list(self.feature_names or [f"x{i}" for i in range(X.shape[1])])
        base = _base_estimator(
            self.kind, self.n_estimators, self.min_samples_leaf, self.max_features, self.random_state
        )
        splits = calibration_splits(len(y), label_end, embargo, self.calib_splits)
        usable = [(tr, te) for tr, te in splits if len(np.unique(y[tr])) > 1]
        if usable and self.calibration in ("sigmoid", "isotonic"):
            self.model_ = CalibratedClassifierCV(base, method=self.calibration, cv=usable, ensemble=True)
        else:  # too little data to calibrate honestly: the raw (balanced) forest
            self.model_ = base
        self.model_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.median_ = np.nanmedian(X, axis=0)
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        self.quantiles_ = np.nanquantile(X, [0.1, 1 / 3, 0.5, 2 / 3, 0.9], axis=0)
        self.class_prior_ = np.bincount(y, minlength=k) / max(len(y), 1)
        self.feature_importances_ = self._importances()
        # empty out-of-sample history until the trainer attaches one (`set_history`)
        self.hist_X_ = np.zeros((0, X.shape[1]))
        self.hist_return_ = np.zeros((0, k))
        self.hist_drawdown_ = np.zeros((0, k))
        self.hist_regime_ = np.zeros(0, dtype=np.int64)
        return self

    def _importances(self) -> np.ndarray:
        """Mean impurity importance over the calibrated forests (zeros for gradient boosting)."""
        ests = [c.estimator for c in getattr(self.model_, "calibrated_classifiers_", [])] or [self.model_]
        imps = [np.asarray(e.feature_importances_) for e in ests if hasattr(e, "feature_importances_")]
        if not imps:
            return np.full(self.n_features_in_, 1.0 / self.n_features_in_)
        imp = np.mean(imps, axis=0)
        return imp / (imp.sum() or 1.0)

    def set_history(
        self, X: np.ndarray, fwd_return: np.ndarray, fwd_drawdown: np.ndarray, regime: np.ndarray
    ) -> StrategySelector:
        """Attach the out-of-sample rows (walk-forward test rows) that expectations are read from."""
        self.hist_X_ = (np.asarray(X, np.float64) - self.mean_) / self.scale_
        self.hist_return_ = np.asarray(fwd_return, np.float64)
        self.hist_drawdown_ = np.asarray(fwd_drawdown, np.float64)
        self.hist_regime_ = np.array(
            [REGIMES.index(r) if r in REGIMES else -1 for r in regime], dtype=np.int64
        )
        return self

    # -------------------------------------------------------------------------------------- predict

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of each template being the best one; rows sum to 1."""
        p = np.asarray(self.model_.predict_proba(np.asarray(X, dtype=np.float64)), dtype=np.float64)
        if p.shape[1] != len(self.classes_):  # a class absent from training: give it zero
            full = np.zeros((p.shape[0], len(self.classes_)))
            full[:, np.asarray(self.model_.classes_, dtype=np.int64)] = p
            p = full
        p = np.clip(p, 0.0, None)
        s = p.sum(axis=1, keepdims=True)
        return np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / p.shape[1])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)

    # ----------------------------------------------------------------------------------- expectations

    def expectations(self, x: np.ndarray, regime: str, k: int = NEIGHBOURS) -> dict[str, np.ndarray]:
        """Expected forward return, mean drawdown, win rate and risk score (0-100) per template from the
        out-of-sample rows most similar to `x` (same regime when at least k/2 such rows exist)."""
        n_t = len(self.templates_)
        if len(self.hist_return_) == 0:
            nan = np.full(n_t, np.nan)
            return {
                "expected_return": nan,
                "drawdown": nan,
                "win_rate": nan,
                "risk_score": nan,
                "neighbours": 0,
            }
        z = (np.asarray(x, np.float64) - self.mean_) / self.scale_
        w = np.sqrt(self.feature_importances_)
        d = np.sqrt((((self.hist_X_ - z) * w) ** 2).sum(axis=1))
        code = REGIMES.index(regime) if regime in REGIMES else -1
        same = np.flatnonzero(self.hist_regime_ == code)
        pool = same if same.size >= k // 2 else np.arange(d.size)
        nn = pool[np.argsort(d[pool], kind="stable")[: min(k, pool.size)]]
        er = self.hist_return_[nn].mean(axis=0)
        dd = self.hist_drawdown_[nn].mean(axis=0)
        all_dd = np.sort(-self.hist_drawdown_.ravel())
        risk = 100.0 * np.searchsorted(all_dd, -dd, side="right") / max(all_dd.size, 1)
        return {
            "expected_return": er,
            "drawdown": dd,
            "win_rate": (self.hist_return_[nn] > 0).mean(axis=0),
            "risk_score": np.clip(risk, 0.0, 100.0),
            "neighbours": int(nn.size),
        }

    def drivers(self, x: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Per template, the features whose value raised its probability most (occlusion against the
        training median; the regime columns are one group)."""
        x = np.asarray(x, np.float64)
        names = self.feature_names_
        groups: list[tuple[str, list[int]]] = []
        reg_idx = [i for i, nm in enumerate(names) if nm in REGIME_FEATURES]
        if reg_idx:
            groups.append(("regime", reg_idx))
        groups += [(nm, [i]) for i, nm in enumerate(names) if nm not in REGIME_FEATURES]
        rows = np.repeat(x[None, :], len(groups) + 1, axis=0)
        for g, (_, idx) in enumerate(groups, start=1):
            rows[g, idx] = self.median_[idx] if len(idx) == 1 else self.mean_[idx]
        p = self.predict_proba(rows)
        delta = p[0][None, :] - p[1:]  # > 0: this feature's value pushed the template up
        out = []
        for j in range(len(self.templates_)):
            order = np.argsort(-delta[:, j], kind="stable")
            out.append([(groups[g][0], float(delta[g, j])) for g in order[:top] if delta[g, j] > 0])
        return out


# ------------------------------------------------------------------------------------------ reasons


def _pct(v: float) -> str:
    return f"{v * 100:+.1f}%"


def _level(model: StrategySelector, name: str, v: float, history: pd.DataFrame | None = None) -> str:
    """low / normal / high by tercile: against the symbol's own past values when `history` (its feature
    frame up to the decision bar) has the column, so an hourly symbol is judged against itself and the
    words agree with `market_conditions`; else against the training rows."""
    if history is not None and name in history.columns:
        past = history[name].to_numpy(np.float64)
        past = past[np.isfinite(past)]
        if past.size >= 50:
            pct = float((past <= v).mean())
            return "low" if pct < 1 / 3 else ("high" if pct > 2 / 3 else "normal")
    j = model.feature_names_.index(name)
    q = model.quantiles_[:, j]
    return "low" if v <= q[1] else ("high" if v >= q[3] else "normal")


def describe_feature(
    model: StrategySelector, name: str, x: np.ndarray, regime: str, history: pd.DataFrame | None = None
) -> str:
    """A short human phrase for one feature's value (e.g. "RSI at 28", "volatility low")."""
    if name == "regime":
        return f"{regime.replace('_', ' ')} regime"
    v = float(x[model.feature_names_.index(name)])
    if name == "rsi_14":
        return f"RSI at {v:.0f}"
    if name == "macd_hist_pct":
        return "MACD histogram " + ("positive" if v > 0 else "negative")
    if name in ("rvol_20", "rvol_60", "atr_pct", "bb_bandwidth"):
        label = {
            "rvol_20": "volatility",
            "rvol_60": "60-bar volatility",
            "atr_pct": "ATR",
            "bb_bandwidth": "Bollinger bandwidth",
        }[name]
        return f"{label} {_level(model, name, v, history)}"
    if name == "vol_ratio":
        return "volatility " + ("rising" if v > 1.1 else ("falling" if v < 0.9 else "steady"))
    if name == "adx_14":
        return f"ADX at {v:.0f} ({'strong' if v >= 25 else 'weak'} trend)"
    if name in ("plus_di", "minus_di"):
        return f"{'+DI' if name == 'plus_di' else '-DI'} at {v:.0f}"
    if name == "bb_pctb":
        where = (
            "below the lower"
            if v < 0
            else (
                "above the upper"
                if v > 1
                else "near the lower"
                if v < 0.2
                else "near the upper"
                if v > 0.8
                else "inside the"
            )
        )
        return f"price {where} Bollinger band"
    if name.startswith("ret_"):
        return f"{name[4:]}-bar return {_pct(float(np.expm1(v)))}"
    if name.startswith("dist_sma_"):
        return f"price {abs(v) * 100:.1f}% {'above' if v >= 0 else 'below'} its {name[9:]}-bar average"
    if name == "ma_slope_50":
        return "50-bar average " + ("rising" if v > 0 else "falling")
    if name.startswith("volume") or name == "obv_slope":
        return f"{name.replace('_', ' ')} {_level(model, name, v, history)}"
    short_to_id = {s: t for t, s in SHORT.items()}
    if name.startswith("pos_"):
        tid = short_to_id.get(name[4:], name[4:])
        return f"{tid} currently {'long' if v > 0 else 'short' if v < 0 else 'flat'}"
    if name.startswith("perf"):
        w, _, short = name[4:].partition("_")
        tid = short_to_id.get(short, short)
        return f"{tid} {'in profit' if v > 0 else 'losing'} over the last {w} bars"
    return f"{name} {_level(model, name, v, history)}" if name in model.feature_names_ else name


# ------------------------------------------------------------------------------------------ answers


def market_conditions(ctx: Any, regime: str, confidence: float | None) -> dict[str, Any]:
    """Regime, volatility (low/normal/high against the symbol's own past) and trend at the last bar."""
    f = ctx.features
    rv = f["rvol_20"].to_numpy(np.float64)
    last = rv[-1]
    past = rv[np.isfinite(rv)]
    pct = float((past <= last).mean()) if past.size else 0.5
    vol = "low" if pct < 1 / 3 else ("high" if pct > 2 / 3 else "normal")
    adx = float(f["adx_14"].iloc[-1])
    slope = float(f["ma_slope_50"].iloc[-1])
    trend = "sideways" if adx < 20 else ("up" if slope > 0 else "down")
    from paiid.backtest import bars_per_year

    return {
        "regime": regime,
        "regime_confidence": None if confidence is None else float(confidence),
        "volatility": vol,
        "volatility_annualized": float(last * np.sqrt(bars_per_year(ctx.bars.index))),
        "volatility_percentile": round(100 * pct, 1),
        "trend": trend,
        "trend_strength_adx": adx,
    }


def _served_regime(regime_model: Any, bars: pd.DataFrame, symbol: str, ctx: Any) -> tuple[str, float | None]:
    """The regime to show: the regime model's answer when there is one, else the rule at the last bar."""
    if regime_model is not None:
        try:
            from paiid.ml import regime as regime_mod

            ans = regime_mod.regime_answer(regime_model, bars, symbol)
            return str(ans["current_regime"]), float(ans["confidence"])
        except Exception:  # noqa: BLE001 - fall back to the rule rather than fail the recommendation
            pass
    return str(ctx.regime[-1]), float(ctx.regime_conf[-1])


def recommend_answer(
    model: StrategySelector, regime_model: Any, bars: pd.DataFrame, symbol: str
) -> dict[str, Any]:
    """The contract's `recommend-strategy` JSON as of the last bar of `bars`.

    Probabilities over all templates sum to 1 and are sorted descending; each entry has the expected
    forward return over `horizon_bars` and a risk score (0-100) from the out-of-sample history, and a
    reason naming the features that drove it.
    """
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a strategy recommendation for {symbol}", MIN_BARS, len(bars))
    used_regime_model = regime_model if getattr(model, "regime_source_", "rules") == "model" else None
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
        "validation": dict(getattr(model, "validation_", {}) or {}) or None,
        "basis": f"expected_return and risk_score from the {exp['neighbours']} most similar out-of-sample "
        f"decision dates of the walk-forward validation; risk_score = percentile of the mean "
        f"{model.horizon}-bar drawdown",
    }


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


# ------------------------------------------------------------------------------------------ trainer


def selector_for(ds: Any, *, kind: str, n_estimators: int, seed: int) -> StrategySelector:
    """An unfitted selector shaped for dataset `ds` (its templates, features, horizon and step): the one
    recipe the trainer and `paiid evaluate` share, so what is scored is what is served."""
    return StrategySelector(kind=kind, n_estimators=n_estimators, random_state=seed, templates=ds.templates,
                            feature_names=ds.feature_names, horizon=ds.horizon, step=ds.step)


def train(
    symbols: list[str],
    *,
    seed: int = 0,
    deps: dict[str, Any] | None = None,
    kind: str = "rf",
    n_estimators: int = 300,
) -> Any:
    """Trainer `selector`: dataset from `symbols`, purged walk-forward scores, final fit on every row.

    The out-of-sample walk-forward rows become the model's history for expected return and risk.
    """
    from paiid.ml.base import Trained, data_fingerprint
    from paiid.ml.dataset import build_dataset, load_symbols
    from paiid.ml.selector_eval import cross_validate, summarize

    regime_model = (deps or {}).get("regime")
    bars = load_symbols(symbols)
    ds = build_dataset(bars, regime_model=regime_model)
    if len(ds) < 200:
        raise NotEnoughHistory("training the strategy selector (decision dates)", 200, len(ds))
    source = next(iter(ds.contexts.values())).regime_source

    def make() -> StrategySelector:
        return selector_for(ds, kind=kind, n_estimators=n_estimators, seed=seed)

    cv = cross_validate(ds, make, seed=seed, regime_model=regime_model if source == "model" else None)
    scores = summarize(ds, cv, seed=seed)
    model = make().fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows())
    model.regime_source_ = source
    model.validation_ = {
        "top1_accuracy": scores["top1_accuracy"],
        "majority_baseline": scores["majority_baseline"],
        "random_baseline": scores["random_baseline"],
        "oos_sharpe": dict(scores["oos_sharpe"]),
    }
    oos = cv["rows"]
    model.set_history(ds.X[oos], ds.fwd_return[oos], ds.fwd_drawdown[oos], ds.regime[oos])
    return Trained(
        model,
        {
            "features": list(ds.feature_names),
            "params": {
                "kind": kind,
                "n_estimators": n_estimators,
                "min_samples_leaf": model.min_samples_leaf,
                "class_weight": "balanced",
                "calibration": "sigmoid on purged walk-forward folds",
                "horizon": ds.horizon,
                "step": ds.step,
                "templates": ds.templates,
                "regime_source": source,
                "seed": seed,
            },
            "scores": scores,
            "data": [data_fingerprint(s, b) for s, b in bars.items()],
            "feature_importances": dict(
                zip(ds.feature_names, map(float, model.feature_importances_), strict=True)
            ),
        },
    )

"""Trade win-probability: will a proposed trade reach its profit barrier before its stop or time barrier?

Method (López de Prado, *Advances in Financial Machine Learning*, ch. 3, triple-barrier labels and
meta-labeling), written from the book's description:

* **Events** are the templates' own entry signals: bar t where a template's desired position changes to
  long or short (decided at t's close, filled at t+1's open). The side comes from the template. A model
  on top of them ("meta-labeling") does not pick the direction; it says how often *this kind of signal in
  these conditions* works out, so a user can size or skip it.
* **Triple barrier** from the entry (t+1's open): profit at `PROFIT_ATR` x ATR(14) in the trade's favour,
  stop at `STOP_ATR` x ATR against it, and a time barrier `HORIZON` bars later (ATR known at t, so the
  barriers adapt to volatility without lookahead). Label 1 = profit barrier first. A bar touching both
  counts as a stop (intrabar order unknown, the conservative choice, as in the backtest engine); a bar
  that gaps through a level fills at its open. Time-barrier exits count as not-a-win.
* **Purging**: each event's label ends at the bar it hit a barrier (`t1`); validation drops training
  events whose t1 reaches into the test period (`walk_forward(label_end=...)`).
* **Calibration**: a Random Forest (no class weights: we want probabilities, not balanced recall) with a
  sigmoid calibration fitted on purged walk-forward folds of the training events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier

from paiid.errors import BadInput, NotEnoughHistory
from paiid.features import SCALE_FREE, WARMUP
from paiid.ml.dataset import (
    REGIME_FEATURES,
    SHORT,
    TEMPLATES,
    SymbolContext,
    build_context,
    regime_matrix,
    template_state,
)

#: Time barrier (bars) and the profit / stop distances in ATR(14) multiples.
HORIZON = 20
PROFIT_ATR = 2.0
STOP_ATR = 2.0
SIDES = {"long": 1, "short": -1}
#: Direction-dependent features, multiplied by the side so that "in the trade's favour" is positive.
DIRECTIONAL = [
    "ret_1",
    "ret_5",
    "ret_20",
    "ret_60",
    "macd_hist_pct",
    "dist_sma_20",
    "dist_sma_50",
    "dist_sma_200",
    "ma_slope_50",
    "obv_slope",
]


def feature_names(templates: Sequence[str] = TEMPLATES) -> list[str]:
    """Inputs of the trade model, in order."""
    return (
        list(SCALE_FREE)
        + REGIME_FEATURES
        + ["side"]
        + [f"sided_{f}" for f in DIRECTIONAL]
        + ["sided_rsi", "sided_bb_pctb", "sided_di"]
        + [f"is_{SHORT.get(t, t)}" for t in templates]
        + ["tpl_pos", "tpl_perf20", "tpl_perf60"]
    )


def event_features(
    ctx: SymbolContext, t: np.ndarray, side: np.ndarray, tpl: np.ndarray, templates: Sequence[str] = TEMPLATES
) -> np.ndarray:
    """Feature rows for trades decided at bars `t` with `side` (+1/-1) of template index `tpl`."""
    t = np.asarray(t, dtype=np.int64)
    side = np.asarray(side, dtype=np.float64)
    tpl = np.asarray(tpl, dtype=np.int64)
    f = ctx.features
    base = f[list(SCALE_FREE)].to_numpy(np.float64)[t]
    reg = regime_matrix(ctx.regime, ctx.regime_conf)[t]
    sided = f[DIRECTIONAL].to_numpy(np.float64)[t] * side[:, None]
    rsi = (f["rsi_14"].to_numpy(np.float64)[t] - 50.0) * side
    pctb = (f["bb_pctb"].to_numpy(np.float64)[t] - 0.5) * side
    di = (f["plus_di"].to_numpy(np.float64)[t] - f["minus_di"].to_numpy(np.float64)[t]) * side
    onehot = np.zeros((t.size, len(templates)))
    onehot[np.arange(t.size), tpl] = 1.0
    state = template_state(ctx, templates)  # pos_*, perf20_*, perf60_*
    k = len(templates)
    own = np.column_stack([state[t, tpl] * side, state[t, k + tpl], state[t, 2 * k + tpl]])
    return np.column_stack([base, reg, side[:, None], sided, rsi, pctb, di, onehot, own])


def triple_barrier(
    ctx: SymbolContext,
    t: np.ndarray,
    side: np.ndarray,
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
) -> dict[str, np.ndarray]:
    """Outcome of entering at t+1's open with `side`: label (1 = profit barrier first), exit bar t1,
    side-adjusted return (fraction of entry) and the return in ATR units. Events need t + horizon < n."""
    b = ctx.bars
    o, h, lo, c = (b[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    atr = ctx.features["atr_14"].to_numpy(np.float64)
    t = np.asarray(t, dtype=np.int64)
    s = np.asarray(side, dtype=np.float64)
    entry = o[t + 1]
    a = atr[t]
    up = entry + s * profit_atr * a  # profit level (above for long, below for short)
    dn = entry - s * stop_atr * a  # stop level
    idx = t[:, None] + 1 + np.arange(horizon)[None, :]
    hh, ll, oo = h[idx], lo[idx], o[idx]
    fav = np.where(s[:, None] > 0, hh, ll)
    adv = np.where(s[:, None] > 0, ll, hh)
    hit_pt = s[:, None] * (fav - up[:, None]) >= 0
    hit_sl = s[:, None] * (adv - dn[:, None]) <= 0
    any_hit = hit_pt | hit_sl
    first = np.where(any_hit.any(axis=1), np.argmax(any_hit, axis=1), horizon - 1)
    rows = np.arange(t.size)
    stop_first = hit_sl[rows, first]
    win = hit_pt[rows, first] & ~stop_first & any_hit[rows, first]
    o_first = oo[rows, first]
    exit_px = np.where(
        stop_first,
        np.where(s * (o_first - dn) <= 0, o_first, dn),
        np.where(win, np.where(s * (o_first - up) >= 0, o_first, up), c[t + 1 + first]),
    )
    ret = s * (exit_px / entry - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret_atr = s * (exit_px - entry) / a
    return {
        "label": win.astype(np.int64),
        "t1": t + 1 + first,
        "ret": ret,
        "ret_atr": ret_atr,
        "outcome": np.where(win, "profit", np.where(stop_first & any_hit[rows, first], "stop", "time")),
    }


# ------------------------------------------------------------------------------------------ dataset


@dataclass
class TradeDataset:
    """Pooled template entry events, sorted by decision date; plain numpy arrays."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    templates: list[str]
    ret: np.ndarray
    ret_atr: np.ndarray
    symbol: np.ndarray
    template: np.ndarray  # template index per event
    side: np.ndarray
    t_pos: np.ndarray
    t1_pos: np.ndarray
    t_date: np.ndarray
    t1_date: np.ndarray
    horizon: int
    contexts: dict[str, SymbolContext] = field(repr=False, default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def label_end_rows(self) -> np.ndarray:
        """Row index of the last event decided on or before each event's exit date (for purging)."""
        return np.searchsorted(self.t_date, self.t1_date, side="right") - 1

    def embargo_rows(self) -> int:
        """About H bars' worth of events (events per bar x H), pooled over symbols."""
        if len(self) < 2:
            return 0
        span = sum(c.n for c in self.contexts.values()) or 1
        return int(np.ceil(len(self) / span * self.horizon * max(1, len(self.contexts))))


def entry_events(
    ctx: SymbolContext, templates: Sequence[str] = TEMPLATES, horizon: int = HORIZON
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, side, template index) of every new long/short entry signal with a full label window."""
    ts, sides, tpls = [], [], []
    for j, tid in enumerate(templates):
        sig = ctx.signals[tid]
        prev = np.concatenate(([0.0], sig[:-1]))
        t = np.flatnonzero((sig != 0) & (np.sign(sig) != np.sign(prev)))
        t = t[(t >= WARMUP) & (t + horizon < ctx.n)]
        ts.append(t)
        sides.append(np.sign(sig[t]))
        tpls.append(np.full(t.size, j))
    return np.concatenate(ts), np.concatenate(sides), np.concatenate(tpls).astype(np.int64)


def build_trade_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
    regime_model: Any = None,
    templates: Sequence[str] = TEMPLATES,
    contexts: Mapping[str, SymbolContext] | None = None,
) -> TradeDataset:
    """Every template entry on every symbol, with features at t and the triple-barrier label."""
    names = feature_names(templates)
    parts = []
    ctxs = {}
    for sym, bars in bars_by_symbol.items():
        ctx = (contexts or {}).get(sym) or build_context(sym, bars, regime_model, templates)
        ctxs[sym] = ctx
        t, side, tpl = entry_events(ctx, templates, horizon)
        if t.size == 0:
            continue
        X = event_features(ctx, t, side, tpl, templates)
        tb = triple_barrier(ctx, t, side, horizon=horizon, profit_atr=profit_atr, stop_atr=stop_atr)
        ok = np.isfinite(X).all(axis=1) & np.isfinite(tb["ret_atr"])
        idx = ctx.bars.index.values
        parts.append(
            {
                "X": X[ok],
                "y": tb["label"][ok],
                "ret": tb["ret"][ok],
                "ret_atr": tb["ret_atr"][ok],
                "symbol": np.full(int(ok.sum()), sym, dtype=object),
                "template": tpl[ok],
                "side": side[ok],
                "t_pos": t[ok],
                "t1_pos": tb["t1"][ok],
                "t_date": idx[t[ok]].astype("datetime64[ns]"),
                "t1_date": idx[tb["t1"][ok]].astype("datetime64[ns]"),
            }
        )
    if not parts:
        raise NotEnoughHistory(
            "the trade-probability model (template entry signals)",
            WARMUP + horizon + 30,
            max((len(b) for b in bars_by_symbol.values()), default=0),
        )
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["template"], cat["symbol"].astype(str), cat["t_date"]))
    cat = {k: v[order] for k, v in cat.items()}
    return TradeDataset(
        cat["X"],
        cat["y"].astype(np.int64),
        names,
        list(templates),
        cat["ret"],
        cat["ret_atr"],
        cat["symbol"],
        cat["template"],
        cat["side"],
        cat["t_pos"],
        cat["t1_pos"],
        cat["t_date"],
        cat["t1_date"],
        horizon,
        ctxs,
    )


# ------------------------------------------------------------------------------------------ model


class TradeProbModel(ClassifierMixin, BaseEstimator):
    """Calibrated P(profit barrier first) for a template entry; keeps the barrier settings it was
    trained with and the average outcome (in ATR units) of wins and non-wins for the expected return."""

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 10,
        max_features: Any = "sqrt",
        calib_splits: int = 3,
        random_state: int = 0,
        horizon: int = HORIZON,
        profit_atr: float = PROFIT_ATR,
        stop_atr: float = STOP_ATR,
        templates: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
    ):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.calib_splits = calib_splits
        self.random_state = random_state
        self.horizon = horizon
        self.profit_atr = profit_atr
        self.stop_atr = stop_atr
        self.templates = templates
        self.feature_names = feature_names

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        label_end: np.ndarray | None = None,
        embargo: int = 0,
        ret_atr: np.ndarray | None = None,
    ) -> TradeProbModel:
        """Fit forest + walk-forward sigmoid calibration; `ret_atr` gives the outcome sizes."""
        from paiid.ml.selector import calibration_splits

        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.int64)
        self.templates_ = list(self.templates or TEMPLATES)
        self.feature_names_ = list(self.feature_names or [f"x{i}" for i in range(X.shape[1])])
        self.classes_ = np.array([0, 1])
        base = RandomForestClassifier(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=1,
            random_state=self.random_state,
        )
        splits = [
            (tr, te)
            for tr, te in calibration_splits(len(y), label_end, embargo, self.calib_splits)
            if len(np.unique(y[tr])) == 2 and len(np.unique(y[te])) == 2
        ]
        self.model_ = (
            CalibratedClassifierCV(base, method="sigmoid", cv=splits, ensemble=True) if splits else base
        )
        if len(np.unique(y)) < 2:
            raise NotEnoughHistory("the trade-probability model (both wins and losses)", 2, len(np.unique(y)))
        self.model_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.base_rate_ = float(y.mean())
        ra = np.asarray(
            ret_atr if ret_atr is not None else np.where(y == 1, self.profit_atr, -self.stop_atr), np.float64
        )
        self.win_ret_atr_ = float(ra[y == 1].mean()) if (y == 1).any() else float(self.profit_atr)
        self.loss_ret_atr_ = float(ra[y == 0].mean()) if (y == 0).any() else -float(self.stop_atr)
        ests = [c.estimator for c in getattr(self.model_, "calibrated_classifiers_", [])] or [self.model_]
        imp = np.mean([e.feature_importances_ for e in ests], axis=0)
        self.feature_importances_ = imp / (imp.sum() or 1.0)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(np.asarray(X, np.float64)), np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


# ------------------------------------------------------------------------------------------ answer


def parse_side(side: Any) -> int:
    """'long' / 'short' (case-insensitive) -> +1 / -1, else BadInput naming the valid choices."""
    key = str(side or "").strip().lower()
    if key not in SIDES:
        raise BadInput(f"unknown side {side!r}; valid sides: long, short")
    return SIDES[key]


def trade_answer(
    model: TradeProbModel, bars: pd.DataFrame, symbol: str, strategy_id: str, side: str | None = None
) -> dict[str, Any]:
    """`predict-trade` JSON: P(win) of entering `side` with `strategy_id` at the next open after the last
    bar of `bars`, with the barriers, horizon, base rate and an expected return (before costs).

    Without `side` the template's own position at the last bar gives it (meta-labeling proper); a flat
    template then is a BadInput asking for a side.
    """
    from paiid.backtest import get_strategy

    tpl_id = get_strategy(strategy_id).id  # BadInput naming the valid ids
    s = parse_side(side) if side is not None else 0
    templates = model.templates_
    if tpl_id not in templates:
        raise BadInput(
            f"strategy {tpl_id!r} is not known to this model; valid strategies: {', '.join(templates)}"
        )
    from paiid.ml.selector import MIN_BARS

    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a trade prediction for {symbol}", MIN_BARS, len(bars))
    ctx = build_context(symbol, bars, None, templates)
    if s == 0:
        s = int(np.sign(ctx.signals[tpl_id][-1]))
        if s == 0:
            raise BadInput(
                f"{tpl_id} has no position on {symbol} as of {bars.index[-1].date()}; "
                "give a side: long or short"
            )
    t = ctx.n - 1
    j = templates.index(tpl_id)
    x = event_features(ctx, np.array([t]), np.array([float(s)]), np.array([j]), templates)
    if not np.isfinite(x).all():
        raise NotEnoughHistory(
            f"a trade prediction for {symbol} (features undefined at the last bar)", MIN_BARS, len(bars)
        )
    p = float(model.predict_proba(x)[0, 1])
    close = float(bars["close"].iloc[-1])
    atr = float(ctx.features["atr_14"].iloc[-1])
    atr_pct = atr / close
    exp_atr = p * model.win_ret_atr_ + (1 - p) * model.loss_ret_atr_
    sig = float(ctx.signals[tpl_id][-1])
    tpl_side = "long" if sig > 0 else "short" if sig < 0 else "flat"
    prev = float(ctx.signals[tpl_id][-2]) if ctx.n > 1 else 0.0
    side_name = "long" if s > 0 else "short"
    return {
        "symbol": symbol,
        "as_of": bars.index[-1].isoformat(),
        "strategy_id": tpl_id,
        "side": side_name,
        "side_from": "given" if side is not None else "template signal",
        "win_probability": p,
        "expected_return": float(exp_atr * atr_pct),
        "horizon_bars": int(model.horizon),
        "barriers": {
            "reference_price": close,
            "entry": "next bar's open",
            "profit_take": close + s * model.profit_atr * atr,
            "stop_loss": close - s * model.stop_atr * atr,
            "profit_take_atr": float(model.profit_atr),
            "stop_loss_atr": float(model.stop_atr),
            "atr_14": atr,
            "time_bars": int(model.horizon),
        },
        "base_rate": float(model.base_rate_),
        "validation": dict(getattr(model, "validation_", {}) or {}) or None,
        "template_signal": tpl_side,
        "template_entry_now": bool(sig == s and prev != sig),
        "note": (
            "a win is the profit barrier reached before the stop and before the time barrier; levels are "
            "shown from the last close and move with the actual entry (next open); expected_return is "
            "before costs"
            + (
                ""
                if tpl_side == side_name
                else f"; the template's own signal is {tpl_side}, so this trade is off-signal "
                "(the model was trained on the templates' entry signals)"
            )
        ),
    }


# ------------------------------------------------------------------------------------------ trainer


def train(
    symbols: list[str], *, seed: int = 0, deps: dict[str, Any] | None = None, n_estimators: int = 300
) -> Any:
    """Trainer `tradeprob`: events from all templates on `symbols`, purged walk-forward scores, final fit.

    The regime columns come from the rule-based regime (`paiid.ml.dataset.rule_regime`) so that serving
    needs nothing but bars; `deps` is accepted for the trainer interface.
    """
    from paiid.ml.base import Trained, data_fingerprint
    from paiid.ml.dataset import load_symbols
    from paiid.ml.tradeprob_eval import cross_validate, summarize

    del deps
    bars = load_symbols(symbols)
    ds = build_trade_dataset(bars)
    if len(ds) < 200:
        raise NotEnoughHistory("training the trade-probability model (entry events)", 200, len(ds))

    def make() -> TradeProbModel:
        return TradeProbModel(
            n_estimators=n_estimators,
            random_state=seed,
            templates=ds.templates,
            feature_names=ds.feature_names,
            horizon=ds.horizon,
        )

    cv = cross_validate(ds, make)
    scores = summarize(ds, cv)
    model = make().fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr)
    model.validation_ = {k: scores[k] for k in ("brier", "baseline_brier", "auc", "base_rate", "n_test")}
    return Trained(
        model,
        {
            "features": list(ds.feature_names),
            "params": {
                "n_estimators": n_estimators,
                "min_samples_leaf": model.min_samples_leaf,
                "calibration": "sigmoid on purged walk-forward folds",
                "horizon": ds.horizon,
                "profit_atr": PROFIT_ATR,
                "stop_atr": STOP_ATR,
                "events": "template entry signals",
                "seed": seed,
            },
            "scores": scores,
            "data": [data_fingerprint(s, b) for s, b in bars.items()],
            "feature_importances": dict(
                zip(ds.feature_names, map(float, model.feature_importances_), strict=True)
            ),
        },
    )

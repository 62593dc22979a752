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
* **Shrinkage toward the base rate**: a Random Forest (no class weights: we want probabilities, not
  balanced recall) whose probability is blended with the training base rate, `w * forest + (1 - w) *
  base_rate`, with w learned on purged walk-forward folds of the training events only and lowered by
  one standard error. On the bundled daily symbols the forest shows no out-of-sample skill, w comes out
  0 and the served probability is the base rate: honest, and never worse than it (the earlier
  sigmoid-calibrated forest was, Brier 0.2526 vs 0.2504).
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


#: Optional entry-specific columns (see `entry_columns` and `track_record`): how far the barriers are in
#: units of the asset's own H-bar volatility, where today's volatility sits in the symbol's past, how
#: strong each template's trigger is at entry (in ATRs, in the trade's favour), and the recent realised
#: win rate of the same template (and of all templates) on the same symbol. Off by default: measured on
#: SPX + GOOG they added no out-of-sample skill (pooled AUC 0.487 with them vs 0.489 without; alone, each
#: column's AUC stayed within 0.45..0.52), so the served model does not pay for them. They stay
#: available (`build_trade_dataset(entry_features=True)`) for experiments on other data.
ENTRY_FEATURES = [
    "barrier_vol",
    "vol_pctile",
    "sided_ma_gap_atr",
    "sided_macd_atr",
    "sided_breakout_atr",
    "sided_close_sma20_atr",
    "rsi_extremity",
    "tpl_winrate",
    "sym_winrate",
]
#: How many of the latest resolved events the track-record rates look at, and the pseudo-count of
#: the 0.5 prior they are shrunk toward (few resolved events -> close to 0.5).
TRACK_EVENTS = 10
TRACK_PRIOR = 4.0


def feature_names(templates: Sequence[str] = TEMPLATES, entry: bool = False) -> list[str]:
    """Inputs of the trade model, in order (`entry`: with the ENTRY_FEATURES columns)."""
    return (
        list(SCALE_FREE)
        + REGIME_FEATURES
        + ["side"]
        + [f"sided_{f}" for f in DIRECTIONAL]
        + ["sided_rsi", "sided_bb_pctb", "sided_di"]
        + [f"is_{SHORT.get(t, t)}" for t in templates]
        + ["tpl_pos", "tpl_perf20", "tpl_perf60"]
        + (ENTRY_FEATURES if entry else [])
    )


def _template_params(tid: str) -> dict[str, Any]:
    from paiid.backtest import STRATEGIES

    return dict(STRATEGIES[tid].params) if tid in STRATEGIES else {}


def entry_columns(ctx: SymbolContext, horizon: int = HORIZON, profit_atr: float = PROFIT_ATR) -> dict:
    """Per-bar, unsided entry-strength columns from bars <= t only (trailing windows, expanding ranks).

    The trigger sizes use the templates' default parameters (the events are the default templates'
    signals): fast-minus-slow MA of the MA cross, MACD histogram, the close beyond the previous
    channel high / low of the breakout (positive = broke out), the close's distance from its 20-bar MA,
    all divided by ATR(14) so they compare across symbols and eras.
    """
    from paiid.features import indicators as ind

    c = ctx.bars["close"].to_numpy(np.float64)
    h = ctx.bars["high"].to_numpy(np.float64)
    lo = ctx.bars["low"].to_numpy(np.float64)
    f = ctx.features
    atr = f["atr_14"].to_numpy(np.float64)
    rv = f["rvol_20"].to_numpy(np.float64)
    ma = _template_params("trend-following-ma-cross")
    ch = int(_template_params("momentum-breakout").get("channel", 20))
    hi_prev = np.concatenate(([np.nan], ind.rolling_max(h, ch)[:-1]))
    lo_prev = np.concatenate(([np.nan], ind.rolling_min(lo, ch)[:-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            # profit distance as a multiple of the expected H-bar move (daily vol x sqrt(H))
            "barrier_vol": profit_atr * f["atr_pct"].to_numpy(np.float64) / (rv * np.sqrt(horizon)),
            # expanding percentile of 20-bar volatility within the symbol's own past (causal)
            "vol_pctile": pd.Series(rv).expanding(min_periods=60).rank(pct=True).to_numpy(),
            "ma_gap": (ind.sma(c, int(ma.get("fast", 20))) - ind.sma(c, int(ma.get("slow", 50)))) / atr,
            "macd": f["macd_hist_pct"].to_numpy(np.float64) * c / atr,
            "break_up": (c - hi_prev) / atr,
            "break_dn": (lo_prev - c) / atr,
            "close_sma20": f["dist_sma_20"].to_numpy(np.float64) * c / atr,
        }
    return out


def track_record(
    ctx: SymbolContext,
    t: np.ndarray,
    tpl: np.ndarray,
    templates: Sequence[str] = TEMPLATES,
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
    k: int = TRACK_EVENTS,
    prior: float = TRACK_PRIOR,
) -> np.ndarray:
    """Shrunk win rates of the latest `k` entry events *resolved by the close of t* (barrier hit or
    time barrier at a bar <= t), of template `tpl` and of all templates, on this symbol: (n, 2).

    Purged by construction: an event counts only once its own label has ended at or before t, so the
    rate at t uses bars <= t only (the same value serving computes from the bars it has). Rates are
    (wins + prior * 0.5) / (count + prior), so a short history reads as "about even".
    """
    t = np.asarray(t, np.int64)
    tpl = np.asarray(tpl, np.int64)
    ev_t, ev_side, ev_tpl = entry_events(ctx, templates, horizon=0)
    if ev_t.size:
        tb = triple_barrier(ctx, ev_t, ev_side, horizon=horizon, profit_atr=profit_atr, stop_atr=stop_atr)
        ev_t1, ev_win = tb["t1"], tb["label"].astype(np.float64)
    else:
        ev_t1, ev_win = np.zeros(0, np.int64), np.zeros(0)

    def rate(sel: np.ndarray, at: np.ndarray) -> np.ndarray:
        order = np.argsort(ev_t1[sel], kind="stable")
        t1s, wins = ev_t1[sel][order], np.concatenate(([0.0], np.cumsum(ev_win[sel][order])))
        m = np.searchsorted(t1s, at, side="right")  # events resolved by the close of `at`
        lo_ = np.maximum(m - k, 0)
        return (wins[m] - wins[lo_] + 0.5 * prior) / (m - lo_ + prior)

    out = np.empty((t.size, 2))
    for j in np.unique(tpl):
        rows = tpl == j
        out[rows, 0] = rate(ev_tpl == j, t[rows])
    out[:, 1] = rate(np.ones(ev_t.size, bool), t)
    return out


def event_features(
    ctx: SymbolContext,
    t: np.ndarray,
    side: np.ndarray,
    tpl: np.ndarray,
    templates: Sequence[str] = TEMPLATES,
    *,
    horizon: int = HORIZON,
    profit_atr: float = PROFIT_ATR,
    stop_atr: float = STOP_ATR,
    entry: bool = False,
) -> np.ndarray:
    """Feature rows for trades decided at bars `t` with `side` (+1/-1) of template index `tpl`.

    With `entry` the ENTRY_FEATURES columns follow; the barrier settings enter their barrier-distance
    and track-record columns, so serving must pass the ones the model was trained with."""
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
    cols = [base, reg, side[:, None], sided, rsi, pctb, di, onehot, own]
    if not entry:
        return np.column_stack(cols)
    e = entry_columns(ctx, horizon, profit_atr)
    brk = np.where(side > 0, e["break_up"][t], e["break_dn"][t])
    extra = np.column_stack(
        [
            e["barrier_vol"][t],
            e["vol_pctile"][t],
            e["ma_gap"][t] * side,
            e["macd"][t] * side,
            brk,
            e["close_sma20"][t] * side,
            np.abs(f["rsi_14"].to_numpy(np.float64)[t] - 50.0),
            track_record(ctx, t, tpl, templates, horizon=horizon, profit_atr=profit_atr, stop_atr=stop_atr),
        ]
    )
    return np.column_stack([*cols, extra])


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
    side-adjusted return (fraction of entry) and the return in ATR units.

    Events with t + horizon >= n are allowed: the missing bars are NaN (never touch a barrier), so such
    an event either hit a barrier on the bars that exist (then its outcome is final) or has t1 >= n
    (unresolved). Training uses only events with a full window; `track_record` uses the rest too."""
    b = ctx.bars
    pad = np.full(horizon + 1, np.nan)
    o, h, lo, c = (np.concatenate((b[k].to_numpy(np.float64), pad)) for k in ("open", "high", "low", "close"))
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
    """(t, side, template index) of every new long/short entry signal with a full label window
    (`horizon=0`: every entry up to the second-to-last bar, for track records)."""
    ts, sides, tpls = [], [], []
    for j, tid in enumerate(templates):
        sig = ctx.signals[tid]
        prev = np.concatenate(([0.0], sig[:-1]))
        t = np.flatnonzero((sig != 0) & (np.sign(sig) != np.sign(prev)))
        t = t[(t >= WARMUP) & (t + max(horizon, 1) < ctx.n)]
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
    entry_features: bool = False,
) -> TradeDataset:
    """Every template entry on every symbol, with features at t and the triple-barrier label
    (`entry_features`: with the optional ENTRY_FEATURES columns)."""
    names = feature_names(templates, entry_features)
    parts = []
    ctxs = {}
    for sym, bars in bars_by_symbol.items():
        ctx = (contexts or {}).get(sym) or build_context(sym, bars, regime_model, templates)
        ctxs[sym] = ctx
        t, side, tpl = entry_events(ctx, templates, horizon)
        if t.size == 0:
            continue
        X = event_features(
            ctx,
            t,
            side,
            tpl,
            templates,
            horizon=horizon,
            profit_atr=profit_atr,
            stop_atr=stop_atr,
            entry=entry_features,
        )
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


def blend_weight(p: np.ndarray, base: np.ndarray, y: np.ndarray, *, z: float = 0.0, block: int = 1) -> float:
    """Weight w in [0, 1] for `base + w * (p - base)` from out-of-sample rows (in time order).

    The Brier score of the blend is a quadratic in w, so its minimiser is the least-squares slope of
    (y - base) on (p - base). With a few hundred noisy events that slope is itself noisy, and a chance
    positive slope on the inner folds makes the blend *worse* than the base rate out of sample. So the
    slope is lowered by `z` standard errors before clipping to [0, 1] (a one-standard-error rule:
    keep the model only as far as the evidence for it goes). The standard error is a sandwich estimate
    over blocks of `block` consecutive rows, because overlapping triple-barrier labels make neighbouring
    residuals correlated. w = 0 means "no evidence of skill beyond the base rate". Without rows, or when
    the model never departs from the base rate, w = 0 (the safe answer).
    """
    d = np.asarray(p, np.float64) - np.asarray(base, np.float64)
    r = np.asarray(y, np.float64) - np.asarray(base, np.float64)
    den = float(d @ d)
    if d.size < 2 or den <= 1e-12:
        return 0.0
    w = float(d @ r) / den
    if z > 0:
        score = d * (r - w * d)
        block = int(min(max(block, 1), d.size))
        sums = np.add.reduceat(score, np.arange(0, d.size, block))
        w -= z * float(np.sqrt(sums @ sums)) / den
    return float(np.clip(w, 0.0, 1.0))


class TradeProbModel(ClassifierMixin, BaseEstimator):
    """P(profit barrier first) for a template entry, shrunk toward the training base rate by a weight
    learned out of sample; keeps the barrier settings it was trained with and the average outcome (in
    ATR units) of wins and non-wins for the expected return.

    Why the shrinkage: with a few hundred overlapping, noisy events a forest's probabilities can be
    worse than the plain base rate out of sample (it was: Brier 0.2526 vs 0.2504). The final answer is
    `w * forest + (1 - w) * base_rate`, with w fitted on purged walk-forward folds *inside* the training
    events (`blend_weight`, lowered by `shrink_se` standard errors), so a model without skill falls back
    to the base rate instead of adding noise, and one with clear skill keeps most of it. The forest's
    own probabilities are not sigmoid-calibrated first: a leaf size of `min_samples_leaf` already keeps
    them away from 0 and 1, and the blend is itself a (linear, regularised) recalibration.
    `calibration="sigmoid"` restores the earlier sigmoid-calibrated forest without shrinkage (kept for
    comparison).
    """

    def __init__(
        self,
        n_estimators: int = 300,
        min_samples_leaf: int = 10,
        max_features: Any = "sqrt",
        calib_splits: int = 5,
        calibration: str = "blend",
        shrink_se: float = 1.0,
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
        self.calibration = calibration
        self.shrink_se = shrink_se
        self.random_state = random_state
        self.horizon = horizon
        self.profit_atr = profit_atr
        self.stop_atr = stop_atr
        self.templates = templates
        self.feature_names = feature_names

    def _forest(self) -> RandomForestClassifier:
        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=1,
            random_state=self.random_state,
        )

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        label_end: np.ndarray | None = None,
        embargo: int = 0,
        ret_atr: np.ndarray | None = None,
    ) -> TradeProbModel:
        """Fit the forest and its shrinkage weight (or sigmoid calibration) on purged walk-forward
        folds of these events only; `ret_atr` gives the outcome sizes."""
        from paiid.ml.selector import calibration_splits

        if self.calibration not in ("blend", "sigmoid"):
            raise BadInput(f"unknown calibration {self.calibration!r}; valid: blend, sigmoid")
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.int64)
        if len(np.unique(y)) < 2:
            raise NotEnoughHistory("the trade-probability model (both wins and losses)", 2, len(np.unique(y)))
        self.templates_ = list(self.templates or TEMPLATES)
        self.feature_names_ = list(self.feature_names or [f"x{i}" for i in range(X.shape[1])])
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean())
        splits = [
            (tr, te)
            for tr, te in calibration_splits(len(y), label_end, embargo, self.calib_splits)
            if len(np.unique(y[tr])) == 2
        ]
        if self.calibration == "sigmoid":
            splits = [(tr, te) for tr, te in splits if len(np.unique(y[te])) == 2]
            self.model_ = (
                CalibratedClassifierCV(self._forest(), method="sigmoid", cv=splits, ensemble=True)
                if splits
                else self._forest()
            )
            self.model_.fit(X, y)
            self.blend_weight_ = 1.0
            self.blend_events_ = 0
        else:
            # out-of-sample forest probabilities on the inner folds -> the shrinkage weight
            p_in, b_in, y_in = [], [], []
            for tr, te in splits:
                inner = self._forest().fit(X[tr], y[tr])
                p_in.append(inner.predict_proba(X[te])[:, 1])
                b_in.append(np.full(len(te), y[tr].mean()))
                y_in.append(y[te])
            cat = [np.concatenate(a) if a else np.zeros(0) for a in (p_in, b_in, y_in)]
            self.blend_weight_ = blend_weight(*cat, z=float(self.shrink_se), block=max(1, int(embargo)))
            self.blend_events_ = int(cat[2].size)
            self.model_ = self._forest().fit(X, y)
        self.n_features_in_ = X.shape[1]
        ra = np.asarray(
            ret_atr if ret_atr is not None else np.where(y == 1, self.profit_atr, -self.stop_atr), np.float64
        )
        self.win_ret_atr_ = float(ra[y == 1].mean()) if (y == 1).any() else float(self.profit_atr)
        self.loss_ret_atr_ = float(ra[y == 0].mean()) if (y == 0).any() else -float(self.stop_atr)
        ests = [c.estimator for c in getattr(self.model_, "calibrated_classifiers_", [])] or [self.model_]
        imp = np.mean([e.feature_importances_ for e in ests], axis=0)
        self.feature_importances_ = imp / (imp.sum() or 1.0)
        return self

    def forest_proba(self, X: np.ndarray) -> np.ndarray:
        """P(win) of the forest (or the sigmoid-calibrated forest) before shrinkage: its ranking is
        what the out-of-sample AUC of the model itself measures, even when the blend weight is 0."""
        return np.asarray(self.model_.predict_proba(np.asarray(X, np.float64)), np.float64)[:, 1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.forest_proba(X)
        w = float(getattr(self, "blend_weight_", 1.0))
        p = w * p + (1.0 - w) * self.base_rate_
        return np.column_stack([1.0 - p, p])

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
    x = event_features(
        ctx,
        np.array([t]),
        np.array([float(s)]),
        np.array([j]),
        templates,
        horizon=int(model.horizon),
        profit_atr=float(model.profit_atr),
        stop_atr=float(model.stop_atr),
        entry=ENTRY_FEATURES[0] in list(getattr(model, "feature_names_", None) or []),
    )
    if not np.isfinite(x).all():
        raise NotEnoughHistory(
            f"a trade prediction for {symbol} (features undefined at the last bar)", MIN_BARS, len(bars)
        )
    p = float(model.predict_proba(x)[0, 1])
    w = float(getattr(model, "blend_weight_", 1.0))
    raw = float(model.forest_proba(x)[0]) if hasattr(model, "forest_proba") else p
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
        "model_probability": raw,
        "blend_weight": w,
        "validation": dict(getattr(model, "validation_", {}) or {}) or None,
        "template_signal": tpl_side,
        "template_entry_now": bool(sig == s and prev != sig),
        "note": (
            "a win is the profit barrier reached before the stop and before the time barrier; levels are "
            "shown from the last close and move with the actual entry (next open); expected_return is "
            "before costs"
            + (
                "; the model showed no out-of-sample skill on its training events (blend weight 0), so "
                "win_probability is the base rate; model_probability is the forest's unshrunk estimate"
                if w == 0.0
                else f"; win_probability = {w:.2f} x model_probability + {1 - w:.2f} x base_rate"
                if w < 1.0
                else ""
            )
            + (
                ""
                if tpl_side == side_name
                else f"; the template's own signal is {tpl_side}, so this trade is off-signal "
                "(the model was trained on the templates' entry signals)"
            )
        ),
    }


# ------------------------------------------------------------------------------------------ trainer


def model_for(ds: TradeDataset, *, n_estimators: int, seed: int) -> TradeProbModel:
    """An unfitted model shaped for dataset `ds`: the one recipe the trainer and `paiid evaluate` share,
    so what is scored is what is served."""
    return TradeProbModel(n_estimators=n_estimators, random_state=seed, templates=ds.templates,
                          feature_names=ds.feature_names, horizon=ds.horizon)


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
        return model_for(ds, n_estimators=n_estimators, seed=seed)

    cv = cross_validate(ds, make)
    scores = summarize(ds, cv)
    model = make().fit(ds.X, ds.y, label_end=ds.label_end_rows, embargo=ds.embargo_rows(), ret_atr=ds.ret_atr)
    model.validation_ = {
        k: scores.get(k)
        for k in ("brier", "baseline_brier", "brier_skill", "auc", "auc_model", "base_rate", "n_test")
    }
    model.validation_["blend_weight"] = float(model.blend_weight_)
    return Trained(
        model,
        {
            "features": list(ds.feature_names),
            "params": {
                "n_estimators": n_estimators,
                "min_samples_leaf": model.min_samples_leaf,
                "calibration": model.calibration,
                "shrinkage": "w * forest + (1 - w) * base rate, w from inner purged walk-forward folds "
                "minus one standard error",
                "blend_weight": float(model.blend_weight_),
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

"""What the trade model sees at an event: the market at t, turned to the trade's side, and the template.

`event_features` gives one row per (bar t, side, template): the scale-free features, the regime columns,
the direction-dependent features multiplied by the side (so "in the trade's favour" is positive), a
one-hot of the template and its own position and trailing performance. The optional `ENTRY_FEATURES`
(`entry_columns`, `track_record`) add how strong the trigger is and how the same template fared lately.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES
from paiid.features import SCALE_FREE
from paiid.features import indicators as ind
from paiid.ml.context import REGIME_FEATURES, SHORT, TEMPLATES, SymbolContext, regime_matrix, template_state
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR, entry_events, triple_barrier

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


#: The sided oscillators after the DIRECTIONAL columns: name -> the feature columns they read.
SIDED_OSCILLATORS: dict[str, tuple[str, ...]] = {
    "sided_rsi": ("rsi_14",),
    "sided_bb_pctb": ("bb_pctb",),
    "sided_di": ("plus_di", "minus_di"),
}


def _sided(features: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The DIRECTIONAL columns and the sided oscillators defined by the base columns `features`
    (None: SCALE_FREE, which defines all of them)."""
    if features is None:
        return list(DIRECTIONAL), list(SIDED_OSCILLATORS)
    have = set(features)
    return ([f for f in DIRECTIONAL if f in have],
            [k for k, need in SIDED_OSCILLATORS.items() if have.issuperset(need)])


def feature_names(
    templates: Sequence[str] = TEMPLATES,
    entry: bool = False,
    *,
    features: Sequence[str] | None = None,
    regime: bool = True,
) -> list[str]:
    """Inputs of the trade model, in order (`entry`: with the ENTRY_FEATURES columns).

    `features`: the scale-free base columns (default `SCALE_FREE`); the sided columns are then only
    those whose inputs are among them, so a close-only feature set (a panel of close views) gets no
    column made of a missing high, low or volume. `regime=False` leaves out the regime columns (the
    rule regime reads ADX, which close-only bars do not define)."""
    directional, osc = _sided(features)
    return (
        list(SCALE_FREE if features is None else features)
        + (REGIME_FEATURES if regime else [])
        + ["side"]
        + [f"sided_{f}" for f in directional]
        + osc
        + [f"is_{SHORT.get(t, t)}" for t in templates]
        + ["tpl_pos", "tpl_perf20", "tpl_perf60"]
        + (ENTRY_FEATURES if entry else [])
    )


def _template_params(tid: str) -> dict[str, Any]:
    return dict(STRATEGIES[tid].params) if tid in STRATEGIES else {}


def entry_columns(ctx: SymbolContext, horizon: int = HORIZON, profit_atr: float = PROFIT_ATR) -> dict:
    """Per-bar, unsided entry-strength columns from bars <= t only (trailing windows, expanding ranks).

    The trigger sizes use the templates' default parameters (the events are the default templates'
    signals): fast-minus-slow MA of the MA cross, MACD histogram, the close beyond the previous
    channel high / low of the breakout (positive = broke out), the close's distance from its 20-bar MA,
    all divided by ATR(14) so they compare across symbols and eras.
    """
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
    features: Sequence[str] | None = None,
    regime: bool = True,
) -> np.ndarray:
    """Feature rows for trades decided at bars `t` with `side` (+1/-1) of template index `tpl`.

    With `entry` the ENTRY_FEATURES columns follow; the barrier settings enter their barrier-distance
    and track-record columns, so serving must pass the ones the model was trained with. `features` and
    `regime`: see `feature_names` (the columns come in its order)."""
    t = np.asarray(t, dtype=np.int64)
    side = np.asarray(side, dtype=np.float64)
    tpl = np.asarray(tpl, dtype=np.int64)
    f = ctx.features
    directional, osc = _sided(features)
    base = f[list(SCALE_FREE if features is None else features)].to_numpy(np.float64)[t]
    reg = [regime_matrix(ctx.regime, ctx.regime_conf)[t]] if regime else []
    sided = f[directional].to_numpy(np.float64)[t] * side[:, None]

    def at(name: str) -> np.ndarray:
        return f[name].to_numpy(np.float64)[t]

    oscillators = {  # computed only when asked for: a close-only frame has no plus_di / minus_di
        "sided_rsi": lambda: (at("rsi_14") - 50.0) * side,
        "sided_bb_pctb": lambda: (at("bb_pctb") - 0.5) * side,
        "sided_di": lambda: (at("plus_di") - at("minus_di")) * side,
    }
    onehot = np.zeros((t.size, len(templates)))
    onehot[np.arange(t.size), tpl] = 1.0
    state = template_state(ctx, templates)  # pos_*, perf20_*, perf60_*
    k = len(templates)
    own = np.column_stack([state[t, tpl] * side, state[t, k + tpl], state[t, 2 * k + tpl]])
    cols = [base, *reg, side[:, None], sided, *(oscillators[name]() for name in osc), onehot, own]
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


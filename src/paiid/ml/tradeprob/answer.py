"""The `predict-trade` answer: P(win) of one proposed trade from the bars up to now, with its barriers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from paiid.backtest import get_strategy
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.context import MIN_BARS, AnswerContext
from paiid.ml.tradeprob.features import ENTRY_FEATURES, event_features
from paiid.ml.tradeprob.model import TradeProbModel

SIDES = {"long": 1, "short": -1}


def parse_side(side: Any) -> int:
    """'long' / 'short' (case-insensitive) -> +1 / -1, else BadInput naming the valid choices."""
    key = str(side or "").strip().lower()
    if key not in SIDES:
        raise BadInput(f"unknown side {side!r}; valid sides: long, short")
    return SIDES[key]


def trade_answer(
    model: TradeProbModel, bars: pd.DataFrame, symbol: str, strategy_id: str, side: str | None = None, *,
    context: AnswerContext | None = None,
) -> dict[str, Any]:
    """`predict-trade` JSON: P(win) of entering `side` with `strategy_id` at the next open after the last
    bar of `bars`, with the barriers, horizon, base rate and an expected return (before costs).

    Without `side` the template's own position at the last bar gives it (meta-labeling proper); a flat
    template then is a BadInput asking for a side. `context`: the shared `AnswerContext` of these bars.
    """
    check_is_fitted(model)
    tpl_id = get_strategy(strategy_id).id  # BadInput naming the valid ids
    s = parse_side(side) if side is not None else 0
    templates = model.templates_
    if tpl_id not in templates:
        raise BadInput(
            f"strategy {tpl_id!r} is not known to this model; valid strategies: {', '.join(templates)}"
        )
    if len(bars) < MIN_BARS:
        raise NotEnoughHistory(f"a trade prediction for {symbol}", MIN_BARS, len(bars))
    shared = AnswerContext.of(symbol, bars, context)
    ctx = shared.symbol_context(templates)  # the rule regime, as the model was trained (`trainer`)
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
        entry=ENTRY_FEATURES[0] in model.feature_names_,
    )
    shared.require_defined(f"a trade prediction for {symbol}", model.feature_names_, x[0])
    p = float(model.predict_proba(x)[0, 1])
    w = float(model.blend_weight_)
    raw = float(model.forest_proba(x)[0])
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
        "validation": dict(model.validation_ or {}) or None,
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

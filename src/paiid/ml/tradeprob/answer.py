"""The `predict-trade` answer: P(win) of one proposed trade from the bars up to now, with its barriers.

Two honesty fields beside the probability:

* `informative`: False when the probability carries nothing beyond the base rate, because the model's
  blend weight is 0 (it serves the base rate) or its out-of-sample Brier skill is not significant
  (`validation_["skill_significant"]`); the `note` then opens with "no information beyond the base rate
  of X% (N resolved events up to D)".
* `typicality` (`paiid.ml.typicality`): how far the trade's inputs are from the training events. When
  unusual, the weight on the forest is multiplied by the `confidence_factor` (w_eff = w x factor), so
  the probability moves toward the base rate, and the note says so.
"""

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
    w = float(model.blend_weight_)
    raw = float(model.forest_proba(x)[0])
    typicality = model.typicality_.assess(x[0])
    w_eff = w * float(typicality["confidence_factor"])
    base = float(model.base_rate_)
    p = w_eff * raw + (1.0 - w_eff) * base
    informative, why = _informative(model)
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
        "base_rate": base,
        "model_probability": raw,
        "blend_weight": w,
        "effective_blend_weight": w_eff,
        "informative": informative,
        "typicality": typicality,
        "validation": dict(model.validation_ or {}) or None,
        "template_signal": tpl_side,
        "template_entry_now": bool(sig == s and prev != sig),
        "note": (
            ("" if informative else _base_rate_note(model, why) + "; ")
            + "a win is the profit barrier reached before the stop and before the time barrier; levels are "
            "shown from the last close and move with the actual entry (next open); expected_return is "
            "before costs"
            + (
                "; win_probability is the base rate; model_probability is the forest's unshrunk estimate"
                if w_eff == 0.0
                else f"; win_probability = {w_eff:.3f} x model_probability + {1 - w_eff:.3f} x base_rate"
                if w_eff < 1.0
                else ""
            )
            + (
                f"; inputs unusual for the model ({typicality['percentile']:.1f}th percentile of distance "
                f"to its training events): the weight on the forest is multiplied by "
                f"{typicality['confidence_factor']:g}"
                + (" (it is 0 already)" if w == 0.0 else "")
                if typicality["unusual"]
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


def _informative(model: TradeProbModel) -> tuple[bool, str]:
    """Whether the model's probability says more than its base rate, and if not, why not."""
    val = model.validation_ or {}
    if float(model.blend_weight_) == 0.0:
        return False, "the model showed no out-of-sample skill on its training events (blend weight 0)"
    if not val:
        return False, "the model carries no out-of-sample validation of its skill"
    if not val.get("skill_significant"):
        bss, ci, p = val.get("brier_skill"), val.get("brier_skill_ci95"), val.get("brier_skill_p_value")
        shown = "" if bss is None else f" {bss:+.3f}"
        if ci is not None and p is not None:
            shown += f" (95% CI [{ci[0]:+.3f}, {ci[1]:+.3f}], p = {p:.2f})"
        return False, f"its out-of-sample Brier skill{shown} is not significant"
    return True, ""


def _base_rate_note(model: TradeProbModel, why: str) -> str:
    """"no information beyond the base rate of X% (N resolved events up to D): why"."""
    n = int(getattr(model, "n_events_", 0))
    until = getattr(model, "resolved_through_", None)
    events = f"{n} resolved events" + (f" up to {until}" if until else "")
    return f"no information beyond the base rate of {float(model.base_rate_):.1%} ({events}): {why}"

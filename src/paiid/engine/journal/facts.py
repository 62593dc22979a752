"""What a logged answer recommended: its top template, the side it meant, its barriers, the win
probability it showed and the regime it saw.

Why one reader: the journal validates an "adopt" against the answer's top template, resolves a "pass" as
the trade the answer recommended, and groups adoption by regime; the logged answers come in four shapes
(the strategy recommendation, the orchestrator's `/api/ai/recommendations` summary, a trade answer, and
regime/pattern answers that recommend no single trade), so the shapes are read in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paiid.data import load_bars
from paiid.ml.context import AnswerContext

#: Kinds of logged answers whose top recommendation can be adopted or passed.
ADVICE_KINDS: tuple[str, ...] = ("recommendation", "trade")


@dataclass(frozen=True)
class Prediction:
    """One row of the prediction log, as the journal needs it."""

    id: int
    kind: str
    symbol: str
    as_of: pd.Timestamp
    user_id: str | None
    ab_group: str | None
    output: dict[str, Any]


@dataclass(frozen=True)
class Advice:
    """The trade an answer recommended (template/side None where the answer does not name one)."""

    template: str | None
    side: str | None
    #: (reference price, profit_take, stop_loss) shown with the answer, when it showed levels.
    levels: tuple[float, float, float] | None
    win_probability: float | None
    regime: str | None


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _levels(barriers: Any) -> tuple[float, float, float] | None:
    if not isinstance(barriers, dict):
        return None
    vals = tuple(_finite(barriers.get(k)) for k in ("reference_price", "profit_take", "stop_loss"))
    return None if any(v is None for v in vals) else vals  # type: ignore[return-value]


def _side(value: Any) -> str | None:
    s = str(value or "").lower()
    return s if s in ("long", "short") else None


def _prob(value: Any) -> float | None:
    p = _finite(value)
    return p if p is not None and 0.0 <= p <= 1.0 else None


def advice(pred: Prediction) -> Advice:
    """The `Advice` of a logged answer, read off whichever of the logged shapes it has."""
    out = pred.output
    if pred.kind == "trade":
        return Advice(out.get("strategy_id"), _side(out.get("side")), _levels(out.get("barriers")),
                      _prob(out.get("win_probability")), None)
    if pred.kind == "recommendation":
        top = out.get("top")
        if isinstance(top, dict):  # the orchestrator's summary of /api/ai/recommendations
            side = _side(top.get("side"))
            if side is None and isinstance(top.get("direction"), int | float) and top["direction"]:
                side = "long" if top["direction"] > 0 else "short"
            regime = out.get("regime")
            return Advice(top.get("strategy_id"), side, _levels(top.get("barriers")),
                          _prob(top.get("win_probability")), regime if isinstance(regime, str) else None)
        recs = out.get("recommendations") or []
        tid = recs[0].get("strategy_id") if recs and isinstance(recs[0], dict) else None
        mc = out.get("market_conditions") or {}
        regime = mc.get("regime") if isinstance(mc, dict) else None
        return Advice(tid, _side(out.get("side")), None, None, regime)
    if pred.kind == "regime":
        return Advice(None, None, None, None, out.get("current_regime"))
    return Advice(None, None, None, None, None)


def template_side(symbol: str, as_of: pd.Timestamp, template: str) -> str:
    """The side `template`'s own rule holds at the close of `as_of`: what a strategy recommendation
    means by "trade this template now" (a flat template is priced as a long entry, as the orchestrator
    shows it). Read from the template's backtest on the bars up to `as_of` only."""
    bars = load_bars(symbol, end=as_of)
    position = float(np.nan_to_num(AnswerContext(symbol, bars).backtest(template)[1][-1]))
    return "short" if position < 0 else "long"

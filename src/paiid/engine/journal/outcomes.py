"""Outcomes of journalled trades, resolved from the bars exactly as the trade model labels its events.

Why the trade model's labels (`paiid.ml.tradeprob.labels.triple_barrier`) and not a second simulator:
the report sets the win probability the model showed against what the trade did, so a "win" must mean
what the model was trained to predict. The conventions are therefore the labels':

* the decision is taken at the close of `entry_date` (bar t: the last bar on or before it) and the trade
  fills at the next bar's open; the time barrier is `HORIZON` bars later;
* the profit and stop levels sit at the distances the journal's entry, target and stop give, measured
  in ATR(14) at t (the trade answer shows its levels from the last close "and they move with the actual
  entry (next open)", so the same rule applies to a journalled trade). Without an entry price the
  reference is the close of t (the trade answer's `reference_price`); a missing stop or target is the
  model's default `STOP_ATR` / `PROFIT_ATR` x ATR;
* a bar touching both levels is a stop, a gap through a level fills at its open, a time exit is not a
  win; returns are side-adjusted fractions of the fill, before costs (as the labels are).

Point in time: only the bars loaded now count (`paiid.data.as_of` caps them), so a trade whose barrier
window has not fully arrived stays open, unless a level was already hit on the bars that exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paiid.features import build_features
from paiid.ml.context import SymbolContext
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR, triple_barrier

#: Label outcome -> journal status.
STATUS = {"profit": "won", "stop": "lost", "time": "timeout"}


@dataclass(frozen=True)
class Trade:
    """A trade to resolve: the decision date, the side and the prices that set its barriers."""

    entry_date: pd.Timestamp
    side: str
    entry: float | None = None
    stop: float | None = None
    target: float | None = None


class Resolver:
    """Resolves trades on one symbol's bars (features computed once for all its trades)."""

    def __init__(self, symbol: str, bars: pd.DataFrame) -> None:
        self.symbol = symbol
        self.bars = bars
        features = build_features(bars) if len(bars) else pd.DataFrame({"atr_14": []})
        empty = np.zeros(0)
        self.ctx = SymbolContext(symbol, bars, features, {}, {}, empty, empty, "rules")
        self.atr = features["atr_14"].to_numpy(np.float64)
        self.close = bars["close"].to_numpy(np.float64) if len(bars) else empty

    def decision_bar(self, date: pd.Timestamp) -> int | None:
        """Bar t of a decision taken at the close of `date`; None when that bar is not stored yet."""
        if not len(self.bars) or pd.Timestamp(date) > self.bars.index[-1]:
            return None
        t = int(self.bars.index.searchsorted(pd.Timestamp(date), side="right")) - 1
        return t if t >= 0 else None

    def reference(self, t: int) -> float:
        return float(self.close[t])

    def resolve(self, trade: Trade) -> dict[str, object]:
        """{"status": open|won|lost|timeout, ...}: exit date, return and the barriers in ATR units."""
        t = self.decision_bar(trade.entry_date)
        if t is None:
            return {"status": "open", "why": "the decision bar is not in the stored bars yet"}
        a = float(self.atr[t])
        if not np.isfinite(a) or a <= 0:
            return {"status": "open", "why": f"ATR(14) is undefined at {self.bars.index[t].date()}, so the "
                    "barriers cannot be placed (too little history or close-only data)"}
        s = 1.0 if trade.side == "long" else -1.0
        ref = self.reference(t) if trade.entry is None else float(trade.entry)
        profit_atr = PROFIT_ATR if trade.target is None else s * (float(trade.target) - ref) / a
        stop_atr = STOP_ATR if trade.stop is None else s * (ref - float(trade.stop)) / a
        res = triple_barrier(self.ctx, np.array([t]), np.array([s]), horizon=HORIZON,
                             profit_atr=profit_atr, stop_atr=stop_atr)
        t1 = int(res["t1"][0])
        base: dict[str, object] = {"decision_date": self.bars.index[t].date().isoformat(),
                                   "profit_atr": float(profit_atr), "stop_atr": float(stop_atr)}
        if t1 >= len(self.bars):
            return {"status": "open", **base,
                    "why": f"no barrier hit yet and the {HORIZON}-bar window has not fully arrived"}
        return {
            **base,
            "status": STATUS[str(res["outcome"][0])],
            "won": bool(res["label"][0]),
            "return": float(res["ret"][0]),
            "return_atr": float(res["ret_atr"][0]),
            "fill": float(self.bars["open"].iloc[t + 1]),
            "exit_date": self.bars.index[t1].date().isoformat(),
        }

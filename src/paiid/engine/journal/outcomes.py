"""Outcomes of journalled trades, resolved from the bars exactly as the trade model labels its events,
with the returns net of the backtester's costs.

Why the trade model's labels (`paiid.ml.tradeprob.labels.triple_barrier`) and not a second simulator:
the report sets the win probability the model showed against what the trade did, so a "win" must mean
what the model was trained to predict. The status (won / lost / timeout), the exit bar and the exit
price are therefore the labels':

* the decision is taken at the close of `entry_date` (bar t: the last bar on or before it) and the trade
  fills at the next bar's open; the time barrier is `HORIZON` bars later;
* the profit and stop levels sit at the distances the journal's entry, target and stop give, measured
  in ATR(14) at t (the trade answer shows its levels from the last close "and they move with the actual
  entry (next open)", so the same rule applies to a journalled trade). Without an entry price the
  reference is the close of t (the trade answer's `reference_price`); a missing stop or target is the
  model's default `STOP_ATR` / `PROFIT_ATR` x ATR;
* a bar touching both levels is a stop, a gap through a level fills at its open, a time exit is not a
  win.

**Close-only series** (closes only: the bundled skfolio stocks and SP500 index, adjusted-close imports;
`paiid.backtest.strategies.is_close_only`, the backtester's own test) take the labels' close-only path,
the one the panel trade model is trained on: `triple_barrier(close_only=True)` with the volatility unit
`paiid.ml.panel.trade.close_atr` (ATR(14) of the flat bars = Wilder's average of absolute close
changes). So the fill is the next *close* (as in the close-only backtest), the barriers are checked on
closes and a close beyond a level exits at that close. Without this such trades could never resolve:
their high-low ATR does not exist.

**Costs.** The label's return is before costs (the model predicts barrier hits, which costs do not
move), but a user's trade pays them, so `return` is the label's trade net of one round trip at the
backtester's defaults (`paiid.backtest.DEFAULT_COMMISSION_BPS` of notional on each fill,
`DEFAULT_SLIPPAGE_BPS` moving each fill against the trade), with the backtester's per-trade arithmetic
(`net_return`); `gross_return` / `return_atr` keep the label's own numbers. The status is not changed by
costs: a "won" trade is the label's profit-barrier hit, whatever a few bp do to a tiny timeout return.

Point in time: only the bars loaded now count (`paiid.data.as_of` caps them), so a trade whose barrier
window has not fully arrived stays open, unless a level was already hit on the bars that exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS
from paiid.backtest.strategies import is_close_only
from paiid.features import build_features
from paiid.ml.context import SymbolContext
from paiid.ml.panel.trade import close_atr
from paiid.ml.tradeprob.labels import HORIZON, PROFIT_ATR, STOP_ATR, triple_barrier

#: Label outcome -> journal status.
STATUS = {"profit": "won", "stop": "lost", "time": "timeout"}
#: The costs every journalled return is net of, as the outputs state them.
COSTS = (f"{DEFAULT_COMMISSION_BPS:g} bp commission + {DEFAULT_SLIPPAGE_BPS:g} bp slippage per fill "
         "(the backtester's defaults), one entry and one exit")


def net_return(side: float, fill: float, exit_price: float, *, commission_bps: float = DEFAULT_COMMISSION_BPS,
               slippage_bps: float = DEFAULT_SLIPPAGE_BPS) -> float:
    """A trade's return after costs, as `paiid.backtest.engine.simulate` computes a trade's `return`
    (pnl over entry notional): slippage moves both fills against the trade (entry `fill x (1 + side x
    slip)`, exit `exit x (1 - side x slip)`), and commission is charged on the notional of each fill."""
    c, slip = commission_bps * 1e-4, slippage_bps * 1e-4
    entry = fill * (1.0 + side * slip)
    ratio = exit_price * (1.0 - side * slip) / entry
    return float(side * (ratio - 1.0) - c - c * ratio)


@dataclass(frozen=True)
class Trade:
    """A trade to resolve: the decision date, the side and the prices that set its barriers."""

    entry_date: pd.Timestamp
    side: str
    entry: float | None = None
    stop: float | None = None
    target: float | None = None


class Resolver:
    """Resolves trades on one symbol's bars (features and the volatility unit computed once for all its
    trades; close-only bars on the labels' close-only path, see the module docstring)."""

    def __init__(self, symbol: str, bars: pd.DataFrame) -> None:
        self.symbol = symbol
        self.bars = bars
        self.close_only = bool(len(bars)) and is_close_only(bars)
        features = build_features(bars) if len(bars) else pd.DataFrame({"atr_14": []})
        empty = np.zeros(0)
        self.ctx = SymbolContext(symbol, bars, features, {}, {}, empty, empty, "rules")
        self.close = bars["close"].to_numpy(np.float64) if len(bars) else empty
        if self.close_only:
            self.atr = np.asarray(close_atr(self.ctx), np.float64)
            self.fills = self.close  # the close-only backtest fills at the next close
        else:
            self.atr = features["atr_14"].to_numpy(np.float64)
            self.fills = bars["open"].to_numpy(np.float64) if len(bars) else empty

    @property
    def volatility_unit(self) -> str:
        return "ATR(14) of closes (close-only series)" if self.close_only else "ATR(14)"

    def decision_bar(self, date: pd.Timestamp) -> int | None:
        """Bar t of a decision taken at the close of `date`; None when that bar is not stored yet."""
        if not len(self.bars) or pd.Timestamp(date) > self.bars.index[-1]:
            return None
        t = int(self.bars.index.searchsorted(pd.Timestamp(date), side="right")) - 1
        return t if t >= 0 else None

    def reference(self, t: int) -> float:
        return float(self.close[t])

    def resolve(self, trade: Trade) -> dict[str, object]:
        """{"status": open|won|lost|timeout, ...}: exit date, net and gross return, barriers in ATR units."""
        t = self.decision_bar(trade.entry_date)
        if t is None:
            return {"status": "open", "why": "the decision bar is not in the stored bars yet"}
        a = float(self.atr[t])
        if not np.isfinite(a) or a <= 0:
            return {"status": "open", "why": f"{self.volatility_unit} is undefined at "
                    f"{self.bars.index[t].date()} (too little history), so the barriers cannot be placed"}
        s = 1.0 if trade.side == "long" else -1.0
        ref = self.reference(t) if trade.entry is None else float(trade.entry)
        profit_atr = PROFIT_ATR if trade.target is None else s * (float(trade.target) - ref) / a
        stop_atr = STOP_ATR if trade.stop is None else s * (ref - float(trade.stop)) / a
        res = triple_barrier(self.ctx, np.array([t]), np.array([s]), horizon=HORIZON,
                             profit_atr=profit_atr, stop_atr=stop_atr, atr=self.atr,
                             close_only=self.close_only)
        t1 = int(res["t1"][0])
        base: dict[str, object] = {"decision_date": self.bars.index[t].date().isoformat(),
                                   "profit_atr": float(profit_atr), "stop_atr": float(stop_atr),
                                   "execution": "close-only" if self.close_only else "ohlcv"}
        if t1 >= len(self.bars):
            return {"status": "open", **base,
                    "why": f"no barrier hit yet and the {HORIZON}-bar window has not fully arrived"}
        fill = float(self.fills[t + 1])
        gross = float(res["ret"][0])
        exit_price = fill * (1.0 + s * gross)  # the label's exit price (gross = side x (exit / fill - 1))
        return {
            **base,
            "status": STATUS[str(res["outcome"][0])],
            "won": bool(res["label"][0]),
            "return": net_return(s, fill, exit_price),
            "gross_return": gross,
            "return_atr": float(res["ret_atr"][0]),
            "costs": COSTS,
            "fill": fill,
            "exit_price": exit_price,
            "exit_date": self.bars.index[t1].date().isoformat(),
        }

"""The panel universe: every real series of the repo as closes, and the features closes define.

Why close views for every symbol: one pooled model needs one feature set, and 21 of the 23 real
series (skfolio's 20 S&P 500 stocks and its `SP500` index close, 1990-2022) have closes only. A
model trained on ATR for SPX and on nothing for AAPL would be two models in one; feeding a
close-only stand-in in place of the real column would be a third (`CLOSE_ONLY_SUBSTITUTES`: the
numbers differ). So SPX and GOOG enter the panel as their closes too (`close_view`), and every
symbol gets exactly `PANEL_FEATURES` and the close-only execution variant of the backtests
(`paiid.backtest`: filled at the next close, stops on closes), whatever columns it really has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from paiid.data import CLOSE_ONLY, COLUMNS, load_bars, normalise_symbol
from paiid.data.bundled import SKFOLIO_INDEX, SKFOLIO_STOCKS
from paiid.data.validate import mark_columns
from paiid.features import CLOSE_ONLY_FEATURES, SCALE_FREE

#: The scale-free features defined from closes alone, in `SCALE_FREE` order: what every symbol of the
#: panel has (returns, RSI, MACD histogram / price, Bollinger %b and width, close-to-close volatility,
#: distances to and slope of moving averages).
PANEL_FEATURES: list[str] = [name for name in SCALE_FREE if name in CLOSE_ONLY_FEATURES]

#: The index of the panel: cross-sectional market features are read from it.
INDEX_SYMBOL = SKFOLIO_INDEX

#: The whole real universe: the 21 bundled close-only series, then SPX and GOOG (as closes).
#: EURUSD (hourly FX) is not a daily equity series and stays out.
UNIVERSE: list[str] = [*SKFOLIO_STOCKS, SKFOLIO_INDEX, "SPX", "GOOG"]


def close_view(bars: pd.DataFrame, symbol: str | None = None) -> pd.DataFrame:
    """The close-only view of any bars: the same index and closes, open/high/low/volume NaN, marked
    close-only in `attrs` as the store marks its close-only series (so `real_columns`, the features
    and the backtests treat it exactly like a bundled close-only symbol). A new frame; `bars` is
    not modified. `symbol` (default: the one in `bars.attrs`) names it in error messages."""
    out = pd.DataFrame(np.nan, index=bars.index, columns=COLUMNS, dtype=np.float64)
    out["close"] = bars["close"].to_numpy(np.float64)
    info = {k: v for k, v in bars.attrs.items() if k in ("symbol", "source")}
    if symbol is not None:
        info["symbol"] = symbol
    return mark_columns(out, list(CLOSE_ONLY), **info)


def universe_bars(symbols: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Close views of `symbols` (default `UNIVERSE`), whole history each, keyed by symbol."""
    out: dict[str, pd.DataFrame] = {}
    for s in UNIVERSE if symbols is None else symbols:
        sym = normalise_symbol(s)
        out[sym] = close_view(load_bars(sym), sym)
    return out

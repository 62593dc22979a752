"""One backtest of a stored symbol, as the CLI and the API both run it (they stay thin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from paiid.backtest.engine import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS, BacktestResult, run_backtest
from paiid.backtest.strategies import get_strategy
from paiid.errors import NotEnoughHistory


def backtest_symbol(
    symbol: str,
    strategy_id: str,
    *,
    start: str | None = None,
    end: str | None = None,
    params: Mapping[str, Any] | None = None,
    commission_bps: float = DEFAULT_COMMISSION_BPS,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
    stop: Any = None,
    take_profit: Any = None,
    fraction: float = 1.0,
) -> tuple[dict[str, Any], BacktestResult, pd.DataFrame]:
    """Load `symbol` between `start` and `end` and backtest `strategy_id`: (contract payload, result, bars).

    Validation happens before any data is loaded, so a bad strategy id or parameter fails fast with the
    valid choices; too short a date range says how many bars are needed and which dates the symbol has.
    A close-only symbol runs the engine's close-only variant (fills at the next close, stops on closes;
    see `paiid.backtest.engine`) instead of being refused; the payload's `execution_model` and
    `execution` say which model ran.
    """
    from paiid.data import load_bars, normalise_symbol

    tpl = get_strategy(strategy_id)
    p = tpl.validate_params(params)
    sym = normalise_symbol(symbol)
    bars = load_bars(sym, start, end)
    need = tpl.lookback(p) + 30
    if len(bars) < need:
        full = load_bars(sym)
        asked = f"from {start or 'the first bar'} to {end or 'the last bar'}"
        err = NotEnoughHistory(f"backtesting {tpl.id} on {sym}", need, len(bars))
        err.message += (
            f" {asked}; {sym} has {len(full)} bars from {full.index[0].date()} to "
            f"{full.index[-1].date()} — widen the date range (--start/--end)" if len(full) else f" for {sym}"
        )
        err.args = (err.message,)
        raise err
    res = run_backtest(
        bars, tpl, p, commission_bps=commission_bps, slippage_bps=slippage_bps, stop=stop,
        take_profit=take_profit, fraction=fraction,
    )
    return res.to_payload(sym), res, bars

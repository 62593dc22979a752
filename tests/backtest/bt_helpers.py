"""Shared by the backtest tests: seeded random OHLCV bars, and the trade comparison with backtesting.py."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_bars(seed: int, n: int, start: str = "2001-01-01") -> pd.DataFrame:
    """Fat-tailed random-walk daily bars with consistent OHLC and log-normal volume."""
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, n) * 0.012
    close = 100 * np.exp(np.cumsum(r))
    open_ = close * np.exp(-r + rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    volume = rng.lognormal(12, 0.6, n)
    idx = pd.bdate_range(start, periods=n, name="date")
    cols = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return pd.DataFrame(cols, index=idx)


def assert_same_closed_trades(ours, peer: pd.Series) -> pd.DataFrame:
    """Our closed trades equal backtesting.py's `_trades` (dates, prices, signed sizes, PnL); returns ours.

    Both the GOOG oracle and the close-only variant's oracle compare the same way, so the comparison is
    written once. Our open trade at the end (backtesting.py leaves it out) is not compared here."""
    closed = ours.trades[~ours.trades["is_open"]].reset_index(drop=True)
    pt = peer["_trades"].reset_index(drop=True)
    assert len(closed) == len(pt) == int(peer["# Trades"])
    assert (closed["entry_date"].to_numpy() == pd.to_datetime(pt["EntryTime"]).to_numpy()).all()
    assert (closed["exit_date"].to_numpy() == pd.to_datetime(pt["ExitTime"]).to_numpy()).all()
    np.testing.assert_allclose(closed["entry_price"], pt["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["exit_price"], pt["ExitPrice"], rtol=1e-12)
    np.testing.assert_array_equal(np.where(closed["side"] == "long", 1, -1) * closed["units"], pt["Size"])
    np.testing.assert_allclose(closed["pnl"], pt["PnL"], rtol=1e-9, atol=1e-6)
    return closed

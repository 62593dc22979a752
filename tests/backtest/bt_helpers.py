"""Shared test data for the backtest tests: seeded random OHLCV bars."""

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

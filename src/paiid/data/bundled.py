"""Real market data that ships inside installed packages, so a new user needs no network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from paiid.data.validate import validate_bars


def _spx() -> pd.DataFrame:
    from arch.data import sp500

    return sp500.load().drop(columns=["Adj Close"])


def _goog() -> pd.DataFrame:
    from backtesting.test import GOOG

    return GOOG


def _eurusd() -> pd.DataFrame:
    from backtesting.test import EURUSD

    return EURUSD


@dataclass(frozen=True)
class BundledSource:
    symbol: str
    source: str
    loader: Callable[[], pd.DataFrame]


BUNDLED: dict[str, BundledSource] = {
    "SPX": BundledSource("SPX", "arch.data.sp500", _spx),
    "GOOG": BundledSource("GOOG", "backtesting.test.GOOG", _goog),
    "EURUSD": BundledSource("EURUSD", "backtesting.test.EURUSD", _eurusd),
}


@lru_cache(maxsize=None)
def _load_cached(symbol: str) -> pd.DataFrame:
    bars, _ = validate_bars(BUNDLED[symbol].loader(), source=BUNDLED[symbol].source)
    return bars


def load_bundled(symbol: str) -> pd.DataFrame:
    """A fresh copy of a bundled symbol's bars in the bar schema (callers may mutate it)."""
    return _load_cached(symbol).copy()

"""Real market data that ships inside installed packages, so a new user needs no network.

The data are CSV files inside `arch` and `backtesting`. Importing those packages costs about two
seconds (they pull in scipy, bokeh, ...) on every CLI call, so the files are located through the
installed distributions' metadata and read directly, the way the packages read them; only if a
file cannot be found that way is the package imported. tests/data/test_bundled.py checks that both
paths give the packages' own numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from paiid.data.validate import validate_bars


def _package_file(dist: str, relpath: str) -> Path | None:
    """Path of a data file shipped by an installed distribution, without importing it."""
    try:
        path = Path(str(metadata.distribution(dist).locate_file(relpath)))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def _spx() -> pd.DataFrame:
    path = _package_file("arch", "arch/data/sp500/sp500.csv.gz")
    if path is None:
        from arch.data import sp500

        return sp500.load().drop(columns=["Adj Close"])
    return pd.read_csv(path, index_col="Date", parse_dates=["Date"]).drop(columns=["Adj Close"])


def _backtesting_csv(name: str) -> pd.DataFrame:
    path = _package_file("backtesting", f"backtesting/test/{name}.csv")
    if path is None:
        from backtesting import test

        return getattr(test, name)
    return pd.read_csv(path, index_col=0, parse_dates=True)


def _goog() -> pd.DataFrame:
    return _backtesting_csv("GOOG")


def _eurusd() -> pd.DataFrame:
    return _backtesting_csv("EURUSD")


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


@cache
def _load_cached(symbol: str) -> pd.DataFrame:
    bars, _ = validate_bars(BUNDLED[symbol].loader(), source=BUNDLED[symbol].source)
    return bars


def load_bundled(symbol: str) -> pd.DataFrame:
    """A fresh copy of a bundled symbol's bars in the bar schema (callers may mutate it)."""
    return _load_cached(symbol).copy()

"""Real market data that ships inside installed packages, so a new user needs no network.

The data are CSV files inside `arch`, `backtesting` and `skfolio`. Importing those packages costs
two to three seconds (they pull in scipy, bokeh, cvxpy, ...) on every CLI call, so the files are
located through the installed distributions' metadata and read directly, the way the packages read
them; only if a file cannot be found that way is the package imported. tests/data/test_bundled.py
checks that both paths give the packages' own numbers.

skfolio ships daily adjusted closes only (20 S&P 500 stocks and the index, 1990-2022): they are
close-only series (`validate.CLOSE_ONLY`), with open, high, low and volume absent, not invented.
Its two files are read once per process, on first use of any of their symbols.

The three original symbols are `protected` (imports and fetches cannot overwrite them); the skfolio
ones are not: `AAPL` is what a user most likely imports or fetches, so a stored series of one of
those names replaces the bundled close-only one (`repository.load_bars` reads the store first).

pandas and `validate` are imported where a file is read: `BUNDLED` and `is_protected` are all an
unchanged `paiid data import` needs from here, and it should not pay for pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from paiid.data.columns import CLOSE_ONLY, COLUMNS
from paiid.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd


def _package_file(dist: str, relpath: str) -> Path | None:
    """Path of a data file shipped by an installed distribution, without importing it."""
    try:
        path = Path(str(metadata.distribution(dist).locate_file(relpath)))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def _spx() -> pd.DataFrame:
    import pandas as pd

    path = _package_file("arch", "arch/data/sp500/sp500.csv.gz")
    if path is None:
        from arch.data import sp500

        return sp500.load().drop(columns=["Adj Close"])
    return pd.read_csv(path, index_col="Date", parse_dates=["Date"]).drop(columns=["Adj Close"])


def _backtesting_csv(name: str) -> pd.DataFrame:
    import pandas as pd

    path = _package_file("backtesting", f"backtesting/test/{name}.csv")
    if path is None:
        from backtesting import test

        return getattr(test, name)
    return pd.read_csv(path, index_col=0, parse_dates=True)


def _goog() -> pd.DataFrame:
    return _backtesting_csv("GOOG")


def _eurusd() -> pd.DataFrame:
    return _backtesting_csv("EURUSD")


#: skfolio's 20 stocks (`load_sp500_dataset`), in its column order.
SKFOLIO_STOCKS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
                  "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM")
#: The symbol of skfolio's S&P 500 index close (`load_sp500_index`); its own column name, and not SPX,
#: which is arch's OHLCV index series over other dates.
SKFOLIO_INDEX = "SP500"


@cache
def _skfolio_table(name: str) -> pd.DataFrame:
    """One of skfolio's price tables (dates x symbols), read once: all 20 stocks share one file."""
    import pandas as pd

    path = _package_file("skfolio", f"skfolio/datasets/data/{name}.csv.gz")
    if path is None:
        from skfolio import datasets

        return getattr(datasets, f"load_{name}")()
    table = pd.read_csv(path, index_col=0)
    table.index = pd.to_datetime(table.index, format="%Y-%m-%d")  # as skfolio's loader does
    return table


def _skfolio(name: str, column: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        return _skfolio_table(name)[[column]].set_axis(["close"], axis=1)

    return load


@dataclass(frozen=True)
class BundledSource:
    symbol: str
    source: str
    loader: Callable[[], pd.DataFrame]
    #: The real bar columns (the others are NaN): all five, or `["close"]`.
    columns: tuple[str, ...] = tuple(COLUMNS)
    #: Whether imports and fetches are refused under this symbol (else stored bars replace these).
    protected: bool = True


BUNDLED: dict[str, BundledSource] = {
    "SPX": BundledSource("SPX", "arch.data.sp500", _spx),
    "GOOG": BundledSource("GOOG", "backtesting.test.GOOG", _goog),
    "EURUSD": BundledSource("EURUSD", "backtesting.test.EURUSD", _eurusd),
    **{sym: BundledSource(sym, "skfolio.datasets.load_sp500_dataset", _skfolio("sp500_dataset", sym),
                          tuple(CLOSE_ONLY), protected=False) for sym in SKFOLIO_STOCKS},
    SKFOLIO_INDEX: BundledSource(SKFOLIO_INDEX, "skfolio.datasets.load_sp500_index",
                                 _skfolio("sp500_index", "SP500"), tuple(CLOSE_ONLY), protected=False),
}


def is_protected(symbol: str) -> bool:
    """Whether `symbol` is a bundled symbol that imports and fetches may not write."""
    src = BUNDLED.get(symbol)
    return src is not None and src.protected


@cache
def _load_cached(symbol: str) -> pd.DataFrame:
    from paiid.data.validate import mark_columns, real_columns_of, validate_bars

    src = BUNDLED[symbol]
    bars, _ = validate_bars(src.loader(), source=src.source)
    if list(src.columns) != real_columns_of(bars):  # a package changed its file: say so, never guess
        raise DataValidationError([f"has columns {real_columns_of(bars)}, expected {list(src.columns)}"],
                                  source=src.source)
    return mark_columns(bars, real_columns_of(bars), symbol=symbol, source=src.source)


def bundled_index(symbol: str) -> pd.DatetimeIndex:
    """The bar times of a bundled symbol, for `paiid data list`, validating no more than needed.

    skfolio's series are listed from their shared table's index (one file read for all 21; the dates
    are checked when a series is first loaded), which keeps `paiid data list` within a few
    milliseconds of what it cost before them; the others come from their validated bars.
    """
    import pandas as pd

    src = BUNDLED[symbol]
    if src.source.startswith("skfolio."):
        return pd.DatetimeIndex(src.loader().index, name="date").as_unit("ns")
    return _load_cached(symbol).index


def load_bundled(symbol: str) -> pd.DataFrame:
    """A fresh copy of a bundled symbol's bars in the bar schema (callers may mutate it)."""
    return _load_cached(symbol).copy()

"""The bundled real data: counts and ranges come straight from the packages that ship it.

`arch.data.sp500` holds 5031 daily S&P 500 bars (1999-2018), `backtesting.test.GOOG` 2148 daily
Alphabet bars (2004-2013) and `backtesting.test.EURUSD` 5000 hourly EUR/USD bars. The expected
numbers below are recomputed from those packages, so a loader that dropped or invented rows fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import COLUMNS, available_symbols, describe_symbols, load_bars, timeframe_of


def package_frame(symbol: str) -> pd.DataFrame:
    if symbol == "SPX":
        from arch.data import sp500

        return sp500.load()
    from backtesting import test

    return getattr(test, symbol)


@pytest.mark.parametrize(
    ("symbol", "bars", "first_year", "last_year", "timeframe"),
    [
        ("SPX", 5031, 1999, 2018, "daily"),
        ("GOOG", 2148, 2004, 2013, "daily"),
        ("EURUSD", 5000, 2017, 2018, "hourly"),
    ],
)
def test_bundled_counts_ranges_and_schema(symbol: str, bars: int, first_year: int, last_year: int,
                                          timeframe: str) -> None:
    frame = load_bars(symbol)
    raw = package_frame(symbol)
    assert len(frame) == len(raw) == bars
    assert frame.index[0].year == first_year and frame.index[-1].year == last_year
    assert list(frame.columns) == COLUMNS and all(frame.dtypes == "float64")
    assert frame.index.dtype == "datetime64[ns]" and frame.index.name == "date"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    np.testing.assert_array_equal(frame["close"].to_numpy(), raw["Close"].to_numpy())
    np.testing.assert_array_equal(frame["volume"].to_numpy(), raw["Volume"].to_numpy())
    assert timeframe_of(frame.index) == timeframe


def test_missing_distributions_fall_back_to_importing() -> None:
    from paiid.data.bundled import _package_file

    assert _package_file("no-such-distribution-xyz", "x.csv") is None
    assert _package_file("backtesting", "backtesting/test/NOPE.csv") is None
    assert _package_file("backtesting", "backtesting/test/GOOG.csv") is not None


def test_load_returns_a_copy_callers_may_mutate() -> None:
    a = load_bars("SPX")
    a.iloc[0, 0] = -1.0
    assert load_bars("SPX").iloc[0, 0] > 0


SKFOLIO_STOCKS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
                  "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]


def test_listing_and_availability() -> None:
    assert available_symbols() == sorted(["EURUSD", "GOOG", "SPX", "SP500", *SKFOLIO_STOCKS])
    listed = {s["symbol"]: s for s in describe_symbols()}
    assert listed["SPX"] == {"symbol": "SPX", "source": "arch.data.sp500", "timeframe": "daily",
                             "first": "1999-01-04T00:00:00", "last": "2018-12-31T00:00:00", "bars": 5031,
                             "columns": COLUMNS}
    assert listed["EURUSD"]["timeframe"] == "hourly" and listed["GOOG"]["bars"] == 2148
    assert listed["AAPL"] == {"symbol": "AAPL", "source": "skfolio.datasets.load_sp500_dataset",
                              "timeframe": "daily", "first": "1990-01-02T00:00:00",
                              "last": "2022-12-28T00:00:00", "bars": 8313, "columns": ["close"]}
    assert listed["SP500"]["source"] == "skfolio.datasets.load_sp500_index"


def test_skfolio_series_are_the_packages_closes_and_nothing_else() -> None:
    """Offline (the files ship in skfolio's wheel), read without importing skfolio, equal to its loaders."""
    from paiid.data.bundled import _package_file

    assert _package_file("skfolio", "skfolio/datasets/data/sp500_dataset.csv.gz") is not None
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    stocks, index = load_sp500_dataset(), load_sp500_index()
    assert list(stocks.columns) == SKFOLIO_STOCKS and list(index.columns) == ["SP500"]
    for sym, raw in [*((s, stocks[s]) for s in SKFOLIO_STOCKS), ("SP500", index["SP500"])]:
        bars = load_bars(sym)
        assert len(bars) == len(raw) == 8313, sym
        assert (bars.index[0], bars.index[-1]) == (pd.Timestamp("1990-01-02"), pd.Timestamp("2022-12-28"))
        assert list(bars.columns) == COLUMNS and bars.index.dtype == "datetime64[ns]"
        np.testing.assert_array_equal(bars.index.to_numpy(), raw.index.to_numpy(dtype="datetime64[ns]"))
        np.testing.assert_array_equal(bars["close"].to_numpy(), raw.to_numpy())
        assert bars[["open", "high", "low", "volume"]].isna().all().all(), sym  # absent, not copies
        assert bars.attrs["columns"] == ["close"] and timeframe_of(bars.index) == "daily"


def test_timeframe_of_spacings() -> None:
    assert timeframe_of(pd.date_range("2021-01-01", periods=10, freq="15min")) == "15min"
    assert timeframe_of(pd.date_range("2021-01-01", periods=10, freq="h")) == "hourly"
    assert timeframe_of(pd.bdate_range("2021-01-01", periods=10)) == "daily"

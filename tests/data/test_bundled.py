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


def test_listing_and_availability() -> None:
    assert available_symbols() == ["EURUSD", "GOOG", "SPX"]
    listed = {s["symbol"]: s for s in describe_symbols()}
    assert listed["SPX"] == {"symbol": "SPX", "source": "arch.data.sp500", "timeframe": "daily",
                             "first": "1999-01-04T00:00:00", "last": "2018-12-31T00:00:00", "bars": 5031}
    assert listed["EURUSD"]["timeframe"] == "hourly" and listed["GOOG"]["bars"] == 2148


def test_timeframe_of_spacings() -> None:
    assert timeframe_of(pd.date_range("2021-01-01", periods=10, freq="15min")) == "15min"
    assert timeframe_of(pd.date_range("2021-01-01", periods=10, freq="h")) == "hourly"
    assert timeframe_of(pd.bdate_range("2021-01-01", periods=10)) == "daily"

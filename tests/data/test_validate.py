"""Bar validation: every problem is named precisely, fix-ups only when asked, gaps found and filled.

Expected messages and counts are derived from the inputs each test builds, never from a run of
the code; the one real-data gap (SPX, September 2001) is the NYSE closure after 9/11.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paiid.data import COLUMNS, load_bars, validate_bars
from paiid.data.validate import find_gaps, forward_fill_gaps
from paiid.errors import DataValidationError


def make_bars(n: int = 30, start: str = "2021-03-01", freq: str = "B", seed: int = 0) -> pd.DataFrame:
    """Valid OHLCV rows with a `date` column, like a user's CSV."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n, freq=freq)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    vol = rng.integers(100, 10_000, n).astype(float)
    cols = {"date": dates, "open": open_, "high": high, "low": low, "close": close, "volume": vol}
    return pd.DataFrame(cols)


def problems_of(raw: pd.DataFrame, **kwargs: bool) -> list[str]:
    with pytest.raises(DataValidationError) as err:
        validate_bars(raw, source="test.csv", **kwargs)
    assert err.value.message.startswith("test.csv rejected: ")
    return err.value.problems


def test_valid_bars_come_out_in_the_bar_schema() -> None:
    raw = make_bars()
    raw.columns = ["Date", "OPEN", "High", "low", "Close", "Volume"]  # any case
    bars, report = validate_bars(raw)
    assert list(bars.columns) == COLUMNS
    assert isinstance(bars.index, pd.DatetimeIndex) and bars.index.name == "date"
    assert bars.index.dtype == "datetime64[ns]" and bars.index.tz is None
    assert all(bars.dtypes == "float64")
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    np.testing.assert_array_equal(bars["close"].to_numpy(), raw["Close"].to_numpy())
    assert report.rows_in == report.rows_out == 30 and report.fixes == [] and report.gaps == []


def test_missing_columns_are_named() -> None:
    (msg,) = problems_of(make_bars().drop(columns=["volume", "low"]))
    assert msg.startswith("missing column(s) low, volume")


def test_missing_date_column_is_named() -> None:
    (msg,) = problems_of(make_bars().drop(columns=["date"]))
    assert "missing a date column" in msg and "found: open, high, low, close, volume" in msg


def test_unparseable_dates_are_located() -> None:
    raw = make_bars(5).astype({"date": str})
    raw.loc[3, "date"] = "not a date"
    (msg,) = problems_of(raw)
    assert msg == "1 unparseable or missing date(s) at row(s) [3]"


def test_non_numeric_values_are_located_and_quoted() -> None:
    raw = make_bars(5).astype({"close": object})
    raw.loc[2, "close"] = "12,5"
    (msg,) = problems_of(raw)
    assert msg == f"column close has non-numeric values at {raw.loc[2, 'date']} ('12,5')"


@pytest.mark.parametrize(
    ("col", "value", "kind"),
    [("close", np.nan, "missing/NaN"), ("open", np.inf, "infinite"), ("volume", -5.0, "negative")],
)
def test_bad_numbers_are_located(col: str, value: float, kind: str) -> None:
    raw = make_bars(10)
    raw.loc[[4, 7], col] = value
    msgs = problems_of(raw)
    when = f"{raw.loc[4, 'date']}, {raw.loc[7, 'date']}"
    assert f"column {col} has 2 {kind} value(s) at {when}" in msgs


def test_high_below_low_and_zero_prices_are_located() -> None:
    raw = make_bars(10)
    high, low = raw.loc[6, "high"], raw.loc[6, "low"]
    raw.loc[6, "high"], raw.loc[6, "low"] = low, high
    raw.loc[8, "open"] = 0.0
    msgs = problems_of(raw)
    assert f"high < low in 1 bar(s) at {raw.loc[6, 'date']}" in msgs
    assert f"zero price in 1 bar(s) at {raw.loc[8, 'date']}" in msgs


def test_long_lists_are_truncated() -> None:
    raw = make_bars(20)
    raw.loc[2:12, "close"] = np.nan
    (msg,) = problems_of(raw)
    assert msg.startswith("column close has 11 missing/NaN value(s) at ") and msg.endswith(" and 6 more")


def test_every_problem_is_reported_at_once() -> None:
    raw = make_bars(10)
    raw.loc[1, "close"] = np.nan
    raw.loc[3, "volume"] = -1
    raw = pd.concat([raw, raw.iloc[[5]]], ignore_index=True)  # a duplicate at the end: also unsorted
    msgs = problems_of(raw)
    assert len(msgs) == 4
    assert any(m.startswith("column close has 1 missing/NaN") for m in msgs)
    assert any(m.startswith("column volume has 1 negative") for m in msgs)
    assert any(m.startswith("timestamps not in increasing order") for m in msgs)
    assert any(m.startswith("1 duplicate timestamp(s)") for m in msgs)


def test_unsorted_rows_fail_unless_sort_is_asked() -> None:
    raw = make_bars(10)
    shuffled = raw.iloc[[0, 1, 2, 5, 3, 4, 6, 7, 8, 9]].reset_index(drop=True)
    (msg,) = problems_of(shuffled)
    assert msg == (
        f"timestamps not in increasing order at {raw.loc[3, 'date']} "
        "(re-run with --sort to order them by time)"
    )
    bars, report = validate_bars(shuffled, sort=True)
    assert report.fixes == ["sorted 1 out-of-order row(s) by time"]
    np.testing.assert_array_equal(bars["close"].to_numpy(), raw["close"].to_numpy())


def test_duplicates_fail_unless_dedupe_is_asked_and_then_the_last_row_wins() -> None:
    raw = make_bars(6)
    dup = raw.iloc[[2]].assign(close=raw.loc[2, "close"] * 1.001)
    raw2 = pd.concat([raw.iloc[:3], dup, raw.iloc[3:]], ignore_index=True)
    (msg,) = problems_of(raw2)
    assert msg == (
        f"1 duplicate timestamp(s) at {raw.loc[2, 'date']} "
        "(re-run with --dedupe to keep the last row of each)"
    )
    bars, report = validate_bars(raw2, dedupe=True)
    assert len(bars) == 6
    assert report.fixes == ["dropped 1 duplicate timestamp row(s), keeping the last of each"]
    assert bars["close"].iloc[2] == dup["close"].iloc[0]


def test_tz_aware_stamps_become_naive_utc_and_mixed_formats_parse() -> None:
    raw = make_bars(3).astype({"date": str})
    raw["date"] = ["2021-03-01T09:30:00-05:00", "2021-03-01 15:00", "2021-03-01T16:00:00Z"]
    bars, _ = validate_bars(raw)
    assert list(bars.index) == [pd.Timestamp("2021-03-01 14:30"), pd.Timestamp("2021-03-01 15:00"),
                                pd.Timestamp("2021-03-01 16:00")]


@pytest.mark.parametrize(
    "stamps",
    [
        ["2021-03-01", "2021-03-02", "2021-03-03"],
        ["2021-03-01 09:30", "2021-03-01T09:45:00", "2021-03-01 10:00:00.250"],
        ["2021-03-01 09:30:00.123456789", "2021-03-01 10", "2021-03-01 10:00:01"],  # ns; hour only
        ["2021-03-01", "2021-03-01 15:00", " 2021-03-02 "],  # mixed forms, padding
        ["2021-03-01", "2021-03-02", "2262-04-11"],  # the last date a nanosecond index can hold
    ],
)
def test_text_dates_parse_as_pandas_parses_each_one(stamps: list[str]) -> None:
    """Plain ISO columns take a faster path than other text: the instants must be pandas' own, one by one."""
    raw = make_bars(3).astype({"date": str}).assign(date=stamps)
    bars, _ = validate_bars(raw)
    assert list(bars.index) == [pd.Timestamp(s.strip()) for s in stamps]
    assert bars.index.dtype == "datetime64[ns]"


def test_tz_aware_index_is_accepted() -> None:
    raw = make_bars(4, freq="h").set_index("date").tz_localize("Europe/Berlin")
    bars, _ = validate_bars(raw)
    assert bars.index[0] == pd.Timestamp("2021-02-28 23:00")  # 00:00 CET is 23:00 UTC the day before


@pytest.mark.parametrize(
    "stamps",
    [
        # Frankfurt, across the switch to summer time: converting to UTC would move each bar to Sunday.
        ["2021-03-26 00:00:00+01:00", "2021-03-29 00:00:00+02:00", "2021-03-30 00:00:00+02:00"],
        # New York as yfinance writes daily bars: UTC would give 05:00, then 04:00 after the DST switch.
        ["2021-03-12 00:00:00-05:00", "2021-03-15 00:00:00-04:00", "2021-03-16T00:00:00-04:00"],
    ],
)
def test_daily_bars_at_local_midnight_keep_their_trading_date(stamps: list[str]) -> None:
    raw = make_bars(3).astype({"date": str}).assign(date=stamps)
    bars, _ = validate_bars(raw)
    assert list(bars.index) == [pd.Timestamp(s[:10]) for s in stamps]
    tokyo = make_bars(3).set_index("date").tz_localize("Asia/Tokyo")
    assert list(validate_bars(tokyo)[0].index) == list(make_bars(3)["date"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([20210301, 20210302], ["2021-03-01", "2021-03-02"]),  # YYYYMMDD
        ([1614556800, 1614643200], ["2021-03-01", "2021-03-02"]),  # epoch seconds
        ([1614556800000, 1614560400000], ["2021-03-01 00:00", "2021-03-01 01:00"]),  # epoch ms
    ],
)
def test_numeric_dates_are_not_read_as_1970_nanoseconds(values: list[int], expected: list[str]) -> None:
    raw = make_bars(2).assign(date=values)
    assert list(validate_bars(raw)[0].index) == [pd.Timestamp(e) for e in expected]


def test_separate_date_and_time_columns_are_combined() -> None:
    raw = make_bars(4, freq="15min", start="2021-03-01 09:30")
    raw.insert(1, "time", raw["date"].dt.strftime("%H:%M"))
    raw["date"] = raw["date"].dt.strftime("%Y-%m-%d")
    bars, _ = validate_bars(raw)
    assert list(bars.index.strftime("%H:%M")) == ["09:30", "09:45", "10:00", "10:15"]


# --- gaps ------------------------------------------------------------------------------------------


def test_spx_has_exactly_the_september_2001_closure() -> None:
    # The NYSE was shut from 11 to 14 September 2001; no other week without a session since 1999.
    gaps = find_gaps(load_bars("SPX").index)
    assert gaps == [(pd.Timestamp("2001-09-10"), pd.Timestamp("2001-09-17"))]
    filled = forward_fill_gaps(load_bars("SPX"))
    new = filled.index.difference(load_bars("SPX").index)
    assert list(new) == list(pd.bdate_range("2001-09-11", "2001-09-14"))


def test_daily_gap_is_reported_and_forward_filled_when_asked() -> None:
    raw = make_bars(40)
    cut = raw.drop(index=range(10, 18)).reset_index(drop=True)  # 8 business days missing
    bars, report = validate_bars(cut)
    assert report.gaps == [(raw.loc[9, "date"], raw.loc[18, "date"])]
    assert len(bars) == 32
    filled, report = validate_bars(cut, fill_gaps=True)
    assert report.fixes == ["forward-filled 1 gap(s) with 8 flat zero-volume bar(s)"]
    assert list(filled.index) == list(raw["date"])
    flat = filled.iloc[10:18]
    last_close = raw.loc[9, "close"]
    assert (flat[["open", "high", "low", "close"]].to_numpy() == last_close).all()
    assert (flat["volume"] == 0).all()
    assert filled.iloc[18]["close"] == raw.loc[18, "close"]


def test_weekends_and_single_holidays_are_not_gaps_in_daily_bars() -> None:
    dates = pd.bdate_range("2021-01-04", "2021-03-31").drop(pd.Timestamp("2021-02-15"))  # Presidents' Day
    assert find_gaps(pd.DatetimeIndex(dates)) == []


def fx_hours(start: str, end: str) -> pd.DatetimeIndex:
    """24-hour trading from Sunday 21:00 to Friday 20:00 UTC, like EUR/USD."""
    hours = pd.date_range(start, end, freq="h")
    dow, hour = hours.day_of_week, hours.hour
    open_ = (dow < 4) | ((dow == 4) & (hour <= 20)) | ((dow == 6) & (hour >= 21))
    return hours[open_]


def stock_quarters(start: str, end: str) -> pd.DatetimeIndex:
    """15-minute bars 09:30-15:45 on weekdays (exchange hours)."""
    q = pd.date_range(start, end, freq="15min")
    minutes = q.hour * 60 + q.minute
    return q[(q.day_of_week < 5) & (minutes >= 570) & (minutes <= 945)]


def test_eurusd_weekends_are_not_gaps() -> None:
    idx = load_bars("EURUSD").index
    assert find_gaps(idx) == []
    assert find_gaps(fx_hours("2021-03-01", "2021-04-30")) == []


def test_fx_hours_missing_inside_a_week_are_a_gap() -> None:
    idx = fx_hours("2021-03-01", "2021-03-31")
    hole = (idx > "2021-03-10 05:00") & (idx < "2021-03-10 14:00")  # 8 bars missing on a Wednesday
    gaps = find_gaps(idx[~hole])
    assert gaps == [(pd.Timestamp("2021-03-10 05:00"), pd.Timestamp("2021-03-10 14:00"))]
    bars = pd.DataFrame(1.0, index=idx[~hole], columns=COLUMNS)
    filled = forward_fill_gaps(bars)
    assert list(filled.index) == list(idx)


def test_stock_intraday_nights_are_not_gaps_but_a_lost_afternoon_and_week_are() -> None:
    idx = stock_quarters("2021-03-01", "2021-04-30")
    assert find_gaps(idx) == []
    afternoon = (idx > "2021-03-17 12:00") & (idx < "2021-03-17 15:30")
    week = (idx > "2021-04-09 16:00") & (idx < "2021-04-19 09:00")
    gaps = find_gaps(idx[~(afternoon | week)])
    assert gaps == [
        (pd.Timestamp("2021-03-17 12:00"), pd.Timestamp("2021-03-17 15:30")),
        (pd.Timestamp("2021-04-09 15:45"), pd.Timestamp("2021-04-19 09:30")),
    ]
    bars = pd.DataFrame(1.0, index=idx[~(afternoon | week)], columns=COLUMNS)
    filled = forward_fill_gaps(bars)
    # Only session times on weekdays are filled: the series comes back exactly, no 3 a.m. bars.
    assert list(filled.index) == list(idx)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 10_000), data=st.data())
def test_sort_recovers_any_permutation(n: int, seed: int, data: st.DataObject) -> None:
    raw = make_bars(n, seed=seed)
    order = data.draw(st.permutations(list(range(n))))
    bars, report = validate_bars(raw.iloc[order].reset_index(drop=True), sort=True)
    np.testing.assert_array_equal(bars.to_numpy(), raw[COLUMNS].to_numpy())
    assert (report.fixes == []) == (list(order) == sorted(order))


# --- issue 12: day/month order, duplicate columns, price range and OHLC consistency -----------------


@pytest.mark.parametrize(
    ("dates", "kwargs", "expected", "note"),
    [
        # every field <= 12 but the user said day first; dots, 2-digit years and times are the same dates
        (["01/03/2024", "04/03/2024"], {"dayfirst": True}, ["2024-03-01", "2024-03-04"], None),
        (["01.03.24 09:30", "4.3.24 9:45"], {"dayfirst": True},
         ["2024-03-01 09:30", "2024-03-04 09:45"], None),
        (["05-03-1999", "06-03-1999"], {"date_format": "%m-%d-%Y"}, ["1999-05-03", "1999-06-03"], None),
        # one field above 12 somewhere decides the order for the whole column
        (["12/03/2024", "13/03/2024"], {}, ["2024-03-12", "2024-03-13"], "read dates as day/month/year"),
        (["03/12/2024", "03/13/2024"], {}, ["2024-03-12", "2024-03-13"], "read dates as month/day/year"),
        # both readings give the same date: nothing to choose
        (["01/01/2024", "02/02/2024"], {}, ["2024-01-01", "2024-02-02"], None),
        # ISO never needs a choice, and --dayfirst leaves it alone
        (["2024-01-03", "2024-01-04"], {"dayfirst": True}, ["2024-01-03", "2024-01-04"], None),
    ],
)
def test_day_month_order_is_one_for_the_whole_column(
    dates: list[str], kwargs: dict, expected: list[str], note: str | None
) -> None:
    bars, report = validate_bars(make_bars(len(dates)).assign(date=dates), **kwargs)
    assert list(bars.index) == [pd.Timestamp(e) for e in expected]
    assert [n.split(":")[0] for n in report.notes] == ([note] if note else [])


def test_day_month_order_applies_to_the_date_beside_a_time_column() -> None:
    raw = make_bars(2).assign(date=["01/03/2024", "01/03/2024"])
    raw.insert(1, "time", ["09:30", "09:45"])
    (msg,) = problems_of(raw)
    assert msg.startswith("ambiguous dates") and "'01/03/2024' (row 0)" in msg
    bars, _ = validate_bars(raw, dayfirst=True)
    assert list(bars.index) == [pd.Timestamp("2024-03-01 09:30"), pd.Timestamp("2024-03-01 09:45")]
    bars, _ = validate_bars(raw, date_format="%m/%d/%Y %H:%M")  # the format covers `DATE TIME`
    assert list(bars.index) == [pd.Timestamp("2024-01-03 09:30"), pd.Timestamp("2024-01-03 09:45")]


def test_dayfirst_with_a_month_above_12_and_a_wrong_date_format_are_located() -> None:
    raw = make_bars(2).assign(date=["01/03/2024", "03/13/2024"])
    (msg,) = problems_of(raw, dayfirst=True)
    assert msg.startswith("--dayfirst was given but 1 date(s) have a month above 12, "
                          "e.g. '03/13/2024' (row 1)")
    raw = make_bars(3).assign(date=["01/03/2024", "2024-03-02", "04/03/2024"])
    (msg,) = problems_of(raw, date_format="%d/%m/%Y")
    assert msg == "1 unparseable or missing date(s) at row(s) [1] (not in --date-format '%d/%m/%Y')"


def test_day_first_stamps_at_local_midnight_keep_their_date() -> None:
    raw = make_bars(2).assign(date=["01/03/2021 00:00+01:00", "02/03/2021 00:00+01:00"])
    march = [pd.Timestamp("2021-03-01"), pd.Timestamp("2021-03-02")]  # not 28 February 23:00 UTC
    assert list(validate_bars(raw, dayfirst=True)[0].index) == march
    assert list(validate_bars(raw, date_format="%d/%m/%Y %H:%M%z")[0].index) == march


def test_columns_that_differ_only_in_case_are_named() -> None:
    raw = make_bars(3)
    raw["Close"] = raw["close"]
    raw["DATE "] = raw["date"]
    (msg,) = problems_of(raw)
    assert msg == ("duplicate column(s) 'close' and 'Close'; 'date' and 'DATE' (column names are "
                   "case-insensitive); keep one of each")


@pytest.mark.parametrize(("price", "ok"), [(1e-8, True), (0.9e-8, False), (1e-320, False), (1e12, True),
                                           (1.1e12, False), (1e308, False)])
def test_prices_must_lie_in_the_accepted_range(price: float, ok: bool) -> None:
    raw = make_bars(3)
    raw.loc[1, ["open", "high", "low", "close"]] = price  # a flat bar, consistent in itself
    if ok:
        assert validate_bars(raw)[0]["close"].iloc[1] == price
        return
    limit = "outside the accepted price range 1e-08 to 1e+12"
    assert problems_of(raw) == [f"column {c} has 1 value(s) {limit} at {raw.loc[1, 'date']}"
                                for c in ("open", "high", "low", "close")]


@pytest.mark.parametrize(("volume", "ok"), [(0.0, True), (1e18, True), (1.1e18, False)])
def test_volume_must_lie_in_the_accepted_range(volume: float, ok: bool) -> None:
    raw = make_bars(3)
    raw.loc[2, "volume"] = volume
    if ok:
        assert validate_bars(raw)[0]["volume"].iloc[2] == volume
    else:
        assert problems_of(raw) == [f"column volume has 1 value(s) above the accepted maximum 1e+18 at "
                                    f"{raw.loc[2, 'date']}"]


def test_high_and_low_must_bracket_open_and_close_up_to_rounding() -> None:
    raw = make_bars(10)
    raw.loc[2, "high"] = raw.loc[2, ["open", "close"]].max() * (1 - 1e-7)  # rounding: accepted
    raw.loc[3, "low"] = raw.loc[3, ["open", "close"]].min() * (1 + 1e-7)
    validate_bars(raw)
    raw.loc[5, "close"] = raw.loc[5, "high"] * 1.001
    raw.loc[7, "open"] = raw.loc[7, "low"] * 0.999
    assert problems_of(raw) == [
        f"high below open or close in 1 bar(s) at {raw.loc[5, 'date']}",
        f"low above open or close in 1 bar(s) at {raw.loc[7, 'date']}",
    ]


def test_bundled_data_meets_every_check() -> None:
    # The loaders run validate_bars; the real series must pass the range and OHLC checks unchanged.
    for sym in ("SPX", "GOOG", "EURUSD"):
        bars = load_bars(sym)
        assert len(bars) > 1000 and (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()

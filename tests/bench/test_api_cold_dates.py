"""The API bench's cold-latency dates: each refit period is opened by an untimed request first.

Why it matters: the first answer of a refit period reads that period's vintages from the registry
(about a second), so a timed request that opened a period made the "cold" p99 a vintage-load figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.bench.api import cold_dates


def _at(bars: pd.DataFrame, day: str) -> int:
    return int(bars.index.get_loc(pd.Timestamp(day)))


def _bars(start: str, end: str) -> pd.DataFrame:
    index = pd.bdate_range(start, end)
    return pd.DataFrame({"close": np.linspace(100.0, 200.0, len(index))}, index=index)


def test_a_period_starting_inside_the_window_is_opened_by_its_first_bar() -> None:
    bars = _bars("2017-01-02", "2017-12-29")
    # the window: 2017-09-18 .. 2017-11-10 (business days), across the 2017-09-30 quarter end
    first_in, last_in = _at(bars, "2017-09-18"), _at(bars, "2017-11-10")
    n, skip_last = last_in - first_in + 1, len(bars) - last_in - 1

    measured, first = cold_dates(bars, n, skip_last=skip_last)

    # Q3 dates are served by the 2017-06-30 refit, which the bar before the window (Friday 2017-09-15)
    # opens; Q4 dates by the 2017-09-30 refit, opened by Monday 2017-10-02, which is then not timed
    assert first == [pd.Timestamp("2017-09-15"), pd.Timestamp("2017-10-02")]
    window = list(bars.index[first_in:last_in + 1])
    assert measured == [d for d in window if d != pd.Timestamp("2017-10-02")]


def test_a_window_inside_one_period_loses_no_timed_date() -> None:
    bars = _bars("2017-01-02", "2017-12-29")
    first_in, last_in = _at(bars, "2017-10-16"), _at(bars, "2017-11-10")
    measured, first = cold_dates(bars, last_in - first_in + 1, skip_last=len(bars) - last_in - 1)
    assert first == [pd.Timestamp("2017-10-13")]
    assert measured == list(bars.index[first_in:last_in + 1])

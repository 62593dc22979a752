"""Imports on the real SQLite store: a stored symbol keeps its session (the times of day of its bars),
and a file imported before is recognised while neither it nor the symbol has changed.

Expected stamps and counts come from the bars each test builds, never from a run of the code; what
is stored is read back with the standard library's `sqlite3`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paiid.data import describe_symbols, load_bars
from paiid.data.importer import import_bars, import_file
from paiid.data.store import stored_times_of_day
from paiid.errors import BadInput


def quarters(days: pd.DatetimeIndex, first: str, last: str) -> pd.DatetimeIndex:
    """15-minute bar stamps from `first` to `last` (HH:MM, inclusive) on each of `days`."""
    clock = pd.timedelta_range(first + ":00", last + ":00", freq="15min")
    return pd.DatetimeIndex([d + t for d in days for t in clock], name="date")


def bars_at(index: pd.DatetimeIndex) -> pd.DataFrame:
    close = 30 + np.arange(len(index)) * 0.01
    return pd.DataFrame({"open": close, "high": close + 0.05, "low": close - 0.05, "close": close,
                         "volume": 100.0}, index=index)


def test_stored_times_of_day_are_the_distinct_clock_times_of_the_bars() -> None:
    days = pd.bdate_range("2021-03-01", periods=3)
    import_bars(bars_at(quarters(days, "09:30", "10:15")), "QTR", source="test")
    assert stored_times_of_day("QTR") == {h * 3600 + m * 60 for h, m in [(9, 30), (9, 45), (10, 0), (10, 15)]}
    assert stored_times_of_day("NEVER") == set()


def test_an_intraday_session_grows_on_its_grid_but_not_off_it() -> None:
    days = pd.bdate_range("2021-03-01", periods=5)
    import_bars(bars_at(quarters(days, "09:30", "12:00")), "QTR", source="test")
    # Afternoons of the same days are new times of day, but on the stored 15-minute grid.
    out = import_bars(bars_at(quarters(days, "12:15", "15:45")), "QTR", source="afternoons")
    assert out["inserted"] == 5 * 15
    with pytest.raises(BadInput, match=r"QTR already holds 15min bars at 09:30, 09:45.*bars at 09:35, 09:50"):
        import_bars(bars_at(quarters(days + pd.Timedelta(days=7), "09:35", "12:05")), "QTR", source="shifted")
    assert len(load_bars("QTR")) == 5 * 26


def test_one_daily_bar_at_another_time_is_refused() -> None:
    days = pd.bdate_range("2021-03-01", periods=20, name="date")
    import_bars(bars_at(days), "DAILY", source="test")
    late = bars_at(pd.DatetimeIndex([days[-1] + pd.Timedelta(days=3, hours=21)], name="date"))
    with pytest.raises(BadInput, match="holds daily bars stamped at 00:00, but late has bars at 21:00"):
        import_bars(late, "DAILY", source="late")
    next_day = bars_at(pd.DatetimeIndex([days[-1] + pd.Timedelta(days=3)], name="date"))
    assert import_bars(next_day, "DAILY", source="next")["inserted"] == 1


# --- a file imported before is recognised, and only while nothing has changed ---------------------


def write_csv(path: Path, bars: pd.DataFrame) -> Path:
    bars.rename_axis("date").reset_index().to_csv(path, index=False)
    return path


def stored_rows(home: Path, symbol: str) -> list[tuple]:
    with sqlite3.connect(home / "paiid.db") as conn:
        return conn.execute(
            "SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY ts", (symbol,)
        ).fetchall()


def data_version(observer: sqlite3.Connection) -> tuple:
    """Changes whenever a connection other than `observer` commits a write to the SQLite file."""
    return observer.execute("PRAGMA data_version").fetchone()


def counts(result: dict) -> tuple:
    return result["inserted"], result["updated"], result["unchanged"], result["up_to_date"]


DAYS = pd.bdate_range("2021-03-01", periods=40, name="date")


def test_the_same_file_again_is_recognised_reported_as_before_and_nothing_is_written(
        paiid_home: Path, tmp_path: Path) -> None:
    shuffled = bars_at(DAYS).iloc[[1, 0, *range(2, 40)]]  # one swap: a fix that the report must repeat
    csv = write_csv(tmp_path / "acme.csv", shuffled)
    first = import_file(csv, "ACME", sort=True)
    assert counts(first) == (40, 0, 0, False)
    assert first["fixes"] == ["sorted 1 out-of-order row(s) by time"]
    before = stored_rows(paiid_home, "ACME")
    with sqlite3.connect(paiid_home / "paiid.db") as observer:
        (key,) = observer.execute("SELECT import_key FROM bar_digests WHERE symbol = 'ACME'").fetchone()
        assert key is not None and len(key) == 64
        version = data_version(observer)
        again = import_file(csv, "ACME", sort=True)
        assert data_version(observer) == version
    assert counts(again) == (0, 0, 40, True)
    assert {k: v for k, v in again.items() if k not in ("inserted", "unchanged", "up_to_date")} == {
        k: v for k, v in first.items() if k not in ("inserted", "unchanged", "up_to_date")}
    assert stored_rows(paiid_home, "ACME") == before


def test_a_changed_file_is_read_again_even_with_the_same_bars(paiid_home: Path, tmp_path: Path) -> None:
    bars = bars_at(DAYS)
    csv = write_csv(tmp_path / "acme.csv", bars)
    import_file(csv, "ACME")
    changed = bars.copy()
    changed.iloc[7, 3] += 0.01  # close, still inside high/low
    write_csv(csv, changed)
    assert counts(import_file(csv, "ACME")) == (0, 1, 39, False)
    assert stored_rows(paiid_home, "ACME")[7][4] == changed.iloc[7, 3]
    # Other bytes for the same bars (17 digits round-trip): read again, found unchanged, then recognised.
    bars.rename_axis("date").reset_index().to_csv(csv, index=False, float_format="%.17g")
    assert counts(import_file(csv, "ACME")) == (0, 1, 39, False)
    assert counts(import_file(csv, "ACME")) == (0, 0, 40, True)


def test_other_options_read_the_file_again(paiid_home: Path, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "acme.csv", bars_at(DAYS))
    import_file(csv, "ACME")
    assert counts(import_file(csv, "ACME", dedupe=True)) == (0, 0, 40, False)
    assert counts(import_file(csv, "ACME", dedupe=True)) == (0, 0, 40, True)
    assert counts(import_file(csv, "ACME", dedupe=True, fill_gaps=True)) == (0, 0, 40, False)


def test_another_paiid_version_reads_the_file_again(paiid_home: Path, tmp_path: Path, monkeypatch) -> None:
    """Validation rules change between versions: a file stored by one is validated again by the next."""
    from paiid.data import importer

    csv = write_csv(tmp_path / "acme.csv", bars_at(DAYS))
    with monkeypatch.context() as older:
        older.setattr(importer, "__version__", "0.0.1")  # what an older install recorded
        import_file(csv, "ACME")
        assert counts(import_file(csv, "ACME")) == (0, 0, 40, True)
    with sqlite3.connect(paiid_home / "paiid.db") as observer:
        version = data_version(observer)
        assert counts(import_file(csv, "ACME")) == (0, 0, 40, False)
        assert data_version(observer) != version  # the new version's key is recorded with the same bars
    assert counts(import_file(csv, "ACME")) == (0, 0, 40, True)


def test_a_write_to_the_symbol_in_between_reads_the_file_again(paiid_home: Path, tmp_path: Path) -> None:
    bars = bars_at(DAYS)
    csv = write_csv(tmp_path / "acme.csv", bars)
    import_file(csv, "ACME")
    other = bars.iloc[5:6].copy()
    other.iloc[0, 3] += 0.01
    assert counts(import_bars(other, "ACME", source="file:acme.csv"))[:3] == (0, 1, 0)
    assert stored_rows(paiid_home, "ACME")[5][4] == other.iloc[0, 3]
    assert counts(import_file(csv, "ACME")) == (0, 1, 39, False)  # the file's bar is back
    assert stored_rows(paiid_home, "ACME")[5][4] == bars.iloc[5, 3]
    assert counts(import_file(csv, "ACME")) == (0, 0, 40, True)
    # Bars of the symbol imported from elsewhere, the same values: the source the file would set differs.
    import_bars(bars, "ACME", source="elsewhere")
    assert counts(import_file(csv, "ACME")) == (0, 0, 40, False)
    assert [s["source"] for s in describe_symbols() if s["symbol"] == "ACME"] == ["file:acme.csv"]

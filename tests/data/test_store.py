"""Imports land in the real database: idempotent upserts, all-or-nothing writes.

The tests that write run twice (the `database` fixture): on the SQLite file under PAIID_HOME and on
a PostgreSQL database given by PAIID_DATABASE_URL. Rows are read back with the driver itself
(`sqlite3` or psycopg), independently of SQLAlchemy and of `read_bars`, so a store that only
pretended to write would be caught.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.exc import IntegrityError

from paiid.data import COLUMNS, describe_symbols, load_bars
from paiid.data.importer import import_bars, import_file
from paiid.data.store import read_bars, upsert_bars
from paiid.errors import BadInput, DataValidationError, NotEnoughHistory, UnknownSymbol
from postgres_server import Database


def make_bars(n: int = 30, start: str = "2021-03-01", freq: str = "B", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n, freq=freq)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({
        "date": dates, "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
        "volume": rng.integers(100, 10_000, n).astype(float),
    })


def db_rows(database: Database, symbol: str) -> list[tuple]:
    return database.rows("SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY ts",
                         (symbol,))


def test_import_writes_the_database_paiid_is_configured_with(database: Database) -> None:
    raw = make_bars(25)
    result = import_bars(raw, "acme", source="test")
    assert result["symbol"] == "ACME" and result["rows"] == 25 and result["inserted"] == 25
    assert result["first"] == "2021-03-01T00:00:00" and result["last"] == raw["date"].iloc[-1].isoformat()
    rows = db_rows(database, "ACME")
    assert len(rows) == 25
    assert (database.home / "paiid.db").exists() == (database.kind == "sqlite")
    np.testing.assert_allclose([r[4] for r in rows], raw["close"].to_numpy(), rtol=0, atol=0)
    bars = load_bars("ACME")
    np.testing.assert_array_equal(bars.to_numpy(), raw[COLUMNS].to_numpy())
    assert bars.index.dtype == "datetime64[ns]" and bars.index.name == "date"


def test_reimport_never_duplicates(database: Database) -> None:
    raw = make_bars(25)
    import_bars(raw, "ACME", source="test")
    before = db_rows(database, "ACME")
    again = import_bars(raw, "ACME", source="test")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 25)
    assert db_rows(database, "ACME") == before


def test_an_unchanged_reimport_writes_nothing(database: Database) -> None:
    """An observer of the database (`Database.writes`) sees no commit from the unchanged import."""
    raw = make_bars(25)
    import_bars(raw, "ACME", source="test")
    with database.writes() as changed:
        again = import_bars(raw, "ACME", source="test")
        assert again["unchanged"] == 25
        assert not changed()
        import_bars(raw, "ACME", source="other.csv")  # a new source is recorded, so this one writes
        assert changed()


def test_overlapping_import_updates_and_extends(database: Database) -> None:
    first = make_bars(20)
    import_bars(first, "ACME", source="test")
    second = make_bars(30, seed=1)  # same dates for 20 rows, different prices, 10 new rows
    second.loc[5, ["open", "high", "low", "close", "volume"]] = first.loc[5, COLUMNS].to_numpy()
    result = import_bars(second, "ACME", source="test")
    assert (result["inserted"], result["updated"], result["unchanged"]) == (10, 19, 1)
    bars = load_bars("ACME")
    assert len(bars) == 30
    np.testing.assert_array_equal(bars["close"].to_numpy(), second["close"].to_numpy())


def test_a_rejected_import_leaves_earlier_data_intact(database: Database) -> None:
    good = make_bars(20)
    import_bars(good, "ACME", source="test")
    before = db_rows(database, "ACME")
    bad = make_bars(30, seed=2)
    bad.loc[25, "close"] = np.nan
    with pytest.raises(DataValidationError):
        import_bars(bad, "ACME", source="test")
    assert db_rows(database, "ACME") == before


def test_a_failure_inside_the_transaction_rolls_everything_back(database: Database) -> None:
    good = make_bars(20)
    import_bars(good, "ACME", source="good")
    before = db_rows(database, "ACME")
    # New prices for the 20 stored rows and 5 new rows; the symbol row written last violates
    # NOT NULL, after the inserts and updates ran. All of it must be undone.
    changed = make_bars(25, seed=3).set_index("date")
    with pytest.raises(IntegrityError):
        upsert_bars("ACME", changed, source="broken", timeframe=None)  # type: ignore[arg-type]
    assert db_rows(database, "ACME") == before
    assert [s["source"] for s in describe_symbols() if s["symbol"] == "ACME"] == ["good"]


def test_imported_symbol_is_listed_with_its_range(database: Database) -> None:
    raw = make_bars(12, freq="h", start="2021-03-01 10:00")
    import_bars(raw, "fx1", source="file:fx1.csv")
    (entry,) = [s for s in describe_symbols() if s["symbol"] == "FX1"]
    assert entry == {"symbol": "FX1", "source": "file:fx1.csv", "timeframe": "hourly",
                     "first": "2021-03-01T10:00:00", "last": "2021-03-01T21:00:00", "bars": 12,
                     "columns": ["open", "high", "low", "close", "volume"]}


def test_bundled_symbols_cannot_be_overwritten() -> None:
    with pytest.raises(BadInput, match="SPX is a bundled symbol"):
        import_bars(make_bars(), "spx", source="test")


def test_mixing_timeframes_in_one_symbol_is_refused(database: Database) -> None:
    import_bars(make_bars(20), "ACME", source="daily.csv")
    hourly = make_bars(20, freq="h", start="2022-01-03 10:00")
    with pytest.raises(BadInput, match="ACME already holds daily bars but hourly.csv has hourly bars"):
        import_bars(hourly, "ACME", source="hourly.csv")
    assert len(db_rows(database, "ACME")) == 20
    one_more = make_bars(1, start="2022-06-01")
    assert import_bars(one_more, "ACME", source="daily.csv")["inserted"] == 1  # a lone bar inherits "daily"


def test_csv_and_parquet_files_import_the_same_bars(tmp_path: Path) -> None:
    raw = make_bars(15)
    csv = tmp_path / "acme.csv"
    raw.rename(columns=str.capitalize).to_csv(csv, index=False)
    pq = tmp_path / "acme.parquet"
    raw.to_parquet(pq, index=False)
    import_file(csv, "A_CSV")
    import_file(pq, "A_PQ")
    a, b = load_bars("A_CSV"), load_bars("A_PQ")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert len(a) == 15


def test_unreadable_files_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="file not found"):
        import_file(tmp_path / "missing.csv", "X")
    (tmp_path / "bars.xlsx").write_text("x")
    with pytest.raises(BadInput, match="unsupported file type '.xlsx'"):
        import_file(tmp_path / "bars.xlsx", "X")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(BadInput, match="could not read broken.parquet"):
        import_file(tmp_path / "broken.parquet", "X")


def test_unknown_symbol_names_the_known_ones() -> None:
    assert read_bars("NOPE") is None
    known = "AAPL, AMD, .*, EURUSD, .*, SP500, SPX, .*XOM"
    with pytest.raises(UnknownSymbol, match=f"unknown symbol 'NOPE'; known symbols: {known}") as err:
        load_bars("nope")
    assert err.value.status_code == 404 and err.value.exit_code == 2


def test_invalid_symbols_are_rejected() -> None:
    for bad in ["", "   ", "A B", "X" * 33, "AAPL;DROP"]:
        with pytest.raises(BadInput, match="invalid symbol"):
            load_bars(bad)


# --- date windows --------------------------------------------------------------------------------


def test_end_date_includes_its_whole_day_for_hourly_bars() -> None:
    from backtesting.test import EURUSD

    bars = load_bars("EURUSD", start="2018-01-05", end="2018-01-05")
    expected = EURUSD.loc["2018-01-05"]  # the package's own rows for that day
    assert len(bars) == len(expected) > 1
    assert list(bars.index) == list(expected.index)


def test_end_with_a_time_is_exact_and_tz_aware_dates_are_converted() -> None:
    bars = load_bars("EURUSD", start="2018-01-05 09:00", end="2018-01-05 12:00")
    assert [t.hour for t in bars.index] == [9, 10, 11, 12]
    # 10:00 in New York (EST, UTC-5) is 15:00 in the index's UTC convention.
    ny = load_bars("EURUSD", start="2018-01-05T10:00-05:00", end="2018-01-05T10:00-05:00")
    assert list(ny.index) == [pd.Timestamp("2018-01-05 15:00")]


def test_daily_windows_are_inclusive() -> None:
    bars = load_bars("SPX", start="2018-12-24", end="2018-12-31")
    # Christmas Day was a holiday: 24, 26, 27, 28, 31 December 2018.
    assert list(bars.index.day) == [24, 26, 27, 28, 31]


def test_bad_windows_are_precise_errors() -> None:
    with pytest.raises(BadInput, match="is before start"):
        load_bars("SPX", start="2018-02-01", end="2018-01-01")
    with pytest.raises(BadInput, match="invalid end date 'yesterday-ish'"):
        load_bars("SPX", end="yesterday-ish")
    with pytest.raises(NotEnoughHistory, match="the test needs at least 300 bars of history, but only 5 are"):
        load_bars("SPX", start="2018-12-24", min_bars=300, what="the test")


def test_as_of_caps_every_load_inside_the_block(paiid_home) -> None:
    """`as_of` is how retraining sees the past; outside the block nothing is cut."""
    import pandas as pd

    from paiid.data import as_of, load_bars

    full = load_bars("SPX")
    with as_of("2008-12-31"):
        cut = load_bars("SPX")
        asked_later = load_bars("SPX", end="2012-01-01")
        assert cut.index[-1] == pd.Timestamp("2008-12-31")
        assert asked_later.index[-1] == pd.Timestamp("2008-12-31")
        assert load_bars("SPX", end="2005-01-03").index[-1] == pd.Timestamp("2005-01-03")
    assert load_bars("SPX").index[-1] == full.index[-1]
    assert len(cut) < len(full)


# --- digests, rows from earlier versions, a busy database ----------------------------------------


def test_one_changed_value_among_many_is_found_and_written(database: Database) -> None:
    """The unchanged-file shortcut (count + digest) must not hide a single changed cell."""
    raw = make_bars(3000, freq="min", start="2021-03-01 00:00")
    import_bars(raw, "ACME", source="test")
    changed = raw.copy()
    changed.loc[1234, "volume"] += 1.0
    result = import_bars(changed, "ACME", source="test")
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, 2999)
    assert [r[5] for r in db_rows(database, "ACME")] == changed["volume"].tolist()
    back = import_bars(raw, "ACME", source="test")  # and back: the digest followed the update
    assert (back["updated"], back["unchanged"]) == (1, 2999)
    assert import_bars(raw, "ACME", source="test")["unchanged"] == 3000


def test_a_part_of_the_stored_bars_imported_again_changes_nothing(database: Database) -> None:
    raw = make_bars(60)
    import_bars(raw, "ACME", source="test")
    before = db_rows(database, "ACME")
    with database.writes() as changed:
        part = import_bars(raw.iloc[10:30], "ACME", source="test")
        assert (part["inserted"], part["updated"], part["unchanged"]) == (0, 0, 20)
        assert not changed()
    assert db_rows(database, "ACME") == before


def test_bars_stored_by_an_earlier_version_are_matched_not_duplicated(database: Database) -> None:
    """Rows written through SQLAlchemy's own DateTime binding, with no digest row, as before issue 12."""
    from paiid.data.db import get_engine
    from paiid.data.store import BarRow, SymbolRow

    raw = make_bars(40, freq="h", start="2021-03-01 09:30")
    old = raw.iloc[:30].set_index("date")
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(BarRow.__table__.insert(), [
            {"symbol": "OLD", "ts": ts.to_pydatetime(), **dict(zip(COLUMNS, map(float, row), strict=True))}
            for ts, row in zip(old.index, old[COLUMNS].to_numpy(), strict=True)
        ])
        conn.execute(SymbolRow.__table__.insert(), [{
            "symbol": "OLD", "source": "old", "timeframe": "hourly",
            "updated_at": pd.Timestamp("2024-01-01").to_pydatetime(),
        }])
    result = import_bars(raw, "OLD", source="old")
    assert (result["inserted"], result["updated"], result["unchanged"]) == (10, 0, 30)
    assert len(db_rows(database, "OLD")) == 40
    np.testing.assert_array_equal(load_bars("OLD").to_numpy(), raw[COLUMNS].to_numpy())
    assert import_bars(raw, "OLD", source="old")["unchanged"] == 40  # its digest was built on the way


def test_a_writer_that_waits_too_long_gets_a_one_line_error(paiid_home: Path, monkeypatch) -> None:
    """Another process holding SQLite's write lock past the busy timeout: a PaiidError, not an SQL dump."""
    from paiid.data import db
    from paiid.errors import PaiidError

    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.2)  # read when this PAIID_HOME's engine is created
    import_bars(make_bars(20), "ACME", source="test")
    sqlite_file = Database("sqlite", "", paiid_home)
    before = db_rows(sqlite_file, "ACME")
    holder = sqlite3.connect(paiid_home / "paiid.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(PaiidError, match="the database is busy: another write held it") as err:
            import_bars(make_bars(25, seed=5), "ACME", source="test")
        assert "\n" not in err.value.message and err.value.exit_code == 2
    finally:
        holder.rollback()
        holder.close()
    assert db_rows(sqlite_file, "ACME") == before

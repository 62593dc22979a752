"""Close-only series: `date,close` files are imported as they are, nothing is filled in, the store says
which columns are real, old databases keep working, and commands that need more say so precisely."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paiid.data import (
    BEYOND_CLOSE,
    CLOSE_ONLY,
    COLUMNS,
    MissingColumns,
    describe_symbols,
    load_bars,
    missing_columns,
    real_columns,
    require_columns,
    validate_bars,
)
from paiid.data.importer import import_bars, import_file
from paiid.errors import BadInput, DataValidationError


def closes(n: int = 40, start: str = "2021-03-01", seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({"Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"), "Close": close})


def stored_rows(home: Path, symbol: str) -> list[tuple]:
    with sqlite3.connect(home / "paiid.db") as conn:
        return conn.execute("SELECT open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY ts",
                            (symbol,)).fetchall()


def test_close_only_csv_round_trip_fakes_nothing(paiid_home: Path, tmp_path: Path) -> None:
    raw = closes()
    path = tmp_path / "nav.csv"
    raw.to_csv(path, index=False)
    result = import_file(path, "nav")
    assert (result["rows"], result["inserted"], result["columns"]) == (40, 40, ["close"])
    # in the database: the close, and NULL (not a copy of the close, not zero volume) for the others
    rows = stored_rows(paiid_home, "NAV")
    assert len(rows) == 40 and all(r[:3] == (None, None, None) and r[4] is None for r in rows)
    np.testing.assert_array_equal([r[3] for r in rows], raw["Close"].to_numpy())
    bars = load_bars("NAV")
    assert list(bars.columns) == COLUMNS and all(bars.dtypes == "float64")
    assert bars[["open", "high", "low", "volume"]].isna().all().all()
    np.testing.assert_array_equal(bars["close"].to_numpy(), raw["Close"].to_numpy())
    assert bars.attrs["columns"] == ["close"] and real_columns("NAV") == ["close"]
    (listed,) = [s for s in describe_symbols() if s["symbol"] == "NAV"]
    assert (listed["columns"], listed["bars"], listed["source"]) == (["close"], 40, "file:nav.csv")
    # the same file again is recognised; re-importing the same closes in another file changes nothing
    assert import_file(path, "NAV")["up_to_date"] is True
    raw.to_parquet(tmp_path / "nav.parquet", index=False)
    again = import_file(tmp_path / "nav.parquet", "NAV")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 40)


def test_close_only_validation_checks_the_close_and_nothing_else() -> None:
    raw = closes(10)
    bars, report = validate_bars(raw)
    assert bars.attrs["columns"] == CLOSE_ONLY and any("close-only" in n for n in report.notes)
    bad = raw.copy()
    bad.loc[3, "Close"] = -1.0
    with pytest.raises(DataValidationError, match="column close has 1 negative value"):
        validate_bars(bad)
    # close and volume without high and low is not a kind of data: refused, naming what is missing
    with pytest.raises(DataValidationError, match="missing column.s. open, high, low; need date, open"):
        validate_bars(raw.assign(volume=1.0))


def test_filling_gaps_of_a_close_only_series_invents_no_range_or_volume() -> None:
    raw = closes(30)
    raw = raw.drop(index=range(10, 20)).reset_index(drop=True)  # two weeks missing
    bars, report = validate_bars(raw, fill_gaps=True)
    assert len(bars) == 30 and report.fixes and "zero-volume" not in report.fixes[0]
    assert bars[["open", "high", "low", "volume"]].isna().all().all() and bars["close"].notna().all()
    assert bars.attrs["columns"] == CLOSE_ONLY


def test_a_symbol_keeps_one_kind_of_bars(paiid_home: Path) -> None:
    import_bars(closes(20), "NAV", source="file:nav.csv")
    full = closes(5, start="2021-06-01").assign(Open=1.0, High=1000.0, Low=0.5, Volume=10.0)
    with pytest.raises(BadInput, match="NAV already holds close-only bars .* has open/high/low/close/volume"):
        import_bars(full, "NAV", source="file:full.csv")
    import_bars(full, "FULL", source="file:full.csv")
    with pytest.raises(BadInput, match="FULL already holds open/high/low/close/volume bars .* close-only"):
        import_bars(closes(5, start="2021-07-01"), "FULL", source="file:nav.csv")
    assert len(load_bars("NAV")) == 20 and len(load_bars("FULL")) == 5


def test_the_missing_column_error_is_precise() -> None:
    bars = load_bars("AAPL", end="2000-01-31")
    with pytest.raises(MissingColumns) as err:
        require_columns(bars, ["close", "high", "low", "volume"], "the trade model")
    assert err.value.message == ("AAPL is close-only (source skfolio.datasets.load_sp500_dataset): "
                                 "the trade model needs high, low, volume")
    assert (err.value.status_code, err.value.exit_code) == (422, 2)
    assert err.value.missing == ["high", "low", "volume"]
    assert isinstance(err.value, BadInput)
    back = pickle.loads(pickle.dumps(err.value))  # as a worker process's error comes back
    assert (type(back), back.message, back.missing) == (MissingColumns, err.value.message, err.value.missing)
    # by symbol, without reading bars; and the non-raising form for screens that skip
    with pytest.raises(MissingColumns, match="^SP500 is close-only .*: a backtest needs open$"):
        require_columns("sp500", ["open"], "a backtest")
    problem = missing_columns("AAPL", BEYOND_CLOSE, "training")
    assert problem is not None and problem.reason == "close-only: needs open, high, low, volume"
    assert missing_columns("SPX", BEYOND_CLOSE, "training") is None
    assert require_columns(load_bars("GOOG"), BEYOND_CLOSE, "training") == COLUMNS
    # a frame built without attrs is judged by its values
    plain = load_bars("SPX").iloc[:50].copy()
    plain.attrs.clear()
    plain["volume"] = np.nan
    with pytest.raises(MissingColumns, match="^these bars have only open, high, low, close: x needs volume$"):
        require_columns(plain, ["volume"], "x")


#: The tables as paiid created them before close-only series: NOT NULL prices and volume, no
#: `symbols.real_columns`, and (older still) no `bar_digests` table.
OLD_SCHEMA = """
CREATE TABLE bars (symbol VARCHAR(32) NOT NULL, ts DATETIME NOT NULL, open FLOAT NOT NULL,
    high FLOAT NOT NULL, low FLOAT NOT NULL, close FLOAT NOT NULL, volume FLOAT NOT NULL,
    PRIMARY KEY (symbol, ts));
CREATE TABLE symbols (symbol VARCHAR(32) NOT NULL, source VARCHAR(200) NOT NULL,
    timeframe VARCHAR(8) NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (symbol));
INSERT INTO symbols VALUES ('OLD', 'file:old.csv', 'daily', '2024-01-01 00:00:00.000000');
INSERT INTO bars VALUES ('OLD', '2021-03-01 00:00:00.000000', 10, 11, 9, 10.5, 100);
INSERT INTO bars VALUES ('OLD', '2021-03-02 00:00:00.000000', 10.5, 12, 10, 11.5, 200);
"""


def test_an_old_database_opens_reads_and_takes_close_only_series(paiid_home: Path) -> None:
    with sqlite3.connect(paiid_home / "paiid.db") as conn:
        conn.executescript(OLD_SCHEMA)
    (old,) = [s for s in describe_symbols() if s["symbol"] == "OLD"]
    assert (old["bars"], old["columns"]) == (2, COLUMNS)
    bars = load_bars("OLD")
    assert real_columns(bars) == COLUMNS and not bars.attrs  # full frames carry no attrs
    np.testing.assert_array_equal(bars.to_numpy(), [[10, 11, 9, 10.5, 100], [10.5, 12, 10, 11.5, 200]])
    with sqlite3.connect(paiid_home / "paiid.db") as conn:
        assert "real_columns" in {r[1] for r in conn.execute("PRAGMA table_info(symbols)")}
    # the first close-only series drops the NOT NULL (the table is rebuilt) and keeps the old bars
    import_bars(closes(10), "NAV", source="file:nav.csv")
    with sqlite3.connect(paiid_home / "paiid.db") as conn:
        notnull = {r[1]: r[3] for r in conn.execute("PRAGMA table_info(bars)")}
    assert notnull == {"symbol": 1, "ts": 1, "open": 0, "high": 0, "low": 0, "close": 1, "volume": 0}
    np.testing.assert_array_equal(load_bars("OLD").to_numpy(), bars.to_numpy())
    assert real_columns("NAV") == ["close"] and real_columns("OLD") == COLUMNS
    # and the old symbol still takes OHLCV bars
    more = pd.DataFrame({"date": ["2021-03-03"], "open": [11.5], "high": [12.5], "low": [11.0],
                         "close": [12.0], "volume": [300.0]})
    assert import_bars(more, "OLD", source="file:old.csv")["inserted"] == 1
    assert len(load_bars("OLD")) == 3


def test_a_stored_series_replaces_a_bundled_close_only_one(paiid_home: Path) -> None:
    assert load_bars("MSFT").attrs["source"] == "skfolio.datasets.load_sp500_dataset"
    full = closes(5, start="2024-01-01").assign(Open=1.0, High=1000.0, Low=0.5, Volume=10.0)
    import_bars(full, "MSFT", source="file:msft.csv")
    bars = load_bars("MSFT")
    assert len(bars) == 5 and real_columns(bars) == COLUMNS and real_columns("MSFT") == COLUMNS
    (listed,) = [s for s in describe_symbols() if s["symbol"] == "MSFT"]
    assert (listed["source"], listed["bars"]) == ("file:msft.csv", 5)
    with pytest.raises(BadInput, match="SPX is a bundled symbol and cannot be overwritten"):
        import_bars(full, "SPX", source="file:spx.csv")

"""`paiid data list|import` through the real installed command, PAIID_HOME pointing at a tmp dir.

Bundled counts (SPX 5031, GOOG 2148, EURUSD 5000) are what the shipping packages hold; the
store's content is read back with `sqlite3` directly, so "nothing changed" means the file itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    if columns is not None:  # rich truncates table cells to the terminal's width
        env["COLUMNS"] = str(columns)
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=120)


def make_csv_rows(n: int, start: str = "2020-01-06", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({
        "Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"),
        "Open": close, "High": close * 1.01, "Low": close * 0.99, "Close": close,
        "Volume": rng.integers(1000, 9000, n),
    })


def stored(home: Path, symbol: str) -> list[tuple]:
    with sqlite3.connect(home / "paiid.db") as conn:
        return conn.execute("SELECT * FROM bars WHERE symbol = ? ORDER BY ts", (symbol,)).fetchall()


def stored_dates(home: Path, symbol: str) -> list[str]:
    return [r[1][:10] for r in stored(home, symbol)]


def refused(out: subprocess.CompletedProcess) -> str:
    """The one-line error of an import the contract says must exit 2 with nothing on stdout."""
    assert out.returncode == 2 and out.stdout == "", (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def test_list_shows_the_bundled_symbols(paiid_home: Path) -> None:
    out = paiid(paiid_home, "data", "list", "--json")
    assert out.returncode == 0, out.stderr
    symbols = {s["symbol"]: s for s in json.loads(out.stdout)["symbols"]}
    skfolio = {"AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
               "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"}
    assert set(symbols) == {"SPX", "GOOG", "EURUSD", "SP500"} | skfolio
    for sym in skfolio:
        assert (symbols[sym]["columns"], symbols[sym]["bars"]) == (["close"], 8313)
        assert symbols[sym]["source"] == "skfolio.datasets.load_sp500_dataset"
    sp500 = symbols["SP500"]
    assert (sp500["columns"], sp500["source"]) == (["close"], "skfolio.datasets.load_sp500_index")
    assert symbols["SPX"]["columns"] == ["open", "high", "low", "close", "volume"]
    spx, goog = symbols["SPX"], symbols["GOOG"]
    assert (spx["bars"], spx["first"][:4], spx["last"][:4]) == (5031, "1999", "2018")
    assert (goog["bars"], goog["first"][:4], goog["last"][:4]) == (2148, "2004", "2013")
    assert symbols["EURUSD"]["bars"] == 5000 and symbols["EURUSD"]["timeframe"] == "hourly"
    assert {"symbol", "source", "timeframe", "first", "last", "bars", "columns"} <= set(symbols["GOOG"])


def test_bad_import_names_every_problem_and_changes_nothing(paiid_home: Path, tmp_path: Path) -> None:
    good = make_csv_rows(30)
    good_csv = tmp_path / "good.csv"
    good.to_csv(good_csv, index=False)
    first = paiid(paiid_home, "data", "import", str(good_csv), "--symbol", "acme", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["inserted"] == 30
    before = stored(paiid_home, "ACME")
    assert len(before) == 30

    bad = make_csv_rows(40, seed=1)  # overlaps the good rows with other prices, plus 10 new days
    bad.loc[12, "Close"] = np.nan
    bad = pd.concat([bad.iloc[:20], bad.iloc[[5]], bad.iloc[[25]], bad.iloc[20:]], ignore_index=True)
    bad_csv = tmp_path / "bad.csv"
    bad.to_csv(bad_csv, index=False)
    out = paiid(paiid_home, "data", "import", str(bad_csv), "--symbol", "ACME", "--json")
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: file:bad.csv rejected: ")
    msg = lines[0]
    assert f"column close has 1 missing/NaN value(s) at {bad.loc[12, 'Date']}" in msg
    assert "timestamps not in increasing order at" in msg and "--sort" in msg
    assert "duplicate timestamp(s) at" in msg and "--dedupe" in msg
    assert stored(paiid_home, "ACME") == before


def test_sort_and_dedupe_fix_what_they_say(paiid_home: Path, tmp_path: Path) -> None:
    rows = make_csv_rows(30)
    messy = pd.concat([rows.iloc[:10], rows.iloc[[3]], rows.iloc[[20]], rows.iloc[10:]], ignore_index=True)
    csv = tmp_path / "messy.csv"
    messy.to_csv(csv, index=False)
    refused = paiid(paiid_home, "data", "import", str(csv), "--symbol", "MESSY", "--json")
    assert refused.returncode == 2
    out = paiid(paiid_home, "data", "import", str(csv), "--symbol", "MESSY", "--sort", "--dedupe", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["rows"] == 30 and result["inserted"] == 30
    assert any(f.startswith("sorted") for f in result["fixes"])
    assert any(f.startswith("dropped 2 duplicate") for f in result["fixes"])
    closes = [r[5] for r in stored(paiid_home, "MESSY")]
    np.testing.assert_allclose(closes, rows["Close"].to_numpy(), rtol=1e-12)


def test_the_human_message_counts_new_updated_and_unchanged_bars(paiid_home: Path, tmp_path: Path) -> None:
    """Before: "30 new, 0 updated" on every run, so a re-import seemed to have done nothing it could name."""
    rows = make_csv_rows(30)
    csv = tmp_path / "acme.csv"
    rows.to_csv(csv, index=False)
    first = paiid(paiid_home, "data", "import", str(csv), "--symbol", "ACME", columns=200)
    assert first.returncode == 0, first.stderr
    assert "30 new, 0 updated, 0 unchanged" in first.stdout
    again = paiid(paiid_home, "data", "import", str(csv), "--symbol", "ACME", columns=200)
    assert "0 new, 0 updated, 30 unchanged (the same file as last time: not read again)" in again.stdout
    rows.loc[29, "Volume"] += 1
    rows.to_csv(csv, index=False)
    changed = paiid(paiid_home, "data", "import", str(csv), "--symbol", "ACME", columns=200)
    assert "0 new, 1 updated, 29 unchanged\n" in changed.stdout + "\n"
    assert [r[6] for r in stored(paiid_home, "ACME")] == rows["Volume"].astype(float).tolist()


def test_parquet_import_and_listing(paiid_home: Path, tmp_path: Path) -> None:
    rows = make_csv_rows(25, start="2021-02-01")
    pq = tmp_path / "acme.parquet"
    rows.assign(Date=pd.to_datetime(rows["Date"])).to_parquet(pq, index=False)
    out = paiid(paiid_home, "data", "import", str(pq), "--symbol", "PQ", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 25
    listed = paiid(paiid_home, "data", "list", "--json")
    (entry,) = [s for s in json.loads(listed.stdout)["symbols"] if s["symbol"] == "PQ"]
    assert entry == {"symbol": "PQ", "source": "file:acme.parquet", "timeframe": "daily",
                     "first": "2021-02-01T00:00:00", "last": f"{rows['Date'].iloc[-1]}T00:00:00", "bars": 25,
                     "columns": ["open", "high", "low", "close", "volume"]}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["data", "import", "/nonexistent/x.csv", "--symbol", "X"], "file not found"),
        (["data", "import", "{csv}", "--symbol", "SPX"], "SPX is a bundled symbol"),
        (["data", "import", "{csv}", "--symbol", "bad symbol"], "invalid symbol"),
    ],
)
def test_import_input_errors_exit_2(paiid_home: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    csv = tmp_path / "ok.csv"
    make_csv_rows(5).to_csv(csv, index=False)
    out = paiid(paiid_home, *[a.format(csv=csv) for a in args], "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ") and needle in out.stderr


# --- issue 12: imports that would store wrong bars ------------------------------------------------


def test_ambiguous_dates_are_refused_until_the_order_is_given(paiid_home: Path, tmp_path: Path) -> None:
    # 1, 4 and 5 March written day first: every field is <= 12, so the file alone cannot say which.
    csv = tmp_path / "dayfirst.csv"
    make_csv_rows(3).assign(Date=["01/03/2024", "04/03/2024", "05/03/2024"]).to_csv(csv, index=False)
    msg = refused(paiid(paiid_home, "data", "import", str(csv), "--symbol", "DF", "--json"))
    assert "ambiguous dates" in msg and "'01/03/2024' (row 0)" in msg
    assert "2024-03-01 day first or 2024-01-03 month first" in msg
    assert "--dayfirst" in msg and "--date-format" in msg
    assert stored(paiid_home, "DF") == []

    out = paiid(paiid_home, "data", "import", str(csv), "--symbol", "DF", "--dayfirst", "--json")
    assert out.returncode == 0, out.stderr
    assert stored_dates(paiid_home, "DF") == ["2024-03-01", "2024-03-04", "2024-03-05"]
    out = paiid(paiid_home, "data", "import", str(csv), "--symbol", "MF", "--date-format", "%m/%d/%Y")
    assert out.returncode == 0, out.stderr
    assert stored_dates(paiid_home, "MF") == ["2024-01-03", "2024-04-03", "2024-05-03"]
    both = paiid(paiid_home, "data", "import", str(csv), "--symbol", "X", "--dayfirst", "--date-format", "%d")
    assert "not both" in refused(both)


@pytest.mark.parametrize(("fmt", "order"), [("%d/%m/%Y", "day/month/year"), ("%m/%d/%Y", "month/day/year")])
def test_a_column_that_shows_its_order_is_read_that_way_throughout(
    paiid_home: Path, tmp_path: Path, fmt: str, order: str
) -> None:
    # Business days from 1 March: dates up to the 12th fit both orders, the 13th and later only one.
    rows = make_csv_rows(30, start="2024-03-01")
    days = pd.to_datetime(rows["Date"])
    csv = tmp_path / "written.csv"
    rows.assign(Date=days.dt.strftime(fmt)).to_csv(csv, index=False)
    out = paiid(paiid_home, "data", "import", str(csv), "--symbol", "ORDER", "--json")
    assert out.returncode == 0, out.stderr
    assert stored_dates(paiid_home, "ORDER") == list(rows["Date"])
    (note,) = json.loads(out.stdout)["notes"]
    assert note.startswith(f"read dates as {order}: ")


def test_a_column_mixing_day_first_and_month_first_is_refused(paiid_home: Path, tmp_path: Path) -> None:
    csv = tmp_path / "mixed.csv"
    make_csv_rows(3).assign(Date=["12/03/2024", "13/03/2024", "03/14/2024"]).to_csv(csv, index=False)
    msg = refused(paiid(paiid_home, "data", "import", str(csv), "--symbol", "MIX", "--sort", "--dedupe"))
    assert "mix day-first and month-first" in msg
    assert "'13/03/2024' (row 1)" in msg and "'03/14/2024' (row 2)" in msg


def test_daily_bars_at_another_time_of_day_are_refused(paiid_home: Path, tmp_path: Path) -> None:
    rows = make_csv_rows(40)
    midnight, afternoon = tmp_path / "midnight.csv", tmp_path / "afternoon.csv"
    rows.to_csv(midnight, index=False)
    rows.assign(Date=rows["Date"] + " 14:30").to_csv(afternoon, index=False)
    assert paiid(paiid_home, "data", "import", str(midnight), "--symbol", "SESS").returncode == 0
    before = stored(paiid_home, "SESS")
    msg = refused(paiid(paiid_home, "data", "import", str(afternoon), "--symbol", "SESS"))
    assert "SESS already holds daily bars stamped at 00:00" in msg
    assert "file:afternoon.csv has bars at 14:30" in msg
    assert stored(paiid_home, "SESS") == before  # not 80 bars on 40 dates
    # The same file is fine as a symbol of its own, and more midnight bars are fine for SESS.
    assert paiid(paiid_home, "data", "import", str(afternoon), "--symbol", "PM").returncode == 0
    more = tmp_path / "more.csv"
    make_csv_rows(45).to_csv(more, index=False)
    assert json.loads(paiid(paiid_home, "data", "import", str(more), "--symbol", "SESS", "--json").stdout)[
        "inserted"] == 5


def test_intraday_bars_off_the_stored_clock_grid_are_refused(paiid_home: Path, tmp_path: Path) -> None:
    days = pd.bdate_range("2021-03-01", periods=10)
    hours = days.repeat(7) + pd.to_timedelta(np.tile(np.arange(9, 16), 10), "h")  # 09:00-15:00
    rows = make_csv_rows(len(hours)).assign(Date=hours.strftime("%Y-%m-%d %H:%M"))
    on_grid, off_grid = tmp_path / "on.csv", tmp_path / "off.csv"
    rows.iloc[:35].to_csv(on_grid, index=False)
    rows.iloc[35:].assign(Date=(hours[35:] + pd.Timedelta("30min")).strftime("%Y-%m-%d %H:%M")).to_csv(
        off_grid, index=False)
    assert paiid(paiid_home, "data", "import", str(on_grid), "--symbol", "HOURS").returncode == 0
    msg = refused(paiid(paiid_home, "data", "import", str(off_grid), "--symbol", "HOURS"))
    assert "HOURS already holds hourly bars at 09:00, 10:00" in msg and "has bars at 09:30, 10:30" in msg
    assert "clock grid" in msg and len(stored(paiid_home, "HOURS")) == 35
    later = tmp_path / "later.csv"  # the next days on the same grid extend it
    rows.iloc[35:].to_csv(later, index=False)
    assert paiid(paiid_home, "data", "import", str(later), "--symbol", "HOURS").returncode == 0
    assert len(stored(paiid_home, "HOURS")) == 70


def test_a_column_given_twice_in_another_case_is_named(paiid_home: Path, tmp_path: Path) -> None:
    csv = tmp_path / "twice.csv"
    make_csv_rows(5).assign(close=1.0).to_csv(csv, index=False)  # `Close` and `close`
    msg = refused(paiid(paiid_home, "data", "import", str(csv), "--symbol", "TWICE"))
    assert "duplicate column(s) 'Close' and 'close' (column names are case-insensitive)" in msg


def test_absurd_prices_and_inconsistent_bars_are_refused_quietly(paiid_home: Path, tmp_path: Path) -> None:
    rows = make_csv_rows(400)
    rows.loc[100, ["Open", "High", "Low", "Close"]] = 1e308
    rows.loc[200, ["Open", "High", "Low", "Close"]] = 1e-320
    rows.loc[300, "Close"] = rows.loc[300, "High"] * 1.05  # close above high
    rows.loc[350, "Open"] = rows.loc[350, "Low"] * 0.9  # open below low
    csv = tmp_path / "absurd.csv"
    rows.to_csv(csv, index=False)
    msg = refused(paiid(paiid_home, "data", "import", str(csv), "--symbol", "ABSURD"))  # nor numpy warnings
    d = rows["Date"]
    assert (f"column close has 2 value(s) outside the accepted price range 1e-08 to 1e+12 at "
            f"{d[100]} 00:00:00, {d[200]} 00:00:00") in msg
    assert f"high below open or close in 1 bar(s) at {d[300]} 00:00:00" in msg
    assert f"low above open or close in 1 bar(s) at {d[350]} 00:00:00" in msg
    assert stored(paiid_home, "ABSURD") == []


def test_list_shows_file_names_as_written_not_as_markup(paiid_home: Path, tmp_path: Path) -> None:
    csv = tmp_path / "[reverse]BOOM.csv"
    make_csv_rows(5).to_csv(csv, index=False)
    assert paiid(paiid_home, "data", "import", str(csv), "--symbol", "BOOM").returncode == 0
    out = paiid(paiid_home, "data", "list", columns=200)
    assert out.returncode == 0, out.stderr
    assert "file:[reverse]BOOM.csv" in out.stdout


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1677-09-21", "2262-04-12"])
def test_dates_beyond_the_representable_range_are_refused_naming_it(
        paiid_home: Path, tmp_path: Path, date: str) -> None:
    rows = make_csv_rows(5)
    rows["Date"] = rows["Date"].astype(str)
    rows.loc[0 if date < "2000" else 4, "Date"] = date
    csv = tmp_path / "far.csv"
    rows.to_csv(csv, index=False)
    msg = refused(paiid(paiid_home, "data", "import", str(csv), "--symbol", "FAR"))  # one line, no warnings
    assert "outside the range paiid handles (1677-09-22 to 2262-04-11)" in msg and date in msg
    assert stored(paiid_home, "FAR") == []


def test_close_only_import_through_the_command(paiid_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "fund.csv"
    path.write_text("date,close\n2024-01-02,10.5\n2024-01-03,10.75\n2024-01-04,10.6\n")
    out = paiid(paiid_home, "data", "import", str(path), "--symbol", "FUND", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["columns"] == ["close"]
    assert [row[2:] for row in stored(paiid_home, "FUND")] == [  # open, high, low, close, volume
        (None, None, None, 10.5, None), (None, None, None, 10.75, None), (None, None, None, 10.6, None)]
    listed = paiid(paiid_home, "data", "list", "--json")
    (entry,) = [s for s in json.loads(listed.stdout)["symbols"] if s["symbol"] == "FUND"]
    assert (entry["columns"], entry["bars"], entry["source"]) == (["close"], 3, "file:fund.csv")
    human = paiid(paiid_home, "data", "list", columns=200)
    assert "close only" in human.stdout and "OHLCV" in human.stdout

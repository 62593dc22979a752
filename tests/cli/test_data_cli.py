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


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
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


def test_list_shows_the_bundled_symbols(paiid_home: Path) -> None:
    out = paiid(paiid_home, "data", "list", "--json")
    assert out.returncode == 0, out.stderr
    symbols = {s["symbol"]: s for s in json.loads(out.stdout)["symbols"]}
    assert set(symbols) == {"SPX", "GOOG", "EURUSD"}
    spx, goog = symbols["SPX"], symbols["GOOG"]
    assert (spx["bars"], spx["first"][:4], spx["last"][:4]) == (5031, "1999", "2018")
    assert (goog["bars"], goog["first"][:4], goog["last"][:4]) == (2148, "2004", "2013")
    assert symbols["EURUSD"]["bars"] == 5000 and symbols["EURUSD"]["timeframe"] == "hourly"
    assert {"symbol", "source", "timeframe", "first", "last", "bars"} <= set(symbols["GOOG"])


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
                     "first": "2021-02-01T00:00:00", "last": f"{rows['Date'].iloc[-1]}T00:00:00", "bars": 25}


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

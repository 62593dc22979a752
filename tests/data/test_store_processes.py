"""Imports as separate `paiid data import` processes on one real database: racing and killed.

Each runs on the SQLite file under PAIID_HOME and on a PostgreSQL database (`database` fixture).
Stored bars are read back with the driver itself (sqlite3, psycopg), and compared with the CSV file
itself read by pandas, so neither side of a comparison comes from the code under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paiid.bench.api import child_env, paiid_command
from paiid.bench.data import write_bars_csv
from postgres_server import Database

pytestmark = pytest.mark.slow


def start_import(database: Database, csv: Path, symbol: str) -> subprocess.Popen:
    return subprocess.Popen(paiid_command("data", "import", str(csv), "--symbol", symbol, "--json"),
                            env=child_env(database.home, database.env()), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stored(database: Database, symbol: str) -> pd.DataFrame:
    rows = database.rows("SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY ts",
                         (symbol,))
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


def in_file(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, parse_dates=["date"])


def test_two_imports_of_one_symbol_at_once_both_succeed(database: Database, tmp_path: Path) -> None:
    """Before: both read "nothing stored" and the second died on the primary key (IntegrityError).

    Each round both processes import the same new file: round 1 races inserts into an empty symbol
    (what failed), round 2 updates of the same rows with other prices.
    """
    for round_ in range(2):
        csv = write_bars_csv(tmp_path / f"bars{round_}.csv", 20_000, seed=round_)
        procs = [start_import(database, csv, "RACE") for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
        expected = in_file(csv)
        got = stored(database, "RACE")
        assert len(got) == len(expected) == 20_000
        pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


def _writing(database: Database) -> Callable[[], bool]:
    """Is the import's write transaction under way? SQLite: it is spilling pages into the WAL file.
    PostgreSQL: a session is running the `INSERT INTO bars ... SELECT` under the write lock."""
    if database.kind == "sqlite":
        wal = database.home / "paiid.db-wal"
        wal_before = wal.stat().st_size if wal.exists() else 0
        return lambda: wal.exists() and wal.stat().st_size > wal_before + 2_000_000
    query = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND datname = current_database() "
             "AND query LIKE 'INSERT INTO bars %'")
    return lambda: database.rows(query)[0][0] > 0


def test_an_import_killed_mid_write_leaves_the_earlier_bars(database: Database, tmp_path: Path) -> None:
    """kill -9 in the middle of the write transaction: nothing of it survives."""
    good = write_bars_csv(tmp_path / "good.csv", 2_000, seed=1)
    first = start_import(database, good, "KILL")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = stored(database, "KILL")
    writing = _writing(database)
    big = write_bars_csv(tmp_path / "big.csv", 200_000, seed=2)  # rewrites the first 2,000 bars too
    proc = start_import(database, big, "KILL")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if writing():
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the import finished before it could be killed"
    pd.testing.assert_frame_equal(stored(database, "KILL"), before, check_exact=True)
    pd.testing.assert_frame_equal(before, in_file(good), check_exact=True, check_dtype=False)
    again = start_import(database, good, "KILL")  # the database is usable, no lock left behind
    assert again.wait(timeout=120) == 0, again.stderr.read()
    np.testing.assert_array_equal(stored(database, "KILL")["close"], in_file(good)["close"])

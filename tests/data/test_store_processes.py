"""Imports as separate `paiid data import` processes on one real SQLite file: racing and killed.

Stored bars are read back with the standard library's `sqlite3`, and compared with the CSV file
itself read by pandas, so neither side of a comparison comes from the code under test.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paiid.bench.api import child_env, paiid_command
from paiid.bench.data import write_bars_csv

pytestmark = pytest.mark.slow


def start_import(home: Path, csv: Path, symbol: str) -> subprocess.Popen:
    return subprocess.Popen(paiid_command("data", "import", str(csv), "--symbol", symbol, "--json"),
                            env=child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored(home: Path, symbol: str) -> pd.DataFrame:
    with sqlite3.connect(home / "paiid.db") as conn:
        rows = conn.execute(
            "SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY ts", (symbol,)
        ).fetchall()
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


def in_file(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, parse_dates=["date"])


def test_two_imports_of_one_symbol_at_once_both_succeed(paiid_home: Path, tmp_path: Path) -> None:
    """Before: both read "nothing stored" and the second died on the primary key (IntegrityError).

    Each round both processes import the same new file: round 1 races inserts into an empty symbol
    (what failed), round 2 updates of the same rows with other prices.
    """
    for round_ in range(2):
        csv = write_bars_csv(tmp_path / f"bars{round_}.csv", 20_000, seed=round_)
        procs = [start_import(paiid_home, csv, "RACE") for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        for p, (_, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
        expected = in_file(csv)
        got = stored(paiid_home, "RACE")
        assert len(got) == len(expected) == 20_000
        pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


def test_an_import_killed_mid_write_leaves_the_earlier_bars(paiid_home: Path, tmp_path: Path) -> None:
    """kill -9 while the write transaction is spilling pages into the WAL: nothing of it survives."""
    good = write_bars_csv(tmp_path / "good.csv", 2_000, seed=1)
    first = start_import(paiid_home, good, "KILL")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = stored(paiid_home, "KILL")
    wal = paiid_home / "paiid.db-wal"
    wal_before = wal.stat().st_size if wal.exists() else 0
    big = write_bars_csv(tmp_path / "big.csv", 200_000, seed=2)  # rewrites the first 2,000 bars too
    proc = start_import(paiid_home, big, "KILL")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > wal_before + 2_000_000:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the import finished before it could be killed"
    pd.testing.assert_frame_equal(stored(paiid_home, "KILL"), before, check_exact=True)
    pd.testing.assert_frame_equal(before, in_file(good), check_exact=True, check_dtype=False)
    again = start_import(paiid_home, good, "KILL")  # the database is usable, no lock left behind
    assert again.wait(timeout=120) == 0, again.stderr.read()
    np.testing.assert_array_equal(stored(paiid_home, "KILL")["close"], in_file(good)["close"])

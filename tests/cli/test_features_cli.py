"""`paiid features SYM` through the real installed command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=120)


def test_features_tail_prints_finite_numbers(paiid_home: Path) -> None:
    out = paiid(paiid_home, "features", "SPX", "--tail", "5", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["symbol"] == "SPX"
    # The last five sessions of 2018 (Christmas Day closed).
    assert [r["date"][:10] for r in payload["rows"]] == [
        "2018-12-24", "2018-12-26", "2018-12-27", "2018-12-28", "2018-12-31",
    ]
    assert len(payload["columns"]) > 20 and "rsi_14" in payload["columns"]
    for row in payload["rows"]:
        for col in payload["columns"]:
            value = row[col]
            assert isinstance(value, float) and math.isfinite(value), (row["date"], col, value)
        assert 0 <= row["rsi_14"] <= 100


def test_unknown_symbol_exits_2(paiid_home: Path) -> None:
    out = paiid(paiid_home, "features", "NOPE", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: unknown symbol 'NOPE'") and "paiid data import" in out.stderr


def test_imported_symbol_features_and_short_history(paiid_home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 260
    close = 40 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    frame = pd.DataFrame({
        "date": pd.bdate_range("2019-01-02", periods=n), "open": close, "high": close * 1.01,
        "low": close * 0.99, "close": close, "volume": rng.integers(100, 900, n),
    })
    frame.to_csv(tmp_path / "long.csv", index=False)
    frame.iloc[:50].to_csv(tmp_path / "short.csv", index=False)
    for name in ("long", "short"):
        imported = paiid(paiid_home, "data", "import", str(tmp_path / f"{name}.csv"), "--symbol", name)
        assert imported.returncode == 0, imported.stderr
    out = paiid(paiid_home, "features", "long", "--tail", "2", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["date"][:10] for r in rows] == [d.strftime("%Y-%m-%d") for d in frame["date"].iloc[-2:]]
    assert all(v is not None for r in rows for v in r.values())
    short = paiid(paiid_home, "features", "SHORT", "--json")
    assert short.returncode == 2
    assert ("the feature frame of SHORT needs at least 201 bars of history, but only 50 are available"
            in short.stderr)

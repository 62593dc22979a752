"""`paiid scan` through the real installed command: one JSON document, sorting, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from paiid.bench.api import child_env, linked_home, paiid_command
from paiid.data import load_bars


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(paiid_command(*args), capture_output=True, text=True, env=child_env(home),
                          timeout=900, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--symbols", "SPX,NOPE1,NOPE2"), "unknown symbols 'NOPE1', 'NOPE2'"),
        (("--symbols", "SPX", "--date", "31/31/2018"), "invalid date"),
        (("--symbols", "SPX", "--sort", "colour"), "valid columns: symbol"),
        (("--symbols", "../etc"), "symbol"),
    ],
)
def test_bad_input_exits_2_with_one_line_before_any_model_is_loaded(
    paiid_home: Path, args: tuple, needle: str
) -> None:
    out = paiid(paiid_home, "scan", *args, "--json")
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert not (paiid_home / "models").exists() or not any((paiid_home / "models").iterdir())


@pytest.mark.slow
def test_scan_json_is_one_document_sorted_with_an_error_row(trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")
    short = tmp_path / "short.csv"
    load_bars("SPX").iloc[-50:].reset_index().to_csv(short, index=False)
    imported = paiid(home, "data", "import", str(short), "--symbol", "SHORTY")
    assert imported.returncode == 0, imported.stderr

    out = paiid(home, "scan", "--symbols", "shorty,SPX", "--sort", "confidence", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)  # exactly one document: json.loads refuses trailing text
    assert set(doc) >= {"as_of", "rows"} and doc["as_of"] == "2018-12-31T00:00:00"
    assert [r["symbol"] for r in doc["rows"]] == ["SPX", "SHORTY"]  # the error row sorts last
    spx, shorty = doc["rows"]
    for key in ("symbol", "regime", "confidence", "recommendation", "win_probability", "patterns"):
        assert key in spx and key in shorty
    assert spx["error"] is None and 0.0 <= spx["confidence"] <= 1.0
    assert 0.0 <= spx["win_probability"] <= 1.0 and spx["recommendation"]["strategy_id"]
    assert "needs at least" in shorty["error"] and shorty["regime"] is None

    # the table says the same, and names the symbol it could not answer
    table = paiid(home, "scan", "--symbols", "SPX,SHORTY")
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())  # rich wraps long lines at the terminal's width
    assert "SPX" in text and "SHORTY: a scan row for SHORTY needs at least" in text

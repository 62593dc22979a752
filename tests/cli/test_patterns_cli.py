"""`paiid patterns` through the real installed command: JSON, --date without lookahead, --plot, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from paiid.bench.api import linked_home
from paiid.data import load_bars
from paiid.ml.patterns.answer import RECENT_BARS
from paiid.ml.patterns.scan import scan

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=600)


def test_unknown_symbol_and_too_little_history_exit_2_with_one_line(paiid_home: Path) -> None:
    for args, needle in ((("patterns", "NOPE"), "unknown symbol"),
                         (("patterns", "SPX", "--date", "1999-02-15"), "needs at least"),
                         (("patterns", "SPX", "--timeframe", "hourly"), "finer")):
        out = paiid(paiid_home, *args, "--json")
        assert out.returncode == 2, (args, out.stderr)
        assert out.stdout == ""
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert not (paiid_home / "models" / "pattern_scorer").exists()  # bad input trains nothing


@pytest.mark.slow
def test_patterns_as_of_a_date_match_the_full_scan_and_plot(
    trained: Path, tmp_path: Path,
) -> None:
    # The first command in an empty home trains every default model; share the session's trained home.
    home = linked_home(trained, tmp_path / "home")
    bars = load_bars("SPX")
    chart = [d for d in scan(bars).detections if d.kind == "chart"]
    d = chart[len(chart) // 2]
    date = bars.index[d.confirm + 2]
    html = tmp_path / "chart.html"
    out = paiid(home, "patterns", "SPX", "--date", str(date.date()), "--json", "--plot", str(html))
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["symbol"] == "SPX" and payload["as_of"][:10] == str(date.date())
    n = d.confirm + 3
    want = sorted((x.type, bars.index[x.confirm].isoformat())
                  for x in chart if n - RECENT_BARS <= x.confirm < n)
    got = sorted((p["type"], p["confirmation_date"]) for p in payload["patterns"] if p["kind"] == "chart")
    assert got == want and want
    for p in payload["patterns"]:
        assert p["signal"] in {"bullish", "bearish", "neutral"} and 0 < p["confidence"] < 1
    text = html.read_text()
    # plotly.js is embedded (megabytes of it), not fetched from a CDN
    assert not re.search(r"<script[^>]+src=[\"']https?://", text) and len(text) > 1_000_000
    assert d.type in text

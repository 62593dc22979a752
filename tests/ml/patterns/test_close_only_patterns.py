"""Patterns on close-only series (AAPL, SP500, ...): chart patterns on the closes, candlesticks skipped with
a note, no OHLCV-fitted confidence, the symbol's own point-in-time success rates; CLI and API answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from paiid.backtest.strategies import execution_arrays, is_close_only
from paiid.bench.api import linked_home, serve
from paiid.data import load_bars
from paiid.engine import answers
from paiid.jsonutil import to_jsonable
from paiid.ml.patterns import patterns_answer
from paiid.ml.patterns.outcomes import detection_outcomes
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES
from paiid.ml.patterns.scan import close_view, scan
from paiid.ml.patterns.synthetic import SIGMA, planted_series

PAIID = str(Path(sys.executable).with_name("paiid"))
#: AAPL (close-only) confirms an inverse head and shoulders on 2021-04-05 on its closes.
AAPL_DATE = "2021-04-06"


def planted_close_only(seed: int) -> tuple[pd.DataFrame, int, int]:
    """(close-only bars with a planted double top, planted start, planted end): the synthetic benchmark's
    closes behind a 100-bar random-walk lead-in (so the series is long enough to answer on); open, high,
    low and volume NaN as in a stored close-only series."""
    rng = np.random.default_rng(seed)
    s = planted_series("double_top", rng)
    c = s.bars["close"].to_numpy()
    lead = c[0] - np.cumsum(rng.normal(0, SIGMA, 100))[::-1]
    close = np.concatenate([lead, c])
    nan = np.full(len(close), np.nan)
    idx = pd.bdate_range("2000-01-03", periods=len(close), name="date")
    bars = pd.DataFrame({"open": nan, "high": nan, "low": nan, "close": close, "volume": nan}, index=idx)
    return bars, s.start + 100, s.end + 100


def flat(bars: pd.DataFrame) -> pd.DataFrame:
    """The same closes as OHLCV bars with open = high = low = close and no volume."""
    c = bars["close"]
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 0.0}, index=bars.index)


def _chart_key(d) -> tuple:
    return (d.type, d.direction, d.start, d.confirm, d.entry, d.target, d.stop, d.levels, d.points)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_double_top_is_found_on_closes_and_candles_are_skipped(seed: int) -> None:
    bars, start, end = planted_close_only(seed)
    assert is_close_only(bars)
    cut = bars.iloc[: end + 3]  # as of three bars after the planted breakout
    a = patterns_answer(None, cut, "SYN")
    assert a["data"] == "close-only" and a["symbol"] == "SYN"
    assert a["candlesticks"].startswith("skipped: SYN is close-only")
    assert "open, high and low" in a["candlesticks"]
    assert a["indecision_candles"] == [] and all(r["kind"] == "chart" for r in a["patterns"])
    tops = [r for r in a["patterns"] if r["type"] == "double_top"]
    assert tops, a["patterns"]
    (top,) = tops
    assert top["signal"] == "bearish"
    assert pd.Timestamp(top["start_date"]) <= cut.index[end]
    assert pd.Timestamp(top["end_date"]) >= cut.index[start]
    # close terms: every turning point and the entry is one of the closes; the target lies below the
    # neckline (planted at 100) and the stop above it
    closes = set(cut["close"].tolist())
    assert all(p["price"] in closes for p in top["points"]) and top["entry_price"] in closes
    assert top["target_price"] < top["levels"]["neckline"] < top["stop_loss"]
    assert abs(top["levels"]["neckline"] - 100.0) < 1.0
    # no OHLCV-fitted number presented as if it applied
    assert top["confidence"] is None and top["model_confidence"] is None and top["typicality_factor"] is None
    assert "OHLCV" in top["confidence_note"] and "OHLCV" in a["confidence_note"]
    assert a["typicality"] is None
    # a synthetic series this short has no resolved detection of its own: the rate is withheld, with why
    assert top["historical_success_rate"] is None and top["success_rate_note"]
    assert top["resolved_cases"] < MIN_RESOLVED_CASES


def test_same_closes_as_flat_ohlcv_bars_give_the_same_chart_detections() -> None:
    bars, _, _ = planted_close_only(3)
    only = scan(bars)
    full = scan(flat(bars))
    assert only.close_only and not full.close_only
    assert [d.kind for d in only.detections] == ["chart"] * len(only.detections)
    charts = [d for d in full.detections if d.kind == "chart"]
    assert charts and [_chart_key(d) for d in only.detections] == [_chart_key(d) for d in charts]
    np.testing.assert_array_equal(only.atr, full.atr)
    # the close view is the close-only backtest's execution arrays (one convention)
    arrays, is_flat = execution_arrays(bars)
    assert is_flat
    for got, want in zip(close_view(bars), (arrays["high"], arrays["low"], arrays["close"]), strict=True):
        np.testing.assert_array_equal(got, want)
    # and the ATR is Wilder's average of absolute close changes once warmed up
    c = bars["close"].to_numpy()
    tr = np.abs(np.diff(c))
    wilder = tr[:14].mean()
    for x in tr[14:30]:
        wilder = (13 * wilder + x) / 14
    assert only.atr[30] == pytest.approx(wilder, rel=1e-9)


def test_aapl_answer_is_point_in_time_with_its_own_resolved_rates() -> None:
    full = load_bars("AAPL")
    assert is_close_only(full)
    a = to_jsonable(answers.patterns("AAPL", AAPL_DATE))
    cut = full.loc[:AAPL_DATE]
    assert a["as_of"][:10] == str(cut.index[-1].date())
    assert a["model"] is None  # no scorer served: nothing fitted on OHLCV is applied
    b = to_jsonable(patterns_answer(None, cut, "AAPL"))
    assert {k: v for k, v in a.items() if k not in ("model", "prediction_id")} == b
    # the row's own success-rate count is exactly the detections of the whole history whose outcome
    # resolved on or before the as-of date (none from after it)
    (row,) = [r for r in a["patterns"] if r["type"] == "inverse_head_and_shoulders"]
    res = scan(full)
    dets = [d for d in res.detections if d.type == row["type"]]
    c = full["close"].to_numpy()
    y, resolved = detection_outcomes(c, c, dets)
    known = [i for i in range(len(dets)) if resolved[i] >= 0 and full.index[resolved[i]] <= cut.index[-1]]
    assert row["resolved_cases"] == len(known) > 0
    assert row["success_rate_ci95"] is not None
    later = [i for i in range(len(dets)) if resolved[i] >= 0]
    assert len(later) > len(known)  # the full history holds outcomes the answer as of D must not count
    rates = a["success_rates"]
    assert rates["point_in_time"] and pd.Timestamp(rates["resolved_through"]) <= pd.Timestamp(a["as_of"])


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_patterns_on_a_close_only_symbol_exits_0_with_the_note(paiid_home: Path) -> None:
    out = paiid(paiid_home, "patterns", "AAPL")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "AAPL is a close-only series" in text
    assert "candlesticks: skipped: AAPL is close-only (candlestick patterns need open, high and low)" in text
    html = paiid_home / "aapl.html"
    js = paiid(paiid_home, "patterns", "AAPL", "--date", AAPL_DATE, "--json", "--plot", str(html))
    assert js.returncode == 0, js.stderr
    body = json.loads(js.stdout)
    assert body["data"] == "close-only" and body["patterns"]
    page = html.read_text()
    assert '"name":"close"' in page and "no scorer" in page  # a line of closes, no confidence claimed
    assert not (paiid_home / "models" / "pattern_scorer").exists()  # nothing trained for it


@pytest.fixture(scope="module")
def server(trained: Path, tmp_path_factory: pytest.TempPathFactory):
    home = linked_home(trained, tmp_path_factory.mktemp("close-only-patterns-api"))
    with serve(home) as srv:
        yield srv


@pytest.mark.slow
def test_api_detect_patterns_on_a_close_only_symbol_is_200(server) -> None:
    r = httpx.get(f"{server.url}/api/ml/detect-patterns", params={"symbol": "aapl", "date": AAPL_DATE},
                  timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "AAPL" and body["data"] == "close-only"
    assert body["candlesticks"].startswith("skipped: AAPL is close-only")
    assert body["patterns"] and all(p["confidence"] is None for p in body["patterns"])
    assert body["typicality"] is None

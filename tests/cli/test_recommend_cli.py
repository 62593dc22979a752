"""`paiid recommend` and `paiid predict-trade` through the real installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from paiid.backtest import STRATEGIES
from paiid.bench.api import linked_home

PAIID = str(Path(sys.executable).with_name("paiid"))
#: A past as-of date served by the 2018-03-31 point-in-time refits, which the answer, journal, chart and
#: load tests fit into the shared home too: a date of another quarter would fit the models once more.
DATE = "2018-06-01"


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("predict-trade", "SPX", "--strategy", "nope", "--side", "long"),
            "valid strategies: " + ", ".join(STRATEGIES),
        ),
        (("predict-trade", "SPX", "--strategy", "momentum-macd", "--side", "up"), "valid sides: long, short"),
        (("recommend", "NOPE"), "unknown symbol"),
        (("predict-trade", "NOPE", "--strategy", "momentum-macd", "--side", "long"), "unknown symbol"),
        (("recommend", "SPX", "--date", "1999-03-01"), "needs at least"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_trains_nothing(
    paiid_home: Path, args: tuple, needle: str
) -> None:
    out = paiid(paiid_home, *args, "--json")
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert not (paiid_home / "models" / "selector").exists()


@pytest.mark.slow
def test_recommend_and_predict_trade_json_as_of_a_date(
    trained: Path, tmp_path: Path
) -> None:
    home = linked_home(trained, tmp_path / "home")
    out = paiid(home, "recommend", "spx", "--date", DATE, "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["symbol"] == "SPX" and rec["as_of"].startswith(DATE)
    probs = [r["probability"] for r in rec["recommendations"]]
    assert {r["strategy_id"] for r in rec["recommendations"]} == set(STRATEGIES)
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-9
    assert all(0 <= r["risk_score"] <= 100 and r["reason"] for r in rec["recommendations"])
    assert set(rec["market_conditions"]) >= {"regime", "volatility", "trend"}
    again = paiid(home, "recommend", "SPX", "--date", DATE, "--json")
    second = json.loads(again.stdout)
    assert second.pop("prediction_id") > rec.pop("prediction_id")  # each answer is logged anew
    assert second == rec  # deterministic

    out = paiid(
        home,
        "predict-trade",
        "SPX",
        "--strategy",
        "momentum-macd",
        "--side",
        "short",
        "--date",
        DATE,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    tr = json.loads(out.stdout)
    assert 0 < tr["win_probability"] < 1 and tr["horizon_bars"] == 20 and 0 < tr["base_rate"] < 1
    assert tr["side"] == "short" and tr["as_of"].startswith(DATE)
    assert tr["barriers"]["profit_take"] < tr["barriers"]["reference_price"] < tr["barriers"]["stop_loss"]

    human = paiid(home, "recommend", "GOOG")
    assert human.returncode == 0 and "GOOG" in human.stdout and "probability" in human.stdout


@pytest.mark.slow
def test_flat_history_is_refused_naming_the_undefined_features(trained: Path, tmp_path: Path) -> None:
    """400 bars of a price that never moves: enough history, but vol_ratio (20- over 60-bar volatility)
    has no value. Both answers say so instead of asking for more than the 400 bars there are."""
    home = linked_home(trained, tmp_path / "home")
    dates = pd.bdate_range("2020-01-01", periods=400, name="date")
    pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1000},
                 index=dates).to_csv(tmp_path / "flat.csv")
    assert paiid(home, "data", "import", str(tmp_path / "flat.csv"), "--symbol", "FLAT").returncode == 0
    trade = ("predict-trade", "FLAT", "--strategy", "momentum-macd", "--side", "long")
    for what, cmd in [("a strategy recommendation", ("recommend", "FLAT")), ("a trade prediction", trade)]:
        out = paiid(home, *cmd, "--json")
        assert out.returncode == 2 and out.stdout == "", out.stderr
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {what} for FLAT: FLAT has 400 bars, but ")
        assert "vol_ratio" in lines[0] and f"undefined at the last bar ({dates[-1].date()})" in lines[0]
        assert "needs at least" not in lines[0]

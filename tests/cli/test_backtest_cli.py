"""`paiid backtest` through the real installed command (and typer's runner for the cheaper cases)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paiid.cli.main import app

PAIID = str(Path(sys.executable).with_name("paiid"))
METRICS = {"total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor", "trades",
           "exposure"}
TRADE_KEYS = {"entry_date", "exit_date", "side", "entry_price", "exit_price", "pnl", "return"}


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=120)


def test_contract_shape_and_plot(paiid_home: Path, tmp_path: Path) -> None:
    html = tmp_path / "report" / "spx.html"
    out = paiid(paiid_home, "backtest", "SPX", "--strategy", "trend-following-ma-cross",
                "--start", "2005-01-01", "--end", "2015-12-31", "--param", "fast=10", "--param", "slow=40",
                "--plot", str(html), "--json")
    assert out.returncode == 0, out.stderr
    p = json.loads(out.stdout)  # exactly one JSON document on stdout
    assert p["symbol"] == "SPX" and p["strategy_id"] == "trend-following-ma-cross"
    assert METRICS <= set(p["metrics"])
    assert p["params"]["fast"] == 10 and p["params"]["slow"] == 40
    assert p["metrics"]["trades"] == len(p["trades"]) > 0
    for t in p["trades"]:
        assert TRADE_KEYS <= set(t) and t["side"] in ("long", "short")
        assert "2005-01-01" <= t["entry_date"][:10] <= t["exit_date"][:10] <= "2015-12-31"
    assert p["start"][:10] >= "2005-01-01" and p["end"][:10] <= "2015-12-31"
    text = html.read_text()
    # offline: no <script src=...> at all, plotly.js is inlined (the CDN URL inside plotly.js is a default)
    assert re.findall(r"<script[^>]*>", text) and not re.findall(r"<script[^>]*\bsrc=", text)
    assert "Plotly.newPlot" in text and len(text) > 1_000_000
    assert "buy and hold" in text and "drawdown" in text.lower()


@pytest.mark.parametrize("args, message", [
    (["--strategy", "nope"], "valid strategies: trend-following-ma-cross, mean-reversion-bb-rsi, "
                             "momentum-macd, momentum-breakout"),
    (["--strategy", "momentum-macd", "--param", "fast=500"], "fast must be between 2 and 50"),
    (["--strategy", "momentum-macd", "--param", "speed=5"], "valid parameters: fast (2..50)"),
    (["--strategy", "momentum-macd", "--param", "fast"], "use name=value"),
    (["--strategy", "momentum-macd", "--start", "2018-11-01"], "needs at least 65 bars"),
    (["--strategy", "momentum-macd", "--start", "2018-11-01"], "SPX has 5031 bars from 1999-01-04"),
    (["--strategy", "momentum-macd", "--stop", "lots"], "bad stop"),
    (["--strategy", "momentum-macd", "--start", "2019-13-45"], "2019-13-45"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["backtest", "SPX", *args, "--json"])
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err


def test_unknown_symbol_exits_2() -> None:
    res = CliRunner().invoke(app, ["backtest", "NOPE", "--strategy", "momentum-macd", "--json"])
    assert res.exit_code == 2 and "unknown symbol 'NOPE'" in res.stderr


def test_human_output_and_costs_options() -> None:
    args = ["backtest", "GOOG", "--strategy", "momentum-breakout", "--commission-bps", "5",
            "--slippage-bps", "2", "--stop", "2atr", "--take-profit", "10%"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "total_return" in res.stdout and "5 bp commission + 2 bp slippage" in res.stdout
    js = CliRunner().invoke(app, [*args, "--json"])
    p = json.loads(js.stdout)
    assert p["settings"]["stop"] == "2xATR14" and p["settings"]["take_profit"] == "10%"
    assert {t["exit_reason"] for t in p["trades"]} >= {"stop_loss"}


def test_strategies_lists_the_contract_templates(paiid_home: Path) -> None:
    """CONTRACT.md names these four ids and their families; the optimizer needs a range for every param."""
    out = paiid(paiid_home, "strategies", "--json")
    assert out.returncode == 0, out.stderr
    listed = {s["id"]: s for s in json.loads(out.stdout)["strategies"]}
    expected = {
        "trend-following-ma-cross": "trend_following",
        "mean-reversion-bb-rsi": "mean_reversion",
        "momentum-macd": "momentum",
        "momentum-breakout": "breakout",
    }
    assert {k: listed[k]["family"] for k in expected} == expected
    for s in listed.values():
        assert set(s["params"]) == set(s["ranges"])

"""The close-only execution variant: a close-only series backtests as bars whose open, high and low are
the close and that have no volume data (issue 15).

The oracles are independent of the variant's code path:
* the full OHLCV engine on a frame built here by hand with open = high = low = close and volume = 0
  (an ordinary OHLCV frame, run by the ordinary rules) must give exactly the same trades and equity;
* backtesting.py (a bar-by-bar broker simulation by someone else) on that flat frame must give the
  same trades as the variant for the MA cross;
* stops are checked against closes written here by hand, and the ATR of the flat bars against a plain
  Python loop of Wilder's average of absolute close changes.
Then the surfaces: the payload, `paiid backtest AAPL` (with --plot), `paiid optimize` and the API.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bt_helpers import assert_same_closed_trades
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paiid.backtest import STRATEGIES, run_backtest, run_universe
from paiid.backtest.service import backtest_symbol
from paiid.bench.backtest import SMA_KW, SMA_PARAMS, backtesting_py_sma_cross
from paiid.cli.main import app
from paiid.data import load_bars, real_columns
from paiid.data.validate import COLUMNS, mark_columns

TRADE_COLUMNS = ["entry_date", "exit_date", "side", "entry_price", "exit_price", "pnl", "return", "units",
                 "exit_reason", "is_open"]


def flat_ohlcv(close_only: pd.DataFrame) -> pd.DataFrame:
    """The hand-built OHLCV frame of the definition: open = high = low = close, volume 0, no marks."""
    c = close_only["close"].to_numpy(np.float64)
    out = pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": np.zeros_like(c)},
                       index=close_only.index.copy())
    assert not out.attrs and real_columns(out) == COLUMNS  # an ordinary OHLCV frame
    return out


def close_only_frame(close: np.ndarray, start: str = "2020-01-01") -> pd.DataFrame:
    """A close-only series as `load_bars` returns one: NaN open/high/low/volume, marked by `mark_columns`."""
    nan = np.full(close.size, np.nan)
    bars = pd.DataFrame({"open": nan, "high": nan, "low": nan, "close": close.astype(np.float64),
                         "volume": nan.copy()}, index=pd.bdate_range(start, periods=close.size, name="date"))
    return mark_columns(bars, ["close"], symbol="TEST", source="test")


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    bars = load_bars("AAPL", start="2008-01-01", end="2016-12-31")
    assert real_columns(bars) == ["close"] and bars["open"].isna().all()
    return bars


def assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(a.trades[TRADE_COLUMNS], b.trades[TRADE_COLUMNS])
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    np.testing.assert_array_equal(a.positions, b.positions)


# ----------------------------------------------------------------------------------------- the wiring


@pytest.mark.parametrize("sid", list(STRATEGIES))
@pytest.mark.parametrize("exits", [{}, {"stop": "2atr", "take_profit": "10%"}, {"stop": "4%"}])
def test_close_only_equals_the_full_engine_on_flat_bars(aapl: pd.DataFrame, sid: str, exits: dict) -> None:
    ours = run_backtest(aapl, sid, **exits)
    ref = run_backtest(flat_ohlcv(aapl), sid, **exits)
    assert ours.metrics["trades"] > 5  # something to compare (a NaN run would have no trades)
    assert_same_run(ours, ref)
    assert (ours.settings["execution_model"], ref.settings["execution_model"]) == ("close-only", "ohlcv")
    # fills are at closes: every entry is the close of its entry bar (t+1 of the signal)
    np.testing.assert_allclose(ours.trades["entry_price"],
                               aapl["close"].loc[ours.trades["entry_date"]].to_numpy() * np.where(
                                   ours.trades["side"] == "long", 1 + 1e-4, 1 - 1e-4), rtol=1e-12)


def test_unmarked_close_only_frames_are_detected_by_their_values(aapl: pd.DataFrame) -> None:
    plain = aapl.copy()
    plain.attrs.clear()
    ours = run_backtest(plain, "momentum-breakout", stop="2atr")
    assert ours.settings["execution_model"] == "close-only"
    assert_same_run(ours, run_backtest(flat_ohlcv(aapl), "momentum-breakout", stop="2atr"))


def test_the_breakout_skips_its_volume_filter_and_uses_close_channels(aapl: pd.DataFrame) -> None:
    """A strict volume filter cannot block a series that has no volume; channels come from closes."""
    strict = run_backtest(aapl, "momentum-breakout", {"volume_mult": 5.0})
    loose = run_backtest(aapl, "momentum-breakout", {"volume_mult": 0.0})
    assert strict.metrics["trades"] == loose.metrics["trades"] > 0
    c = aapl["close"].to_numpy()
    first = strict.trades.iloc[0]
    t = aapl.index.get_loc(first["entry_date"]) - 1  # the signal bar
    side = 1 if first["side"] == "long" else -1
    prev = c[t - 20:t]
    assert side * c[t] > side * (prev.max() if side > 0 else prev.min())  # broke the 20-close channel


def test_universe_gives_each_symbol_its_own_execution_model(aapl: pd.DataFrame) -> None:
    spx = load_bars("SPX", start="2008-01-01", end="2016-12-31")
    table = run_universe({"AAPL": aapl, "SPX": spx, "FLAT": flat_ohlcv(aapl)})
    models = table.drop_duplicates("symbol").set_index("symbol")["execution_model"].to_dict()
    assert models == {"AAPL": "close-only", "SPX": "ohlcv", "FLAT": "ohlcv"}
    metric_cols = [c for c in table.columns if c not in ("symbol", "execution_model")]
    a = table[table.symbol == "AAPL"][metric_cols].reset_index(drop=True)
    f = table[table.symbol == "FLAT"][metric_cols].reset_index(drop=True)
    assert (a["trades"] > 0).all()
    pd.testing.assert_frame_equal(a, f)
    alone = run_universe({"SPX": spx})
    pd.testing.assert_frame_equal(table[table.symbol == "SPX"].reset_index(drop=True), alone)


def test_the_symbol_context_runs_on_close_only_bars(aapl: pd.DataFrame) -> None:
    from paiid.ml.context import AnswerContext

    ctx = AnswerContext("AAPL", aapl)
    for sid in STRATEGIES:
        returns, _ = ctx.backtest(sid)
        ref = run_backtest(flat_ohlcv(aapl), sid, close_at_end=False)
        np.testing.assert_array_equal(returns, ref.returns)
        assert np.isfinite(returns).all()


# ------------------------------------------------------------------------------ backtesting.py oracle


def test_ma_cross_matches_backtesting_py_on_the_flat_frame() -> None:
    bars = load_bars("AAPL", start="2005-01-01", end="2014-12-31")
    ours = run_backtest(bars, "trend-following-ma-cross", SMA_PARAMS, **SMA_KW)
    peer = backtesting_py_sma_cross(flat_ohlcv(bars), 10, 20, 0.002)
    assert len(assert_same_closed_trades(ours, peer)) > 50
    assert ours.metrics["final_equity"] == pytest.approx(float(peer["Equity Final [$]"]), abs=0.01)


# ------------------------------------------------------------------------------------------------ stops


def _long_from(n: int, k: int) -> np.ndarray:
    sig = np.zeros(n)
    sig[k:] = 1.0  # decided at the close of k, filled at the close of k+1
    return sig


def test_a_pct_stop_exits_at_the_first_close_beyond_the_level() -> None:
    close = np.full(120, 100.0)
    close[91:97] = [100.0, 99.0, 97.0, 95.5, 94.9, 90.0]  # entry at bar 91 (100), level 95
    close[97:] = 93.0
    bars = close_only_frame(close)
    res = run_backtest(bars, "trend-following-ma-cross", signals=_long_from(120, 90), stop="5%",
                       commission_bps=0, slippage_bps=0)
    t = res.trades.iloc[0]
    assert (t["entry_date"], t["entry_price"]) == (bars.index[91], 100.0)
    assert (t["exit_date"], t["exit_price"], t["exit_reason"]) == (bars.index[95], 94.9, "stop_loss")
    assert len(res.trades) == 1  # flat after the stop until the target changes
    assert res.settings["execution_model"] == "close-only"


def test_a_take_profit_and_a_short_stop_on_closes() -> None:
    close = np.full(120, 50.0)
    close[91:95] = [50.0, 54.0, 55.5, 60.0]  # +10 % target at 55
    bars = close_only_frame(close)
    res = run_backtest(bars, "trend-following-ma-cross", signals=_long_from(120, 90), take_profit="10%",
                       commission_bps=0, slippage_bps=0)
    t = res.trades.iloc[0]
    assert (t["exit_date"], t["exit_price"], t["exit_reason"]) == (bars.index[93], 55.5, "take_profit")
    close = np.full(120, 50.0)
    close[91:95] = [50.0, 52.0, 52.5, 53.0]  # a short stopped at 52.5 (5 % above 50): 52.5 is at it
    res = run_backtest(close_only_frame(close), "trend-following-ma-cross", signals=-_long_from(120, 90),
                       stop="5%", commission_bps=0, slippage_bps=0)
    t = res.trades.iloc[0]
    assert (t["side"], t["exit_price"], t["exit_reason"]) == ("short", 52.5, "stop_loss")


def _wilder_atr_of_closes(c: np.ndarray, n: int = 14) -> np.ndarray:
    """TA-Lib's ATR on bars with high = low = close: TR_t = |c_t - c_{t-1}|, seeded by the mean of the
    first n, then Wilder's smoothing."""
    tr = np.abs(np.diff(c, prepend=np.nan))
    out = np.full(c.size, np.nan)
    out[n] = tr[1:n + 1].mean()
    for t in range(n + 1, c.size):
        out[t] = (out[t - 1] * (n - 1) + tr[t]) / n
    return out


def test_an_atr_stop_uses_wilders_average_of_close_changes() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    close[201:] = close[200] * np.linspace(1.0, 0.8, 99)  # a steady slide through any stop
    bars = close_only_frame(close)
    res = run_backtest(bars, "trend-following-ma-cross", signals=_long_from(300, 199), stop="2atr",
                       commission_bps=0, slippage_bps=0)
    atr = _wilder_atr_of_closes(close)
    entry = 200
    level = close[entry] - 2 * atr[entry - 1]  # the ATR known at the signal bar's close
    hit = entry + int(np.argmax(close[entry:] <= level))
    t = res.trades.iloc[0]
    assert (t["entry_date"], t["entry_price"]) == (bars.index[entry], close[entry])
    assert t["exit_date"] == bars.index[hit] and t["exit_reason"] == "stop_loss"
    assert t["exit_price"] == close[hit]  # a close beyond the level exits at that close
    assert close[hit - 1] > level >= close[hit]


# ------------------------------------------------------------------------------------------- surfaces


def test_the_payload_names_the_variant() -> None:
    payload, _, _ = backtest_symbol("aapl", "momentum-macd", start="2010-01-01", end="2014-12-31",
                                    stop="2atr")
    assert payload["symbol"] == "AAPL" and payload["execution_model"] == "close-only"
    assert "close-only series" in payload["execution"] and "filled at close of t+1" in payload["execution"]
    assert payload["settings"]["execution_model"] == "close-only" and payload["trades"]
    full, _, _ = backtest_symbol("SPX", "momentum-macd", start="2010-01-01", end="2014-12-31")
    assert full["execution_model"] == "ohlcv" and "filled at open of t+1" in full["execution"]


def test_cli_backtest_aapl_prints_the_note_and_plots(tmp_path: Path) -> None:
    html = tmp_path / "aapl.html"
    res = CliRunner().invoke(app, ["backtest", "AAPL", "-s", "momentum-breakout", "--start", "2010-01-01",
                                   "--stop", "2atr", "--plot", str(html)])
    assert res.exit_code == 0, res.output
    note = [line for line in res.stdout.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "close-only" in note[0] and "next close" in note[0], res.stdout
    assert "total_return" in res.stdout
    assert html.exists() and "Plotly.newPlot" in html.read_text()
    js = CliRunner().invoke(app, ["backtest", "AAPL", "-s", "mean-reversion-bb-rsi", "--json"])
    assert js.exit_code == 0, js.output
    assert json.loads(js.stdout)["execution_model"] == "close-only"
    spx = CliRunner().invoke(app, ["backtest", "SPX", "-s", "momentum-macd", "--start", "2015-01-01"])
    assert spx.exit_code == 0 and "note:" not in spx.stdout


def test_cli_optimize_runs_the_variant_on_a_close_only_symbol() -> None:
    res = CliRunner().invoke(app, ["optimize", "SP500", "-s", "momentum-macd", "--trials", "2",
                                   "--splits", "2", "--start", "2009-01-01", "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["execution_model"] == "close-only" and "close of t+1" in report["execution"]
    assert np.isfinite(report["in_sample"]["best_sharpe"])


def test_api_backtests_a_close_only_symbol() -> None:
    from paiid.api.app import create_app

    with TestClient(create_app()) as client:
        r = client.post("/api/backtest", json={"symbol": "msft", "strategy_id": "trend-following-ma-cross",
                                               "start": "2010-01-01", "stop": "5%"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["symbol"] == "MSFT" and body["execution_model"] == "close-only"
        assert "close of t+1" in body["execution"] and body["metrics"]["trades"] == len(body["trades"])
        r = client.post("/api/backtest", json={"symbol": "SPX", "strategy_id": "momentum-macd",
                                               "start": "2015-01-01"})
        assert r.status_code == 200 and r.json()["execution_model"] == "ohlcv"

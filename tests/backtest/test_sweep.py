"""`run_sweep` column by column against `run_backtest`: the same equity, returns, positions, trades, metrics
and settings, to the bit, for every template, on OHLCV symbols (SPX, GOOG) and a close-only one (AAPL)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bt_helpers import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paiid.backtest import STRATEGIES, run_backtest
from paiid.backtest.sweep import run_sweep
from paiid.data import load_bars
from paiid.errors import BadInput, NotEnoughHistory
from paiid.metrics import sharpe

GRIDS = {
    "trend-following-ma-cross": [{"fast": 10, "slow": 20, "adx_min": 0, "allow_short": 1},
                                 {"fast": 5, "slow": 50, "adx_min": 20},
                                 {"fast": 20, "slow": 60, "allow_short": 0}],
    "mean-reversion-bb-rsi": [{}, {"bb_period": 10, "bb_std": 1.5, "rsi_low": 40, "rsi_high": 60},
                              {"allow_short": 0, "rsi_period": 5}],
    "momentum-macd": [{}, {"fast": 5, "slow": 20, "signal": 5, "roc_min": 0.01}, {"allow_short": 0}],
    "momentum-breakout": [{}, {"channel": 10, "exit_channel": 5, "volume_mult": 0.5},
                          {"allow_short": 0, "channel": 50}],
}
SETTINGS = [
    {},
    {"close_at_end": False, "stop": "2atr", "take_profit": "5%"},
    {"whole_units": True, "commission_bps": 20.0, "slippage_bps": 0.0, "stop": 0.03, "fraction": 0.5},
]


def assert_same(ref, col) -> None:
    """Everything `run_backtest` returns, compared exactly (NaN metrics equal NaN)."""
    np.testing.assert_array_equal(col.sim.equity, ref.sim.equity)
    np.testing.assert_array_equal(col.returns, ref.returns)
    np.testing.assert_array_equal(col.positions, ref.positions)
    np.testing.assert_array_equal(col.signals, np.asarray(ref.signals, dtype=np.float64))
    pd.testing.assert_frame_equal(col.trades, ref.trades, check_exact=True)
    assert col.metrics.keys() == ref.metrics.keys()
    for k, v in ref.metrics.items():
        assert col.metrics[k] == v or (v != v and col.metrics[k] != col.metrics[k]), k
    assert col.settings == ref.settings
    assert col.params == ref.params


@pytest.fixture(scope="module")
def symbols() -> dict[str, pd.DataFrame]:
    return {s: load_bars(s) for s in ("SPX", "GOOG", "AAPL")}


@pytest.mark.parametrize("strategy_id", list(STRATEGIES))
@pytest.mark.parametrize("symbol", ["SPX", "GOOG", "AAPL"])
def test_every_column_is_run_backtest_to_the_bit(symbols, symbol: str, strategy_id: str) -> None:
    bars = symbols[symbol]
    for kw in SETTINGS:
        sw = run_sweep(bars, strategy_id, GRIDS[strategy_id], **kw)
        assert sw.settings["execution_model"] == ("close-only" if symbol == "AAPL" else "ohlcv")
        for k, params in enumerate(GRIDS[strategy_id]):
            assert_same(run_backtest(bars, strategy_id, params, **kw), sw.result(k))


def test_goog_sma_10_20_cross_has_the_94_trades_vectorbt_counts(symbols) -> None:
    sw = run_sweep(symbols["GOOG"], "trend-following-ma-cross", {"fast": [10], "slow": [20], "adx_min": 0})
    assert int(sw.trade_counts()[0]) == 94


def test_grid_as_columns_of_values_broadcasts_scalars(symbols) -> None:
    bars = symbols["SPX"].iloc[:1500]
    sw = run_sweep(bars, "trend-following-ma-cross", {"fast": np.array([5, 8, 13]), "slow": [30, 40, 50],
                                                      "adx_min": 0.0})
    assert [p["fast"] for p in sw.params] == [5, 8, 13] and {p["adx_min"] for p in sw.params} == {0.0}
    for k, p in enumerate(sw.params):
        assert_same(run_backtest(bars, "trend-following-ma-cross", p), sw.result(k))


def test_row_sharpe_is_the_one_dimensional_sharpe_of_each_column(symbols) -> None:
    """The optimiser scores a batch through `SweepResult.sharpe`: it must be the sequential value exactly."""
    bars = symbols["GOOG"]
    grid = [{"fast": f, "slow": s} for f, s in [(5, 20), (10, 40), (15, 100), (30, 31)]]
    sw = run_sweep(bars, "trend-following-ma-cross", grid, close_at_end=False)
    got = sw.sharpe(100, 1800, 252.0)
    for k in range(len(grid)):
        assert got[k] == sharpe(sw.returns[k, 100:1800], 252.0, axis=0)


def test_a_busted_short_stops_trading_like_run_backtest() -> None:
    """Custom targets (the `signals` override) short a market that triples: the account goes to zero."""
    n = 300
    close = np.concatenate([np.full(50, 100.0), np.linspace(100.0, 400.0, n - 50)])
    idx = pd.bdate_range("2010-01-01", periods=n, name="date")
    bars = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                         "volume": np.full(n, 1e6)}, index=idx)
    sig = np.zeros((3, n))
    sig[0, 40:] = -1.0
    sig[1, 40:200] = 1.0
    sig[2, 60:] = -0.5
    sw = run_sweep(bars, "trend-following-ma-cross", [{}] * 3, signals=sig)
    assert sw.equity[0, -1] == 0.0
    for k in range(3):
        assert_same(run_backtest(bars, "trend-following-ma-cross", {}, signals=sig[k]), sw.result(k))


def test_bad_grids_are_refused_clearly(symbols) -> None:
    bars = symbols["SPX"]
    with pytest.raises(BadInput, match="empty"):
        run_sweep(bars, "trend-following-ma-cross", [])
    with pytest.raises(BadInput, match="different lengths"):
        run_sweep(bars, "trend-following-ma-cross", {"fast": [5, 6], "slow": [20, 30, 40]})
    with pytest.raises(BadInput, match="fast"):
        run_sweep(bars, "trend-following-ma-cross", [{"fast": 50, "slow": 20}])
    with pytest.raises(NotEnoughHistory):
        run_sweep(bars.iloc[:100], "trend-following-ma-cross", [{"fast": 5, "slow": 20}, {"slow": 200}])
    with pytest.raises(BadInput, match="signals"):
        run_sweep(bars, "trend-following-ma-cross", [{}], signals=np.zeros((2, len(bars))))


def _params(tpl_id: str, draw) -> dict:
    tpl = STRATEGIES[tpl_id]
    out = {}
    for name, (lo, hi, kind) in tpl.ranges.items():
        hi = min(hi, 60) if kind == "int" and name not in ("allow_short",) else hi
        out[name] = draw(st.integers(int(lo), int(hi))) if kind == "int" else draw(
            st.floats(lo, hi, allow_nan=False))
    if "fast" in out and out["fast"] >= out["slow"]:
        out["fast"], out["slow"] = min(out["fast"], out["slow"]) - 1 or 1, max(out["fast"], out["slow"])
        out["fast"] = max(out["fast"], 2)
        out["slow"] = max(out["slow"], out["fast"] + 1, 5)
    return out


def _valid(tpl_id: str, p: dict) -> bool:
    try:
        STRATEGIES[tpl_id].validate_params(p)
    except BadInput:
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 10_000), tpl_id=st.sampled_from(list(STRATEGIES)),
       close_only=st.booleans())
def test_random_grids_on_short_series_match_run_backtest(data, seed: int, tpl_id: str,
                                                         close_only: bool) -> None:
    bars = random_bars(seed, 260)
    if close_only:
        bars = bars.assign(open=np.nan, high=np.nan, low=np.nan, volume=np.nan)
    grid = [_params(tpl_id, data.draw) for _ in range(data.draw(st.integers(1, 4)))]
    grid = [p for p in grid if _valid(tpl_id, p)] or [{}]
    kw = data.draw(st.fixed_dictionaries({
        "stop": st.sampled_from([None, "3%", "1.5atr"]),
        "take_profit": st.sampled_from([None, "4%", "2atr"]),
        "fraction": st.sampled_from([1.0, 0.3]),
        "whole_units": st.booleans(),
        "close_at_end": st.booleans(),
        "slippage_bps": st.sampled_from([0.0, 5.0]),
    }))
    sw = run_sweep(bars, tpl_id, grid, **kw)
    for k, p in enumerate(grid):
        assert_same(run_backtest(bars, tpl_id, p, **kw), sw.result(k))

"""`run_sweep` column by column against `run_backtest`: the same equity, returns, positions, trades, metrics
and settings, to the bit, for every template, on OHLCV symbols (SPX, GOOG) and a close-only one (AAPL)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bt_helpers import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paiid.backtest import STRATEGIES, run_backtest
from paiid.backtest.sweep import grid_params, run_sweep
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


SIM_FIELDS = ("equity", "returns", "positions", "entry_idx", "exit_idx", "side", "entry_price", "exit_price",
              "units", "pnl", "trade_return", "reason", "is_open")


def test_the_bench_grid_every_column_is_run_backtest_to_the_bit(symbols) -> None:
    """The 1,000 pairs `paiid bench --only sweep` times against vectorbt: every column's simulation (per-bar
    arrays and trades) is `run_backtest`'s, and every 50th column's whole result (metrics included)."""
    from paiid.bench.sweep import COMMISSION_BPS, FAST, MA, SLOW, grid

    bars = symbols["SPX"]
    kw = {"commission_bps": COMMISSION_BPS, "slippage_bps": 0.0}
    sw = run_sweep(bars, MA, grid(), **kw)
    assert len(sw) == len(FAST) == 1000
    for k in range(len(sw)):
        assert (sw.params[k]["fast"], sw.params[k]["slow"]) == (FAST[k], SLOW[k])
        ref = run_backtest(bars, MA, sw.params[k], **kw)
        col = sw.sim(k)
        for name in SIM_FIELDS:
            np.testing.assert_array_equal(getattr(col, name), getattr(ref.sim, name), err_msg=f"{k} {name}")
        if k % 50 == 0:
            assert_same(ref, sw.result(k))


@pytest.mark.parametrize("layout", ["fast-major", "slow-major", "gapped", "scattered"])
def test_outer_products_in_any_order_match_run_backtest(symbols, layout: str) -> None:
    """The MA cross compares SMA rows per run of a shared period (a slice of the SMA table, or a gather
    when the periods are not consecutive rows of it) or gathers both sides: every layout, with ADX filters
    of several periods mixed in, is column by column `run_backtest`."""
    bars = symbols["GOOG"].iloc[:1200]
    fast, slow = [5, 8, 9, 10], [11, 12, 13, 30, 31]
    if layout == "fast-major":
        pairs = [(f, s) for f in fast for s in slow]
    elif layout == "slow-major":
        pairs = [(f, s) for s in slow for f in fast]
    elif layout == "gapped":  # slow periods interleaved with fast ones in the sorted table
        pairs = [(f, s) for f in (5, 9, 20) for s in (8, 10, 25, 40) if f < s]
    else:
        rng = np.random.default_rng(3)
        pairs = [(int(f), int(f + d)) for f, d in zip(rng.integers(2, 40, 24), rng.integers(1, 60, 24),
                                                     strict=True)]
    adx = [(0.0, 14), (15.0, 10), (25.0, 14), (20.0, 7)]
    grid = [{"fast": f, "slow": s, "adx_min": adx[i % 4][0], "adx_period": adx[i % 4][1],
             "allow_short": i % 3 != 0} for i, (f, s) in enumerate(pairs)]
    sw = run_sweep(bars, "trend-following-ma-cross", grid)
    for k, p in enumerate(grid):
        assert_same(run_backtest(bars, "trend-following-ma-cross", p), sw.result(k))


def test_grid_validation_is_validate_params_set_by_set() -> None:
    """Each distinct value is checked once, but the sets are those `validate_params` returns (types, and
    the sign of a zero), and a bad grid raises the error the first bad set raises there."""
    tpl = STRATEGIES["trend-following-ma-cross"]
    rows = [{"fast": 5, "slow": 20.0, "adx_min": 0.0}, {"fast": 5.0, "slow": 20, "adx_min": -0.0},
            {"fast": 5, "slow": 20, "allow_short": False, "adx_min": 0}, {"fast": np.int64(7), "slow": "30"},
            {"fast": 5, "slow": 20, "allow_short": True, "adx_min": 12}]
    got = grid_params(tpl, rows)
    want = [tpl.validate_params({k: (v.item() if isinstance(v, np.generic) else v) for k, v in p.items()})
            for p in rows]
    assert got == want
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)
        assert all(type(g[k]) is type(w[k]) for k in w)
        assert math.copysign(1.0, g["adx_min"]) == math.copysign(1.0, w["adx_min"])
    assert math.copysign(1.0, got[1]["adx_min"]) == -1.0
    # Row 0 is bad in `slow` only, row 1 in `fast` (the first name): row 0's error comes first.
    for grid in ([{"fast": 5, "slow": 500}, {"fast": 1, "slow": 20}], {"fast": [5, 1], "slow": [500, 20]},
                 [{"fast": 30, "slow": 20}, {"fast": 1}], [{"fast": 5, "slow": 20}, {"fast": 5, "speed": 2}]):
        first = next(p for p in (grid if isinstance(grid, list) else
                                 [dict(zip(grid, v, strict=True)) for v in zip(*grid.values(), strict=True)])
                     if not _valid("trend-following-ma-cross", p))
        with pytest.raises(BadInput) as want_err:
            tpl.validate_params(first)
        with pytest.raises(BadInput) as got_err:
            grid_params(tpl, grid)
        assert str(got_err.value) == str(want_err.value)

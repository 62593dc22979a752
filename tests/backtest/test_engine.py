"""The engine against numbers worked out by hand on tiny bar series.

Every expected value below is derived in the test from the execution rules (fill at the next open,
slippage against us, commission on both legs, units fixed at entry), not read back from the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from paiid.backtest import run_backtest, run_universe, simulate
from paiid.backtest.engine import EXIT_END, EXIT_SIGNAL, EXIT_STOP, EXIT_TAKE_PROFIT
from paiid.data import load_bars
from paiid.errors import BadInput, NotEnoughHistory

OPEN = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
CLOSE = np.array([10.5, 11.5, 12.5, 13.5, 14.5])
HIGH = np.maximum(OPEN, CLOSE) + 1.0
LOW = np.minimum(OPEN, CLOSE) - 1.0


def sim(target, *, c=0.0, s=0.0, cash=1000.0, **kw):
    target = np.asarray(target, float)
    return simulate(OPEN, HIGH, LOW, CLOSE, target, commission=c, slippage=s, cash=cash, **kw)


def test_long_round_trip_with_costs_by_hand():
    c, s, cash = 0.001, 0.0005, 1000.0
    out = sim([1, 1, 0, 0, 0], c=c, s=s)
    pe = 11.0 * (1 + s)  # signal at close of bar 0 -> bought at bar 1's open, slipped up
    units = cash / pe
    fee_in = c * units * pe
    x = 13.0 * (1 - s)  # flat signal at close of bar 2 -> sold at bar 3's open, slipped down
    pnl = units * (x - pe) - fee_in - c * units * x
    expected = [cash, cash - fee_in + units * (11.5 - pe), cash - fee_in + units * (12.5 - pe), cash + pnl,
                cash + pnl]
    np.testing.assert_allclose(out.equity, expected, rtol=1e-12)
    assert out.entry_idx.tolist() == [1] and out.exit_idx.tolist() == [3]
    assert out.entry_price[0] == pytest.approx(pe) and out.exit_price[0] == pytest.approx(x)
    assert out.pnl[0] == pytest.approx(pnl)
    assert out.trade_return[0] == pytest.approx(pnl / (units * pe))
    assert out.positions.tolist() == [0, 1, 1, 0, 0]
    np.testing.assert_allclose(out.returns[1:], np.array(expected[1:]) / np.array(expected[:-1]) - 1)
    assert out.returns[0] == 0.0
    assert out.reason.tolist() == [EXIT_SIGNAL]


def test_short_round_trip_by_hand():
    c, s, cash = 0.002, 0.001, 1000.0
    out = sim([-1, -1, 0, 0, 0], c=c, s=s)
    pe = 11.0 * (1 - s)  # selling short: filled lower
    units = cash / pe
    fee_in = c * units * pe
    x = 13.0 * (1 + s)  # buying back: filled higher
    pnl = -units * (x - pe) - fee_in - c * units * x
    assert pnl < 0  # price went up 18 %: the short lost
    np.testing.assert_allclose(out.equity, [cash, cash - fee_in - units * (11.5 - pe),
                                            cash - fee_in - units * (12.5 - pe), cash + pnl, cash + pnl])
    assert out.side.tolist() == [-1]


def test_reversal_pays_both_legs_and_compounds():
    c = 0.001
    out = sim([1, -1, -1, 0, 0], c=c)
    # trade 1: long at open 1 (11), out at open 2 (12)
    u1 = 1000 / 11.0
    pnl1 = u1 * (12 - 11) - c * u1 * 11 - c * u1 * 12
    e1 = 1000 + pnl1
    # trade 2: short with the whole new equity at open 2 (12), covered at open 4 (14)
    u2 = e1 / 12.0
    pnl2 = -u2 * (14 - 12) - c * u2 * 12 - c * u2 * 14
    assert out.entry_idx.tolist() == [1, 2] and out.exit_idx.tolist() == [2, 4]
    np.testing.assert_allclose(out.pnl, [pnl1, pnl2])
    assert out.equity[-1] == pytest.approx(e1 + pnl2)
    assert out.equity[2] == pytest.approx(e1 - c * u2 * 12 - u2 * (12.5 - 12))


def test_fraction_sizes_the_trade():
    out = sim([1, 1, 0, 0, 0], fraction=0.25)
    units = 0.25 * 1000 / 11.0
    assert out.units[0] == pytest.approx(units)
    assert out.equity[-1] == pytest.approx(1000 + units * 2.0)
    assert out.positions.tolist() == [0, 0.25, 0.25, 0, 0]


def test_signal_on_last_bar_is_never_filled_and_open_trade_closes_at_last_close():
    out = sim([0, 0, 0, 1, 1], c=0.001, s=0.001)
    # decided at close 3 -> entered at open 4, closed at the last close with costs
    pe = 14.0 * 1.001
    u = 1000 / pe
    x = 14.5 * 0.999
    assert out.entry_idx.tolist() == [4] and out.exit_idx.tolist() == [4]
    assert out.reason.tolist() == [EXIT_END] and not out.is_open[0]
    assert out.equity[-1] == pytest.approx(1000 + u * (x - pe) - 0.001 * u * pe - 0.001 * u * x)
    marked = sim([0, 0, 0, 1, 1], c=0.001, s=0.001, close_at_end=False)
    assert marked.is_open.tolist() == [True]
    assert marked.equity[-1] == pytest.approx(1000 + u * (14.5 - pe) - 0.001 * u * pe)


def test_whole_units_round_down_like_a_broker():
    out = simulate(np.full(4, 30.0), np.full(4, 31.0), np.full(4, 29.0), np.array([30.0, 30.0, 33.0, 33.0]),
                   np.array([1.0, 1, 1, 1]), commission=0.01, slippage=0.0, cash=1000.0, whole_units=True,
                   close_at_end=False)
    units = math.floor(1000 / (30 * 1.01))  # 33 shares, the rest stays in cash
    assert out.units.tolist() == [units]
    assert out.equity[-1] == pytest.approx(1000 - 0.01 * units * 30 + units * 3.0)


def test_unaffordable_whole_unit_order_is_cancelled():
    out = simulate(np.full(4, 5000.0), np.full(4, 5000.0), np.full(4, 5000.0), np.full(4, 5000.0),
                   np.ones(4), commission=0.0, slippage=0.0, cash=1000.0, whole_units=True)
    assert out.entry_idx.size == 0
    assert not out.positions.any()
    assert (out.equity == 1000.0).all()


# ---------------------------------------------------------------------------------------- stops


def stop_bars(rows):
    o, h, lo, c = (np.array(col, float) for col in zip(*rows, strict=True))
    return o, h, lo, c


def test_percent_stop_fills_at_the_level_intrabar():
    o, h, lo, c = stop_bars([(100, 101, 99, 100), (100, 102, 98, 101), (101, 102, 94, 96), (96, 97, 95, 96)])
    out = simulate(o, h, lo, c, np.array([1.0, 1, 1, 1]), commission=0, slippage=0, cash=1000.0,
                   stop_dist=o * 0.05)
    assert out.reason.tolist() == [EXIT_STOP]
    assert out.exit_idx.tolist() == [2]
    assert out.exit_price[0] == pytest.approx(95.0)  # entry open 100, 5 % stop
    assert out.equity[-1] == pytest.approx(1000 * 95 / 100)
    # after the stop the position stays flat although the target is still long
    assert out.positions.tolist() == [0, 1, 1, 0]


def test_stop_gapped_through_fills_at_the_open():
    o, h, lo, c = stop_bars([(100, 101, 99, 100), (100, 102, 98, 101), (90, 92, 89, 91), (91, 92, 90, 91)])
    out = simulate(o, h, lo, c, np.ones(4), commission=0, slippage=0.001, cash=1000.0, stop_dist=o * 0.05)
    assert out.exit_price[0] == pytest.approx(90 * (1 - 0.001))  # the open, not the 95 stop, and slipped


def test_bar_touching_stop_and_target_counts_as_stop():
    o, h, lo, c = stop_bars([(100, 101, 99, 100), (100, 102, 98, 101), (101, 112, 94, 105),
                             (105, 106, 104, 105)])
    both = simulate(o, h, lo, c, np.ones(4), commission=0, slippage=0, cash=1000.0, stop_dist=o * 0.05,
                    tp_dist=o * 0.10)
    assert both.reason.tolist() == [EXIT_STOP] and both.exit_price[0] == pytest.approx(95)
    tp_only = simulate(o, h, lo, c, np.ones(4), commission=0, slippage=0, cash=1000.0, tp_dist=o * 0.10)
    assert tp_only.reason.tolist() == [EXIT_TAKE_PROFIT] and tp_only.exit_price[0] == pytest.approx(110)


def test_short_stop_and_entry_bar_check():
    # short entered at open 1 (100); the entry bar's own high reaches the 3 % stop at 103
    o, h, lo, c = stop_bars([(100, 100, 100, 100), (100, 104, 99, 102), (102, 103, 101, 102)])
    out = simulate(o, h, lo, c, -np.ones(3), commission=0, slippage=0, cash=1000.0, stop_dist=o * 0.03)
    assert out.exit_idx.tolist() == [1] and out.exit_price[0] == pytest.approx(103)
    assert out.pnl[0] == pytest.approx(-(1000 / 100) * 3)


def test_reentry_after_stop_needs_a_new_signal():
    o, h, lo, c = stop_bars([(100, 100, 100, 100), (100, 100, 90, 92), (92, 93, 91, 92), (92, 93, 91, 92),
                             (92, 93, 91, 92), (92, 93, 91, 92)])
    out = simulate(o, h, lo, c, np.array([1.0, 1, 0, 1, 1, 1]), commission=0, slippage=0, cash=1000.0,
                   stop_dist=o * 0.05)
    assert out.entry_idx.tolist() == [1, 4]
    assert out.reason.tolist() == [EXIT_STOP, EXIT_END]


def test_atr_stop_through_run_backtest_uses_atr_before_entry():
    bars = load_bars("SPX").iloc[:400]
    res = run_backtest(bars, "momentum-macd", stop="2atr", commission_bps=0, slippage_bps=0)
    stops = res.trades[res.trades["exit_reason"] == "stop_loss"]
    assert len(stops) > 0
    import talib

    atr = talib.ATR(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy(), 14)
    pos = {d: i for i, d in enumerate(bars.index)}
    for _, t in stops.iterrows():
        i, j = pos[t["entry_date"]], pos[t["exit_date"]]
        entry_open = bars["open"].iloc[i]
        level = entry_open - np.sign(1 if t["side"] == "long" else -1) * 2 * atr[i - 1]
        bar_open = bars["open"].iloc[j]
        expected = (min(bar_open, level) if t["side"] == "long" else max(bar_open, level)) if j > i else level
        assert t["exit_price"] == pytest.approx(expected)


# --------------------------------------------------------------------------- many symbols at once


def test_concatenated_symbols_equal_separate_runs():
    rng = np.random.default_rng(3)
    parts = []
    for n in (50, 80, 30):
        c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        o = c * np.exp(rng.normal(0, 0.003, n))
        parts.append((o, np.maximum(o, c) * 1.01, np.minimum(o, c) * 0.99, c, np.sign(rng.normal(size=n))))
    cat = [np.concatenate([p[k] for p in parts]) for k in range(5)]
    gs = np.array([0, 50, 130])
    kw = {"commission": 0.0005, "slippage": 0.0002, "cash": 1.0, "stop_dist": None}
    together = simulate(*cat, group_starts=gs, **kw)
    for g, p in enumerate(parts):
        alone = simulate(*p, **kw)
        sl = slice(gs[g], gs[g] + len(p[0]))
        np.testing.assert_allclose(together.equity[sl], alone.equity, rtol=1e-12)
        np.testing.assert_allclose(together.returns[sl], alone.returns, rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(together.positions[sl], alone.positions)
    assert together.entry_idx.size == sum(simulate(*p, **kw).entry_idx.size for p in parts)


def test_run_universe_matches_run_backtest():
    bars = {"SPX": load_bars("SPX").iloc[-1500:], "GOOG": load_bars("GOOG").iloc[-1200:]}
    table = run_universe(bars, ["trend-following-ma-cross", "momentum-breakout"])
    assert len(table) == 4
    for _, row in table.iterrows():
        single = run_backtest(bars[row["symbol"]], row["strategy_id"], cash=1.0)
        for k in ("total_return", "sharpe", "max_drawdown", "trades", "exposure"):
            assert row[k] == pytest.approx(single.metrics[k], rel=1e-9, abs=1e-12), k


def test_account_that_goes_to_zero_stops_trading():
    c = np.array([10.0, 10, 25, 30, 5, 5])
    out = simulate(c, c, c, c, -np.ones(6), commission=0, slippage=0, cash=1000.0)
    # short 100 units at 10; at 25 the account is worth 1000 - 1500 < 0 -> busted
    assert out.equity[2] == 0.0 and (out.equity[2:] == 0).all()
    assert (out.positions[3:] == 0).all()
    assert out.returns[2] == -1.0 and (out.returns[3:] == 0).all()
    # the price comes back, but the account was wiped out at 25: the short's recovery and a later signal
    # open nothing
    c2 = np.array([10.0, 10, 25, 5, 5, 5, 5])
    again = simulate(c2, c2, c2, c2, np.array([-1.0, -1, -1, 0, 1, 1, 1]), commission=0, slippage=0,
                     cash=1000.0)
    assert again.entry_idx.tolist() == [1] and (again.equity[2:] == 0).all()
    assert (again.positions[3:] == 0).all()


# ----------------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_choices():
    bars = load_bars("SPX")
    with pytest.raises(BadInput, match="valid strategies: trend-following-ma-cross"):
        run_backtest(bars, "nope")
    with pytest.raises(BadInput, match="between 2 and 100"):
        run_backtest(bars, "trend-following-ma-cross", {"fast": 1000})
    with pytest.raises(BadInput, match="fast .* must be less than slow"):
        run_backtest(bars, "trend-following-ma-cross", {"fast": 60, "slow": 50})
    with pytest.raises(NotEnoughHistory, match="needs at least"):
        run_backtest(bars.iloc[:40], "trend-following-ma-cross")
    with pytest.raises(BadInput, match="fraction"):
        run_backtest(bars, "momentum-macd", fraction=1.5)
    with pytest.raises(BadInput, match="stop"):
        run_backtest(bars, "momentum-macd", stop="lots")


def test_custom_signals_and_nan_are_flat():
    bars = load_bars("GOOG").iloc[:200]
    sig = np.full(len(bars), np.nan)
    sig[50:100] = 1.0
    res = run_backtest(bars, "momentum-macd", signals=sig, commission_bps=0, slippage_bps=0)
    assert res.trades["entry_date"].tolist() == [bars.index[51]]
    assert res.trades["exit_date"].tolist() == [bars.index[101]]  # flat decided at close 100
    expected = bars["open"].iloc[101] / bars["open"].iloc[51] - 1
    assert res.metrics["total_return"] == pytest.approx(expected)
    assert isinstance(res.equity, pd.Series) and res.equity.index.equals(bars.index)


def test_daily_equity_of_hourly_bars_is_the_last_close_of_each_day():
    bars = load_bars("EURUSD").iloc[:600]
    res = run_backtest(bars, "momentum-breakout")
    daily = res.daily_equity
    assert daily.index.is_unique and (daily.index == daily.index.normalize()).all()
    last_of_day = res.equity.groupby(res.equity.index.date).tail(1)
    np.testing.assert_array_equal(daily.to_numpy(), last_of_day.to_numpy())
    spx = run_backtest(load_bars("SPX").iloc[:300], "momentum-macd")
    np.testing.assert_array_equal(spx.daily_equity.to_numpy(), spx.equity.to_numpy())

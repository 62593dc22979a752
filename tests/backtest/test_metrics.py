"""Metrics against values computed by hand (plain Python and the statistics module, not numpy)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from paiid.backtest import run_backtest
from paiid.backtest.metrics import bars_per_year, compute_metrics, max_drawdown
from paiid.data import load_bars

R = [0.0, 0.01, -0.02, 0.03, -0.01, 0.02]
POS = [0, 1, 1, 0, -1, 0]
TRADES = {"pnl": np.array([10.0, -5.0, 20.0, -5.0]), "return": np.array([0.1, -0.05, 0.2, -0.05])}


def test_metrics_by_hand():
    m = compute_metrics(np.array(R), np.array(POS), None, TRADES, bars_per_year_=252.0)
    growth = 1.0
    for x in R:
        growth *= 1 + x
    assert m["total_return"] == pytest.approx(growth - 1, rel=1e-12)
    assert m["cagr"] == pytest.approx(growth ** (252 / 5) - 1, rel=1e-12)  # 6 bars span 5 intervals
    assert m["sharpe"] == pytest.approx(statistics.mean(R) / statistics.stdev(R) * math.sqrt(252), rel=1e-12)
    downside = math.sqrt(sum(min(x, 0) ** 2 for x in R) / len(R))
    assert m["sortino"] == pytest.approx(statistics.mean(R) / downside * math.sqrt(252), rel=1e-12)
    # equity 1, 1, 1.01, 0.9898, 1.019494, 1.00929906, ...: worst fall is 1.01 -> 0.9898 = -2 %
    assert m["max_drawdown"] == pytest.approx(-0.02, rel=1e-12)
    assert m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx(30 / 10)
    assert m["avg_trade"] == pytest.approx(0.05)
    assert m["trades"] == 4
    assert m["exposure"] == 0.5
    assert m["volatility"] == pytest.approx(statistics.stdev(R) * math.sqrt(252))


def test_degenerate_cases():
    m = compute_metrics(np.zeros(10), np.zeros(10), None, None, bars_per_year_=252.0)
    assert m["total_return"] == 0.0 and m["sharpe"] == 0.0 and m["sortino"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["trades"] == 0 and math.isnan(m["win_rate"]) and math.isnan(m["profit_factor"])
    up = compute_metrics(np.array([0.0, 0.01, 0.02]), np.ones(3), None,
                         {"pnl": np.array([5.0]), "return": np.array([0.03])}, bars_per_year_=252.0)
    assert up["sortino"] == math.inf and up["profit_factor"] == math.inf and up["max_drawdown"] == 0.0
    wiped = compute_metrics(np.array([0.0, -1.0]), np.ones(2), None, None, bars_per_year_=252.0)
    assert wiped["cagr"] == -1.0


def test_max_drawdown_by_hand():
    assert max_drawdown(np.array([100.0, 120, 90, 130, 65, 70])) == pytest.approx(65 / 130 - 1)
    assert max_drawdown(np.array([1.0, 2, 3])) == 0.0


def test_bars_per_year_from_the_index():
    daily = pd.date_range("2020-01-01", "2021-12-31", freq="D")
    assert bars_per_year(daily) == pytest.approx(365.25)
    hourly = pd.date_range("2020-01-01", periods=24 * 365, freq="h")
    assert bars_per_year(hourly) == pytest.approx(24 * 365.25)
    assert bars_per_year(load_bars("SPX").index) == pytest.approx(252, abs=1)
    assert bars_per_year(load_bars("EURUSD").index) == pytest.approx(6200, rel=0.02)
    assert bars_per_year(daily[:3]) == 252.0  # too short to estimate: the daily default


def test_sharpe_is_annualised_by_timeframe():
    """The same per-bar returns are worth sqrt(bars/year) more Sharpe on hourly bars than on daily ones."""
    r = np.random.default_rng(0).normal(0.001, 0.01, 500)
    d = compute_metrics(r, np.ones(500), pd.bdate_range("2010-01-01", periods=500))["sharpe"]
    h = compute_metrics(r, np.ones(500), pd.date_range("2010-01-01", periods=500, freq="h"))["sharpe"]
    daily_bpy = bars_per_year(pd.bdate_range("2010-01-01", periods=500))
    assert h / d == pytest.approx(math.sqrt(24 * 365.25 / daily_bpy), rel=1e-9)


def test_backtest_metrics_agree_with_its_own_equity_curve():
    bars = load_bars("SPX")
    res = run_backtest(bars, "mean-reversion-bb-rsi")
    eq = res.equity
    r = eq.pct_change().fillna(eq.iloc[0] / 10_000 - 1)
    years = (bars.index[-1] - bars.index[0]).days / 365.25
    bpy = (len(bars) - 1) / years
    assert res.metrics["total_return"] == pytest.approx(eq.iloc[-1] / 10_000 - 1, rel=1e-9)
    assert res.metrics["sharpe"] == pytest.approx(r.mean() / r.std() * math.sqrt(bpy), rel=1e-6)
    assert res.metrics["max_drawdown"] == pytest.approx((eq / eq.cummax() - 1).min(), rel=1e-9)
    assert res.metrics["cagr"] == pytest.approx((eq.iloc[-1] / 10_000) ** (1 / years) - 1, rel=1e-4)
    assert res.metrics["trades"] == len(res.trades)
    assert res.metrics["exposure"] == pytest.approx((res.positions != 0).mean())
    bh = bars["close"].iloc[-1] / bars["close"].iloc[0] - 1
    assert res.metrics["buy_and_hold_return"] == pytest.approx(bh)
    assert res.trades["pnl"].sum() == pytest.approx(eq.iloc[-1] - 10_000, rel=1e-9)


def test_bars_per_year_can_be_given_directly():
    a = compute_metrics(np.array(R), np.array(POS), 252.0, TRADES)
    b = compute_metrics(np.array(R), np.array(POS), None, TRADES, bars_per_year_=252.0)
    assert a == b

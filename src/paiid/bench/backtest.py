"""Backtest benchmarks: one template on SPX, the SMA cross against backtesting.py, a 400-backtest universe.

The backtesting.py comparison runs the very configuration of the oracle test (whole shares, 0.2 %
commission, close-then-reverse SMA 10/20 on GOOG), checks that both engines end on the same equity, and
times both moments apart in the same process. Timings are best-of-N; tests never assert them.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings

import numpy as np
import pandas as pd

from paiid.backtest import STRATEGIES, run_backtest, run_universe
from paiid.bench import BenchResult, best_time, case
from paiid.data import load_bars
from paiid.features import build_features

#: The oracle configuration (see tests/backtest/test_oracle_backtesting.py).
SMA_PARAMS = {"fast": 10, "slow": 20, "adx_min": 0, "allow_short": 1}
SMA_KW = {"commission_bps": 20.0, "slippage_bps": 0.0, "whole_units": True, "close_at_end": False,
          "cash": 10_000.0}


def backtesting_py_sma_cross(bars: pd.DataFrame, n1: int = 10, n2: int = 20, commission: float = 0.002):
    """The SMA cross in backtesting.py 0.6.6, closing before reversing (its stock example otherwise
    cancels the reversal orders for lack of margin and ends with one trade at -100 %)."""
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        fast = n1
        slow = n2

        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, self.fast)
            self.sma2 = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    data = bars.rename(columns=str.capitalize)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
        warnings.simplefilter("ignore")
        return Backtest(data, SmaCross, cash=10_000, commission=commission).run()


def synthetic_universe(n_symbols: int = 100, n_bars: int = 5000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Seeded random-walk OHLCV bars (GARCH-free, fat-ish tails) for `n_symbols` symbols."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2000-01-03", periods=n_bars, name="date")
    out: dict[str, pd.DataFrame] = {}
    for i in range(n_symbols):
        vol = rng.uniform(0.008, 0.03)
        r = rng.standard_t(4, n_bars) * vol / np.sqrt(2) + rng.normal(0.0002, 0.0002)
        close = 50.0 * np.exp(np.cumsum(r))
        gap = rng.normal(0, vol / 3, n_bars)
        open_ = close * np.exp(-r + gap)  # open between yesterday's close and today's
        hi = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, n_bars)))
        lo = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n_bars)))
        vol_ = rng.lognormal(13, 0.5, n_bars)
        cols = {"open": open_, "high": hi, "low": lo, "close": close, "volume": vol_}
        out[f"SYN{i:03d}"] = pd.DataFrame(cols, index=idx)
    return out


@case("backtest")
def bench_backtest() -> list[BenchResult]:
    results: list[BenchResult] = []

    spx = load_bars("SPX")
    feats = build_features(spx)
    sid = "trend-following-ma-cross"
    ours_spx = best_time(lambda: run_backtest(spx, sid, features=feats), repeat=7, number=20)
    results.append(BenchResult(
        name=f"{sid} on SPX (features precomputed)",
        ours_s=ours_spx,
        target="< 5 ms per backtest",
        meets_target=ours_spx < 0.005,
        details={"bars": len(spx), "trades": int(run_backtest(spx, sid, features=feats).metrics["trades"])},
    ))

    goog = load_bars("GOOG")
    ours = run_backtest(goog, sid, SMA_PARAMS, **SMA_KW)
    peer = backtesting_py_sma_cross(goog)
    ours_s = best_time(lambda: run_backtest(goog, sid, SMA_PARAMS, **SMA_KW), repeat=7, number=20)
    peer_s = best_time(lambda: backtesting_py_sma_cross(goog), repeat=5, number=1)
    closed = ours.trades[~ours.trades["is_open"]]
    results.append(BenchResult(
        name="SMA 10/20 cross on GOOG, whole shares, 0.2% commission",
        ours_s=ours_s,
        peer="backtesting.py 0.6.6 (Backtest.run)",
        peer_s=peer_s,
        ratio=peer_s / ours_s,
        target=">= 100x faster than backtesting.py",
        meets_target=peer_s / ours_s >= 100,
        details={
            "final_equity_ours": round(float(ours.metrics["final_equity"]), 2),
            "final_equity_backtesting_py": round(float(peer["Equity Final [$]"]), 2),
            "closed_trades_ours": len(closed),
            "trades_backtesting_py": int(peer["# Trades"]),
        },
    ))

    universe = synthetic_universe(100, 5000, seed=0)
    t0 = time.perf_counter()
    table = run_universe(universe, list(STRATEGIES))
    first = time.perf_counter() - t0
    uni_s = min(first, best_time(lambda: run_universe(universe, list(STRATEGIES)), repeat=2, number=1))
    results.append(BenchResult(
        name="universe: 4 templates x 100 symbols x 5,000 bars (synthetic, seed 0)",
        ours_s=uni_s,
        target="< 2 s on 2 cores",
        meets_target=uni_s < 2.0,
        details={"backtests": len(table), "bars_per_backtest": 5000,
                 "per_backtest_ms": round(uni_s / max(len(table), 1) * 1e3, 3),
                 "median_sharpe": round(float(table["sharpe"].median()), 3)},
    ))
    return results

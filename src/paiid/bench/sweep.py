"""Sweep benchmark: 1,000 SMA-cross parameter pairs on SPX in one `run_sweep`, against vectorbt's broadcast
`Portfolio.from_signals` on the same crosses, measured side by side in the same run.

Why this peer: vectorbt is the well-known way to backtest a parameter grid at once (a numba kernel over
broadcast signal columns). Same rules on both sides: a cross decided at the close of t is filled at the
open of t+1 (vectorbt gets the crosses shifted by one bar and `price=open`), long on an up cross and
short on a down cross (vectorbt `short_entries`, reversing), 1 bp commission per side, no slippage, all
equity committed. The peer is timed on `from_signals` alone, with its signals precomputed outside the
timing (its JIT compiled by a warm-up call), while ours includes computing the signals from the closes:
the comparison favours the peer. Ours is timed to the signals and trades (what `from_signals` computes:
order records; its per-bar value is built later too). A second row times what the optimiser actually
reads, the per-bar returns of every pair, built on both sides (ours: `SweepResult.returns`; the peer:
`Portfolio.returns()` after `from_signals`), and checks they agree. Trade counts are compared on all
1,000 pairs, and the GOOG 10/20 cross's (94) on both sides.
vectorbt is a benchmark-only peer (the `bench` extra); without it the case returns one row saying so.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import talib

from paiid.backtest.sweep import run_sweep
from paiid.bench import BenchResult, best_time, case
from paiid.data import load_bars

MA = "trend-following-ma-cross"
#: 40 fast x 25 slow periods = 1,000 pairs, every one fast < slow.
FAST = np.repeat(np.arange(2, 42), 25)
SLOW = np.tile(np.arange(45, 170, 5), 40)
COMMISSION_BPS = 1.0
GOOG_TRADES = 94


def best_cpu(fn, repeat: int = 3) -> float:
    """Best-of-`repeat` process CPU time of one call: both sides run on one thread, and on a machine shared
    with other jobs the CPU time is what wall time would be on an idle one."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def grid(fast: np.ndarray = FAST, slow: np.ndarray = SLOW) -> dict[str, Any]:
    """The swept grid: the textbook SMA cross (no ADX filter), long and short."""
    return {"fast": fast, "slow": slow, "adx_min": 0.0, "allow_short": 1}


def ours(bars, fast: np.ndarray = FAST, slow: np.ndarray = SLOW):
    """Our sweep, with the costs the peer is given."""
    return run_sweep(bars, MA, grid(fast, slow), commission_bps=COMMISSION_BPS, slippage_bps=0.0)


def cross_signals(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bars x pairs) up- and down-cross entries for vectorbt, already shifted to the bar they fill on."""
    sma = {int(w): talib.SMA(close, timeperiod=int(w)) for w in np.unique(np.concatenate([fast, slow]))}
    f = np.column_stack([sma[int(w)] for w in fast])
    s = np.column_stack([sma[int(w)] for w in slow])
    with np.errstate(invalid="ignore"):
        above, below = f > s, f < s
    up = np.zeros_like(above)
    dn = np.zeros_like(above)
    up[2:] = below[:-2] & above[1:-1]  # crossed at the close of t-1, filled at the open of t
    dn[2:] = above[:-2] & below[1:-1]
    return up, dn


def peer_portfolio(bars, fast: np.ndarray, slow: np.ndarray):
    """vectorbt's portfolio of the same crosses, fees and fills."""
    import vectorbt as vbt

    up, dn = cross_signals(bars["close"].to_numpy(np.float64), fast, slow)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vbt.Portfolio.from_signals(
            bars["close"].to_numpy(np.float64)[:, None], entries=up, short_entries=dn,
            price=bars["open"].to_numpy(np.float64)[:, None], fees=COMMISSION_BPS * 1e-4, init_cash=10_000.0,
        )


@case("sweep")
def bench_sweep() -> list[BenchResult]:
    spx = load_bars("SPX")
    ours(spx)  # warm (TA-Lib, first-touch allocations)
    ours_s = best_time(lambda: ours(spx), repeat=5)
    with_bars_s = best_time(lambda: ours(spx).returns, repeat=3)
    res = ours(spx)
    goog = load_bars("GOOG")
    g = ours(goog, np.array([10]), np.array([20]))
    ours_goog = int(len(g.trades["column"]))
    name = "1,000 SMA-cross pairs on SPX in one run_sweep"
    details: dict[str, Any] = {
        "pairs": len(res), "bars": len(spx), "ours_trades_total": int(len(res.trades["column"])),
        "goog_10_20_trades": {"ours": ours_goog, "expected": GOOG_TRADES},
        "per_pair_us": ours_s / len(res) * 1e6,
        "ours_with_per_bar_arrays_s": with_bars_s,
        "ours_timing": "signals from the closes and the trades; the per-bar equity, returns and positions "
                       "are built on first access (ours_with_per_bar_arrays_s includes them)",
    }
    try:
        import vectorbt  # noqa: F401
    except ImportError:
        return [BenchResult(name=f"{name} (vs vectorbt skipped: pip install vectorbt)", ours_s=ours_s,
                            details=details)]
    peer_portfolio(spx, FAST[:2], SLOW[:2])  # compile its numba kernels outside the timing
    import vectorbt as vbt

    close = spx["close"].to_numpy(np.float64)
    up, dn = cross_signals(close, FAST, SLOW)
    price = spx["open"].to_numpy(np.float64)[:, None]

    def peer() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vbt.Portfolio.from_signals(close[:, None], entries=up, short_entries=dn, price=price,
                                       fees=COMMISSION_BPS * 1e-4, init_cash=10_000.0)

    peer_s = best_time(peer, repeat=3)
    ours_s = min(ours_s, best_time(lambda: ours(spx), repeat=3))  # again, moments after the peer
    cpu = {"ours_s": best_cpu(lambda: ours(spx), 5), "peer_s": best_cpu(peer, 3)}
    cpu["ratio"] = cpu["peer_s"] / cpu["ours_s"]
    t0 = time.perf_counter()
    pf_goog = peer_portfolio(goog, np.array([10]), np.array([20]))
    peer_goog = int(np.asarray(pf_goog.trades.count()).ravel()[0])
    pf_all = peer_portfolio(spx, FAST, SLOW)
    peer_counts = np.asarray(pf_all.trades.count()).ravel()
    ours_counts = res.trade_counts()
    peer_returns = np.asarray(pf_all.returns()).T  # pairs x bars, as ours
    gap = np.abs(np.asarray(res.returns) - peer_returns)
    check_s = time.perf_counter() - t0

    def peer_with_returns() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vbt.Portfolio.from_signals(close[:, None], entries=up, short_entries=dn, price=price,
                                       fees=COMMISSION_BPS * 1e-4, init_cash=10_000.0).returns()

    peer_returns_s = best_time(peer_with_returns, repeat=3)
    with_bars_s = min(with_bars_s, best_time(lambda: ours(spx).returns, repeat=3))
    final_ours = float(g.final_equity()[0])
    final_peer = float(np.asarray(pf_goog.final_value()).ravel()[0])
    details.update({
        "goog_10_20_trades": {"ours": ours_goog, "peer": peer_goog, "expected": GOOG_TRADES},
        "spx_trade_counts_equal": bool(np.array_equal(ours_counts, peer_counts)),
        "spx_pairs_compared": int(len(ours_counts)),
        "goog_final_equity": {"ours": final_ours, "peer": final_peer,
                              "relative_difference": final_ours / final_peer - 1.0},
        "peer_timing": "from_signals only, signals precomputed, numba compiled beforehand",
        "check_s": check_s,
        "cpu_time": cpu,
    })
    same = ours_goog == peer_goog == GOOG_TRADES and details["spx_trade_counts_equal"]
    returns_details = {
        "max_abs_difference_of_per_bar_returns": {"before_the_last_bar": float(np.nanmax(gap[:, :-1])),
                                                   "last_bar": float(np.nanmax(gap[:, -1]))},
        "last_bar": "ours closes a position still open on the last bar (paying its exit commission); "
                    "the peer leaves it open",
        "peer_timing": "from_signals + Portfolio.returns(), signals precomputed, numba compiled beforehand",
    }
    return [BenchResult(
        name=name, ours_s=ours_s, peer="vectorbt 1.2 Portfolio.from_signals (1,000 broadcast columns)",
        peer_s=peer_s, ratio=peer_s / ours_s, target=">= 20x faster, same trade counts on all 1,000 pairs",
        meets_target=bool(peer_s / ours_s >= 20.0 and same), details=details,
    ), BenchResult(
        name="same 1,000 pairs with every pair's per-bar returns built (what the optimiser reads)",
        ours_s=with_bars_s, peer="vectorbt 1.2 from_signals + Portfolio.returns()", peer_s=peer_returns_s,
        ratio=peer_returns_s / with_bars_s, target="informative: per-bar arrays on both sides",
        meets_target=None, details=returns_details,
    )]

"""Scale-out benchmarks: the universe backtest and an optimisation on 2 local workers vs 1.

The peer here is ourselves on one worker (in-process, no pickling), timed moments apart in the same
run, so the ratio is the speed-up the executor really delivers on this machine, overheads included
(shipping 100 x 5,000 bars to the workers and back). Pools are warmed first: a CLI run pays the
one-off process start (reported separately as `cold_s`) once, not per job.
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np
import pandas as pd

from paiid.bench import BenchResult, best_time, case
from paiid.engine import executor
from paiid.ml.optimize import optimize


def synthetic_bars(n_bars: int, seed: int | list[int], start: str = "2000-01-03") -> pd.DataFrame:
    """A seeded geometric random walk in the bar schema (daily business days), with a random drift,
    volatility and volume level per series so templates trade differently on each symbol."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0002, 0.0004)
    vol = rng.uniform(0.007, 0.02)
    r = rng.normal(drift, vol, n_bars)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.empty(n_bars)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0, vol / 4, n_bars - 1))
    wick = np.abs(rng.normal(0, vol / 2, (2, n_bars)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = rng.lognormal(13.5, 0.4, n_bars).round()
    idx = pd.bdate_range(start, periods=n_bars, name="date")
    cols = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return pd.DataFrame(cols, index=idx)


def synthetic_symbol(name: str, n_bars: int = 5000, seed: int = 0) -> pd.DataFrame:
    """The bars of synthetic symbol `SYN<k>` (a loader for `backtest_universe`: workers build their own)."""
    return synthetic_bars(n_bars, [seed, int(name[3:])])


def synthetic_universe(n_symbols: int, n_bars: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """`n_symbols` independent seeded series named SYN000, SYN001, ..."""
    return {f"SYN{i:03d}": synthetic_bars(n_bars, [seed, i]) for i in range(n_symbols)}


@case("optimize")
def bench_scale_out() -> list[BenchResult]:
    """Progress bars are silenced while timing: each bar's refresh thread costs ~0.1 s to stop, which
    would swamp a 0.2 s job on both sides of the ratio."""
    quiet = os.environ.get("PAIID_QUIET")
    os.environ["PAIID_QUIET"] = "1"
    try:
        return _bench_scale_out()
    finally:
        if quiet is None:
            os.environ.pop("PAIID_QUIET", None)
        else:
            os.environ["PAIID_QUIET"] = quiet


def _bench_scale_out() -> list[BenchResult]:
    uni = synthetic_universe(100, 5000, seed=0)
    names = list(uni)
    loader = functools.partial(synthetic_symbol, n_bars=5000, seed=0)
    run1 = functools.partial(executor.backtest_universe, uni, workers=1)
    run2 = functools.partial(executor.backtest_universe, uni, workers=2)
    load1 = functools.partial(executor.backtest_universe, names, loader=loader, workers=1)
    load2 = functools.partial(executor.backtest_universe, names, loader=loader, workers=2)
    executor.shutdown()
    t0 = time.perf_counter()
    rows2 = run2()
    cold = time.perf_counter() - t0
    rows1 = run1()
    ref = pd.DataFrame(rows1)
    same = ref.equals(pd.DataFrame(rows2)) and ref.equals(pd.DataFrame(load2()))
    serial = best_time(run1, repeat=3)
    parallel = best_time(run2, repeat=3)
    l_serial = best_time(load1, repeat=3)
    l_parallel = best_time(load2, repeat=3)

    bars = uni["SYN000"]
    kw = {"symbol": "SYN000", "n_trials": 20, "n_splits": 3, "seed": 0, "save": False}
    opt1 = functools.partial(optimize, bars, "trend-following-ma-cross",
                             mapper=functools.partial(executor.map, workers=1), **kw)
    opt2 = functools.partial(optimize, bars, "trend-following-ma-cross",
                             mapper=functools.partial(executor.map, workers=2), **kw)
    o_serial = best_time(opt1, repeat=2)
    o_parallel = best_time(opt2, repeat=2)
    cpus = os.cpu_count()
    return [
        BenchResult(
            name="universe backtest, 4 templates x 100 symbols x 5,000 bars: 2 local workers",
            ours_s=parallel,
            peer="same on 1 worker (in-process)",
            peer_s=serial,
            ratio=serial / parallel,
            target="> 1.3x on 2 idle cores",
            meets_target=serial / parallel > 1.3,
            details={"backtests": len(rows1), "identical_results": same, "cold_s": cold, "cpus": cpus},
        ),
        BenchResult(
            name="same universe, each worker building its own bars (no shipping): 2 local workers",
            ours_s=l_parallel,
            peer="same on 1 worker (in-process)",
            peer_s=l_serial,
            ratio=l_serial / l_parallel,
            target="> 1.3x on 2 idle cores",
            meets_target=l_serial / l_parallel > 1.3,
            details={"backtests": len(rows1), "cpus": cpus},
        ),
        BenchResult(
            name="walk-forward optimisation, MA cross, 20 trials x (3 windows + full history): 2 workers",
            ours_s=o_parallel,
            peer="same on 1 worker (in-process)",
            peer_s=o_serial,
            ratio=o_serial / o_parallel,
            target="> 1.3x on 2 idle cores",
            meets_target=o_serial / o_parallel > 1.3,
            details={"studies": 4, "trials_per_study": 20, "bars": len(bars), "cpus": cpus},
        ),
    ]

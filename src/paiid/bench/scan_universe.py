"""A synthetic universe for the large-scan bench: many seeded daily OHLCV series, generated at once and
stored through the store's bulk path.

Why synthetic: the issue's figure is what a scan costs per symbol at 100, 300 and 1,000 symbols, and
no bundled data set has a thousand symbols. The series only have to look like daily stocks to the
engine (positive prices, high the highest and low the lowest of each bar, volatility that clusters,
volume that rises with the move), because the bench measures cost, not skill.

Why one (symbols x bars) array: generating 1,000 x 5,000 bars symbol by symbol in Python costs more
than the scan; as whole-array numpy operations (the clustering volatility is one `lfilter` along the
bar axis) it takes well under a second.

The dates end on `end` (the bench passes the last bar of the data the models were trained on), so
every symbol's answer as of its last bar has the promoted models' refit date: the scan serves the
promoted models and fits no point-in-time refit (`engine/vintages.py`).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from paiid.data.store import upsert_bars
from paiid.engine import executor

#: Source recorded for the stored series (`paiid data list` shows it).
SOURCE = "paiid.bench.scan_universe (synthetic)"


def symbol_names(count: int) -> list[str]:
    """`SYN0000`, `SYN0001`, ...: valid symbols that cannot clash with bundled or real tickers."""
    return [f"SYN{i:04d}" for i in range(count)]


def generate(count: int, n_bars: int, *, seed: int = 0, end: str | pd.Timestamp = "2018-12-31"
             ) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """(business-day index of `n_bars` ending at `end`, {column: (count, n_bars) array}).

    Per symbol a drift and a base volatility are drawn; daily log-volatility follows an AR(1) around
    it (persistence 0.98, stationary sd 0.25), so calm and turbulent stretches alternate as in real
    stocks. Open gaps from the previous close; high and low extend beyond open and close by a fraction
    of the day's volatility.
    """
    rng = np.random.default_rng(seed)
    index = pd.bdate_range(end=pd.Timestamp(end), periods=n_bars)
    shape = (count, n_bars)
    base_vol = rng.uniform(0.008, 0.025, (count, 1))
    drift = rng.normal(0.0003, 0.0003, (count, 1))
    log_vol_shock = lfilter([0.05], [1.0, -0.98], rng.standard_normal(shape), axis=1)
    vol = base_vol * np.exp(log_vol_shock - log_vol_shock.mean(axis=1, keepdims=True))
    ret = drift - 0.5 * vol**2 + vol * rng.standard_normal(shape)
    start_price = rng.uniform(20.0, 200.0, (count, 1))
    close = start_price * np.exp(np.cumsum(ret, axis=1))
    prev = np.concatenate([start_price, close[:, :-1]], axis=1)
    open_ = prev * np.exp(0.2 * vol * rng.standard_normal(shape))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * np.exp(0.5 * vol * np.abs(rng.standard_normal(shape)))
    low = bottom * np.exp(-0.5 * vol * np.abs(rng.standard_normal(shape)))
    volume = np.round(rng.uniform(2e5, 5e6, (count, 1)) * np.exp(
        np.abs(ret) / vol * 0.3 + 0.2 * rng.standard_normal(shape)))
    return index, {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def store(count: int, n_bars: int, *, seed: int = 0, end: str | pd.Timestamp = "2018-12-31"
          ) -> dict[str, Any]:
    """Generate and store `count` symbols of `n_bars` daily bars; the names and the time each part took.

    Stored with `paiid.data.store.upsert_bars` (the importer's write path without the file parsing
    and validation: the generator makes valid bars by construction), one transaction a symbol.
    """
    t0 = time.perf_counter()
    index, cols = generate(count, n_bars, seed=seed, end=end)
    generated = time.perf_counter() - t0
    names = symbol_names(count)
    t1 = time.perf_counter()
    for i, sym in enumerate(names):
        bars = pd.DataFrame({c: v[i] for c, v in cols.items()}, index=index)
        bars.index.name = "date"
        upsert_bars(sym, bars, source=SOURCE, timeframe="daily")
    return {"symbols": names, "bars": n_bars, "first": index[0].date().isoformat(),
            "last": index[-1].date().isoformat(), "generate_s": generated,
            "store_s": time.perf_counter() - t1}


# ------------------------------------------------------------------------------------------ workers


def _warm(task: tuple[str, float]) -> int:
    """Load the models a row of `symbol` needs into this worker, hold it `hold` seconds, return its pid.

    Module level: it runs in the executor's worker processes. The hold keeps a worker busy so the next
    warm-up task goes to the other one; every worker then starts the timed scan with its models in
    memory and an empty answer cache, as a long-lived pool does.
    """
    from paiid.data import load_bars
    from paiid.engine import orchestrator

    symbol, hold = task
    orchestrator.served_models(load_bars(symbol))
    time.sleep(hold)
    return os.getpid()


def fresh_pool(workers: int, symbol: str) -> dict[str, Any]:
    """A new local pool of `workers` processes with the models loaded in each: (pids, seconds it took).

    A new pool (not the warm one an earlier scan left) because each worker keeps its own answer cache,
    and a scan of symbols a worker answered before would be cache hits, not the cost being measured.
    """
    executor.shutdown()
    t0 = time.perf_counter()
    pids = executor.map(_warm, [(symbol, 1.0)] * workers, workers=workers, desc="starting workers")
    return {"pids": sorted(set(pids)), "start_s": time.perf_counter() - t0}


def cpu_seconds(pids: list[int]) -> dict[int, float | None]:
    """User + system CPU seconds each process has used so far, from /proc (None where it cannot be read:
    the process is gone, or the system has no /proc). Read from outside, so the workers run only scan
    code while they are measured."""
    out: dict[int, float | None] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            out[pid] = None
    return out

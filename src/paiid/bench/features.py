"""Feature-frame benchmarks: our TA-Lib frame vs the `ta` package computing the same indicators."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from paiid.bench import BenchResult, best_time, case
from paiid.data import load_bars
from paiid.features import build_features
from paiid.features import indicators as ind


def _core_talib(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    ind.rsi(c)
    ind.macd(c)
    ind.bbands(c)
    ind.atr(h, lo, c)
    ind.adx(h, lo, c)


def _core_ta(bars: pd.DataFrame) -> None:
    import ta

    h, lo, c = bars["high"], bars["low"], bars["close"]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ta.momentum.RSIIndicator(c, 14).rsi()
        m = ta.trend.MACD(c)
        m.macd(), m.macd_signal(), m.macd_diff()
        b = ta.volatility.BollingerBands(c, 20, 2)
        b.bollinger_pband(), b.bollinger_wband()
        ta.volatility.AverageTrueRange(h, lo, c, 14).average_true_range()
        a = ta.trend.ADXIndicator(h, lo, c, 14)
        a.adx(), a.adx_pos(), a.adx_neg()


@case("features")
def bench_features() -> list[BenchResult]:
    bars = load_bars("SPX")
    ours_frame = best_time(lambda: build_features(bars), repeat=7, number=5)
    ours_core = best_time(lambda: _core_talib(bars), repeat=7, number=5)
    peer_core = best_time(lambda: _core_ta(bars), repeat=3, number=1)
    return [
        BenchResult(
            name="feature frame, SPX (all columns)",
            ours_s=ours_frame,
            peer="ta (RSI, MACD, BB, ATR, ADX only)",
            peer_s=peer_core,
            ratio=peer_core / ours_frame,
            target="< 5 ms",
            meets_target=ours_frame < 0.005,
            details={"bars": len(bars), "columns": build_features(bars).shape[1]},
        ),
        BenchResult(
            name="core indicators RSI, MACD, BB, ATR, ADX on SPX",
            ours_s=ours_core,
            peer="ta",
            peer_s=peer_core,
            ratio=peer_core / ours_core,
            target=">= 100x faster than ta",
            meets_target=peer_core / ours_core >= 100,
            details={"bars": len(bars)},
        ),
    ]

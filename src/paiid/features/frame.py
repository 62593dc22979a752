"""The feature frame: one row per bar, every column computed from that bar and earlier ones only.

`build_features` is the single place features are defined; the regime model, the strategy selector,
the trade-probability model and the pattern scorer all read their inputs from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.features import indicators as ind

#: Bars needed before every column is defined (the 200-bar moving average is the longest look-back).
WARMUP = 200

#: Columns whose scale does not depend on the price level, so one model can serve every symbol.
SCALE_FREE = [
    "ret_1", "ret_5", "ret_20", "ret_60", "ret_120",
    "rsi_14", "macd_hist_pct", "bb_pctb", "bb_bandwidth", "atr_pct",
    "adx_14", "plus_di", "minus_di", "rvol_20", "rvol_60", "vol_ratio",
    "volume_z", "volume_trend", "obv_slope", "dist_sma_20", "dist_sma_50", "dist_sma_200", "ma_slope_50",
]


def build_features(bars: pd.DataFrame) -> pd.DataFrame:
    """All features for a bar frame (bar schema in, same index out; NaN during warm-up)."""
    o = bars["open"].to_numpy(dtype=np.float64)
    h = bars["high"].to_numpy(dtype=np.float64)
    lo = bars["low"].to_numpy(dtype=np.float64)
    c = bars["close"].to_numpy(dtype=np.float64)
    v = bars["volume"].to_numpy(dtype=np.float64)
    del o
    cols: dict[str, np.ndarray] = {}

    r1 = ind.log_return(c, 1)
    cols["ret_1"] = r1
    for k in (5, 20, 60, 120):
        cols[f"ret_{k}"] = ind.log_return(c, k)

    cols["rsi_14"] = ind.rsi(c, 14)
    m_line, m_signal, m_hist = ind.macd(c)
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = m_line, m_signal, m_hist
    cols["macd_hist_pct"] = m_hist / c

    upper, middle, lower = ind.bbands(c, 20, 2.0)
    width = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["bb_pctb"] = np.where(width > 0, (c - lower) / width, 0.5)
        cols["bb_bandwidth"] = width / middle
    cols["bb_pctb"][np.isnan(width)] = np.nan

    a = ind.atr(h, lo, c, 14)
    cols["atr_14"] = a
    cols["atr_pct"] = a / c
    cols["adx_14"], cols["plus_di"], cols["minus_di"] = ind.adx(h, lo, c, 14)
    # mean high-low log range over 10 bars: a volatility estimate that reacts faster than a 20-bar
    # close-to-close one for the same noise (it uses the path inside each bar; the regime model's input)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["range_10"] = ind.sma(np.log(h / lo), 10)

    r1z = np.nan_to_num(r1)
    r1z[:1] = np.nan  # keep the undefined first return undefined (and survive an empty frame)
    rv20 = ind.rolling_std(r1z, 20)
    rv60 = ind.rolling_std(r1z, 60)
    cols["rvol_20"] = rv20
    cols["rvol_60"] = rv60
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["vol_ratio"] = rv20 / rv60

    lv = np.log1p(v)
    mu = ind.sma(lv, 20)
    sd = ind.rolling_std(lv, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["volume_z"] = np.where(sd > 0, (lv - mu) / sd, 0.0)
    cols["volume_z"][np.isnan(sd)] = np.nan
    cols["volume_trend"] = ind.sma(lv, 10) - ind.sma(lv, 50)
    avg_v = ind.sma(v, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["obv_slope"] = np.where(avg_v > 0, ind.linreg_slope(ind.obv(c, v), 20) / avg_v, 0.0)
    cols["obv_slope"][np.isnan(avg_v)] = np.nan

    for p in (20, 50, 200):
        cols[f"dist_sma_{p}"] = c / ind.sma(c, p) - 1.0
    cols["ma_slope_50"] = ind.shift_ratio(ind.sma(c, 50), 10)
    return pd.DataFrame(cols, index=bars.index, copy=False)


def feature_rows(features: pd.DataFrame) -> pd.DataFrame:
    """Only the rows where every column is defined (after warm-up)."""
    return features.iloc[WARMUP:].dropna()

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


_HLC = ("high", "low", "close")

#: The bar columns each feature reads. A close-only series (`paiid.data.CLOSE_ONLY`: open, high,
#: low and volume NaN) gets every feature that reads only `close`; the others come out NaN on every
#: bar (absent, not estimated), which tests/features/test_frame.py checks against this table.
FEATURE_INPUTS: dict[str, tuple[str, ...]] = {  # in frame order
    "ret_1": ("close",),
    "ret_5": ("close",),
    "ret_20": ("close",),
    "ret_60": ("close",),
    "ret_120": ("close",),
    "rsi_14": ("close",),
    "macd": ("close",),
    "macd_signal": ("close",),
    "macd_hist": ("close",),
    "macd_hist_pct": ("close",),
    "bb_pctb": ("close",),
    "bb_bandwidth": ("close",),
    "atr_14": _HLC,
    "atr_pct": _HLC,
    "adx_14": _HLC,
    "plus_di": _HLC,
    "minus_di": _HLC,
    "range_10": ("high", "low"),
    "rvol_20": ("close",),
    "rvol_60": ("close",),
    "vol_ratio": ("close",),
    "volume_z": ("volume",),
    "volume_trend": ("volume",),
    "obv_slope": ("close", "volume"),
    "dist_sma_20": ("close",),
    "dist_sma_50": ("close",),
    "dist_sma_200": ("close",),
    "ma_slope_50": ("close",),
}

#: The features defined from closes alone, in frame order.
CLOSE_ONLY_FEATURES = [name for name, needs in FEATURE_INPUTS.items() if needs == ("close",)]

#: Close-only stand-ins for range-based features: close-to-close volatility instead of ATR or the
#: high-low range. Not the same numbers (on SPX and GOOG the median atr_pct / rvol_20 is 1.39 and 1.47,
#: range_10 / rvol_20 1.36 and 1.35), so a model must be trained on the stand-in, never fed it in place.
CLOSE_ONLY_SUBSTITUTES = {"atr_pct": "rvol_20", "range_10": "rvol_20"}


def features_for(columns: list[str] | tuple[str, ...]) -> list[str]:
    """The features a series with these real bar columns defines (`paiid.data.real_columns`)."""
    real = set(columns)
    return [name for name, needs in FEATURE_INPUTS.items() if real.issuperset(needs)]


def build_features(bars: pd.DataFrame) -> pd.DataFrame:
    """All features for a bar frame (bar schema in, same index out; NaN during warm-up).

    Close-only bars (NaN open, high, low, volume) give `CLOSE_ONLY_FEATURES` with the same values
    as OHLCV bars of the same closes, and NaN in every other column (`FEATURE_INPUTS`).
    """
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

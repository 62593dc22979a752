"""The naive baseline every regime score is shown beside: a volatility threshold and the trend's sign."""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.features import WARMUP, build_features


def naive_regime(bars: pd.DataFrame, vol_threshold: float, band: float = 0.0,
                 features: pd.DataFrame | None = None) -> np.ndarray:
    """The naive baseline: high_volatility if 20-bar volatility > `vol_threshold`, else the sign of the
    50-bar return (bullish above `band`, bearish below `-band`, ranging in between). None in warm-up."""
    feats = build_features(bars) if features is None else features
    c = bars["close"].to_numpy(np.float64)
    r50 = np.full(len(c), np.nan)
    r50[50:] = np.log(c[50:] / c[:-50])
    rv = feats["rvol_20"].to_numpy(np.float64)
    out = np.full(len(c), None, dtype=object)
    ok = np.isfinite(r50) & np.isfinite(rv)
    out[ok] = "ranging"
    out[ok & (r50 > band)] = "trending_bullish"
    out[ok & (r50 < -band)] = "trending_bearish"
    out[ok & (rv > vol_threshold)] = "high_volatility"
    out[: min(len(out), WARMUP)] = None
    return out

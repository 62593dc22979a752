"""The detector's three inputs per bar: volatility relative to the symbol's usual level, and direction.

All come from `paiid.features.build_features`, so bar t uses bars 0..t only:

* volatility: the 10-bar mean high-low range (annualised from the bar spacing) as a *log ratio to the
  symbol's own usual level*: a running mean of its past log range, shrunk toward the training mean as
  if `prior_bars` (2,500, about ten years of daily bars) of it had been seen first. Why relative: one
  model serves SPX, GOOG and hourly EURUSD, and "high volatility" means high for that market. Why
  the range: it uses the path inside each bar, so it is as precise as a close-to-close estimate over
  about twice as many bars and reacts to a change in half the time;
* direction: the 20- and 60-bar log returns divided by their own noise, realised volatility x
  sqrt(window): a signal-to-noise ratio (1 = a one-sigma move). Why not raw returns: in a volatile
  market every return is large, and the clusters would split volatility into "volatile up" and
  "volatile down" instead of separating volatility from direction.

**Close-only series** (index levels, adjusted closes: no high or low) use ``volatility="close"``
(`RegimeDetector(volatility=...)`): the volatility input is then the 20-bar close-to-close realised
volatility (`rvol_20`, the documented stand-in `paiid.features.CLOSE_ONLY_SUBSTITUTES`) as the same log
ratio to its own running level. Not the same numbers as the range (range_10 / rvol_20 is about 1.35 on
SPX and GOOG), which is why it is a model of its own, fitted on the stand-in, never fed it in place;
the direction inputs are close-only already. Its cost where both can be computed (the synthetic
benchmark, SPX's criteria) is the ``close_only_variant`` part of the regime report (`evaluate`).

Three inputs, not every indicator: an earlier version that also fed ADX, the 50-bar MA slope and
distance and the volume trend (with diagonal Gaussians) scored 0.82 on the synthetic benchmark against
about 0.92 for this one, and an efficiency-ratio input cost accuracy in experiments (bounded inputs fit
Gaussians badly). ADX and the volume trend are still reported in the answer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from paiid.features import WARMUP, build_features
from paiid.metrics import bars_per_year_from_spacing

#: Bars needed before the first regime is reported (the feature frame's warm-up plus the bar itself).
MIN_BARS = WARMUP + 1
#: Model inputs (columns of `RegimeDetector.inputs`), derived from the feature frame.
INPUT_NAMES: list[str] = ["range_vol_rel", "ret_20_snr", "ret_60_snr"]
#: Columns of the feature frame the inputs are made from.
RAW_FEATURES: list[str] = ["range_10", "rvol_20", "rvol_60", "ret_20", "ret_60"]
#: `RegimeDetector(volatility=...)` -> the feature column of its volatility input.
VOLATILITY_FEATURES: dict[str, str] = {"range": "range_10", "close": "rvol_20"}
#: The bar columns each volatility measure needs.
VOLATILITY_COLUMNS: dict[str, tuple[str, ...]] = {"range": ("high", "low"), "close": ("close",)}
#: Positions of the volatility and the direction inputs in `INPUT_NAMES`.
VOL_IDX = (0,)
DIR_IDX = (1, 2)


def running_level(x: np.ndarray, prior: float, prior_bars: float) -> np.ndarray:
    """Causal mean of `x` up to each bar, shrunk toward `prior` as if it were `prior_bars` extra bars."""
    ok = np.isfinite(x)
    total = np.cumsum(np.where(ok, x, 0.0)) + prior * prior_bars
    count = np.cumsum(ok) + prior_bars
    return total / count


def log_positive(x: np.ndarray) -> np.ndarray:
    """log(x) where x > 0, NaN elsewhere (without numpy's warnings)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def input_names(volatility: str = "range") -> list[str]:
    """`INPUT_NAMES` of a detector with this `volatility` (the first one names the measure)."""
    return list(INPUT_NAMES) if volatility == "range" else ["close_vol_rel", *INPUT_NAMES[1:]]


def raw_feature_names(volatility: str = "range") -> list[str]:
    """`RAW_FEATURES` of a detector with this `volatility`: its volatility column first."""
    return [VOLATILITY_FEATURES[volatility], *RAW_FEATURES[1:]]


def raw_features(bars: pd.DataFrame, features: pd.DataFrame | None = None,
                 volatility: str = "range") -> np.ndarray:
    """`raw_feature_names(volatility)` per bar (the volatility annualised), from `features` or computed
    from `bars`."""
    feats = build_features(bars) if features is None else features
    raw = np.column_stack([feats[c].to_numpy(np.float64) for c in raw_feature_names(volatility)])
    # annualised by the spacing of the first bars, so that a later bar never changes an earlier input
    # (for a stock's 6.5-hour session this overstates the level, which only shifts the running prior)
    raw[:, 0] = raw[:, 0] * math.sqrt(bars_per_year_from_spacing(bars.index))
    return raw


def inputs_from_raw(raw: np.ndarray, prior_log_range: float, prior_bars: float) -> np.ndarray:
    """The unstandardised model inputs (`INPUT_NAMES` order); NaN rows during warm-up."""
    log_rng = log_positive(raw[:, 0])
    ref = running_level(log_rng, prior_log_range, prior_bars)
    out = np.empty((len(raw), len(INPUT_NAMES)))
    out[:, 0] = log_rng - ref
    with np.errstate(divide="ignore", invalid="ignore"):
        # a return over w bars in units of its own noise, sigma * sqrt(w): a signal-to-noise ratio
        out[:, 1] = raw[:, 3] / (raw[:, 1] * math.sqrt(20.0))
        out[:, 2] = raw[:, 4] / (raw[:, 2] * math.sqrt(60.0))
    out[~np.isfinite(out)] = np.nan
    out[: min(len(out), WARMUP)] = np.nan
    return out

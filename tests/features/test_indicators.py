"""Our TA-Lib indicators against the `ta` package (an independent pandas implementation) on SPX.

Where the two differ it is only in how recursive averages are seeded, which the recursion forgets
geometrically:

* RSI, ATR, +DI/-DI, ADX (Wilder smoothing, factor 13/14 per bar): TA-Lib starts the averages at
  the simple mean of the first 14 values, as Wilder did; `ta` runs `ewm(alpha=1/14, adjust=False)`
  from the first value (RSI, DI) or its own seed (ATR, ADX). ADX smooths twice, so it forgets a bit
  more slowly. After ~180 bars the seed's weight is (13/14)^180 ~ 1.6e-6.
* MACD: TA-Lib seeds each EMA with an SMA of its first `period` closes; `ta` uses
  `ewm(span, adjust=False)` from the first close. The slow EMA forgets by 25/27 per bar:
  (25/27)^170 ~ 2e-6 of the initial difference.
* Bollinger Bands have no recursion and both use the population standard deviation (ddof=0, as
  Bollinger defines it); `ta`'s bandwidth is in percent, ours a fraction. They agree to rounding
  from the first defined bar.

So the comparison window starts at WARMUP (bar 200, where the models start reading features too)
with a relative tolerance of 1e-4: about 50x the worst seeding residue measured there (~2e-6),
yet 100x tighter than the change a wrong period or ddof makes (>1e-2), which the last test proves.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import talib

from paiid.data import load_bars
from paiid.features import WARMUP, build_features

ta = pytest.importorskip("ta")

SPX = load_bars("SPX")
OURS = build_features(SPX)
RTOL = 1e-4


def _ta_reference() -> dict[str, pd.Series]:
    h, lo, c = SPX["high"], SPX["low"], SPX["close"]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        macd = ta.trend.MACD(c, window_slow=26, window_fast=12, window_sign=9)
        bb = ta.volatility.BollingerBands(c, window=20, window_dev=2)
        adx = ta.trend.ADXIndicator(h, lo, c, window=14)
        return {
            "rsi_14": ta.momentum.RSIIndicator(c, window=14).rsi(),
            "macd": macd.macd(),
            "macd_signal": macd.macd_signal(),
            "macd_hist": macd.macd_diff(),
            "bb_pctb": bb.bollinger_pband(),
            "bb_bandwidth": bb.bollinger_wband() / 100.0,
            "atr_14": ta.volatility.AverageTrueRange(h, lo, c, window=14).average_true_range(),
            "adx_14": adx.adx(),
            "plus_di": adx.adx_pos(),
            "minus_di": adx.adx_neg(),
        }


REF = _ta_reference()


@pytest.mark.parametrize("column", list(REF))
def test_agrees_with_ta_after_warmup(column: str) -> None:
    ours = OURS[column].to_numpy()[WARMUP:]
    theirs = REF[column].to_numpy()[WARMUP:]
    assert np.isfinite(ours).all() and np.isfinite(theirs).all()
    # MACD lines cross zero, where a relative tolerance means nothing: there the allowance is 1e-4
    # of the series' median |MACD| (about 1e-5 index points).
    atol = RTOL * float(np.median(np.abs(theirs))) if column.startswith("macd") else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=atol, err_msg=column)


@pytest.mark.parametrize("column", ["bb_pctb", "bb_bandwidth"])
def test_bollinger_agrees_from_the_first_defined_bar(column: str) -> None:
    ours, theirs = OURS[column].to_numpy(), REF[column].to_numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    defined = ~np.isnan(ours)
    assert defined.sum() == len(SPX) - 19  # a 20-bar window
    np.testing.assert_allclose(ours[defined], theirs[defined], rtol=1e-7, atol=1e-10)


def test_early_disagreement_is_seeding_that_fades() -> None:
    # The gap between the two RSI implementations shrinks along the series, as seeding error does.
    diff = np.abs(OURS["rsi_14"].to_numpy() - REF["rsi_14"].to_numpy())
    early, late = np.nanmax(diff[14:50]), np.nanmax(diff[WARMUP:])
    assert early > 1e-3 and late < early * 1e-3


def test_the_tolerance_catches_a_wrong_definition() -> None:
    c = SPX["close"].to_numpy()
    h, lo = SPX["high"].to_numpy(), SPX["low"].to_numpy()
    wrong = {
        "rsi_14": talib.RSI(c, timeperiod=15),
        "atr_14": talib.ATR(h, lo, c, timeperiod=13),
        "adx_14": talib.ADX(h, lo, c, timeperiod=15),
        # Sample instead of population standard deviation: bands sqrt(20/19) wider.
        "bb_bandwidth": pd.Series(c).rolling(20).std(ddof=1).to_numpy() * 4 / talib.SMA(c, 20),
    }
    for column, values in wrong.items():
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(values[WARMUP:], REF[column].to_numpy()[WARMUP:], rtol=RTOL)

"""The matched random-entry baseline: near in time, same side, distances in ATRs at each entry."""

from __future__ import annotations

import numpy as np

from paiid.ml.patterns.baseline import MATCH_WINDOW, matched_draws, matched_random_rate
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import first_hits
from paiid.ml.patterns.swings import causal_atr


def _step_series(n: int = 1200, step: int = 600, lo_vol: float = 0.5, hi_vol: float = 2.0, seed: int = 3):
    """A random walk around 1000 whose daily range and moves are 4x larger from bar `step` on."""
    rng = np.random.default_rng(seed)
    sig = np.where(np.arange(n) < step, lo_vol, hi_vol)
    close = 1000.0 + np.cumsum(rng.normal(0.0, sig))
    high = close + sig * np.abs(rng.normal(1.0, 0.2, n))
    low = close - sig * np.abs(rng.normal(1.0, 0.2, n))
    return high, low, close


def test_distances_scale_with_the_volatility_at_each_entry() -> None:
    high, low, close = _step_series()
    atr = causal_atr(high, low, close)
    c = 600  # the detection sits at the step; its random entries fall on both sides of it
    a = atr[c]
    det = Detection("double_bottom", "chart", 1, c - 30, c, float(close[c]), float(close[c] + 3 * a),
                    float(close[c] - 1.5 * a))
    md = matched_draws(close, atr, [det], draws=400, seed=0)
    assert len(md.entry) == 400
    assert (np.abs(md.entry - c) <= MATCH_WINDOW).all()
    assert (md.direction == 1).all() and (md.horizon == 60).all()
    up, down = md.target - close[md.entry], close[md.entry] - md.stop
    assert np.allclose(up / atr[md.entry], 3.0) and np.allclose(down / atr[md.entry], 1.5)
    calm, wild = md.entry < c - 30, md.entry > c + 30  # ATR has settled on either side of the step
    assert calm.sum() > 50 and wild.sum() > 50
    ratio = np.median(up[wild]) / np.median(up[calm])
    assert 3.0 < ratio < 5.0, ratio  # the volatility quadrupled; percentage distances would not move


def test_short_detections_get_short_trades_and_neutral_ones_none() -> None:
    high, low, close = _step_series()
    atr = causal_atr(high, low, close)
    c = 300
    short = Detection("double_top", "chart", -1, c - 20, c, float(close[c]), float(close[c] - 2 * atr[c]),
                      float(close[c] + atr[c]))
    doji = Detection("candle_doji", "candle", 0, c, c, float(close[c]), None, None)
    md = matched_draws(close, atr, [doji, short], draws=50, seed=1)
    assert (md.owner == 1).all() and (md.direction == -1).all()
    assert (md.target < close[md.entry]).all() and (md.stop > close[md.entry]).all()
    rates = matched_random_rate(high, low, close, atr, [doji, short], draws=50, seed=1)
    assert np.isnan(rates[0]) and 0.0 <= rates[1] <= 1.0


def test_unresolved_random_trades_are_dropped_not_counted_as_failures() -> None:
    close = np.linspace(100.0, 300.0, 500)  # a steady uptrend: every resolved long trade reaches its target
    high, low = close + 0.05, close - 0.05
    atr = causal_atr(high, low, close)
    c = len(close) - 5  # most random entries are after the last bar's horizon starts: unresolved
    # a target ten ATRs away takes the trend about a dozen bars to reach
    det = Detection("x", "chart", 1, c - 10, c, float(close[c]), float(close[c] + 10 * atr[c]),
                    float(close[c] - 2 * atr[c]))
    md = matched_draws(close, atr, [det], draws=200, seed=2)
    s, _ = first_hits(high, low, md.entry, md.target, md.stop, md.direction, md.horizon)
    assert np.isnan(s).sum() >= 5 and np.nanmin(s) == 1.0  # a few draws too close to the end to resolve
    rate = matched_random_rate(high, low, close, atr, [det], draws=200, seed=2)
    assert rate[0] == 1.0

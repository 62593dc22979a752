"""The matched random-entry baseline: what a trade with the pattern's plan, but no pattern, would have done.

Why this is the fair baseline. A success rate ("target before stop within N bars") depends heavily on
things that have nothing to do with the pattern: how far the target and stop are in units of the market's
current noise, the side (longs in a bull market), and the period (trends differ by decade). The older
baseline (`outcomes.random_entry_rate`) keeps the side and horizon but scales target and stop as a
*percentage* of price and draws entries from the *whole* history. A 3% target is two days of noise in
2008 and two months in 2017, so that baseline measures mostly which years the detections happened in,
and the SPX candlestick "edge" it suggested reverses once both are matched.

This baseline matches all three:
- distances: the pattern's target and stop in ATRs at its confirmation bar (`swings.causal_atr`, only
  past bars) are re-applied with the ATR at the random entry, so the random trade asks the same number of
  "noise units" of the market at its own moment;
- time: entries are drawn uniformly within `MATCH_WINDOW` bars on either side of the detection, so the
  random trades live in the same regime and trend;
- side and horizon: the pattern's own.
Random trades whose outcome is not resolved within the loaded bars are dropped, never counted as
failures, exactly as unresolved detections are (so a baseline computed under `as_of(B)` only uses
outcomes known at B). The edge of a pattern is its rate minus this baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import HORIZON, first_hits

#: Random entries are drawn within this many bars before or after the detection (half a year of days).
MATCH_WINDOW = 126


@dataclass
class MatchedDraws:
    """The random trades of the matched baseline, one row a draw (`owner`: index of its detection)."""

    owner: np.ndarray
    entry: np.ndarray
    target: np.ndarray
    stop: np.ndarray
    direction: np.ndarray
    horizon: np.ndarray


def matched_draws(
    close: np.ndarray, atr: np.ndarray, dets: Sequence[Detection], *, draws: int = 20, seed: int = 0,
    window: int = MATCH_WINDOW,
) -> MatchedDraws:
    """`draws` random trades per directional detection, matched in time, side, horizon and ATR distance."""
    rng = np.random.default_rng(seed)
    n = len(close)
    idx = np.array([i for i, d in enumerate(dets) if d.direction != 0], dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if len(idx) == 0 or n < 2:
        return MatchedDraws(empty, empty, np.zeros(0), np.zeros(0), empty, empty)
    sel = [dets[i] for i in idx]
    conf = np.array([d.confirm for d in sel], dtype=np.int64)
    a0 = atr[conf]
    k_target = np.array([abs(d.target - d.entry) for d in sel]) / a0
    k_stop = np.array([abs(d.entry - d.stop) for d in sel]) / a0
    lo = np.maximum(conf - window, 0)
    hi = np.minimum(conf + window, n - 1)
    e = (lo[:, None] + np.floor(rng.random((len(sel), draws)) * (hi - lo + 1)[:, None])).astype(np.int64)
    e = e.ravel()
    d = np.repeat(np.array([x.direction for x in sel], dtype=np.int64), draws)
    px, ae = close[e], atr[e]
    return MatchedDraws(
        owner=np.repeat(idx, draws), entry=e,
        target=px + d * np.repeat(k_target, draws) * ae, stop=px - d * np.repeat(k_stop, draws) * ae,
        direction=d, horizon=np.repeat(np.array([HORIZON[x.kind] for x in sel], dtype=np.int64), draws),
    )


def matched_random_rate(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, dets: Sequence[Detection],
    *, draws: int = 20, seed: int = 0, window: int = MATCH_WINDOW,
) -> np.ndarray:
    """Per detection, the success rate of its resolved matched random trades (NaN: neutral, none resolved)."""
    out = np.full(len(dets), np.nan)
    md = matched_draws(close, atr, dets, draws=draws, seed=seed, window=window)
    if len(md.entry) == 0:
        return out
    s, _ = first_hits(high, low, md.entry, md.target, md.stop, md.direction, md.horizon)
    ok = ~np.isnan(s)
    hits = np.bincount(md.owner[ok], weights=s[ok], minlength=len(dets))
    cnt = np.bincount(md.owner[ok], minlength=len(dets))
    has = cnt > 0
    out[has] = hits[has] / cnt[has]
    return out

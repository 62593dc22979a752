"""Outcomes of detections: did price reach the target before the stop within N bars after confirmation?

The trade starts at the close of the confirmation bar; bars t+1 .. t+N are checked in order with their
highs and lows. If one bar touches both the target and the stop we cannot know which came first and
count it as a stop (the pessimistic reading). Neither within N bars is a failure. A detection whose N
bars are not all in the data yet and that has hit neither is *unresolved* (NaN): it is left out of
every rate, not counted as a failure.

The baseline for every success rate is a random entry with the same relative target and stop
distances and the same horizon: if a pattern's 60% beats random entries' 58%, the pattern adds 2 points,
not 60.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paiid.ml.patterns.detection import Detection

#: Bars after confirmation within which the target must be reached.
HORIZON = {"chart": 60, "candle": 20}


def first_hits(
    high: np.ndarray, low: np.ndarray, entry_idx: np.ndarray, target: np.ndarray, stop: np.ndarray,
    direction: np.ndarray, horizon: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised outcomes for many trades at once.

    Returns (success, resolved_at): success is 1.0 / 0.0 / NaN (unresolved), resolved_at the bar at
    which the outcome became known (the hit bar, the horizon's last bar, or -1 when unresolved). The
    latter is what walk-forward purging needs as each label's end.
    """
    n = len(high)
    m = len(entry_idx)
    hz = np.broadcast_to(np.asarray(horizon, dtype=np.int64), (m,))
    success = np.full(m, np.nan)
    resolved = np.full(m, -1, dtype=np.int64)
    open_ = np.ones(m, dtype=bool)
    d = direction.astype(np.float64)
    for k in range(1, int(hz.max(initial=0)) + 1):
        t = entry_idx + k
        live = open_ & (t < n) & (k <= hz)
        if not live.any():
            break
        tl = t[live]
        hi, lo = high[tl], low[tl]
        dl = d[live]
        hit_target = np.where(dl > 0, hi >= target[live], lo <= target[live])
        hit_stop = np.where(dl > 0, lo <= stop[live], hi >= stop[live])
        done = hit_target | hit_stop
        idx = np.flatnonzero(live)[done]
        success[idx] = np.where(hit_stop[done], 0.0, 1.0)
        resolved[idx] = tl[done]
        open_[idx] = False
    # Still open: a failure if the whole horizon was seen, otherwise unresolved.
    expired = open_ & (entry_idx + hz < n)
    success[expired] = 0.0
    resolved[expired] = (entry_idx + hz)[expired]
    return success, resolved


def detection_outcomes(
    high: np.ndarray, low: np.ndarray, dets: Sequence[Detection],
) -> tuple[np.ndarray, np.ndarray]:
    """`first_hits` for a list of detections; neutral ones (no trade) are NaN / -1."""
    m = len(dets)
    success = np.full(m, np.nan)
    resolved = np.full(m, -1, dtype=np.int64)
    idx = np.array([i for i, d in enumerate(dets) if d.direction != 0], dtype=np.int64)
    if len(idx) == 0:
        return success, resolved
    sel = [dets[i] for i in idx]
    s, r = first_hits(
        high, low,
        np.array([d.confirm for d in sel], dtype=np.int64),
        np.array([d.target for d in sel], dtype=np.float64),
        np.array([d.stop for d in sel], dtype=np.float64),
        np.array([d.direction for d in sel], dtype=np.int64),
        np.array([HORIZON[d.kind] for d in sel], dtype=np.int64),
    )
    success[idx] = s
    resolved[idx] = r
    return success, resolved


def random_entry_rate(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, dets: Sequence[Detection],
    *, draws: int = 20, seed: int = 0,
) -> np.ndarray:
    """Per detection, the success rate of `draws` random entries with its direction, relative
    target/stop distances and horizon (NaN for neutral detections)."""
    rng = np.random.default_rng(seed)
    n = len(close)
    out = np.full(len(dets), np.nan)
    idx = [i for i, d in enumerate(dets) if d.direction != 0]
    if not idx or n < 3:
        return out
    sel = [dets[i] for i in idx]
    tgt_rel = np.array([(d.target - d.entry) / d.entry for d in sel])
    stp_rel = np.array([(d.stop - d.entry) / d.entry for d in sel])
    direction = np.array([d.direction for d in sel], dtype=np.int64)
    hz = np.array([HORIZON[d.kind] for d in sel], dtype=np.int64)
    m = len(sel)
    entries = rng.integers(0, n - 1, size=(m, draws))
    e = entries.ravel()
    px = close[e]
    s, _ = first_hits(
        high, low, e, px * (1 + np.repeat(tgt_rel, draws)), px * (1 + np.repeat(stp_rel, draws)),
        np.repeat(direction, draws), np.repeat(hz, draws),
    )
    s = s.reshape(m, draws)
    ok = ~np.isnan(s)
    cnt = ok.sum(axis=1)
    rates = np.where(cnt > 0, np.where(ok, s, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    out[idx] = rates
    return out


"""Target-before-stop labels on hand-made paths, and the random-entry baseline."""

from __future__ import annotations

import numpy as np

from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.outcomes import first_hits, random_entry_rate


def _hits(high, low, target, stop, direction=1, horizon=5, entry=0):
    s, r = first_hits(np.asarray(high, float), np.asarray(low, float), np.array([entry]), np.array([target]),
                      np.array([stop]), np.array([direction]), horizon)
    return s[0], r[0]


def test_target_first_is_a_success_resolved_at_the_hit_bar() -> None:
    s, r = _hits([10, 10.5, 11, 12.5, 9, 9, 9], [10, 9.6, 10, 11, 8, 8, 8], target=12, stop=9)
    assert (s, r) == (1.0, 3)


def test_stop_first_is_a_failure() -> None:
    s, r = _hits([10, 10.5, 10, 13, 13, 13, 13], [10, 9.6, 8.9, 12, 12, 12, 12], target=12, stop=9)
    assert (s, r) == (0.0, 2)


def test_a_bar_touching_both_counts_as_the_stop() -> None:
    s, _ = _hits([10, 12.5, 10, 10, 10, 10, 10], [10, 8.5, 10, 10, 10, 10, 10], target=12, stop=9)
    assert s == 0.0


def test_short_trades_mirror_long_ones() -> None:
    s, r = _hits([10, 10.2, 9.5, 9.0, 9, 9, 9], [10, 9.5, 8.5, 7.9, 9, 9, 9], target=8, stop=11, direction=-1)
    assert (s, r) == (1.0, 3)


def test_nothing_within_the_horizon_is_a_failure_and_too_little_data_is_unresolved() -> None:
    flat = [10.0] * 8
    s, r = _hits(flat, flat, target=12, stop=9, horizon=5)
    assert (s, r) == (0.0, 5)
    s, r = _hits(flat[:4], flat[:4], target=12, stop=9, horizon=5)
    assert np.isnan(s) and r == -1


def test_random_entries_on_a_steady_uptrend_always_reach_a_long_target() -> None:
    close = np.linspace(100, 200, 400)
    high, low = close + 0.01, close - 0.01
    px = float(close[10])
    det = Detection("x", "chart", 1, 0, 10, px, px * 1.02, px * 0.98)
    short = Detection("y", "chart", -1, 0, 10, px, px * 0.98, px * 1.02)
    rates = random_entry_rate(high, low, close, [det, short], draws=50, seed=1)
    assert rates[0] == 1.0 and rates[1] == 0.0

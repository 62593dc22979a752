"""Zigzag swing points: right pivots, the bar each became known, and nothing known early."""

from __future__ import annotations

import numpy as np

from paiid.data import load_bars
from paiid.ml.patterns.swings import causal_atr, zigzag


def _path(points: list[tuple[int, float]]) -> np.ndarray:
    xs, ys = zip(*points, strict=True)
    return np.interp(np.arange(xs[-1] + 1), xs, ys)


def test_pivots_and_their_confirmation_bars_on_a_clean_zigzag() -> None:
    close = _path([(0, 100), (10, 110), (20, 100), (30, 112), (40, 95)])
    atr = np.full(len(close), 1.0)
    pv = zigzag(close, close, atr, k=3.0)
    assert [(p.index, p.kind) for p in pv] == [(0, -1), (10, 1), (20, -1), (30, 1)]
    # Each pivot becomes known only once price has moved k * ATR = 3 away from it: at 1 point a bar
    # that is 3 bars later, at 1.2 (100 -> 112) 3 bars, at 1.7 (112 -> 95) 2 bars.
    assert [p.confirmed for p in pv] == [3, 13, 23, 32]
    assert [p.price for p in pv] == [100.0, 110.0, 100.0, 112.0]


def test_small_moves_below_the_threshold_make_no_pivot() -> None:
    close = _path([(0, 100), (5, 102), (10, 100.5), (20, 110)])
    pv = zigzag(close, close, np.full(len(close), 1.0), k=3.0)
    assert [(p.index, p.kind) for p in pv] == [(0, -1)]


def test_pivots_alternate_and_are_confirmed_after_they_happen_on_spx() -> None:
    bars = load_bars("SPX")
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    pv = zigzag(h, lo, causal_atr(h, lo, c))
    assert len(pv) > 100
    kinds = np.array([p.kind for p in pv])
    assert np.all(kinds[1:] == -kinds[:-1])
    assert all(p.confirmed > p.index for p in pv)
    assert all(a.confirmed <= b.confirmed and a.index < b.index for a, b in zip(pv, pv[1:], strict=False))
    for p in pv:  # a swing high is the highest high between its neighbours
        assert p.price == (h[p.index] if p.kind > 0 else lo[p.index])


def test_zigzag_on_a_prefix_equals_the_pivots_confirmed_by_then() -> None:
    bars = load_bars("GOOG")
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    full = zigzag(h, lo, causal_atr(h, lo, c))
    for cut in (300, 901, 1500, len(c) - 7):
        part = zigzag(h[:cut], lo[:cut], causal_atr(h[:cut], lo[:cut], c[:cut]))
        assert part == [p for p in full if p.confirmed < cut]

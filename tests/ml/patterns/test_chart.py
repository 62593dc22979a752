"""Chart-pattern detectors: a hand-drawn double top, and no lookahead on real history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.ml.patterns.chart import CHART_TYPES, scan_chart
from paiid.ml.patterns.scan import scan


def _bars(points: list[tuple[int, float]], half_range: float = 0.5) -> pd.DataFrame:
    xs, ys = zip(*points, strict=True)
    close = np.interp(np.arange(xs[-1] + 1), xs, ys)
    idx = pd.bdate_range("2010-01-04", periods=len(close), name="date")
    return pd.DataFrame({"open": close, "high": close + half_range, "low": close - half_range, "close": close,
                         "volume": 1e6}, index=idx)


def test_a_drawn_double_top_is_found_with_its_neckline_target_and_stop() -> None:
    bars = _bars([(0, 95), (15, 85), (35, 115), (50, 100), (65, 115.5), (90, 80), (110, 82)])
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    dets = scan_chart(h, lo, c)
    tops = [d for d in dets if d.type == "double_top"]
    assert len(tops) == 1, [(d.type, d.start, d.confirm) for d in dets]
    d = tops[0]
    neck = 100 - 0.5  # the low of the trough between the tops
    height = (115.5 + 116.0) / 2 - neck
    expected_confirm = 65 + int(np.argmax(c[65:] < neck))  # first close below the neckline
    assert d.direction == -1 and d.signal == "bearish"
    assert d.start == 35 and d.confirm == expected_confirm
    assert d.levels["neckline"] == pytest.approx(neck)
    assert d.target == pytest.approx(neck - height)
    assert d.stop == pytest.approx(116.0)
    assert d.entry == pytest.approx(c[expected_confirm])
    assert not [x for x in dets if x.direction > 0]  # nothing bullish on a falling breakout


def test_no_double_top_without_a_trend_into_it_or_with_unequal_tops() -> None:
    flat_in = _bars([(0, 100), (15, 98), (35, 115), (50, 100), (65, 115.5), (90, 80)])
    unequal = _bars([(0, 95), (15, 85), (35, 115), (50, 100), (65, 111), (90, 80)])
    for bars in (flat_in, unequal):
        h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
        assert not [d for d in scan_chart(h, lo, c) if d.type == "double_top"]


def _key(d) -> tuple:
    return (d.type, d.kind, d.direction, d.start, d.confirm, round(d.entry, 9),
            None if d.target is None else round(d.target, 9), None if d.stop is None else round(d.stop, 9),
            tuple(sorted((k, round(v, 9)) for k, v in d.levels.items())), tuple(d.points))


@pytest.mark.parametrize("symbol", ["SPX", "GOOG"])
def test_detections_on_data_cut_at_a_date_equal_the_full_scan_up_to_that_date(symbol: str) -> None:
    """No lookahead: everything reported at bar t is computable from bars 0..t."""
    bars = load_bars(symbol)
    full = scan(bars).detections
    chart = [d for d in full if d.kind == "chart"]
    assert len(chart) >= 5
    n = len(bars)
    # Cuts everywhere, and right at / just before chart confirmations (where a leak would show first).
    cuts = set(np.linspace(150, n - 1, 6).astype(int).tolist())
    for d in chart[:: max(1, len(chart) // 6)]:
        cuts |= {d.confirm, d.confirm + 1}
    for cut in sorted(cuts):
        part = scan(bars.iloc[:cut]).detections
        expected = [d for d in full if d.confirm < cut]
        assert [_key(d) for d in part] == [_key(d) for d in expected], f"{symbol} cut {bars.index[cut - 1]}"


def test_every_detection_is_consistent() -> None:
    bars = load_bars("SPX")
    dets = scan(bars).detections
    found_types = {d.type for d in dets if d.kind == "chart"}
    assert found_types <= set(CHART_TYPES) and len(found_types) >= 5
    c = bars["close"].to_numpy()
    for d in dets:
        assert 0 <= d.start <= d.confirm < len(bars)
        assert d.entry == c[d.confirm]
        if d.direction:
            # target on the profit side of the entry, stop on the loss side
            assert d.direction * (d.target - d.entry) > 0 and d.direction * (d.entry - d.stop) > 0
        if d.kind == "chart":
            assert all(d.start <= i <= d.confirm for i, _ in d.points[1:])


@pytest.mark.slow
def test_chart_scan_cut_at_every_bar_of_goog_equals_the_full_scan_up_to_it() -> None:
    """The strict version: a detection that would need the next bar to exist shows up at some cut."""
    bars = load_bars("GOOG")
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    full = scan_chart(h, lo, c)
    for cut in range(150, len(c) + 1):
        part = scan_chart(h[:cut], lo[:cut], c[:cut])
        assert [_key(d) for d in part] == [_key(d) for d in full if d.confirm < cut], bars.index[cut - 1]

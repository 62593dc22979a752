"""Reversal patterns: double top / bottom and (inverse) head and shoulders.

Both end a trend, so both need price to have come in from beyond the pattern (the pivot before it,
`trend_frac` of the height away); without a trend there is nothing to reverse. The breakout line is the
neckline, the target the pattern's height beyond it, the stop the extreme it turned from (the higher of a
double top's peaks, the right shoulder of a head and shoulders; mirrored for bottoms).
"""

from __future__ import annotations

from paiid.ml.patterns.candidate import (
    Candidate,
    ChartParams,
    at,
    equal_tolerance,
    flat_line,
    pivot_points,
    straight_line,
)
from paiid.ml.patterns.swings import Pivot


def double_top_bottom(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[Candidate]:
    """Two equal peaks (or troughs) around a neckline swing, ending at pivot `j`."""
    if j < 3:
        return []
    p2, p1, p0, pm = pv[j - 2], pv[j - 1], pv[j], pv[j - 3]
    s = p0.kind  # +1: tops (double top), -1: bottoms (double bottom)
    height = s * ((p2.price + p0.price) / 2 - p1.price)
    width = p0.index - p2.index
    if height < prm.min_height_atr * atr or not prm.min_width <= width <= prm.max_width:
        return []
    if abs(p2.price - p0.price) > equal_tolerance(height, atr, prm):
        return []
    if s * (p1.price - pm.price) < prm.trend_frac * height:  # no trend into the reversal
        return []
    neck = p1.price
    extreme = max(p0.price, p2.price) if s > 0 else min(p0.price, p2.price)
    return [Candidate(
        type="double_top" if s > 0 else "double_bottom", direction=-s, start=p2.index,
        level=flat_line(neck), invalid=flat_line(extreme), height=height, stop_fn=lambda b: extreme,
        points=pivot_points(pm, p2, p1, p0), levels={"neckline": neck, "extreme": extreme},
        asymmetry=abs(p2.price - p0.price) / height, width=width,
    )]


def head_and_shoulders(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[Candidate]:
    """Shoulder, head beyond it, shoulder again around a (possibly sloped) neckline; ends at pivot `j`."""
    if j < 5:
        return []
    pm, s1, n1, hd, n2, s2 = pv[j - 5], pv[j - 4], pv[j - 3], pv[j - 2], pv[j - 1], pv[j]
    s = s2.kind  # +1: head and shoulders (tops), -1: inverse
    neck = straight_line(n1.index, n1.price, n2.index, n2.price)
    head_h = s * (hd.price - at(neck, hd.index))
    sh1 = s * (s1.price - at(neck, s1.index))
    sh2 = s * (s2.price - at(neck, s2.index))
    width = s2.index - s1.index
    if head_h < prm.min_height_atr * atr or not prm.min_width <= width <= prm.max_width * 1.5:
        return []
    tol = equal_tolerance(head_h, atr, prm)
    if min(sh1, sh2) < 0.25 * head_h or head_h - max(sh1, sh2) < max(0.15 * head_h, tol):
        return []  # shoulders must be real and the head clearly beyond both
    if abs(sh1 - sh2) > 0.35 * head_h or abs(n2.price - n1.price) > 0.4 * head_h:
        return []
    left, right = hd.index - s1.index, s2.index - hd.index
    if not 1 / 3 <= left / max(right, 1) <= 3:
        return []
    inner = min(n1.price, n2.price) if s > 0 else max(n1.price, n2.price)
    if s * (inner - pm.price) < prm.trend_frac * head_h:
        return []  # price did not come in from beyond the neckline (no prior trend to reverse)
    shoulder = s2.price
    return [Candidate(
        type="head_and_shoulders" if s > 0 else "inverse_head_and_shoulders", direction=-s, start=s1.index,
        level=neck, invalid=flat_line(shoulder), height=head_h, stop_fn=lambda b: shoulder,
        points=pivot_points(pm, s1, n1, hd, n2, s2),
        levels={"neckline_start": n1.price, "neckline_end": n2.price, "head": hd.price,
                "right_shoulder": shoulder},
        asymmetry=abs(sh1 - sh2) / head_h, width=width,
    )]

"""Consolidation patterns: price ranges between two lines, then breaks out of them.

- Triangles: the sides converge. Ascending (flat top, rising lows) breaks up, descending (flat bottom,
  falling highs) breaks down, symmetric (both sides moving) either way. The target is the triangle's
  opening height beyond the breakout, the stop the opposite side at the breakout bar.
- Support / resistance breaks: one flat level tested at least `min_touches` times, then broken. The
  target is the range's height beyond the level, the stop the last swing on the other side.
"""

from __future__ import annotations

import numpy as np

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

#: A sloped side must carry at least this share of the other side's move for a triangle to be symmetric;
#: below it the side counts as flat (ascending / descending).
SIDE_SHARE = 0.3


def triangles(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[Candidate]:
    """A triangle on the five pivots ending at `j`; a symmetric one proposes both breakout directions."""
    if j < 4:
        return []
    five = pv[j - 4: j + 1]
    highs = [p for p in five if p.kind > 0]
    lows = [p for p in five if p.kind < 0]
    width = five[-1].index - five[0].index
    height = max(p.price for p in highs[:2]) - min(p.price for p in lows[:2])
    if height < prm.min_height_atr * atr or not prm.min_width <= width <= prm.max_width:
        return []
    legs = np.diff([p.index for p in five])
    if legs.max() > prm.leg_ratio * max(legs.min(), 1):
        return []  # swings of wildly different lengths are noise, not a coiling market
    tol = equal_tolerance(height, atr, prm)
    step = 2 * prm.slope_frac * height  # total rise / fall of a sloped side

    flat_tol = 1.5 * tol  # touches of a real triangle are rough; allow a little more than "equal"

    def side(ps: list[Pivot]) -> tuple[float, float] | None:
        """Net change along a side (last touch - first) and the worst residual off its line, if the
        touches line up and move monotonically (or stay within the flat band)."""
        prices = [p.price for p in ps]
        line = straight_line(ps[0].index, ps[0].price, ps[-1].index, ps[-1].price)
        resid = max((abs(p.price - at(line, p.index)) for p in ps[1:-1]), default=0.0)
        if resid > flat_tol:
            return None
        diffs = np.diff(prices)
        if max(prices) - min(prices) > flat_tol and not (np.all(diffs > 0) or np.all(diffs < 0)):
            return None
        return prices[-1] - prices[0], resid

    up_side, lo_side = side(highs), side(lows)
    if up_side is None or lo_side is None:
        return []
    du, dl = up_side[0], lo_side[0]
    # Classify by how the two sides share the narrowing: one side (nearly) flat -> ascending /
    # descending; both moving, neither less than `SIDE_SHARE` of the other -> symmetric.
    if dl - du < step:
        return []
    if dl > 0 and -SIDE_SHARE * dl <= du <= flat_tol:
        name = "ascending_triangle"
    elif du < 0 and -flat_tol <= dl <= -SIDE_SHARE * du:
        name = "descending_triangle"
    elif du < 0 < dl:
        name = "symmetric_triangle"
    else:
        return []
    upper = straight_line(highs[0].index, highs[0].price, highs[-1].index, highs[-1].price)
    lower = straight_line(lows[0].index, lows[0].price, lows[-1].index, lows[-1].price)
    su = (highs[-1].price - highs[0].price) / max(highs[-1].index - highs[0].index, 1)
    sl = (lows[-1].price - lows[0].price) / max(lows[-1].index - lows[0].index, 1)
    if sl - su <= 0:
        return []  # not converging: a channel or a broadening formation, not a triangle
    # The lines meet at the apex; a breakout only counts from where the triangle has narrowed to
    # `converge` of its opening width (earlier moves are swings inside it), and before the apex.
    i0 = five[0].index
    gap0 = at(upper, i0) - at(lower, i0)
    apex = i0 + int(gap0 / (sl - su))
    ready = i0 + int((1 - prm.converge) * gap0 / (sl - su))
    asym = (up_side[1] + lo_side[1]) / height
    pts = pivot_points(*five)
    levels = {"upper_start": highs[0].price, "upper_end": highs[-1].price,
              "lower_start": lows[0].price, "lower_end": lows[-1].price}
    out = []
    if name in ("ascending_triangle", "symmetric_triangle"):
        res = flat_line(max(p.price for p in highs)) if name == "ascending_triangle" else upper
        out.append(Candidate(name, 1, five[0].index, res, lower, height,
                             lambda b: at(lower, b), pts, levels, asym, width, apex, ready))
    if name in ("descending_triangle", "symmetric_triangle"):
        sup = flat_line(min(p.price for p in lows)) if name == "descending_triangle" else lower
        out.append(Candidate(name, -1, five[0].index, sup, upper, height,
                             lambda b: at(upper, b), pts, levels, asym, width, apex, ready))
    return out


def support_resistance(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[Candidate]:
    """The firmest flat level that pivot `j` and the same-side pivots before it test."""
    p0 = pv[j]
    s = p0.kind  # +1: resistance (tested highs), -1: support (tested lows)
    touches = [p0]
    i = j - 2
    while i >= 0 and p0.index - pv[i].index <= prm.max_width:
        touches.append(pv[i])
        i -= 2
    if j < 1:
        return []
    # The longest run of recent touches that still forms one level wins (more touches, firmer level);
    # the height is the range between the level and the opposite swings in between.
    best: Candidate | None = None
    for n_t in range(prm.min_touches, len(touches) + 1):
        ts = touches[:n_t]
        prices = [t.price for t in ts]
        level = max(prices) if s > 0 else min(prices)
        inner = [pv[m] for m in range(j - 2 * (n_t - 1), j) if pv[m].kind != s]
        far = min(p.price for p in inner) if s > 0 else max(p.price for p in inner)
        height = s * (level - far)
        if height < prm.min_height_atr * atr:
            break
        if max(prices) - min(prices) > equal_tolerance(height, atr, prm):
            break
        width = p0.index - ts[-1].index
        if width < prm.min_width:
            continue
        last_opp = pv[j - 1].price
        best = Candidate(
            type="resistance_break" if s > 0 else "support_break", direction=s, start=ts[-1].index,
            level=flat_line(level), invalid=flat_line(far), height=height, stop_fn=lambda b, v=last_opp: v,
            points=pivot_points(*sorted(ts + inner, key=lambda p: p.index)),
            levels={"level": level, "range_far": far, "touches": float(n_t)},
            asymmetry=(max(prices) - min(prices)) / height, width=width,
        )
    return [best] if best is not None else []

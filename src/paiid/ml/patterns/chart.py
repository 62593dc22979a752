"""Chart-pattern detectors on confirmed swing points: doubles, head and shoulders, triangles, S/R breaks.

Every detector works the same way, which is what keeps it free of lookahead:

1. When a pivot is *confirmed* (bar `c`, see `swings.zigzag`), look at it and the few pivots before it.
   If their geometry fits a pattern, that is a *candidate* with a breakout line, an invalidation
   level and a measured move.
2. Walk forward from `c` over closes: the first close beyond the breakout line (before any close beyond
   the invalidation level, before the line runs out, and before a second newer pivot is confirmed)
   is the confirmation bar `b`. The detection is reported at `b` with entry = close[b].

Everything a detection holds is known at the close of `b`; a scan on bars cut at any date D returns
exactly the detections with `b <= D` (tested).

Where one breakout fits several patterns (a head-and-shoulders' last four pivots also look like a
descending triangle), the more specific one wins: a detection is dropped if a higher-ranked one in the
same direction, overlapping in time, was confirmed at most `SUPPRESS_BARS` bars *earlier or at the same
bar* (never later, which would be lookahead).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from paiid.ml.patterns.swings import DEFAULT_K, Pivot, causal_atr, zigzag

CHART_TYPES = [
    "double_top",
    "double_bottom",
    "head_and_shoulders",
    "inverse_head_and_shoulders",
    "ascending_triangle",
    "descending_triangle",
    "symmetric_triangle",
    "support_break",
    "resistance_break",
]

#: Higher wins when two detections describe the same breakout (more specific structure first).
RANK = {
    "head_and_shoulders": 4, "inverse_head_and_shoulders": 4,
    "ascending_triangle": 3, "descending_triangle": 3, "symmetric_triangle": 3,
    "double_top": 2, "double_bottom": 2,
    "support_break": 1, "resistance_break": 1,
}
SUPPRESS_BARS = 3
SIDE_SHARE = 0.3

GEOMETRY = ["height_atr", "log_width", "asymmetry", "breakout_atr", "target_atr", "stop_atr"]


@dataclass
class Detection:
    """One confirmed pattern. Bar positions are integer offsets into the scanned bars."""

    type: str
    kind: str  # "chart" or "candle"
    direction: int  # +1 bullish, -1 bearish, 0 neutral
    start: int
    confirm: int  # the breakout / confirmation bar; also the end of the pattern window
    entry: float  # close at the confirmation bar
    target: float | None
    stop: float | None
    levels: dict[str, float] = field(default_factory=dict)
    points: list[tuple[int, float]] = field(default_factory=list)
    geometry: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.confirm

    @property
    def signal(self) -> str:
        return {1: "bullish", -1: "bearish"}.get(self.direction, "neutral")


@dataclass(frozen=True)
class ChartParams:
    """Detector tolerances. Distances are in pattern heights (`*_frac`) or ATRs (`*_atr`)."""

    ks: tuple[float, ...] = (DEFAULT_K, 4.0)  # zigzag reversal thresholds in ATRs, one pivot set per scale
    eq_frac: float = 0.10  # "equal" prices (double tops, flat triangle sides, S/R touches): within this share
    eq_atr: float = 0.5  # ... of the height, or this many ATRs, whichever is larger
    slope_frac: float = 0.15  # triangles narrow by at least 2x this share of their height
    min_height_atr: float = 4.0
    min_height_k: float = 1.6  # ... and at least this many zigzag thresholds
    trend_frac: float = 0.3  # reversal patterns need price to have come in from this share of height beyond
    min_width: int = 8
    max_width: int = 160
    max_wait: int = 40  # bars after the last pivot's confirmation within which the breakout must come
    leg_ratio: float = 3.0  # a triangle's longest swing lasts at most this many times its shortest
    converge: float = 0.6  # a triangle breakout counts once its width is at most this share of the opening
    min_touches: int = 3  # support / resistance level tested at least this many times


@dataclass
class _Candidate:
    type: str
    direction: int
    start: int
    level: Callable[[np.ndarray], np.ndarray]  # breakout line as a function of bar positions
    invalid: Callable[[np.ndarray], np.ndarray]  # close beyond this (against direction) cancels
    height: float
    stop_fn: Callable[[int], float]
    points: list[tuple[int, float]]
    levels: dict[str, float]
    asymmetry: float
    width: int
    apex: int | None = None
    ready: int = 0  # no breakout before this bar


def _flat(value: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.full(len(t), value)


def _line(i0: int, p0: float, i1: int, p1: float) -> Callable[[np.ndarray], np.ndarray]:
    slope = (p1 - p0) / (i1 - i0) if i1 != i0 else 0.0
    return lambda t: p0 + slope * (np.asarray(t, dtype=np.float64) - i0)


def _pts(*ps: Pivot) -> list[tuple[int, float]]:
    return [(p.index, p.price) for p in ps]


def _tol(height: float, atr: float, prm: ChartParams) -> float:
    return max(prm.eq_frac * height, prm.eq_atr * atr)


def _doubles(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[_Candidate]:
    if j < 3:
        return []
    p2, p1, p0, pm = pv[j - 2], pv[j - 1], pv[j], pv[j - 3]
    s = p0.kind  # +1: tops (double top), -1: bottoms (double bottom)
    height = s * ((p2.price + p0.price) / 2 - p1.price)
    width = p0.index - p2.index
    if height < prm.min_height_atr * atr or not prm.min_width <= width <= prm.max_width:
        return []
    if abs(p2.price - p0.price) > _tol(height, atr, prm):
        return []
    if s * (p1.price - pm.price) < prm.trend_frac * height:  # no trend into the reversal
        return []
    neck = p1.price
    extreme = max(p0.price, p2.price) if s > 0 else min(p0.price, p2.price)
    return [_Candidate(
        type="double_top" if s > 0 else "double_bottom", direction=-s, start=p2.index,
        level=_flat(neck), invalid=_flat(extreme), height=height, stop_fn=lambda b: extreme,
        points=_pts(pm, p2, p1, p0), levels={"neckline": neck, "extreme": extreme},
        asymmetry=abs(p2.price - p0.price) / height, width=width,
    )]


def _head_shoulders(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[_Candidate]:
    if j < 5:
        return []
    pm, s1, n1, hd, n2, s2 = pv[j - 5], pv[j - 4], pv[j - 3], pv[j - 2], pv[j - 1], pv[j]
    s = s2.kind  # +1: head and shoulders (tops), -1: inverse
    neck = _line(n1.index, n1.price, n2.index, n2.price)
    head_h = s * (hd.price - float(neck(np.array([hd.index]))[0]))
    sh1 = s * (s1.price - float(neck(np.array([s1.index]))[0]))
    sh2 = s * (s2.price - float(neck(np.array([s2.index]))[0]))
    width = s2.index - s1.index
    if head_h < prm.min_height_atr * atr or not prm.min_width <= width <= prm.max_width * 1.5:
        return []
    tol = _tol(head_h, atr, prm)
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
    return [_Candidate(
        type="head_and_shoulders" if s > 0 else "inverse_head_and_shoulders", direction=-s, start=s1.index,
        level=neck, invalid=_flat(shoulder), height=head_h, stop_fn=lambda b: shoulder,
        points=_pts(pm, s1, n1, hd, n2, s2),
        levels={"neckline_start": n1.price, "neckline_end": n2.price, "head": hd.price,
                "right_shoulder": shoulder},
        asymmetry=abs(sh1 - sh2) / head_h, width=width,
    )]


def _triangles(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[_Candidate]:
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
    tol = _tol(height, atr, prm)
    step = 2 * prm.slope_frac * height  # total rise / fall of a sloped side

    flat_tol = 1.5 * tol  # touches of a real triangle are rough; allow a little more than "equal"

    def side(ps: list[Pivot]) -> tuple[float, float] | None:
        """Net change along a side (last touch - first) and the worst residual off its line, if the
        touches line up and move monotonically (or stay within the flat band)."""
        prices = [p.price for p in ps]
        line = _line(ps[0].index, ps[0].price, ps[-1].index, ps[-1].price)
        resid = max((abs(p.price - float(line(np.array([p.index]))[0])) for p in ps[1:-1]), default=0.0)
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
    upper = _line(highs[0].index, highs[0].price, highs[-1].index, highs[-1].price)
    lower = _line(lows[0].index, lows[0].price, lows[-1].index, lows[-1].price)
    su = (highs[-1].price - highs[0].price) / max(highs[-1].index - highs[0].index, 1)
    sl = (lows[-1].price - lows[0].price) / max(lows[-1].index - lows[0].index, 1)
    if sl - su <= 0:
        return []  # not converging: a channel or a broadening formation, not a triangle
    # The lines meet at the apex; a breakout only counts from where the triangle has narrowed to
    # `converge` of its opening width (earlier moves are swings inside it), and before the apex.
    i0 = five[0].index
    gap0 = float(upper(np.array([i0]))[0] - lower(np.array([i0]))[0])
    apex = i0 + int(gap0 / (sl - su))
    ready = i0 + int((1 - prm.converge) * gap0 / (sl - su))
    asym = (up_side[1] + lo_side[1]) / height
    pts = _pts(*five)
    levels = {"upper_start": highs[0].price, "upper_end": highs[-1].price,
              "lower_start": lows[0].price, "lower_end": lows[-1].price}
    out = []
    if name in ("ascending_triangle", "symmetric_triangle"):
        res = _flat(max(p.price for p in highs)) if name == "ascending_triangle" else upper
        out.append(_Candidate(name, 1, five[0].index, res, lower, height,
                              lambda b: float(lower(np.array([b]))[0]), pts, levels, asym, width,
                              apex, ready))
    if name in ("descending_triangle", "symmetric_triangle"):
        sup = _flat(min(p.price for p in lows)) if name == "descending_triangle" else lower
        out.append(_Candidate(name, -1, five[0].index, sup, upper, height,
                              lambda b: float(upper(np.array([b]))[0]), pts, levels, asym, width,
                              apex, ready))
    return out


def _support_resistance(pv: list[Pivot], j: int, atr: float, prm: ChartParams) -> list[_Candidate]:
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
    best: _Candidate | None = None
    for n_t in range(prm.min_touches, len(touches) + 1):
        ts = touches[:n_t]
        prices = [t.price for t in ts]
        level = max(prices) if s > 0 else min(prices)
        inner = [pv[m] for m in range(j - 2 * (n_t - 1), j) if pv[m].kind != s]
        far = min(p.price for p in inner) if s > 0 else max(p.price for p in inner)
        height = s * (level - far)
        if height < prm.min_height_atr * atr:
            break
        if max(prices) - min(prices) > _tol(height, atr, prm):
            break
        width = p0.index - ts[-1].index
        if width < prm.min_width:
            continue
        last_opp = pv[j - 1].price
        best = _Candidate(
            type="resistance_break" if s > 0 else "support_break", direction=s, start=ts[-1].index,
            level=_flat(level), invalid=_flat(far), height=height, stop_fn=lambda b, v=last_opp: v,
            points=_pts(*sorted(ts + inner, key=lambda p: p.index)),
            levels={"level": level, "range_far": far, "touches": float(n_t)},
            asymmetry=(max(prices) - min(prices)) / height, width=width,
        )
    return [best] if best is not None else []


DETECTORS = (_head_shoulders, _triangles, _doubles, _support_resistance)


def _confirm(cand: _Candidate, close: np.ndarray, lo: int, hi: int) -> int | None:
    """First bar in [lo, hi) whose close breaks the candidate's line, unless a close cancelled it first."""
    lo = max(lo, cand.ready)
    if hi <= lo:
        return None
    if cand.apex is not None:
        hi = min(hi, cand.apex)
        if hi <= lo:
            return None
    t = np.arange(lo, hi)
    c = close[lo:hi]
    d = cand.direction
    brk = d * (c - cand.level(t)) > 0
    bad = d * (c - cand.invalid(t)) < 0
    first_brk = int(np.argmax(brk)) if brk.any() else None
    if first_brk is None:
        return None
    if bad[:first_brk].any():
        return None
    return lo + first_brk


def scan_chart(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, params: ChartParams | None = None,
    atr: np.ndarray | None = None, pivots: list[Pivot] | None = None,
) -> list[Detection]:
    """All confirmed chart patterns in the series, ordered by confirmation bar."""
    prm = params or ChartParams()
    if atr is None:
        atr = causal_atr(high, low, close)
    found: dict[tuple[str, int, int], Detection] = {}
    ks = prm.ks if pivots is None else prm.ks[:1]
    for k in ks:
        pv = pivots if pivots is not None else zigzag(high, low, atr, k)
        # A pattern must stand out from the swings of its own scale, not just from the daily noise.
        prm_k = replace(prm, min_height_atr=max(prm.min_height_atr, prm.min_height_k * k))
        _scan_pivots(pv, close, atr, prm_k, found)
    dets = sorted(found.values(), key=lambda x: (x.confirm, -RANK[x.type], x.start))
    return _suppress(dets)


def _scan_pivots(
    pivots: list[Pivot], close: np.ndarray, atr: np.ndarray, prm: ChartParams,
    found: dict[tuple[str, int, int], Detection],
) -> None:
    n = len(close)
    for j, pj in enumerate(pivots):
        a = float(atr[pj.confirmed])
        lo = pj.confirmed
        hi = min(n, lo + prm.max_wait + 1)
        if j + 2 < len(pivots):
            hi = min(hi, pivots[j + 2].confirmed)
        for det in DETECTORS:
            for cand in det(pivots, j, a, prm):
                b = _confirm(cand, close, lo, hi)
                if b is None:
                    continue
                key = (cand.type, cand.direction, b)
                if key in found:  # the same breakout seen from a later pivot: keep the larger pattern
                    continue
                d = cand.direction
                entry = float(close[b])
                lvl = float(cand.level(np.array([b]))[0])
                target = lvl + d * cand.height
                stop = float(cand.stop_fn(b))
                if d * (target - entry) <= 0 or d * (entry - stop) <= 0:
                    continue  # already past its target, or stop on the wrong side: nothing to trade
                ab = float(atr[b])
                found[key] = Detection(
                    type=cand.type, kind="chart", direction=d, start=cand.start, confirm=b, entry=entry,
                    target=target, stop=stop, levels={**cand.levels, "breakout_level": lvl},
                    points=cand.points + [(b, entry)],
                    geometry={
                        "height_atr": cand.height / ab,
                        "log_width": math.log(max(cand.width, 1)),
                        "asymmetry": cand.asymmetry,
                        "breakout_atr": d * (entry - lvl) / ab,
                        "target_atr": abs(target - entry) / ab,
                        "stop_atr": abs(entry - stop) / ab,
                    },
                )


def _suppress(dets: list[Detection]) -> list[Detection]:
    """Drop a detection when a higher-ranked one (or the same type, seen at another scale) in the same
    direction covers it; only detections confirmed earlier or at the same bar count (no lookahead)."""
    kept: list[Detection] = []
    for d in dets:
        covered = False
        for e in reversed(kept):
            if e.confirm < d.confirm - SUPPRESS_BARS:
                break
            if ((RANK[e.type] > RANK[d.type] or e.type == d.type) and e.direction == d.direction
                    and e.start <= d.confirm and d.start <= e.confirm):
                covered = True
                break
        if not covered:
            kept.append(d)
    return kept

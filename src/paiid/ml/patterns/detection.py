"""`Detection`: one confirmed pattern, as every detector reports it (chart patterns and candles alike).

Outcomes, the scorer and the JSON answer only read this type, so they treat a head and shoulders and an
engulfing candle the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Keys of `Detection.geometry`, the pattern's own shape in ATRs at the confirmation bar; the scorer's first
#: input columns, in this order.
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

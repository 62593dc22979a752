"""`paiid patterns --plot FILE.html`: a self-contained plotly candlestick chart with the patterns drawn
(a line of closes for a close-only series, whose patterns carry no scorer confidence).

The HTML embeds plotly.js (no CDN), so it opens offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

_COLOURS = {"bullish": "#1a9850", "bearish": "#d73027", "neutral": "#7f7f7f"}


def patterns_figure(bars: pd.DataFrame, answer: dict[str, Any], *, window: int = 250) -> go.Figure:
    """Candlesticks of the last `window` bars (extended back to the oldest drawn pattern) with each
    pattern's swing points joined, its target and stop as labelled dashed lines from the pattern's
    start, and candlestick markers."""
    first = bars.index[max(0, len(bars) - window)]
    for p in answer["patterns"]:
        first = min(first, pd.Timestamp(p["start_date"]))
    view = bars.loc[first:]
    if answer.get("data") == "close-only":  # no open, high or low to draw a candle with: the closes
        fig = go.Figure(go.Scatter(x=view.index, y=view["close"], mode="lines", name="close",
                                   line={"color": "#404040", "width": 1}))
    else:
        fig = go.Figure(go.Candlestick(
            x=view.index, open=view["open"], high=view["high"], low=view["low"], close=view["close"],
            name="price",
        ))
    last = view.index[-1]
    for p in answer["patterns"]:
        colour = _COLOURS[p["signal"]]
        conf = "no scorer" if p["confidence"] is None else f"conf {p['confidence']:.2f}"
        label = f"{p['type']} ({p['signal']}, {conf})"
        # The swing points of the pattern itself (the trend-in swing before `start_date` is context only).
        pts = [pt for pt in p["points"] if pt["date"] >= p["start_date"]]
        xs = [pt["date"] for pt in pts]
        ys = [pt["price"] for pt in pts]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers" if p["kind"] == "chart" else "markers", name=label,
            line={"color": colour, "width": 2},
            marker={"size": 7 if p["kind"] == "chart" else 12, "symbol": "circle" if p["kind"] == "chart"
                    else ("triangle-up" if p["signal"] == "bullish" else "triangle-down")},
        ))
        for what, price, dash in (("target", p["target_price"], "dash"), ("stop", p["stop_loss"], "dot")):
            if price is None:
                continue
            fig.add_trace(go.Scatter(
                x=[p["start_date"], last], y=[price, price], mode="lines+text",
                text=["", f"{p['type'].removeprefix('candle_')} {what} {price:.2f}"], textposition="top left",
                name=f"{p['type']} {what} {price:.2f}", line={"color": colour, "dash": dash, "width": 1},
                showlegend=False,
            ))
    fig.update_layout(
        title=f"{answer['symbol']} patterns as of {answer['as_of'][:10]} ({answer.get('timeframe', '')})",
        xaxis_rangeslider_visible=False, template="plotly_white", height=650,
    )
    return fig


def write_plot(bars: pd.DataFrame, answer: dict[str, Any], path: str | Path) -> Path:
    """Write the chart as standalone HTML (plotly.js embedded) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    patterns_figure(bars, answer).write_html(str(out), include_plotlyjs=True, full_html=True)
    return out

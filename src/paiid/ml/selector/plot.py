"""The selector's out-of-sample equity chart: ML choice vs random vs best fixed template vs buy-and-hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_COLORS = {
    "ML choice": "#1f77b4",
    "random (mean of draws)": "#7f7f7f",
    "best fixed (hindsight)": "#2ca02c",
    "buy-and-hold": "#d62728",
}


def equity_plot(
    curves: dict[str, Any], path: str | Path, title: str = "Selector out-of-sample equity"
) -> Path:
    """Write an HTML chart of the OOS equity curves (`summarize(..., with_curves=True)["_curves"]`), one
    panel per symbol. plotly.js is inlined so the file opens offline."""
    syms = list(curves["ml"])
    fig = make_subplots(rows=len(syms), cols=1, subplot_titles=syms, vertical_spacing=0.16)
    for i, sym in enumerate(syms, start=1):
        rand = np.mean([np.cumprod(1 + d[sym]) for d in curves["random"]], axis=0)
        series = {
            "ML choice": np.cumprod(1 + curves["ml"][sym]),
            "random (mean of draws)": rand,
            "best fixed (hindsight)": np.cumprod(1 + curves["best_fixed"][sym]),
            "buy-and-hold": np.cumprod(1 + curves["buy_and_hold"][sym]),
        }
        for name, y in series.items():
            fig.add_trace(
                go.Scatter(
                    y=y, name=name, legendgroup=name, showlegend=i == 1, line={"color": _COLORS[name]}
                ),
                row=i,
                col=1,
            )
        fig.update_yaxes(title_text="equity (start 1)", row=i, col=1)
        fig.update_xaxes(title_text="out-of-sample bar", row=i, col=1)
    fig.update_layout(title=title, height=350 * len(syms), template="plotly_white")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True)
    return path

"""Interactive HTML report of one backtest: price with entries/exits, equity vs buy-and-hold, drawdown.

plotly.js is inlined into the file (`include_plotlyjs=True`) so the report opens offline, with no CDN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from paiid.backtest.engine import BacktestResult


def backtest_figure(result: BacktestResult, bars: pd.DataFrame, symbol: str):  # -> plotly Figure
    """Three stacked panels sharing the time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    eq = result.equity
    cash = float(result.settings.get("cash", eq.iloc[0]) or eq.iloc[0])
    close = bars["close"]
    bh = cash * close / close.iloc[0]
    dd = eq / np.maximum.accumulate(eq.to_numpy()) - 1.0
    tr = result.trades

    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.5, 0.3, 0.2],
        subplot_titles=(f"{symbol} close with trades", "Equity vs buy-and-hold", "Drawdown"),
    )
    fig.add_trace(go.Scatter(x=close.index, y=close, name="close", line={"color": "#555", "width": 1}),
                  row=1, col=1)
    for side, color, symbol_in, symbol_out in (("long", "#1a9850", "triangle-up", "x"),
                                                ("short", "#d73027", "triangle-down", "x")):
        t = tr[tr["side"] == side]
        if len(t):
            fig.add_trace(go.Scatter(
                x=t["entry_date"], y=t["entry_price"], mode="markers", name=f"{side} entry",
                marker={"symbol": symbol_in, "size": 9, "color": color},
                text=[f"{side} entry {p:.4g}" for p in t["entry_price"]], hoverinfo="x+text",
            ), row=1, col=1)
            fig.add_trace(go.Scatter(
                x=t["exit_date"], y=t["exit_price"], mode="markers", name=f"{side} exit",
                marker={"symbol": symbol_out, "size": 8, "color": color},
                text=[f"{side} exit {p:.4g} ({r:+.2%}, {why})"
                      for p, r, why in zip(t["exit_price"], t["return"], t["exit_reason"], strict=True)],
                hoverinfo="x+text",
            ), row=1, col=1)
    fig.add_trace(go.Scatter(x=eq.index, y=eq, name=f"strategy ({result.strategy_id})",
                             line={"color": "#2166ac"}), row=2, col=1)
    fig.add_trace(go.Scatter(x=bh.index, y=bh, name="buy and hold", line={"color": "#999", "dash": "dot"}),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=dd.index, y=dd, name="drawdown", fill="tozeroy", line={"color": "#b2182b"}),
                  row=3, col=1)
    m = result.metrics
    fig.update_layout(
        title=(f"{symbol} · {result.strategy_id} · return {m['total_return']:+.1%} "
               f"(buy & hold {m.get('buy_and_hold_return', float('nan')):+.1%}) · Sharpe {m['sharpe']:.2f} · "
               f"max DD {m['max_drawdown']:.1%} · {m['trades']} trades"),
        height=900, hovermode="x unified", template="plotly_white",
    )
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    return fig


def write_backtest_html(result: BacktestResult, bars: pd.DataFrame, symbol: str, path: str | Path) -> Path:
    """Write the report to `path` (plotly.js inlined, works offline) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    backtest_figure(result, bars, symbol).write_html(out, include_plotlyjs=True, full_html=True)
    return out

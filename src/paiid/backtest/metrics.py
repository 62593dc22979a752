"""Backtest metrics from a per-bar return series, with the definitions written down.

Definitions (r = per-bar strategy returns after costs, n = len(r), B = bars per year):
- equity e_t = prod_{i<=t} (1 + r_i) starting from 1; total_return = e_{n-1} - 1.
- years = (n - 1) / B (the bars span n - 1 intervals); cagr = (1 + total_return) ** (1 / years) - 1.
- sharpe, sortino and bars per year: see `paiid.metrics`, where every layer takes them from.
- max_drawdown = min_t (e_t / max_{i<=t} e_i - 1), a number <= 0 (e.g. -0.25 for a 25 % drawdown).
- win_rate = share of trades with pnl > 0; profit_factor = gross profit / gross loss (inf if no loss);
  avg_trade = mean trade return; all NaN (null in JSON) when there are no trades.
- exposure = share of bars with a non-zero position.
- buy_and_hold_return = close[-1] / close[0] - 1 over the same bars (the benchmark beside every result).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from paiid.metrics import bars_per_year, sharpe, sortino, volatility


def max_drawdown(equity: np.ndarray) -> float:
    """Largest peak-to-trough fall of an equity curve, as a fraction <= 0."""
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    if peak[0] > 0:  # every later peak is >= the first one, so no division by zero
        return float(min((equity / peak).min() - 1.0, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, -1.0)
    return float(min(dd.min(), 0.0))


def cagr(total_return: float, n_bars: int, bpy: float) -> float:
    years = (n_bars - 1) / bpy if bpy > 0 else 0.0
    if years <= 0:
        return 0.0
    if total_return <= -1.0:
        return -1.0
    return float((1.0 + total_return) ** (1.0 / years) - 1.0)


def trade_stats(pnl: np.ndarray, trade_returns: np.ndarray) -> dict[str, float]:
    """Win rate, profit factor and average trade return (NaN when there are no trades)."""
    n = int(pnl.size)
    if n == 0:
        return {"trades": 0, "win_rate": math.nan, "profit_factor": math.nan, "avg_trade": math.nan}
    gains = float(pnl[pnl > 0].sum())
    losses = float(-pnl[pnl < 0].sum())
    if losses > 0:
        pf = gains / losses
    else:
        pf = math.inf if gains > 0 else math.nan
    return {
        "trades": n,
        "win_rate": float((pnl > 0).sum() / n),
        "profit_factor": pf,
        "avg_trade": float(trade_returns.mean()),
    }


def compute_metrics(
    returns: np.ndarray,
    positions: np.ndarray,
    index: pd.DatetimeIndex | float | None = None,
    trades: pd.DataFrame | dict[str, np.ndarray] | None = None,
    *,
    bars_per_year_: float | None = None,
    close: np.ndarray | None = None,
    equity: np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of one backtest (see the module docstring for the definitions).

    `index` is the bars' DatetimeIndex (bars per year are estimated from it) or directly the number of
    bars per year; `trades` needs `pnl` and `return` (a DataFrame or a dict of arrays); `bars_per_year_`
    overrides both; `close` adds the buy-and-hold comparison over the same bars; `equity` (the
    account curve the returns came from, any starting value) saves recomputing it from the returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    if bars_per_year_:
        bpy = float(bars_per_year_)
    elif isinstance(index, int | float | np.integer | np.floating):
        bpy = float(index)
    else:
        bpy = bars_per_year(index)
    n = r.size
    if equity is None or len(equity) != n or n == 0:
        curve = np.empty(n + 1)
        curve[0] = 1.0
        np.cumprod(1.0 + r, out=curve[1:])
    else:
        curve = np.asarray(equity, dtype=np.float64)
        if r[0] != 0.0:  # the curve does not start flat: put its starting value in front
            start = float(equity[0]) / (1.0 + float(r[0])) if r[0] != -1.0 else 1.0
            curve = np.concatenate(([start], curve))
    total = float(curve[-1] / curve[0] - 1.0) if curve[0] > 0 else 0.0
    if trades is None:
        pnl = np.zeros(0)
        tret = np.zeros(0)
    else:
        pnl = np.asarray(trades["pnl"], dtype=np.float64)
        tret = np.asarray(trades["return"], dtype=np.float64)
    out: dict[str, Any] = {
        "total_return": total,
        "cagr": cagr(total, n, bpy),
        "sharpe": sharpe(r, bpy),
        "sortino": sortino(r, bpy),
        "max_drawdown": max_drawdown(curve),
        "volatility": volatility(r, bpy),
        **trade_stats(pnl, tret),
        "exposure": float(np.count_nonzero(positions) / n) if n else 0.0,
        "bars": n,
        "bars_per_year": bpy,
    }
    if close is not None and len(close) >= 2:
        c = np.asarray(close, dtype=np.float64)
        bh_total = float(c[-1] / c[0] - 1.0)
        out["buy_and_hold_return"] = bh_total
        out["buy_and_hold_cagr"] = cagr(bh_total, c.size, bpy)
        out["buy_and_hold_sharpe"] = sharpe(np.concatenate(([0.0], c[1:] / c[:-1] - 1.0)), bpy)
        out["buy_and_hold_max_drawdown"] = max_drawdown(c)
    return out

"""Backtests: the vectorised engine, the four strategy templates and honest metrics.

    from paiid.backtest import run_backtest, STRATEGIES, get_strategy, BacktestResult
    res = run_backtest(bars, "trend-following-ma-cross", {"fast": 10, "slow": 30})
    res.metrics, res.trades, res.equity, res.positions, res.returns
    sweep = run_sweep(bars, "trend-following-ma-cross", [{"fast": f, "slow": s} for f, s in pairs])
    # column k of the sweep is exactly run_backtest(bars, template, grid[k])

Signals decided at bar t's close are filled at bar t+1's open (the close of t+1 for a close-only series:
its documented close-only variant); see `paiid.backtest.engine` for the rules.
"""

from paiid.backtest.engine import (
    DEFAULT_COMMISSION_BPS,
    DEFAULT_SLIPPAGE_BPS,
    BacktestResult,
    ExitRule,
    Simulation,
    parse_exit_rule,
    run_backtest,
    run_universe,
    simulate,
)
from paiid.backtest.metrics import bars_per_year, compute_metrics
from paiid.backtest.strategies import FAMILIES, STRATEGIES, StrategyTemplate, get_strategy
from paiid.backtest.sweep import SweepResult, run_sweep

__all__ = [
    "DEFAULT_COMMISSION_BPS",
    "DEFAULT_SLIPPAGE_BPS",
    "FAMILIES",
    "STRATEGIES",
    "BacktestResult",
    "ExitRule",
    "Simulation",
    "StrategyTemplate",
    "SweepResult",
    "bars_per_year",
    "compute_metrics",
    "get_strategy",
    "parse_exit_rule",
    "run_backtest",
    "run_sweep",
    "run_universe",
    "simulate",
]

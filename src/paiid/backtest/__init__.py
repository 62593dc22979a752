"""Backtests: the vectorised engine, the four strategy templates and honest metrics.

    from paiid.backtest import run_backtest, STRATEGIES, get_strategy, BacktestResult
    res = run_backtest(bars, "trend-following-ma-cross", {"fast": 10, "slow": 30})
    res.metrics, res.trades, res.equity, res.positions, res.returns

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

__all__ = [
    "DEFAULT_COMMISSION_BPS",
    "DEFAULT_SLIPPAGE_BPS",
    "FAMILIES",
    "STRATEGIES",
    "BacktestResult",
    "ExitRule",
    "Simulation",
    "StrategyTemplate",
    "bars_per_year",
    "compute_metrics",
    "get_strategy",
    "parse_exit_rule",
    "run_backtest",
    "run_universe",
    "simulate",
]

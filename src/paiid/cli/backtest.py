"""`paiid backtest SYM --strategy ID`: one template on one symbol, with an optional HTML chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit, err_console, parse_params, table


def _render(p: dict[str, Any]) -> None:
    m = p["metrics"]
    if p.get("execution_model") == "close-only":
        console.print(f"note: {p['symbol']} is a close-only series, so the close-only variant ran: "
                      "filled at the next close, stops and channels on closes", soft_wrap=True)
    keys = ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor",
            "trades", "exposure", "avg_trade", "buy_and_hold_return", "final_equity"]
    table(f"{p['symbol']} {p['strategy_id']} {p['start'][:10]}..{p['end'][:10]}",
          [{"metric": k, "value": m.get(k)} for k in keys])
    console.print(f"params: {p['params']}  costs: {p['settings']['commission_bps']:g} bp commission + "
                  f"{p['settings']['slippage_bps']:g} bp slippage per fill")
    trades = p["trades"][-10:]
    table(f"last {len(trades)} of {len(p['trades'])} trades", [
        {**t, "entry_date": t["entry_date"][:10], "exit_date": t["exit_date"][:10]} for t in trades
    ], ["entry_date", "exit_date", "side", "entry_price", "exit_price", "pnl", "return", "exit_reason"])


@command
def backtest(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX, GOOG, EURUSD or one you imported."),
    strategy: str = typer.Option(..., "--strategy", "-s", help="Template id (see `GET /api/strategies`)."),
    start: str | None = typer.Option(None, "--start", help="First date (YYYY-MM-DD), default the first bar."),
    end: str | None = typer.Option(None, "--end", help="Last date (YYYY-MM-DD), default the last bar."),
    param: list[str] | None = typer.Option(None, "--param", "-p", help="Parameter name=value (repeat)."),
    commission_bps: float = typer.Option(1.0, "--commission-bps", help="Commission per side, basis points."),
    slippage_bps: float = typer.Option(1.0, "--slippage-bps", help="Slippage per fill, basis points."),
    stop: str | None = typer.Option(None, "--stop", help="Stop-loss: '5%' of entry or '2atr'."),
    take_profit: str | None = typer.Option(None, "--take-profit", help="Take-profit: '10%' or '3atr'."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of equity committed per trade (0-1]."),
    plot: Path | None = typer.Option(None, "--plot", help="Write an interactive HTML chart to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Backtest a strategy template (signals at the close, fills at the next open, costs included).

    A close-only series (e.g. AAPL, SP500) runs the close-only variant: fills at the next close, stops,
    ATR, ADX and channels on closes, no volume confirmation; a note says so."""
    from paiid.backtest.service import backtest_symbol

    payload, result, bars = backtest_symbol(
        symbol, strategy, start=start, end=end, params=parse_params(param), commission_bps=commission_bps,
        slippage_bps=slippage_bps, stop=stop, take_profit=take_profit, fraction=fraction,
    )
    if plot is not None:
        from paiid.backtest.plot import write_backtest_html

        path = write_backtest_html(result, bars, payload["symbol"], plot)
        payload["plot"] = str(path)
        err_console.print(f"chart written to {path}")
    emit(payload, as_json, _render)


@command
def strategies(as_json: bool = JsonOpt) -> None:
    """The strategy templates: id, family, default parameters and the ranges the optimizer searches."""
    from paiid.backtest import FAMILIES, STRATEGIES

    payload = {"families": list(FAMILIES), "strategies": [t.describe() for t in STRATEGIES.values()]}
    emit(payload, as_json, lambda p: table("strategy templates", [
        {"id": s["id"], "family": s["family"], "params": s["params"], "description": s.get("description")}
        for s in p["strategies"]
    ]))


def register(root: typer.Typer) -> None:
    """Add `paiid backtest` and `paiid strategies` to the root app."""
    root.command("backtest")(backtest)
    root.command("strategies")(strategies)

"""`paiid recommend SYM` and `paiid predict-trade SYM --strategy ID --side long|short` (as of --date).

Thin commands: `paiid.engine.answers` checks the arguments (an unknown strategy or side is exit 2 naming
the valid choices, before any model is loaded or trained), cuts the bars at --date, builds the answer
and logs it; these only render.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from paiid.cli.common import JsonOpt, command, console, emit, provenance, table

DateOpt = typer.Option(
    None, "--date", help="Answer as of the close of this date (YYYY-MM-DD); default the last bar."
)


def _render_recommend(p: dict[str, Any]) -> None:
    mc = p["market_conditions"]
    console.print(
        f"[bold]{p['symbol']}[/bold] as of {p['as_of'][:10]}: regime {mc['regime']}, "
        f"volatility {mc['volatility']}, trend {mc.get('trend') or 'n/a (no high/low)'}"
    )
    if p.get("model_family"):
        console.print(f"models: {p['model_family']}", markup=False)
    table(
        f"strategies for the next {p['horizon_bars']} bars",
        [
            {
                "strategy": r["strategy_id"],
                "probability": r["probability"],
                "expected_return": r["expected_return"],
                "risk_score": r["risk_score"],
            }
            for r in p["recommendations"]
        ],
    )
    for r in p["recommendations"]:
        console.print(f"[bold]{r['strategy_id']}[/bold]: {r['reason']}")
    if p.get("stand_aside"):
        console.print(f"[bold yellow]stand aside:[/bold yellow] {escape(str(p.get('stand_aside_reason')))}")
    provenance(p)


def _render_trade(p: dict[str, Any]) -> None:
    b = p["barriers"]
    console.print(
        f"[bold]{p['symbol']}[/bold] {p['side']} with {p['strategy_id']} as of {p['as_of'][:10]}: "
        f"win probability {p['win_probability']:.1%} (base rate {p['base_rate']:.1%}), expected return "
        f"{p['expected_return']:+.2%} over up to {p['horizon_bars']} bars"
    )
    console.print(
        f"profit at {b['profit_take']:.4g} ({b['profit_take_atr']:g} ATR), stop at {b['stop_loss']:.4g} "
        f"({b['stop_loss_atr']:g} ATR), from {b['reference_price']:.4g}; template signal now: "
        f"{p['template_signal']}"
    )
    if p.get("informative") is False:
        console.print(f"[bold yellow]note:[/bold yellow] {escape(str(p.get('note')))}")
    provenance(p)


@command
def recommend(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX."),
    date: str | None = DateOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Rank the strategy templates for the next 20 bars, with probabilities, expected return and risk."""
    from paiid.engine import answers

    emit(answers.recommendation(symbol, date), as_json, _render_recommend)


@command
def predict_trade(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX."),
    strategy: str = typer.Option(..., "--strategy", "-s", help="Template id (see `GET /api/strategies`)."),
    side: str | None = typer.Option(
        None, "--side", help="long or short (default: the template's current position)."
    ),
    date: str | None = DateOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Probability that a trade reaches its profit barrier before its stop or time barrier."""
    from paiid.engine import answers

    emit(answers.trade(symbol, strategy, side, date), as_json, _render_trade)


def register(root: typer.Typer) -> None:
    """Add `paiid recommend` and `paiid predict-trade` to the root app."""
    root.command("recommend")(recommend)
    root.command("predict-trade")(predict_trade)

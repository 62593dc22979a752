"""`paiid regime SYM [--date D] [--json]`: the market regime as of the close of D (default: last bar)."""

from __future__ import annotations

from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit, provenance, table


def _render(p: dict[str, Any]) -> None:
    f = p["features"]
    since = str(p.get("regime_since"))[:10]
    console.print(
        f"[bold]{p['symbol']}[/bold] as of {p['as_of'][:10]}: [bold]{p['current_regime']}[/bold] "
        f"(confidence {p['confidence']:.2f}, {p.get('days_in_regime', '?')} bars since {since})"
    )
    adx = f.get("trend_strength")
    console.print(
        f"volatility {f['volatility']:.1%} annualised, trend strength (ADX) "
        + (f"{adx:.1f}" if adx is not None else "n/a (close-only series)")
        + f", volume {f.get('volume_trend') or 'n/a'}"
    )
    if p.get("model_family"):
        console.print(f"models: {p['model_family']}", markup=False)
    probs = p.get("probabilities", {})
    table("regime probabilities", [{"regime": k, "probability": v} for k, v in probs.items()])
    recs = p["recommended_strategies"]
    sharpe = p.get("strategy_sharpe", {})
    listed = ", ".join(f"{fam} ({sharpe.get(fam, float('nan')):.2f})" for fam in recs)
    console.print("recommended families (out-of-sample Sharpe in this regime): "
                  + (listed or "none had a positive Sharpe"))
    provenance(p)


@command
def regime(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX."),
    date: str | None = typer.Option(None, "--date", help="As of the close of this date, YYYY-MM-DD."),
    as_json: bool = JsonOpt,
) -> None:
    """Current market regime (trending bullish/bearish, ranging, high volatility) with its confidence."""
    from paiid.engine import answers

    emit(answers.regime(symbol, date), as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `paiid regime` to the root app."""
    root.command("regime")(regime)

"""`paiid patterns SYM [--date D] [--timeframe daily] [--json] [--plot FILE.html]`."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from paiid.cli.common import JsonOpt, command, console, emit, provenance, table


def _render(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['symbol']}[/bold] patterns as of {p['as_of'][:10]} ({p['timeframe']})")
    table("patterns", [
        {
            "type": r["type"].removeprefix("candle_"), "signal": r["signal"], "conf": r["confidence"],
            "confirmed": r["confirmation_date"][:10], "target": r["target_price"], "stop": r["stop_loss"],
            "hist": r["historical_success_rate"], "base": r.get("baseline_rate"), "edge": r.get("edge"),
        }
        for r in p["patterns"]
    ])
    if p.get("data") == "close-only":  # chart patterns on closes, no candles, no scorer: say so
        console.print(f"note: {escape(p['symbol'])} is a close-only series: chart patterns "
                      f"{escape(str(p.get('chart_patterns')))}")
        console.print(f"candlesticks: {escape(str(p.get('candlesticks')))}")
        console.print(f"conf: none ({escape(str(p.get('confidence_note')))}); hist: that type's success rate "
                      "over this symbol's own close-only detections resolved by the as-of date (none below "
                      "30 cases); base: random entries within ±126 bars at the same multiples of the ATR of "
                      "closes; edge: hist - base")
    else:
        console.print("conf: scorer's probability of target before stop; hist: that type's success rate over "
                      "outcomes resolved before the model's refit date (none below 30 cases); base: random "
                      "entries within ±126 bars at the same multiples of ATR; edge: hist - base")
    for r in p["patterns"]:
        if r.get("success_rate_note"):
            console.print(f"{escape(r['type'])}: {escape(str(r['success_rate_note']))}")
    if p.get("indecision_candles"):
        console.print("indecision candles: " + ", ".join(c["type"] for c in p["indecision_candles"]))
    provenance(p)
    if p.get("plot"):
        console.print(f"chart written to {p['plot']}")


@command
def patterns(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX."),
    date: str | None = typer.Option(None, "--date", help="As of the close of this date, YYYY-MM-DD."),
    timeframe: str = typer.Option(
        "daily", "--timeframe", help="daily, weekly or hourly (not finer than the data)."
    ),
    plot: str | None = typer.Option(None, "--plot", help="Also write a standalone HTML chart to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Chart and candlestick patterns confirmed recently, with confidence and historical success rates."""
    from paiid.engine import answers

    payload = answers.patterns(symbol, date, timeframe)
    if plot:
        from paiid.data import load_bars
        from paiid.ml.patterns import to_timeframe
        from paiid.ml.patterns.plot import write_plot

        tf_bars = to_timeframe(load_bars(payload["symbol"], end=date), timeframe)
        payload["plot"] = str(write_plot(tf_bars, payload, plot))
    emit(payload, as_json, _render)


def register(root: typer.Typer) -> None:
    root.command("patterns")(patterns)

"""`paiid features SYM`."""

from __future__ import annotations

import typer

from paiid.cli.common import JsonOpt, command, emit, table


@command
def features(
    symbol: str = typer.Argument(..., help="Symbol, e.g. SPX."),
    tail: int = typer.Option(5, "--tail", min=1, help="How many of the most recent bars to print."),
    as_json: bool = JsonOpt,
) -> None:
    """The feature frame (TA-Lib indicators, returns, volatility, volume) for the last bars."""
    from paiid.data import load_bars, normalise_symbol
    from paiid.features import WARMUP, build_features

    bars = load_bars(symbol, min_bars=WARMUP + 1, what=f"the feature frame of {normalise_symbol(symbol)}")
    frame = build_features(bars).tail(tail)
    records = frame.to_dict("records")
    rows = [{"date": ts.isoformat(), **row} for ts, row in zip(frame.index, records, strict=True)]
    payload = {"symbol": normalise_symbol(symbol), "columns": list(frame.columns), "rows": rows}
    emit(payload, as_json, lambda p: table(f"{p['symbol']} features", [
        {"feature": c, **{r["date"][:10]: r[c] for r in p["rows"]}} for c in p["columns"]
    ]))


def register(root: typer.Typer) -> None:
    root.command("features")(features)

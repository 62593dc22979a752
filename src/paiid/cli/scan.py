"""`paiid scan [--symbols A,B,...] [--date D] [--sort COLUMN]`: the watchlist in one table.

Thin command: `paiid.engine.scan` checks the symbols (unknown ones are exit 2 naming them, before any
model is loaded), fans the rows out and builds them from the same answers as `paiid regime`,
`recommend`, `predict-trade` and `patterns`; this parses, sorts and renders.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from paiid.cli.common import JsonOpt, command, console, emit, table


def _pct(x: Any, signed: bool = False) -> str:
    if x is None:
        return ""
    return f"{x:+.2%}" if signed else f"{x:.0%}"


def _patterns(pats: list[dict[str, Any]]) -> str:
    """The most confident fresh pattern and how many more (the JSON lists them all)."""
    if not pats:
        return ""
    best = max(pats, key=lambda p: p.get("confidence") or 0.0)
    more = f" +{len(pats) - 1}" if len(pats) > 1 else ""
    return f"{str(best['type']).removeprefix('candle_')} {best['signal']}{more}"


def _cells(r: dict[str, Any]) -> dict[str, Any]:
    rec = r.get("recommendation") or {}
    top = rec.get("strategy_id") or ""
    win = _pct(r.get("win_probability"))
    if win and r.get("informative") is False:
        win += "*"
    pats = r.get("patterns") or []
    return {
        "symbol": r["symbol"],
        "as of": (r.get("as_of") or "")[:10],
        "regime": r.get("regime") or "",
        "conf": _pct(r.get("confidence")),
        "top strategy": f"aside ({top})" if r.get("stand_aside") else top,
        "prob": _pct(rec.get("probability")),
        "side": rec.get("side") or "",
        "win": win,
        "patterns": _patterns(pats),
    }


def _render(p: dict[str, Any]) -> None:
    as_of = str(p.get("as_of") or "")[:10]
    title = f"watchlist scan as of {as_of}: {p['answered']} of {p['symbols']} answered"
    answered = [r for r in p["rows"] if not r.get("error")]
    table(title, [_cells(r) for r in answered])
    for r in p["rows"]:
        if r.get("error"):
            console.print(f"[bold red]{escape(r['symbol'])}[/bold red]: {escape(str(r['error']))}")
    console.print(escape(
        f"aside: no template has an edge now, stand aside (the top of the ranking in brackets); win: the top "
        f"template's win probability on the side its rule holds now (flat: long), * = only the base rate; "
        f"patterns: confirmed in the last {p['fresh_pattern_bars']} bars. Scan rows are not logged."))


@command
def scan(
    symbols: str | None = typer.Option(
        None, "--symbols", help="Comma-separated symbols (default: every stored symbol)."),
    date: str | None = typer.Option(
        None, "--date", help="As of the close of this date (YYYY-MM-DD); default each symbol's last bar."),
    sort: str | None = typer.Option(
        None, "--sort", help="Sort by: symbol, as_of, regime, confidence, probability, expected_return, "
        "win_probability or patterns (numbers largest first; default: the order given)."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Local worker processes (default: automatic; 1 = this process)."),
    as_json: bool = JsonOpt,
) -> None:
    """Regime, top strategy (or stand aside), its win probability and fresh patterns, one row a symbol."""
    from paiid.engine import scan as engine_scan

    if sort is not None:
        engine_scan.sort_rows([], sort)  # a bad column is exit 2 before anything is computed
    result = engine_scan.scan(symbols, date, workers=workers)
    result["rows"] = engine_scan.sort_rows(result["rows"], sort)
    result["sort"] = sort
    emit(result, as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `paiid scan` to the root app."""
    root.command("scan")(scan)

"""`paiid data list|import|fetch`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from paiid.cli.common import JsonOpt, command, console, emit, table

app = typer.Typer(help="List, import and fetch market data.", no_args_is_help=True)


@app.command("list")
@command
def list_(as_json: bool = JsonOpt) -> None:
    """Every symbol available: bundled real data and what you imported or fetched."""
    from paiid.data import describe_symbols

    emit({"symbols": describe_symbols()}, as_json, lambda p: table("symbols", [
        {**s, "columns": _columns_label(s["columns"])} for s in p["symbols"]]))


def _columns_label(columns: list[str]) -> str:
    """'OHLCV', 'close only', or the list: the table's short form of a symbol's real columns."""
    if columns == ["open", "high", "low", "close", "volume"]:
        return "OHLCV"
    return "close only" if columns == ["close"] else ",".join(columns)


@app.command("import")
@command
def import_(
    file: Path = typer.Argument(
        ..., help="CSV or Parquet with date/time, open, high, low, close, volume; or date, close only."
    ),
    symbol: str = typer.Option(..., "--symbol", help="Symbol to store the bars under."),
    sort: bool = typer.Option(False, "--sort", help="Order out-of-order rows by time instead of failing."),
    dedupe: bool = typer.Option(False, "--dedupe", help="Keep the last row of duplicate timestamps."),
    fill_gaps: bool = typer.Option(
        False, "--fill-gaps", help="Forward-fill gaps with flat zero-volume bars at the last close."
    ),
    dayfirst: bool = typer.Option(
        False, "--dayfirst", help="Read dates like 01/03/2024 as day/month/year (1 March 2024)."
    ),
    date_format: str | None = typer.Option(
        None, "--date-format", help="strptime format of the date column, e.g. '%m/%d/%Y' or '%d.%m.%Y %H:%M'."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Validate a file and store its bars; nothing is stored if any row is invalid.

    A file with a date and a close column only is a close-only series: open, high, low and volume
    stay absent (never copies of the close), and commands that need them say so.

    Dates such as 01/03/2024 that fit both day/month and month/day are refused unless --dayfirst
    or --date-format says which; ISO dates (2024-03-01) never need either.
    """
    from paiid.data.importer import import_file

    result = import_file(file, symbol, sort=sort, dedupe=dedupe, fill_gaps=fill_gaps, dayfirst=dayfirst,
                         date_format=date_format)
    emit(result, as_json, lambda r: _print_stored("imported", r))


@app.command("fetch")
@command
def fetch(
    symbol: str = typer.Argument(..., help="Ticker to fetch from Tradier."),
    start: str = typer.Option(..., "--start", help="First date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--end", help="Last date, YYYY-MM-DD."),
    as_json: bool = JsonOpt,
) -> None:
    """Fetch daily bars from Tradier (TRADIER_TOKEN; TRADIER_BASE_URL to override) and store them.

    Long ranges are fetched a year at a time; rate limits and server errors are retried
    (TRADIER_MAX_RETRIES, TRADIER_BACKOFF_BASE seconds).
    """
    from paiid.data.tradier import fetch_and_store

    result = fetch_and_store(symbol, start, end)
    emit(result, as_json, lambda r: _print_stored("fetched", r))


def _print_stored(verb: str, r: dict) -> None:
    """The human summary of an import or fetch; escaped, since file names and values are the user's."""
    notes = [*r["notes"], *([f"{len(r['gaps'])} gap(s) in the data"] if r["gaps"] else [])]
    console.print(escape(
        f"{verb} {r['rows']} bars of {r['symbol']} ({r['first']} .. {r['last']}): "
        f"{r['inserted']} new, {r['updated']} updated, {r['unchanged']} unchanged"
        + (" (the same file as last time: not read again)" if r["up_to_date"] else "")
        + "".join(f"\n  fix: {f}" for f in r["fixes"])
        + "".join(f"\n  note: {n}" for n in notes)
    ))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")

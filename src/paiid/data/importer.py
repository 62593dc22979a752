"""`paiid data import`: read a user's CSV or Parquet file, validate it, store it atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from paiid.data.bundled import BUNDLED
from paiid.data.repository import normalise_symbol, timeframe_of
from paiid.data.store import stored_timeframe, upsert_bars
from paiid.data.validate import validate_bars
from paiid.errors import BadInput


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a raw table; unreadable files are the user's to fix (BadInput)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"file not found: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(p)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault
        raise BadInput(f"could not read {p.name}: {exc}") from None
    raise BadInput(f"unsupported file type {suffix!r}: use .csv or .parquet")


def import_bars(
    raw: pd.DataFrame, symbol: str, *, source: str, sort: bool = False, dedupe: bool = False,
    fill_gaps: bool = False,
) -> dict:
    """Validate `raw` and upsert it under `symbol`; nothing is written unless all of it is valid."""
    sym = normalise_symbol(symbol)
    if sym in BUNDLED:
        raise BadInput(f"{sym} is a bundled symbol and cannot be overwritten; import under another --symbol")
    bars, report = validate_bars(raw, source=source, sort=sort, dedupe=dedupe, fill_gaps=fill_gaps)
    if bars.empty:
        raise BadInput(f"{source} has no rows")
    previous = stored_timeframe(sym)
    # One bar has no spacing to measure; it inherits the stored symbol's timeframe.
    timeframe = timeframe_of(bars.index) if len(bars) > 1 else (previous or "daily")
    if previous is not None and previous != timeframe:
        # Mixing e.g. hourly bars into a daily series would silently corrupt every indicator.
        raise BadInput(
            f"{sym} already holds {previous} bars but {source} has {timeframe} bars; "
            "import them under another --symbol"
        )
    counts = upsert_bars(sym, bars, source=source, timeframe=timeframe)
    return {
        "symbol": sym,
        "rows": len(bars),
        **counts,
        "first": bars.index[0].isoformat(),
        "last": bars.index[-1].isoformat(),
        "fixes": report.fixes,
        "gaps": [{"from": a.isoformat(), "to": b.isoformat()} for a, b in report.gaps],
    }


def import_file(path: str | Path, symbol: str, **kwargs: bool) -> dict:
    """`paiid data import FILE --symbol SYM`: read, validate and store; see `import_bars`."""
    return import_bars(read_table(path), symbol, source=f"file:{Path(path).name}", **kwargs)

"""The one way the rest of the package gets bars: bundled symbols first, then the database."""

from __future__ import annotations

import pandas as pd

from paiid.data.bundled import BUNDLED, load_bundled
from paiid.data.store import read_bars, stored_symbols
from paiid.data.validate import median_spacing, require_history
from paiid.errors import BadInput, UnknownSymbol


def normalise_symbol(symbol: str) -> str:
    sym = (symbol or "").strip().upper()
    if not sym or len(sym) > 32 or not all(c.isalnum() or c in "._-^=/" for c in sym):
        raise BadInput(f"invalid symbol {symbol!r}: use 1-32 letters, digits or . _ - ^ = /")
    return sym


def timeframe_of(index: pd.DatetimeIndex) -> str:
    """'daily', 'hourly' or e.g. '15min', from the typical spacing of the bars."""
    step = median_spacing(index)
    if step >= pd.Timedelta(hours=20):
        return "daily"
    if step == pd.Timedelta(hours=1):
        return "hourly"
    return f"{int(step.total_seconds() // 60)}min"


def available_symbols() -> list[str]:
    return sorted(set(BUNDLED) | {s["symbol"] for s in stored_symbols()})


def load_bars(
    symbol: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    min_bars: int = 0,
    what: str = "this request",
) -> pd.DataFrame:
    """Bars for `symbol` between `start` and `end` inclusive (bar schema), or a precise error."""
    sym = normalise_symbol(symbol)
    if sym in BUNDLED:
        bars = load_bundled(sym)
    else:
        bars = read_bars(sym)
        if bars is None:
            raise UnknownSymbol(sym, available_symbols())
    try:
        start_ts = pd.Timestamp(start) if start is not None else None
        end_ts = pd.Timestamp(end) if end is not None else None
    except (ValueError, TypeError) as exc:
        raise BadInput(f"invalid date: {exc}; use YYYY-MM-DD") from None
    if start_ts is not None and end_ts is not None and end_ts < start_ts:
        raise BadInput(f"end {end_ts.date()} is before start {start_ts.date()}")
    if end_ts is not None and len(end_ts.isoformat()) and end_ts == end_ts.normalize():
        end_ts = end_ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # a date means its whole day
    if start_ts is not None or end_ts is not None:
        bars = bars.loc[start_ts:end_ts]
    if min_bars:
        require_history(bars, min_bars, what)
    return bars


def describe_symbols() -> list[dict]:
    """`paiid data list`: every symbol with source, timeframe, first/last bar and count."""
    out = []
    for sym, src in BUNDLED.items():
        bars = load_bundled(sym)
        out.append({
            "symbol": sym,
            "source": src.source,
            "timeframe": timeframe_of(bars.index),
            "first": bars.index[0].isoformat(),
            "last": bars.index[-1].isoformat(),
            "bars": len(bars),
        })
    out.extend(s for s in stored_symbols() if s["symbol"] not in BUNDLED)
    return out

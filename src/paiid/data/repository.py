"""The one way the rest of the package gets bars: bundled symbols first, then the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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


def _as_naive_utc(value: str | pd.Timestamp | None, name: str) -> pd.Timestamp | None:
    """A user-supplied date/time as a tz-naive UTC timestamp, the bar index's convention."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"invalid {name} date {value!r}: {exc}; use YYYY-MM-DD") from None
    if ts is pd.NaT or pd.isna(ts):
        raise BadInput(f"invalid {name} date {value!r}; use YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def available_symbols() -> list[str]:
    return sorted(set(BUNDLED) | {s["symbol"] for s in stored_symbols()})


_AS_OF: ContextVar[pd.Timestamp | None] = ContextVar("paiid_as_of", default=None)


@contextmanager
def as_of(end: str | pd.Timestamp) -> Iterator[None]:
    """Within the block, `load_bars` sees no bar after `end` (inclusive), whatever its caller asks.

    This is how a model is retrained "as it would have been" at a past date (retrain's challenger,
    holdout scoring) without every trainer taking an end date. It is a context variable, so it is
    local to the current thread/task and safe inside a server.
    """
    token = _AS_OF.set(_as_naive_utc(end, "as_of"))
    try:
        yield
    finally:
        _AS_OF.reset(token)


def load_bars(
    symbol: str,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    *,
    min_bars: int = 0,
    what: str = "this request",
) -> pd.DataFrame:
    """Bars for `symbol` between `start` and `end` inclusive (bar schema), or a precise error.

    Dates are compared in the bar index's convention (tz-naive UTC): a tz-aware `start`/`end` is
    converted first, so `2018-01-05T09:00-05:00` means 14:00 in the index. An `end` at midnight
    (e.g. a plain date) includes that whole day.
    """
    sym = normalise_symbol(symbol)
    if sym in BUNDLED:
        bars = load_bundled(sym)
    else:
        bars = read_bars(sym)
        if bars is None:
            raise UnknownSymbol(sym, available_symbols())
    start_ts = _as_naive_utc(start, "start")
    end_ts = _as_naive_utc(end, "end")
    if start_ts is not None and end_ts is not None and end_ts < start_ts:
        raise BadInput(f"end {end_ts} is before start {start_ts}")
    if end_ts is not None and end_ts == end_ts.normalize():
        # `end=2018-01-05` means the whole day: with hourly bars its 23 bars after midnight count too
        end_ts = end_ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    cap = _AS_OF.get()
    if cap is not None:
        end_ts = cap if end_ts is None else min(end_ts, cap)
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

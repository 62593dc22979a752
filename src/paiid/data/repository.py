"""The one way the rest of the package gets bars: bundled symbols first, then the database.

pandas and `validate` are imported by the functions that handle bars or dates: `claim_symbol`, all
an unchanged `paiid data import` needs from here, works on names and should not pay for them.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from paiid.data.bundled import BUNDLED, bundled_index, load_bundled
from paiid.data.columns import COLUMNS
from paiid.data.store import read_bars, stored_kind, stored_symbols
from paiid.errors import BadInput, UnknownSymbol

if TYPE_CHECKING:
    import pandas as pd

    from paiid.data.validate import MissingColumns

#: The characters a symbol may have, after NFKC normalisation and upper-casing (README, "Data").
SYMBOL_CHARS = frozenset(string.ascii_uppercase + string.digits + ".-_^=/")
_SYMBOL_RULE = (
    "use 1-32 ASCII letters, digits and . - _ ^ = /; each part between '/' starts with a letter, digit "
    "or ^ and ends with a letter or digit, and '..' is not allowed"
)


def normalise_symbol(symbol: str) -> str:
    """The canonical form of a user's symbol, or BadInput naming the allowed characters.

    NFKC first, so that a full-width `ＳＰＸ` is `SPX` rather than a second symbol; then only ASCII
    survives (checked before upper-casing: `"ß".upper()` is `SS`). Why the shape rules: a symbol
    ends up in URLs, logs and optimisation result names, and `.`, `..` or `../x` must never be
    one — a symbol is data, not a path.
    """
    text = unicodedata.normalize("NFKC", symbol or "").strip()
    sym = text.upper()
    if (not text.isascii() or not 1 <= len(sym) <= 32 or not SYMBOL_CHARS.issuperset(sym) or ".." in sym
            or not all(part and (part[0].isalnum() or part[0] == "^") and part[-1].isalnum()
                       for part in sym.split("/"))):
        raise BadInput(f"invalid symbol {symbol!r}: {_SYMBOL_RULE}")
    return sym


#: Characters a reader can take for one another in a symbol: each maps to one representative.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": ".", "_": ".", "/": "."})


def _skeleton(sym: str) -> str:
    return sym.translate(_CONFUSABLE)


def claim_symbol(symbol: str) -> str:
    """The normalised symbol under which new bars may be stored (import, Tradier fetch).

    A new symbol that reads like an existing different one (`G00G` beside `GOOG`, `BRK-B` beside
    `BRK.B`) is refused with the existing one's name: otherwise a typo or a look-alike creates a
    second series that answers quietly with other data. Re-importing an existing symbol is fine.
    """
    sym = normalise_symbol(symbol)
    known = available_symbols()
    if sym not in known:
        twins = [k for k in known if _skeleton(k) == _skeleton(sym)]
        if twins:
            raise BadInput(
                f"symbol {sym!r} looks like the existing symbol {twins[0]!r} (O/0, I/1/L and . - _ / are "
                f"easy to confuse); import into {twins[0]} or choose a clearly different --symbol"
            )
    return sym


def timeframe_of(index: pd.DatetimeIndex) -> str:
    """'daily', 'hourly' or e.g. '15min', from the typical spacing of the bars."""
    import pandas as pd

    from paiid.data.validate import median_spacing

    step = median_spacing(index)
    if step >= pd.Timedelta(hours=20):
        return "daily"
    if step == pd.Timedelta(hours=1):
        return "hourly"
    return f"{int(step.total_seconds() // 60)}min"


def parse_timestamp(value: str | pd.Timestamp | None, name: str, *, hint: str = "") -> pd.Timestamp | None:
    """A user-supplied date/time as a tz-naive UTC nanosecond timestamp, the bar index's convention.

    The one place user dates are parsed (load_bars' start/end/as-of, so every command and endpoint).
    Why the range check: pandas parses `9999-12-31` into a coarser unit, and comparing or slicing it
    against the nanosecond index then fails deep inside (OutOfBoundsDatetime, KeyError). Out of range
    is the user's input, so it is a BadInput naming the range (`hint` may add e.g. the symbol's own).
    """
    import pandas as pd
    from pandas.errors import OutOfBoundsDatetime

    from paiid.data.validate import FIRST_DATE, LAST_DATE

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
    try:
        return ts.as_unit("ns")
    except OutOfBoundsDatetime:
        raise BadInput(
            f"{name} date {value!r} is out of range: paiid handles dates from {FIRST_DATE.date()} to "
            f"{LAST_DATE.date()}{hint}; use YYYY-MM-DD in that range"
        ) from None


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
    token = _AS_OF.set(parse_timestamp(end, "as_of"))
    try:
        yield
    finally:
        _AS_OF.reset(token)


def current_as_of() -> pd.Timestamp | None:
    """The cap `as_of` set for this block (None outside one): what a trainer was allowed to see."""
    return _AS_OF.get()


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

    A close-only series (open, high, low and volume NaN) carries `symbol`, `source` and its real
    `columns` in `bars.attrs`: check with `require_columns(bars, needed, what)` where a command that
    needs open, high, low or volume starts.
    """
    import pandas as pd

    from paiid.data.validate import require_history

    sym = normalise_symbol(symbol)
    bars = _bars_of(sym)
    hint = f" ({sym} has bars from {bars.index[0].date()} to {bars.index[-1].date()})" if len(bars) else ""
    start_ts = parse_timestamp(start, "start", hint=hint)
    end_ts = parse_timestamp(end, "end", hint=hint)
    if start_ts is not None and end_ts is not None and end_ts < start_ts:
        raise BadInput(f"end {end_ts} is before start {start_ts}")
    if end_ts is not None and end_ts == end_ts.normalize():
        # `end=2018-01-05` means the whole day: with hourly bars its 23 bars after midnight count too
        # (the last representable day ends at Timestamp.max, not at midnight after it)
        rest_of_day = pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # the last nanosecond included
        end_ts = min(end_ts, pd.Timestamp.max - rest_of_day) + rest_of_day
    cap = _AS_OF.get()
    if cap is not None:
        end_ts = cap if end_ts is None else min(end_ts, cap)
    if start_ts is not None or end_ts is not None:
        bars = bars.loc[start_ts:end_ts]
    if min_bars:
        require_history(bars, min_bars, what)
    return bars


def _bars_of(sym: str) -> pd.DataFrame:
    """All bars of a normalised symbol: protected bundled ones, else stored ones, else bundled ones.

    An unprotected bundled symbol (skfolio's close-only stocks) yields to a stored series of the same
    name: a user who imports or fetches AAPL means their own bars.
    """
    src = BUNDLED.get(sym)
    if src is not None and src.protected:
        return load_bundled(sym)
    bars = read_bars(sym)
    if bars is not None:
        return bars
    if src is not None:
        return load_bundled(sym)
    raise UnknownSymbol(sym, available_symbols())


def _kind(sym: str) -> tuple[str, list[str]]:
    """(source, real columns) of a normalised symbol, without reading its bars (see `_bars_of`)."""
    src = BUNDLED.get(sym)
    if src is not None and src.protected:
        return src.source, list(src.columns)
    stored = stored_kind(sym)
    if stored is not None:
        return stored
    if src is not None:
        return src.source, list(src.columns)
    raise UnknownSymbol(sym, available_symbols())


def real_columns(symbol_or_bars: str | pd.DataFrame) -> list[str]:
    """The real bar columns of a symbol (or of loaded bars), in `COLUMNS` order: all five, or
    `["close"]` for a close-only series. For a symbol it reads no bars (bundled metadata, or one
    indexed query of the store)."""
    import pandas as pd

    from paiid.data.validate import real_columns_of

    if isinstance(symbol_or_bars, pd.DataFrame):
        return real_columns_of(symbol_or_bars)
    return _kind(normalise_symbol(symbol_or_bars))[1]


def require_columns(symbol_or_bars: str | pd.DataFrame, needed: list[str] | tuple[str, ...],
                    what: str) -> list[str]:
    """The real columns, or `MissingColumns` (a `BadInput`: 422 / exit 2) naming what is missing.

    E.g. `require_columns(bars, ["high", "low", "volume"], "the feature frame")` on AAPL raises
    "AAPL is close-only (source skfolio.datasets.load_sp500_dataset): the feature frame needs high,
    low, volume". Call it where a command starts, before any work; on bars from `load_bars` it
    costs microseconds (their `attrs`, or one numpy pass over full bars).
    """
    import pandas as pd

    from paiid.data.validate import require_columns as require_columns_of

    if isinstance(symbol_or_bars, pd.DataFrame):
        return require_columns_of(symbol_or_bars, needed, what)
    sym = normalise_symbol(symbol_or_bars)
    source, columns = _kind(sym)
    probe = pd.DataFrame(columns=COLUMNS)
    probe.attrs.update(symbol=sym, source=source, columns=columns)
    return require_columns_of(probe, needed, what)


def missing_columns(symbol_or_bars: str | pd.DataFrame, needed: list[str] | tuple[str, ...],
                    what: str) -> MissingColumns | None:
    """`require_columns` that returns the error instead of raising it (None when nothing is missing):
    for screens that skip a symbol and say why, such as training's `unsuitable`."""
    from paiid.data.validate import MissingColumns

    try:
        require_columns(symbol_or_bars, needed, what)
    except MissingColumns as exc:
        return exc
    return None


def describe_symbols() -> list[dict]:
    """`paiid data list`: every symbol with source, timeframe, first/last bar, count and real columns.

    A stored symbol replaces an unprotected bundled one of the same name (see `_bars_of`).
    """
    stored = {s["symbol"]: s for s in stored_symbols()}
    out = []
    for sym, src in BUNDLED.items():
        if not src.protected and sym in stored:
            out.append(stored.pop(sym))
            continue
        index = bundled_index(sym)
        out.append({
            "symbol": sym,
            "source": src.source,
            "timeframe": timeframe_of(index),
            "first": index[0].isoformat(),
            "last": index[-1].isoformat(),
            "bars": len(index),
            "columns": list(src.columns),
        })
    out.extend(s for s in stored.values() if s["symbol"] not in BUNDLED)
    return out

"""`paiid data import`: read a user's CSV or Parquet file, validate it, store it atomically.

A file imported before is not read again while nothing has changed: `import_key` names its bytes,
the options and paiid's version, and the store keeps that key with the bars it left
(`store.recorded_import`). Same key and the symbol untouched since: every row is unchanged.

That answer is most of what `paiid data import` is run for again, and its process is mostly
Python start-up, so numpy, pandas and `validate` (which brings pyarrow) are imported by the
functions that read or check bars, never at the top: the recognised re-import loads none of them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from paiid import __version__
from paiid.data.bundled import is_protected
from paiid.data.columns import CLOSE_ONLY, COLUMNS
from paiid.data.repository import claim_symbol, timeframe_of
from paiid.data.store import (
    ImportRecord,
    recorded_import,
    stored_kind,
    stored_timeframe,
    stored_times_of_day,
    upsert_bars,
)
from paiid.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

    from paiid.data.validate import ValidationReport


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"file not found: {p}")
    return p


#: Rows per piece of a CSV read (`_read_csv`): a million-row file is parsed in ten pieces.
CSV_CHUNK_ROWS = 100_000


def _read_csv(path: Path, chunk_rows: int = CSV_CHUNK_ROWS) -> pd.DataFrame:
    """`pd.read_csv(path)`, parsed `chunk_rows` rows at a time, with the same table as the result.

    Why: a whole-file read keeps the parser's pieces of every column and their concatenation at
    once, about 70 MB above the table itself for a million bars (the peak of `paiid data import`).
    Pieces of our own are concatenated as they are when every piece has the same columns, dtypes
    and kind of index: then each column is what the whole-file read makes of it. Otherwise (say a
    column read as numbers in one piece and as text in another) pandas' own reconciliation of the
    pieces decides, so the file is read again in one go: a rare file pays two reads, none differs.
    """
    import pandas as pd

    with pd.read_csv(path, chunksize=chunk_rows) as reader:
        pieces = list(reader)
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0] if pieces else None
    if first is None or any(
        not piece.columns.equals(first.columns) or not piece.dtypes.equals(first.dtypes)
        or type(piece.index) is not type(first.index) or piece.index.dtype != first.index.dtype
        for piece in pieces[1:]
    ):
        del pieces, first
        return pd.read_csv(path)
    del first
    return pd.concat(pieces)  # the pieces' row numbers run on: the whole-file read's index


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a raw table; unreadable files are the user's to fix (BadInput)."""
    import pandas as pd

    p = _existing(path)
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return _read_csv(p)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault
        raise BadInput(f"could not read {p.name}: {exc}") from None
    raise BadInput(f"unsupported file type {suffix!r}: use .csv or .parquet")


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _clocks(seconds: set[int]) -> str:
    shown = sorted(seconds)[:5]
    more = f" and {len(seconds) - 5} more" if len(seconds) > 5 else ""
    return ", ".join(_clock(s) for s in shown) + more


def _step_seconds(timeframe: str) -> int:
    """The bar spacing a `timeframe_of` label stands for ('hourly', '15min'); 0 below a minute."""
    return 3600 if timeframe == "hourly" else 60 * int(timeframe.removesuffix("min"))


def check_session(sym: str, bars: pd.DataFrame, timeframe: str, source: str) -> None:
    """Refuse bars whose times of day do not fit the stored bars of the same symbol.

    Daily bars stamped 14:30 beside stored ones at 00:00 would be a second bar on every date (and
    a daily series of two sessions); intraday bars at :05 beside stored ones at :00 a second clock
    grid. Daily: every new time of day must be one the stored bars use. Intraday: every new time
    must lie on a stored time's grid (same remainder modulo the bar spacing), so a series that so
    far covers only mornings can still get its afternoons. The stored side is one SQL DISTINCT.
    """
    import numpy as np

    stored = stored_times_of_day(sym)
    if not stored:  # a new symbol sets its own session
        return
    new = set(np.unique((bars.index - bars.index.normalize()).asi8 // 1_000_000_000).tolist())
    if timeframe == "daily":
        extra = new - stored
        if extra:
            raise BadInput(
                f"{sym} already holds daily bars stamped at {_clocks(stored)}, but {source} has bars at "
                f"{_clocks(extra)}: they would be second bars on the same dates. Stamp them at "
                f"{_clock(min(stored))} or import them under another --symbol"
            )
        return
    step = _step_seconds(timeframe)
    if step == 0:  # sub-minute bars: their label gives no grid to check against
        return
    grid = {s % step for s in stored}
    extra = {s for s in new if s % step not in grid}
    if extra:
        raise BadInput(
            f"{sym} already holds {timeframe} bars at {_clocks(stored)}, but {source} has bars at "
            f"{_clocks(extra)}, off that clock grid; align them to it or import them under another --symbol"
        )


def _kind(columns: list[str]) -> str:
    return "close-only" if columns == CLOSE_ONLY else "open/high/low/close/volume"


def check_columns(sym: str, bars: pd.DataFrame, source: str) -> None:
    """Refuse bars of another kind than the stored ones of the same symbol (close-only vs OHLCV).

    Close-only rows inside an OHLCV series would leave holes in every high/low/volume feature at
    those dates, and OHLCV rows in a close-only series would make it neither: one series, one kind.
    """
    from paiid.data.validate import real_columns_of

    stored = stored_kind(sym)
    new = real_columns_of(bars)
    if stored is not None and stored[1] != new:
        raise BadInput(
            f"{sym} already holds {_kind(stored[1])} bars (source {stored[0]}), but {source} has "
            f"{_kind(new)} bars; import them under another --symbol"
        )


def _claim(symbol: str) -> str:
    sym = claim_symbol(symbol)
    if is_protected(sym):
        raise BadInput(f"{sym} is a bundled symbol and cannot be overwritten; import under another --symbol")
    return sym


def import_bars(
    raw: pd.DataFrame, symbol: str, *, source: str, sort: bool = False, dedupe: bool = False,
    fill_gaps: bool = False, dayfirst: bool = False, date_format: str | None = None,
    key: str | None = None,
) -> dict:
    """Validate `raw` and upsert it under `symbol`; nothing is written unless all of it is valid.

    Bars for a stored symbol must have its timeframe and session stamps (`check_session`). With a
    `key` (`import_key` of the file `raw` was read from) the result is recorded with the bars, for
    `import_file` to recognise the same file next time.
    """
    from paiid.data.validate import validate_bars

    sym = _claim(symbol)
    bars, report = validate_bars(raw, source=source, sort=sort, dedupe=dedupe, fill_gaps=fill_gaps,
                                 dayfirst=dayfirst, date_format=date_format)
    del raw  # the validated bars are a copy; the file's table need not outlive validation
    return _store(sym, bars, report, source=source, key=key)


def _store(sym: str, bars: pd.DataFrame, report: ValidationReport, *, source: str, key: str | None) -> dict:
    """`import_bars` once the bars are valid: the checks against the stored symbol, then the upsert."""
    from paiid.data.validate import real_columns_of

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
    check_session(sym, bars, timeframe, source)
    check_columns(sym, bars, source)
    summary = {
        "rows": len(bars),
        "first": bars.index[0].isoformat(),
        "last": bars.index[-1].isoformat(),
        "fixes": report.fixes,
        "notes": report.notes,
        "gaps": [{"from": a.isoformat(), "to": b.isoformat()} for a, b in report.gaps],
        "columns": real_columns_of(bars),
    }
    record = None if key is None else ImportRecord(key, {**summary, "timeframe": timeframe})
    counts = upsert_bars(sym, bars, source=source, timeframe=timeframe, record=record)
    return _result(sym, summary, counts, up_to_date=False)


def _result(sym: str, summary: dict, counts: dict[str, int], *, up_to_date: bool) -> dict:
    """An import's answer: `up_to_date` says the file was recognised and not read (`import_file`)."""
    return {"symbol": sym, "rows": summary["rows"], **counts,
            **{k: summary[k] for k in ("first", "last", "fixes", "notes", "gaps")},
            "columns": summary.get("columns", COLUMNS), "up_to_date": up_to_date}


def import_key(path: Path, source: str, options: dict) -> str:
    """sha256 naming an import: the file's bytes, its `source` name, the options and paiid's version.

    The version is in it because validation rules change between versions: a file accepted (or
    fixed, or noted) by one may be read differently by the next, so it is read again after an upgrade.
    """
    with path.open("rb") as f:
        content = hashlib.file_digest(f, "sha256").hexdigest()
    what = {"content": content, "source": source, "options": options, "paiid": __version__}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def import_file(path: str | Path, symbol: str, **options: bool | str | None) -> dict:
    """`paiid data import FILE --symbol SYM`: read, validate and store; see `import_bars`.

    If this file (same bytes, name and options, same paiid version) is what left the symbol's stored
    bars, and nobody has written the symbol since, every row is unchanged: the file is hashed, not
    read. The key is recorded only if the file did not change (inode, size, mtime) while it was read.
    """
    p = _existing(path)
    sym = _claim(symbol)
    source = f"file:{p.name}"
    before = _stamp(p)
    key = import_key(p, source, options)
    recorded = recorded_import(sym, key, source)
    if recorded is not None:
        counts = {"inserted": 0, "updated": 0, "unchanged": recorded["rows"]}
        return _result(sym, recorded, counts, up_to_date=True)
    from paiid.data.validate import validate_bars  # only now: the recognised file needs no pandas

    # The file's table exists only inside this call, so it is gone before the bars are stored (the
    # argument tuple of a call with **options would keep it alive through the store).
    bars, report = validate_bars(read_table(p), source=source, **options)
    return _store(sym, bars, report, source=source, key=key if _stamp(p) == before else None)

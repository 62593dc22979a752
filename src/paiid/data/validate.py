"""Turn any OHLCV table into the one bar schema, or say precisely what is wrong with it.

The bar schema used everywhere: a DataFrame indexed by a tz-naive `DatetimeIndex` named `date`
(datetime64[ns], strictly increasing, unique) with float64 columns open, high, low, close, volume.
Time zones are dropped after converting to UTC, so one schema serves daily and intraday bars.

Close-only series (index levels, fund NAVs, adjusted-close exports: a `date,close` file) are a kind
of data of their own: same schema, but open, high, low and volume are NaN on every bar — never copies
of the close, which would invent bars without range or volume and quietly feed fake numbers to ATR,
ADX, volume features and next-open fills. `real_columns_of(bars)` says which columns are real, and
`require_columns` turns a missing one into a precise error. Such frames carry `attrs` (`mark_columns`:
the real columns, symbol, source) for those messages; full OHLCV frames carry none, because pandas
deep-copies a frame's attrs into every frame and series derived from it (a few microseconds an
operation, on every hot path of every model).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paiid.data.columns import CLOSE_ONLY, COLUMNS
from paiid.errors import BadInput, DataValidationError, NotEnoughHistory

#: The bar columns a close-only series lacks: what a command that needs full bars asks for.
BEYOND_CLOSE = ("open", "high", "low", "volume")
DATE_COLUMNS = ("date", "datetime", "time", "timestamp")
MAX_LISTED = 5
#: The dates paiid can represent: bars are datetime64[ns], whose range is pandas' Timestamp.min..max.
FIRST_DATE = pd.Timestamp.min.ceil("D")
LAST_DATE = pd.Timestamp.max.floor("D")
#: Accepted prices (open, high, low, close), inclusive. Below a hundred-millionth or above a trillion is
#: a unit or parsing mistake for any instrument we model, and such values overflow or underflow the
#: features (squared returns, volatilities) into inf/NaN.
PRICE_RANGE = (1e-8, 1e12)
#: Accepted volume, inclusive upper bound (zero is fine: flat, filled or illiquid bars).
MAX_VOLUME = 1e18
#: How far high may fall short of max(open, close), or low exceed min(open, close), relative to that
#: price, before the bar is inconsistent rather than rounded (a float32 or 6-digit export).
OHLC_TOLERANCE = 1e-6


@dataclass
class ValidationReport:
    """What validation fixed and what it noticed but did not treat as an error."""

    rows_in: int = 0
    rows_out: int = 0
    fixes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)

    def gap_summary(self) -> str | None:
        if not self.gaps:
            return None
        longest = max(self.gaps, key=lambda g: g[1] - g[0])
        return f"{len(self.gaps)} gap(s) in the bars; the longest from {longest[0]} to {longest[1]}"


def _where(index: pd.Index, mask: np.ndarray) -> str:
    hits = [str(x) for x in index[mask][:MAX_LISTED]]
    more = int(mask.sum()) - len(hits)
    return ", ".join(hits) + (f" and {more} more" if more > 0 else "")


def _parse_numeric_dates(arr: np.ndarray) -> pd.DatetimeIndex:
    """Numbers as dates: YYYYMMDD integers, else Unix epoch time in s, ms, us or ns by magnitude.

    pandas would read any number as nanoseconds since 1970, so an epoch-seconds column would
    silently become bars from January 1970.
    """
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return pd.DatetimeIndex(np.full(len(arr), np.datetime64("NaT"), "datetime64[ns]")).tz_localize("UTC")
    if (finite == np.round(finite)).all() and (finite >= 1e7).all() and (finite < 1e8).all():
        text = pd.Series(arr).map(lambda v: f"{int(v)}" if np.isfinite(v) else "")
        return pd.DatetimeIndex(pd.to_datetime(text, format="%Y%m%d", errors="coerce", utc=True))
    biggest = float(np.abs(finite).max())
    unit = "s" if biggest < 1e11 else "ms" if biggest < 1e14 else "us" if biggest < 1e17 else "ns"
    return pd.DatetimeIndex(pd.to_datetime(arr, unit=unit, errors="coerce", utc=True))


#: A date with day and month first, in either order, then the year (`01/03/2024`, `1.3.24 14:30`), in
#: RE2 syntax (pyarrow's regex engine). ISO dates put the year first and never match.
_DAY_MONTH = r"^\s*(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4}|\d{2})(?P<rest>(?:[ T].*)?)$"
_DAY_MONTH_START = r"^\s*\d{1,2}[/.-]"


def _day_month_order(values: pd.Series, dayfirst: bool, source: str, notes: list[str]) -> pd.Series:
    """Rewrite `dd/mm/yyyy` or `mm/dd/yyyy` dates as ISO `yyyy-mm-dd`, one order for the whole column.

    pandas guesses the order from the first value and re-reads the rows that fail with another
    guess, so `01/03/2024, 13/03/2024` became 3 January and 13 March. Here the column decides: a
    first field above 12 somewhere means day first (said in `notes`), a second field above 12 means
    month first, both is a mix and refused; every field <= 12 is ambiguous and refused unless
    `dayfirst` (the other order is `--date-format`). Arrow compute: a million rows take about a second.
    """
    if not pd.api.types.is_string_dtype(values):  # numbers, datetimes: no order to choose
        return values
    text = pa.array(values, type=pa.string(), from_pandas=True)
    if not pc.any(pc.match_substring_regex(text, _DAY_MONTH_START)).as_py():  # ISO files stop here, fast
        return values
    parts = pc.extract_regex(text, _DAY_MONTH)  # null where a value does not match
    hit = parts.is_valid()
    rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
    if not len(rows):
        return values
    parts = pc.filter(parts, hit)
    a, b, y = (pc.cast(pc.struct_field(parts, k), pa.int64()).to_numpy() for k in ("a", "b", "y"))
    two_digits = pc.utf8_length(pc.struct_field(parts, "y")).to_numpy() == 2
    year = np.where(two_digits, np.where(y < 69, 2000, 1900) + y, y)  # strptime's %y pivot

    def example(k: int) -> str:
        return f"{values.iloc[rows[k]]!r} (row {rows[k]})"

    day_only, month_only = a > 12, b > 12  # a first field above 12 can only be a day, and so on
    if day_only.any() and month_only.any():
        raise DataValidationError([
            f"dates mix day-first and month-first: {example(int(np.argmax(day_only)))} can only be "
            f"day/month/year but {example(int(np.argmax(month_only)))} only month/day/year; "
            "fix the file or pass --date-format FORMAT"
        ], source)
    if dayfirst:
        if month_only.any():
            raise DataValidationError([
                f"--dayfirst was given but {int(month_only.sum())} date(s) have a month above 12, "
                f"e.g. {example(int(np.argmax(month_only)))}; check the file or pass --date-format FORMAT"
            ], source)
        day_first = True
    elif day_only.any() or month_only.any():
        day_first = bool(day_only.any())
        k = int(np.argmax(day_only if day_first else month_only))
        order = "day/month/year" if day_first else "month/day/year"
        notes.append(f"read dates as {order}: {example(k)} fits no other order")
    elif (a == b).all():
        day_first = True  # every date reads the same either way
    else:
        k = int(np.argmax(a != b))
        ymd = f"{year[k]:04d}-{{:02d}}-{{:02d}}"
        raise DataValidationError([
            "ambiguous dates: no row shows whether they are day/month/year or month/day/year; "
            f"{example(k)} is {ymd.format(b[k], a[k])} day first or {ymd.format(a[k], b[k])} month first; "
            "re-run with --dayfirst, or with --date-format FORMAT (e.g. '%m/%d/%Y' for month first)"
        ], source)
    day, month = (a, b) if day_first else (b, a)
    iso = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(pa.array(year), pa.string()), 4, "0"),
        pc.utf8_lpad(pc.cast(pa.array(month), pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(pa.array(day), pa.string()), 2, "0"),
        "-",
    )
    iso = pc.binary_join_element_wise(iso, pc.struct_field(parts, "rest"), "").to_numpy(zero_copy_only=False)
    if len(rows) == len(values):
        return pd.Series(iso, index=values.index, dtype=object)
    out = values.to_numpy(dtype=object, copy=True)
    out[rows] = iso
    return pd.Series(out, index=values.index)


def _parse_iso(values: pd.Series | pd.Index) -> pd.DatetimeIndex | None:
    """Zone-less ISO 8601 stamps (`2024-03-01`, `2024-03-01 14:30:00.5`) read by Arrow, or None.

    Why: pandas parses a text column through one Python string per row (for a million rows about
    140 MB and most of a second); Arrow's ISO parser reads the column's own buffer. It is stricter
    than pandas and gives the same instant for every stamp it accepts; when any value is something
    else (a zone, another format, an impossible or out-of-range date, a blank) this returns None and
    `_parse_dates` decides as before, so what is accepted and every message stay the same.
    """
    if not pd.api.types.is_string_dtype(values):
        return None
    text = pa.array(values, type=pa.string(), from_pandas=True)
    if text.null_count:
        return None
    try:
        stamps = pc.cast(text, pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.DatetimeIndex(stamps.to_numpy(zero_copy_only=False)).tz_localize("UTC")


def _parse_dates(values: pd.Series | pd.Index, date_format: str | None = None) -> pd.DatetimeIndex:
    """Parse a date column to a UTC index; NaT where a value cannot be read.

    pandas infers one format from the first value, so a file that mixes `2020-01-02` with
    `2020-01-02 15:00` would lose the odd rows; those are parsed again one by one. A user's
    `date_format` (strptime) is applied to every row instead, and nothing is guessed. A text column
    goes to pandas as it is: `to_numpy()` would make it a million Python strings.
    """
    arr = values if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
    if date_format is not None:
        if arr.dtype.kind in "iu":  # YYYYMMDD as integers
            arr = arr.astype(str)
        return pd.DatetimeIndex(pd.to_datetime(arr, format=date_format, errors="coerce", utc=True))
    if arr.dtype.kind in "iuf":
        return _parse_numeric_dates(arr.astype("float64"))
    with warnings.catch_warnings():  # "could not infer format": the rows are parsed one by one, as said
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.DatetimeIndex(pd.to_datetime(arr, errors="coerce", utc=True))
    bad = np.asarray(parsed.isna()) & ~np.asarray(pd.isna(arr))
    if bad.any():
        retry = pd.DatetimeIndex(pd.to_datetime(arr[bad], errors="coerce", utc=True, format="mixed"))
        values_out = parsed.to_numpy(copy=True)
        values_out[bad] = retry.astype(parsed.dtype).to_numpy()
        parsed = pd.DatetimeIndex(values_out)
    return parsed


_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _local_midnight_dates(values: pd.Series, date_format: str | None = None) -> pd.DatetimeIndex | None:
    """For dated bars stamped at local midnight in some time zone, their local calendar dates.

    A daily bar belongs to its exchange's trading date: `2021-03-01 00:00+01:00` is Monday's bar in
    Frankfurt, and converting it to UTC would make it Sunday 23:00; US bars (as yfinance writes
    them) would land at 05:00 or 04:00 depending on daylight saving time. Returns None when any
    stamp has a time of day (intraday bars are converted to UTC instead) or none has a zone.
    The wall time is read with the user's `date_format` less its zone directive, when one is given.
    """
    s = pd.Series(values).reset_index(drop=True)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        wall = pd.DatetimeIndex(s.dt.tz_localize(None))
    elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        text = s.astype(str).str.strip()
        if not text.str.contains(_OFFSET, regex=True).any():
            return None
        naive = text.str.replace(_OFFSET, "", regex=True).str.strip()
        fmt = "mixed" if date_format is None else re.sub(r"\s*%[zZ]", "", date_format).strip()
        wall = pd.DatetimeIndex(pd.to_datetime(naive, errors="coerce", format=fmt))
    else:
        return None
    if len(wall) == 0 or wall.isna().any() or not (wall == wall.normalize()).all():
        return None
    return wall.tz_localize("UTC")


def _to_frame(
    raw: pd.DataFrame, source: str, *, dayfirst: bool, date_format: str | None, notes: list[str],
) -> tuple[pd.DatetimeIndex, dict[str, pd.Series]]:
    """The bars' times and their other columns by lower-case name, taken from `raw` without copying it.

    The date column (or a datetime index) gives the times. A `date` column plus a separate `time`
    column (common in intraday exports) are combined (a `date_format` then describes the combined
    `DATE TIME` text). Day/month order is decided for the whole column (`_day_month_order`).
    Time-zone-aware stamps are converted to UTC and the zone dropped, except dated bars at local
    midnight, which keep their local date (see `_local_midnight_dates`); naive stamps are kept.
    """
    names = [str(c).strip() for c in raw.columns]
    folded = pd.Index([n.lower() for n in names])
    if folded.has_duplicates:
        clashes = [" and ".join(repr(n) for n, f in zip(names, folded, strict=True) if f == d)
                   for d in folded[folded.duplicated()].unique()]
        raise DataValidationError([
            f"duplicate column(s) {'; '.join(clashes)} (column names are case-insensitive); keep one of each"
        ], source)
    columns = {name: raw.iloc[:, i] for i, name in enumerate(folded)}
    date_col = next((c for c in DATE_COLUMNS if c in columns), None)
    if date_col is not None:
        idx = columns.pop(date_col)
        if date_format is None:
            idx = _day_month_order(idx, dayfirst, source, notes)
        if date_col == "date" and "time" in columns:
            idx = idx.astype(str).str.strip() + " " + columns.pop("time").astype(str).str.strip()
    elif isinstance(raw.index, pd.DatetimeIndex):
        idx = raw.index.to_series()
    else:
        raise DataValidationError([
            f"missing a date column (one of {', '.join(DATE_COLUMNS)}, any case); "
            f"found: {', '.join(folded)}"
        ], source)
    parsed = _parse_iso(idx) if date_format is None else None
    if parsed is None:  # anything but plain ISO stamps: pandas, and zones looked at
        try:
            parsed = _parse_dates(idx, date_format)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataValidationError([f"date column could not be parsed: {exc}"], source) from None
        bad = np.asarray(parsed.isna())
        if bad.any():
            raise DataValidationError([
                f"{int(bad.sum())} unparseable or missing date(s) at row(s) "
                f"{[int(i) for i in np.flatnonzero(bad)[:MAX_LISTED]]}"
                + (f" (not in --date-format {date_format!r})" if date_format is not None else "")
            ], source)
        local = _local_midnight_dates(idx, date_format)
        if local is not None:
            parsed = local
    _check_date_range(parsed, idx, source)
    return parsed.tz_convert(None).astype("datetime64[ns]").rename("date"), columns


def _check_date_range(parsed: pd.DatetimeIndex, raw: pd.Series | pd.Index, source: str) -> None:
    """Refuse dates a bar index cannot hold (pandas parses year 1 or 9999 at a coarser unit, and the
    conversion to nanoseconds would fail later with an internal error)."""
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    outside = np.asarray((parsed < lo) | (parsed > hi))
    if outside.any():
        rows = np.flatnonzero(outside)
        examples = ", ".join(repr(str(v)) for v in np.asarray(raw)[rows[:3]])
        raise DataValidationError([
            f"{int(outside.sum())} date(s) outside the range paiid handles ({FIRST_DATE.date()} to "
            f"{LAST_DATE.date()}) at row(s) {[int(i) for i in rows[:MAX_LISTED]]} ({examples})"
        ], source)


def validate_bars(
    raw: pd.DataFrame,
    *,
    source: str = "data",
    sort: bool = False,
    dedupe: bool = False,
    fill_gaps: bool = False,
    dayfirst: bool = False,
    date_format: str | None = None,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate and normalise bars; raise `DataValidationError` listing every problem found.

    Unsorted and duplicate timestamps are errors unless the caller opts in to the documented
    fix-ups (`sort`: order by time; `dedupe`: keep the last row for each timestamp), because
    silently choosing between two different bars for one timestamp would make wrong numbers.
    Dates like `01/03/2024` need `dayfirst` or a strptime `date_format` unless the column itself
    shows its order (see `_day_month_order`). Prices must lie in `PRICE_RANGE` and agree with each
    other (high is the highest, low the lowest), so that no feature is computed from nonsense.
    """
    if dayfirst and date_format is not None:
        raise BadInput("use --dayfirst or --date-format, not both: the format already says the order")
    report = ValidationReport(rows_in=len(raw))
    index, columns = _to_frame(raw, source, dayfirst=dayfirst, date_format=date_format, notes=report.notes)
    problems: list[str] = []

    real = _real_columns_in(columns, source)

    # One float64 block, column after column: the checks read contiguous columns, and it becomes
    # the result's only copy of the values (no frame of the raw columns is built first). Columns a
    # close-only file does not have stay NaN and are not checked.
    values = np.empty((len(COLUMNS), len(index))).T
    reported = np.zeros((len(index), len(COLUMNS)), dtype=bool)  # cells already named as non-numeric
    for j, col in enumerate(COLUMNS):
        if col not in real:
            values[:, j] = np.nan
            continue
        original = columns[col]
        numeric = pd.to_numeric(original, errors="coerce")
        non_numeric = np.asarray(numeric.isna() & original.notna())
        reported[:, j] = non_numeric
        if non_numeric.any():
            examples = ", ".join(repr(v) for v in original[non_numeric].head(3))
            problems.append(
                f"column {col} has non-numeric values at {_where(index, non_numeric)} ({examples})"
            )
        values[:, j] = numeric.astype("float64")
    del columns  # the caller's table is all that still holds them

    for j, col in enumerate(COLUMNS):
        if col not in real:
            continue
        nan = np.isnan(values[:, j]) & ~reported[:, j]
        if nan.any():
            problems.append(
                f"column {col} has {int(nan.sum())} missing/NaN value(s) at {_where(index, nan)}"
            )
        inf = np.isinf(values[:, j])
        if inf.any():
            problems.append(f"column {col} has {int(inf.sum())} infinite value(s) at {_where(index, inf)}")
        neg = values[:, j] < 0
        if neg.any():
            problems.append(f"column {col} has {int(neg.sum())} negative value(s) at {_where(index, neg)}")
        v = values[:, j]
        if col == "volume":
            out, limit = np.isfinite(v) & (v > MAX_VOLUME), f"above the accepted maximum {MAX_VOLUME:g}"
        else:
            lo, hi = PRICE_RANGE
            out = np.isfinite(v) & (v > 0) & ((v < lo) | (v > hi))
            limit = f"outside the accepted price range {lo:g} to {hi:g}"
        if out.any():
            problems.append(f"column {col} has {int(out.sum())} value(s) {limit} at {_where(index, out)}")
    open_, high, low, close = values[:, 0], values[:, 1], values[:, 2], values[:, 3]
    high_low = high < low
    if high_low.any():
        problems.append(f"high < low in {int(high_low.sum())} bar(s) at {_where(index, high_low)}")
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN were reported above; NaN compares False
        high_short = high < np.maximum(open_, close) * (1 - OHLC_TOLERANCE)
        low_over = low > np.minimum(open_, close) * (1 + OHLC_TOLERANCE)
    if high_short.any():
        problems.append(
            f"high below open or close in {int(high_short.sum())} bar(s) at {_where(index, high_short)}"
        )
    if low_over.any():
        problems.append(
            f"low above open or close in {int(low_over.sum())} bar(s) at {_where(index, low_over)}"
        )
    zero_price = (values[:, :4] == 0).any(axis=1)
    if zero_price.any():
        problems.append(f"zero price in {int(zero_price.sum())} bar(s) at {_where(index, zero_price)}")

    ts = index.asi8
    unsorted = np.zeros(len(index), dtype=bool)
    unsorted[1:] = ts[1:] < ts[:-1]
    if unsorted.any():
        if sort:
            report.fixes.append(f"sorted {int(unsorted.sum())} out-of-order row(s) by time")
        else:
            problems.append(
                f"timestamps not in increasing order at {_where(index, unsorted)} "
                "(re-run with --sort to order them by time)"
            )
        order = np.argsort(ts, kind="stable")  # copies only when there is something to reorder
        index, values = index[order], values[order]
        ts = index.asi8
    # Sorted, so the rows of one timestamp are adjacent: all but the last of each run are dropped.
    dup = np.zeros(len(index), dtype=bool)
    dup[:-1] = ts[:-1] == ts[1:]
    if dup.any():
        if dedupe:
            report.fixes.append(
                f"dropped {int(dup.sum())} duplicate timestamp row(s), keeping the last of each"
            )
            index, values = index[~dup], values[~dup]
        else:
            problems.append(
                f"{int(dup.sum())} duplicate timestamp(s) at {_where(index, dup)} "
                "(re-run with --dedupe to keep the last row of each)"
            )

    if problems:
        raise DataValidationError(problems, source)

    df = pd.DataFrame(values, index=index, columns=COLUMNS, copy=False)
    mark_columns(df, real)
    if real == CLOSE_ONLY:
        report.notes.append("close-only series: open, high, low and volume are absent (NaN), not filled in")
    report.gaps = find_gaps(df.index)
    if fill_gaps and report.gaps:
        before = len(df)
        df = forward_fill_gaps(df, report.gaps)
        report.fixes.append(
            f"forward-filled {len(report.gaps)} gap(s) with {len(df) - before} "
            + ("flat zero-volume bar(s)" if real != CLOSE_ONLY else "bar(s) at the last close")
        )
    report.rows_out = len(df)
    return df, report


def _real_columns_in(columns: dict[str, pd.Series], source: str) -> list[str]:
    """Which bar columns a table has: all five, or close alone (a close-only series); else the error.

    Only these two kinds exist, so that every consumer has one question to ask (`require_columns`):
    a file with close and volume but no high and low is more likely a broken export than a kind of
    data, and is refused with what is missing.
    """
    missing = [c for c in COLUMNS if c not in columns]
    if not missing:
        return list(COLUMNS)
    if "close" in columns and len(missing) == len(COLUMNS) - 1:
        return list(CLOSE_ONLY)
    raise DataValidationError([
        f"missing column(s) {', '.join(missing)}; need date, open, high, low, close, volume "
        "(or date, close for a close-only series)"
    ], source)


def real_columns_of(bars: pd.DataFrame) -> list[str]:
    """The bar columns of `bars` that hold real values, in `COLUMNS` order.

    Read from `bars.attrs["columns"]` where `mark_columns` put it (close-only series); any other
    frame (OHLCV bars, tests, synthetic bars) is judged by its values: a column with no value at all
    is absent. Microseconds either way (one numpy pass): callers check it where a command starts.
    """
    recorded = bars.attrs.get("columns")
    if recorded is not None:
        return [c for c in COLUMNS if c in recorded]
    present = [c for c in COLUMNS if c in bars.columns]
    if bars.empty or not present:
        return present
    # Column by column: `bars[present]` as one array could be a copy of every bar (40 MB a million).
    with np.errstate(invalid="ignore"):
        return [c for c in present if not np.isnan(bars[c].to_numpy(dtype="float64")).all()]


def mark_columns(bars: pd.DataFrame, real: list[str], **info: str | None) -> pd.DataFrame:
    """Record the real columns (and `info`: symbol, source) in `bars.attrs` unless all five are real.

    Only partial frames are marked (see the module docstring for why); `bars` is returned.
    """
    if list(real) != COLUMNS:
        bars.attrs.update(columns=list(real), **info)
    return bars


class MissingColumns(BadInput):
    """`what` needs bar columns the symbol does not have (e.g. high and low of a close-only series).

    A `BadInput` (422 / exit 2): the request cannot be answered from these data, whatever the model.
    `missing` lists the absent columns, for callers that skip rather than fail (training).
    """

    def __init__(self, symbol: str | None, source: str | None, real: list[str], missing: list[str],
                 what: str):
        one = symbol is not None
        close_only = real == CLOSE_ONLY
        state = (("is " if one else "are ") + "close-only" if close_only
                 else ("has" if one else "have") + f" only {', '.join(real)}")
        origin = f" (source {source})" if source else ""
        needs = ", ".join(missing)
        super().__init__(f"{symbol if one else 'these bars'} {state}{origin}: {what} needs {needs}")
        self.symbol = symbol
        self.missing = missing
        #: The short form for lists of skipped symbols, e.g. "close-only: needs high, low, volume".
        self.reason = ("close-only" if close_only else f"only {', '.join(real)}") + f": needs {needs}"


def require_columns(bars: pd.DataFrame, needed: list[str] | tuple[str, ...], what: str) -> list[str]:
    """`real_columns_of(bars)`, or `MissingColumns` naming what `what` needs and the bars lack.

    The symbol and source in the message come from `bars.attrs` (`mark_columns`).
    """
    real = real_columns_of(bars)
    missing = [c for c in COLUMNS if c in needed and c not in real]
    if missing:
        raise MissingColumns(bars.attrs.get("symbol"), bars.attrs.get("source"), real, missing, what)
    return real


def median_spacing(index: pd.DatetimeIndex) -> pd.Timedelta:
    if len(index) < 2:
        return pd.Timedelta(days=1)
    return pd.Timedelta(np.median(np.diff(index.to_numpy())))


_WEEK_NS = 7 * 86_400_000_000_000
_DAY_NS = 86_400_000_000_000
_MONDAY_NS = pd.Timestamp("1970-01-05").value  # the first Monday of the epoch


def _weekend_time(ts: np.ndarray) -> np.ndarray:
    """Nanoseconds of Saturdays and Sundays between the epoch's first Monday and each timestamp (int64 ns).

    The difference of two values is the weekend time inside that span, which markets never trade.
    Computed in place: a million bars need two arrays of temporaries, not six.
    """
    weeks, offset = np.divmod(ts - _MONDAY_NS, _WEEK_NS)
    offset -= 5 * _DAY_NS
    np.clip(offset, 0, 2 * _DAY_NS, out=offset)
    weeks *= 2 * _DAY_NS
    weeks += offset
    return weeks


def find_gaps(index: pd.DatetimeIndex, factor: float = 5.0) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Spans without bars that the market's schedule does not explain: (last bar before, first bar after).

    Daily bars skip weekends and holidays by design, so for daily bars a gap is more than 6 calendar
    days without a bar (a weekend plus up to two holidays is normal; 11 Sept 2001 is not).

    Intraday bars: weekend time never counts. What remains of a span must not exceed `factor` bars'
    worth of time; a span that crosses midnight may also contain the series' usual overnight break
    (its typical length is learnt from the data: ~1 bar for 24-hour FX, ~17.5 h for exchange hours)
    plus one whole day for a holiday. So a 24-hour FX series has no gaps at weekends, and a stock's
    15-minute bars have none every night, but a lost afternoon or a missing week is reported.
    """
    if len(index) < 3:
        return []
    step = median_spacing(index)
    ts = pd.DatetimeIndex(index).as_unit("ns").asi8
    active = np.diff(ts)
    if step >= pd.Timedelta(hours=20):
        mask = active > 6 * _DAY_NS
    else:
        limit = factor * step.value
        active -= np.diff(_weekend_time(ts))
        days = ts.view("datetime64[ns]").astype("datetime64[D]")
        crosses = days[1:] != days[:-1]
        del days
        overnight = float(np.median(active[crosses])) if crosses.any() else 0.0
        mask = active > np.where(crosses, overnight + limit + _DAY_NS, limit)
    stamps = ts.view("datetime64[ns]")
    return [(pd.Timestamp(stamps[i]), pd.Timestamp(stamps[i + 1])) for i in np.flatnonzero(mask)]


def forward_fill_gaps(df: pd.DataFrame, gaps: list[tuple[pd.Timestamp, pd.Timestamp]] | None = None,
                      ) -> pd.DataFrame:
    """Fill the reported gaps (default: `find_gaps`) with flat, zero-volume bars at the last close.

    Only the gaps are filled, never weekends, holidays or overnight breaks: daily gaps get business
    days; intraday gaps get the series' own bar times (time of day seen in the data, weekdays only),
    so a filled stock series does not trade at 3 a.m.
    """
    if gaps is None:
        gaps = find_gaps(df.index)
    if not gaps:
        return df
    df = df.set_axis(pd.DatetimeIndex(df.index).as_unit("ns"))  # one unit, so times of day compare
    step = median_spacing(df.index)
    fill: list[pd.DatetimeIndex] = []
    if step >= pd.Timedelta(hours=20):
        for a, b in gaps:
            days = pd.bdate_range(a.normalize() + pd.Timedelta(days=1), b.normalize() - pd.Timedelta(days=1),
                                  unit="ns")
            fill.append(days + (a - a.normalize()))  # keep the series' time of day (usually midnight)
    else:
        times = set((df.index - df.index.normalize()).asi8.tolist())
        for a, b in gaps:
            grid = pd.date_range(a + step, b - step, freq=step, unit="ns")
            keep = (grid.day_of_week < 5) & np.isin((grid - grid.normalize()).asi8, list(times))
            fill.append(grid[keep])
    new = fill[0].append(fill[1:]) if len(fill) > 1 else fill[0]
    new = new[(new > df.index[0]) & (new < df.index[-1])].difference(df.index)
    real = real_columns_of(df)
    out = df.reindex(df.index.union(new))
    close = out["close"].ffill()
    for col in ("open", "high", "low"):  # a close-only series keeps them absent: nothing is invented
        if col in real:
            out[col] = out[col].fillna(close)
    out["close"] = close
    if "volume" in real:
        out["volume"] = out["volume"].fillna(0.0)
    out.index = out.index.astype("datetime64[ns]").rename("date")
    return mark_columns(out, real)


def require_history(df: pd.DataFrame, needed: int, what: str) -> None:
    """Raise a precise error when `df` is too short for `what`."""
    if len(df) < needed:
        raise NotEnoughHistory(what, needed, len(df))

"""Turn any OHLCV table into the one bar schema, or say precisely what is wrong with it.

The bar schema used everywhere: a DataFrame indexed by a tz-naive `DatetimeIndex` named `date`
(datetime64[ns], strictly increasing, unique) with float64 columns open, high, low, close, volume.
Time zones are dropped after converting to UTC, so one schema serves daily and intraday bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from paiid.errors import DataValidationError, NotEnoughHistory

COLUMNS = ["open", "high", "low", "close", "volume"]
DATE_COLUMNS = ("date", "datetime", "time", "timestamp")
MAX_LISTED = 5


@dataclass
class ValidationReport:
    """What validation fixed and what it noticed but did not treat as an error."""

    rows_in: int = 0
    rows_out: int = 0
    fixes: list[str] = field(default_factory=list)
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


def _parse_dates(values: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Parse a date column to a UTC index; NaT where a value cannot be read.

    pandas infers one format from the first value, so a file that mixes `2020-01-02` with
    `2020-01-02 15:00` would lose the odd rows; those are parsed again one by one.
    """
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.dtype.kind in "iuf":
        return _parse_numeric_dates(arr.astype("float64"))
    parsed = pd.DatetimeIndex(pd.to_datetime(arr, errors="coerce", utc=True))
    bad = np.asarray(parsed.isna()) & ~np.asarray(pd.isna(arr))
    if bad.any():
        retry = pd.DatetimeIndex(pd.to_datetime(arr[bad], errors="coerce", utc=True, format="mixed"))
        values_out = parsed.to_numpy(copy=True)
        values_out[bad] = retry.astype(parsed.dtype).to_numpy()
        parsed = pd.DatetimeIndex(values_out)
    return parsed


_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _local_midnight_dates(values: pd.Series) -> pd.DatetimeIndex | None:
    """For dated bars stamped at local midnight in some time zone, their local calendar dates.

    A daily bar belongs to its exchange's trading date: `2021-03-01 00:00+01:00` is Monday's bar in
    Frankfurt, and converting it to UTC would make it Sunday 23:00; US bars (as yfinance writes
    them) would land at 05:00 or 04:00 depending on daylight saving time. Returns None when any
    stamp has a time of day (intraday bars are converted to UTC instead) or none has a zone.
    """
    s = pd.Series(values).reset_index(drop=True)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        wall = pd.DatetimeIndex(s.dt.tz_localize(None))
    elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        text = s.astype(str).str.strip()
        if not text.str.contains(_OFFSET, regex=True).any():
            return None
        naive = text.str.replace(_OFFSET, "", regex=True)
        wall = pd.DatetimeIndex(pd.to_datetime(naive, errors="coerce", format="mixed"))
    else:
        return None
    if len(wall) == 0 or wall.isna().any() or not (wall == wall.normalize()).all():
        return None
    return wall.tz_localize("UTC")


def _to_frame(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Lower-case the columns and move the date column (or a datetime index) into the index.

    A `date` column plus a separate `time` column (common in intraday exports) are combined.
    Time-zone-aware stamps are converted to UTC and the zone dropped, except dated bars at local
    midnight, which keep their local date (see `_local_midnight_dates`); naive stamps are kept.
    """
    df = raw.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    date_col = next((c for c in DATE_COLUMNS if c in df.columns), None)
    if date_col is not None:
        idx = df.pop(date_col)
        if date_col == "date" and "time" in df.columns:
            idx = idx.astype(str).str.strip() + " " + df.pop("time").astype(str).str.strip()
    elif isinstance(df.index, pd.DatetimeIndex):
        idx = df.index.to_series()
    else:
        raise DataValidationError([
            f"missing a date column (one of {', '.join(DATE_COLUMNS)}, any case); "
            f"found: {', '.join(df.columns)}"
        ], source)
    try:
        parsed = _parse_dates(idx)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataValidationError([f"date column could not be parsed: {exc}"], source) from None
    bad = np.asarray(parsed.isna())
    if bad.any():
        raise DataValidationError([
            f"{int(bad.sum())} unparseable or missing date(s) at row(s) "
            f"{[int(i) for i in np.flatnonzero(bad)[:MAX_LISTED]]}"
        ], source)
    local = _local_midnight_dates(idx)
    if local is not None:
        parsed = local
    df.index = parsed.tz_convert(None).astype("datetime64[ns]").rename("date")
    return df


def validate_bars(
    raw: pd.DataFrame,
    *,
    source: str = "data",
    sort: bool = False,
    dedupe: bool = False,
    fill_gaps: bool = False,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate and normalise bars; raise `DataValidationError` listing every problem found.

    Unsorted and duplicate timestamps are errors unless the caller opts in to the documented
    fix-ups (`sort`: order by time; `dedupe`: keep the last row for each timestamp), because
    silently choosing between two different bars for one timestamp would make wrong numbers.
    """
    report = ValidationReport(rows_in=len(raw))
    df = _to_frame(raw, source)
    problems: list[str] = []

    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            [f"missing column(s) {', '.join(missing)}; need date, open, high, low, close, volume"], source
        )
    df = df[COLUMNS]

    reported = np.zeros((len(df), len(COLUMNS)), dtype=bool)  # cells already named as non-numeric
    for j, col in enumerate(COLUMNS):
        original = df[col]
        numeric = pd.to_numeric(original, errors="coerce")
        non_numeric = np.asarray(numeric.isna() & original.notna())
        reported[:, j] = non_numeric
        if non_numeric.any():
            examples = ", ".join(repr(v) for v in original[non_numeric].head(3))
            problems.append(
                f"column {col} has non-numeric values at {_where(df.index, non_numeric)} ({examples})"
            )
        df[col] = numeric.astype("float64")

    values = df.to_numpy()
    for j, col in enumerate(COLUMNS):
        nan = np.isnan(values[:, j]) & ~reported[:, j]
        if nan.any():
            problems.append(
                f"column {col} has {int(nan.sum())} missing/NaN value(s) at {_where(df.index, nan)}"
            )
        inf = np.isinf(values[:, j])
        if inf.any():
            problems.append(f"column {col} has {int(inf.sum())} infinite value(s) at {_where(df.index, inf)}")
        neg = values[:, j] < 0
        if neg.any():
            problems.append(f"column {col} has {int(neg.sum())} negative value(s) at {_where(df.index, neg)}")
    high_low = df["high"].to_numpy() < df["low"].to_numpy()
    if high_low.any():
        problems.append(f"high < low in {int(high_low.sum())} bar(s) at {_where(df.index, high_low)}")
    zero_price = (values[:, :4] == 0).any(axis=1)
    if zero_price.any():
        problems.append(f"zero price in {int(zero_price.sum())} bar(s) at {_where(df.index, zero_price)}")

    ts = df.index.to_numpy()
    unsorted = np.zeros(len(df), dtype=bool)
    unsorted[1:] = ts[1:] < ts[:-1]
    if unsorted.any():
        if sort:
            report.fixes.append(f"sorted {int(unsorted.sum())} out-of-order row(s) by time")
        else:
            problems.append(
                f"timestamps not in increasing order at {_where(df.index, unsorted)} "
                "(re-run with --sort to order them by time)"
            )
    df = df.sort_index(kind="stable")
    dup = np.asarray(df.index.duplicated(keep="last"))
    if dup.any():
        if dedupe:
            report.fixes.append(
                f"dropped {int(dup.sum())} duplicate timestamp row(s), keeping the last of each"
            )
            df = df[~dup]
        else:
            problems.append(
                f"{int(dup.sum())} duplicate timestamp(s) at {_where(df.index, dup)} "
                "(re-run with --dedupe to keep the last row of each)"
            )

    if problems:
        raise DataValidationError(problems, source)

    report.gaps = find_gaps(df.index)
    if fill_gaps and report.gaps:
        before = len(df)
        df = forward_fill_gaps(df, report.gaps)
        report.fixes.append(
            f"forward-filled {len(report.gaps)} gap(s) with {len(df) - before} flat zero-volume bar(s)"
        )
    report.rows_out = len(df)
    return df, report


def median_spacing(index: pd.DatetimeIndex) -> pd.Timedelta:
    if len(index) < 2:
        return pd.Timedelta(days=1)
    return pd.Timedelta(np.median(np.diff(index.to_numpy())))


_WEEK_NS = 7 * 86_400_000_000_000
_DAY_NS = 86_400_000_000_000
_MONDAY_NS = pd.Timestamp("1970-01-05").value  # the first Monday of the epoch


def _weekend_time(ts: np.ndarray) -> np.ndarray:
    """Nanoseconds of Saturdays and Sundays between the epoch's first Monday and each timestamp.

    The difference of two values is the weekend time inside that span, which markets never trade.
    """
    t = ts.astype("datetime64[ns]").astype(np.int64) - _MONDAY_NS
    weeks, offset = np.divmod(t, _WEEK_NS)
    return weeks * 2 * _DAY_NS + np.clip(offset - 5 * _DAY_NS, 0, 2 * _DAY_NS)


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
    ts = index.to_numpy().astype("datetime64[ns]")
    diffs = np.diff(ts).astype(np.int64)
    if step >= pd.Timedelta(hours=20):
        mask = diffs > 6 * _DAY_NS
    else:
        limit = factor * step.value
        weekend = _weekend_time(ts)
        active = diffs - np.diff(weekend)
        days = ts.astype("datetime64[D]")
        crosses = days[1:] != days[:-1]
        overnight = float(np.median(active[crosses])) if crosses.any() else 0.0
        allowed = np.where(crosses, overnight + limit + _DAY_NS, limit)
        mask = active > allowed
    return [(pd.Timestamp(ts[i]), pd.Timestamp(ts[i + 1])) for i in np.flatnonzero(mask)]


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
    out = df.reindex(df.index.union(new))
    close = out["close"].ffill()
    for col in ("open", "high", "low"):
        out[col] = out[col].fillna(close)
    out["close"] = close
    out["volume"] = out["volume"].fillna(0.0)
    out.index = out.index.astype("datetime64[ns]").rename("date")
    return out


def require_history(df: pd.DataFrame, needed: int, what: str) -> None:
    """Raise a precise error when `df` is too short for `what`."""
    if len(df) < needed:
        raise NotEnoughHistory(what, needed, len(df))

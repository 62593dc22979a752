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


def _to_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Lower-case the columns and move the date column (or a datetime index) into the index."""
    df = raw.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    date_col = next((c for c in DATE_COLUMNS if c in df.columns), None)
    if date_col is not None:
        idx = df.pop(date_col)
    elif isinstance(df.index, pd.DatetimeIndex):
        idx = df.index.to_series()
    else:
        raise DataValidationError(
            [f"missing a date column (one of {', '.join(DATE_COLUMNS)}, any case); found: {', '.join(df.columns)}"]
        )
    try:
        parsed = pd.to_datetime(idx.to_numpy() if hasattr(idx, "to_numpy") else idx, errors="coerce", utc=True)
    except (ValueError, TypeError) as exc:
        raise DataValidationError([f"date column could not be parsed: {exc}"]) from None
    parsed = pd.DatetimeIndex(parsed)
    bad = np.asarray(parsed.isna())
    if bad.any():
        raise DataValidationError([f"{int(bad.sum())} unparseable date(s) at row(s) {list(np.flatnonzero(bad)[:5])}"])
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
    df = _to_frame(raw)
    problems: list[str] = []

    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(
            [f"missing column(s) {', '.join(missing)}; need date, open, high, low, close, volume"], source
        )
    df = df[COLUMNS]

    for col in COLUMNS:
        original = df[col]
        numeric = pd.to_numeric(original, errors="coerce")
        non_numeric = np.asarray(numeric.isna() & original.notna())
        if non_numeric.any():
            examples = ", ".join(repr(v) for v in original[non_numeric].head(3))
            problems.append(f"column {col} has non-numeric values at {_where(df.index, non_numeric)} ({examples})")
        df[col] = numeric.astype("float64")

    values = df.to_numpy()
    for j, col in enumerate(COLUMNS):
        nan = np.isnan(values[:, j])
        if nan.any():
            problems.append(f"column {col} has {int(nan.sum())} missing/NaN value(s) at {_where(df.index, nan)}")
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
            report.fixes.append(f"dropped {int(dup.sum())} duplicate timestamp row(s), keeping the last of each")
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
        df = forward_fill_gaps(df)
        report.fixes.append(f"forward-filled {len(report.gaps)} gap(s) with flat zero-volume bars")
    report.rows_out = len(df)
    return df, report


def median_spacing(index: pd.DatetimeIndex) -> pd.Timedelta:
    if len(index) < 2:
        return pd.Timedelta(days=1)
    return pd.Timedelta(np.median(np.diff(index.to_numpy())))


def find_gaps(index: pd.DatetimeIndex, factor: float = 5.0) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Spans longer than `factor` × the typical bar spacing, weekends and holidays excepted.

    Daily data skips weekends and holidays by design, so for daily bars a gap is more than
    5 calendar days without a bar; for intraday bars, more than `factor` bars' worth of time
    that is not explained by a weekend.
    """
    if len(index) < 3:
        return []
    step = median_spacing(index)
    ts = index.to_numpy()
    diffs = np.diff(ts)
    if step >= pd.Timedelta(hours=20):
        limit = np.timedelta64(6, "D")
        mask = diffs > limit
    else:
        limit = np.timedelta64(int(factor * step.value), "ns")
        starts = pd.DatetimeIndex(ts[:-1])
        weekend = (starts.dayofweek >= 4) & (diffs <= np.timedelta64(4, "D"))
        mask = (diffs > limit) & ~np.asarray(weekend)
    return [(pd.Timestamp(ts[i]), pd.Timestamp(ts[i + 1])) for i in np.flatnonzero(mask)]


def forward_fill_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Fill gaps on business days (daily) or the median spacing (intraday) with flat, zero-volume bars."""
    step = median_spacing(df.index)
    freq = "B" if step >= pd.Timedelta(hours=20) else step
    full = pd.date_range(df.index[0], df.index[-1], freq=freq)
    full = full.union(df.index)
    out = df.reindex(full)
    close = out["close"].ffill()
    for col in ("open", "high", "low"):
        out[col] = out[col].fillna(close)
    out["close"] = close
    out["volume"] = out["volume"].fillna(0.0)
    out.index.name = "date"
    return out


def require_history(df: pd.DataFrame, needed: int, what: str) -> None:
    """Raise a precise error when `df` is too short for `what`."""
    if len(df) < needed:
        raise NotEnoughHistory(what, needed, len(df))

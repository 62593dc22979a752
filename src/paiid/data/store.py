"""Bars that users import or fetch, kept in the database.

A write is one transaction holding the write lock (`db.write_transaction`): two imports of one symbol
run one after the other, and an import that fails or is killed part-way leaves the earlier bars
exactly as they were. Each symbol keeps a digest of its stored bars (`DigestRow`): when the incoming
bars have the same count and digest, they are what is stored and nothing is read or written, so
re-importing an unchanged file costs one small query. Otherwise the stored range is read back as
numpy arrays, in batches (memory stays bounded by the batch size, not the file's length), and only
rows that are new or differ are written.

The write lock is held as briefly as possible, because every other writer waits for it (on SQLite
that includes the server logging each answer): the comparison and the loading of the rows to write
into a temporary table happen before it is taken; under it one `INSERT ... SELECT ... ON CONFLICT`
moves them into `bars`, after checking (by the digest) that nobody wrote the symbol in between.

A file import can also leave a record beside the digest (`ImportRecord`): the file's key and the
count and digest of the bars it left. Importing the same file again (`recorded_import`) then needs
neither parsing nor validation while nobody has written the symbol since.

Close-only series (`validate.CLOSE_ONLY`) keep NULL open, high, low and volume, read back as NaN,
and `symbols.real_columns` records which columns are real (NULL, in a database written before it
existed, means all five: only OHLCV bars could be stored then). A database created before close-only
series gets the column, and its `bars` table loses the NOT NULL of those four columns, when it is
first opened (the first migration, `paiid/data/migrations/versions/0001_initial.py`).

SQLite and PostgreSQL are both first-class: the upsert is each dialect's `INSERT ... ON CONFLICT`
(`upsert_statement`), times are bound as each driver keeps them (`_encode_ts`), and the write lock is
each one's own (`db.write_transaction`).

numpy, pandas and `validate` are imported by the functions that handle bars: recognising an
unchanged file (`recorded_import`, `stored_symbols`) reads a few rows and should not pay for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    Insert,
    MetaData,
    Select,
    String,
    Table,
    Text,
    Time,
    cast,
    delete,
    func,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from paiid.data.columns import COLUMNS
from paiid.data.db import Base, get_engine, write_transaction
from paiid.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Rows per executemany / fetch: large enough to amortise round trips, small enough that the
#: Python objects of one batch (a few tens of MB) never dominate the import's memory.
BATCH = 20_000

#: The dialects whose `INSERT ... ON CONFLICT (symbol, ts) DO UPDATE` the upsert is written in.
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class BarRow(Base):
    __tablename__ = "bars"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    # NULL only in close-only series (`SymbolRow.real_columns`)
    open: Mapped[float | None] = mapped_column(Float, nullable=True)
    high: Mapped[float | None] = mapped_column(Float, nullable=True)
    low: Mapped[float | None] = mapped_column(Float, nullable=True)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float, nullable=True)


class SymbolRow(Base):
    __tablename__ = "symbols"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    timeframe: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    #: The real bar columns, comma-separated (`close`, or all five); NULL (older rows) = all five.
    real_columns: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DigestRow(Base):
    """Count and order-independent digest (`_digest`) of every bar stored for a symbol.

    `upsert_bars`, the only writer of `bars`, keeps it in step in the same transaction; a symbol
    without one (stored by an earlier version) gets it on its next write. Anything that ever writes
    `bars` another way must delete the symbol's row here (it is then rebuilt), never leave it stale.
    """

    __tablename__ = "bar_digests"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    bars: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[int] = mapped_column(BigInteger)
    #: The `ImportRecord` of the file import that left these bars: its key, the count and digest of
    #: the bars right after it, and what it reported. NULL once another write changed the bars.
    import_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    import_bars: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    import_digest: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    import_report: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class ImportRecord:
    """What a file import leaves for its next run: `key` names the file's bytes, the import options
    and the paiid version (see `importer.import_key`); `report` is its JSON-able result."""

    key: str
    report: dict


#: Per-connection scratch table the rows to write are loaded into before the write lock is taken.
#: Its own MetaData, so `create_all` never makes it a real table.
_STAGING = Table("bars_staging", MetaData(), *(Column(c.name, c.type) for c in BarRow.__table__.c),
                 prefixes=["TEMPORARY"])


def upsert_statement(conn: Connection, table: Table, keys: list[str], rows: Select | None = None) -> Insert:
    """`INSERT ... [SELECT rows] ON CONFLICT (keys) DO UPDATE SET` every other column, in the
    connection's dialect (SQLite and PostgreSQL spell it alike, through different SQLAlchemy constructs).

    Execute it with a list of row dicts, or with `rows` for `INSERT ... SELECT`.
    """
    try:
        insert = _INSERTS[conn.dialect.name]
    except KeyError:
        raise BadInput(
            f"PAIID_DATABASE_URL uses {conn.dialect.name}; paiid keeps its tables in SQLite or PostgreSQL"
        ) from None
    stmt = insert(table)
    if rows is not None:
        stmt = stmt.from_select([c.name for c in table.c], rows)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
    )


def _encode_ts(dialect: str, ts: np.ndarray) -> list:
    """int64 ns times as the driver's parameters, exactly as SQLAlchemy's `DateTime` would bind them.

    SQLite keeps text, `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's storage format, so rows written
    through the ORM or by earlier versions compare and conflict equal); formatting it in numpy
    avoids a Python call per row. Other drivers take `datetime` objects.
    """
    import numpy as np
    import pandas as pd

    micro = ts.view("datetime64[ns]").astype("datetime64[us]")
    if dialect != "sqlite":
        return pd.DatetimeIndex(micro).to_pydatetime().tolist()
    text = np.datetime_as_string(micro, unit="us")
    text.view("<U1").reshape(len(text), -1)[:, 10] = " "  # ISO's "T" -> SQLAlchemy's space
    return text.tolist()


def _decode_ts(dialect: str, values: Sequence) -> np.ndarray:
    """Stored times (see `_encode_ts`) as int64 ns."""
    import numpy as np
    import pandas as pd

    if dialect == "sqlite":
        return np.array(values, dtype="datetime64[us]").astype("datetime64[ns]").view("int64")
    return pd.DatetimeIndex(values).as_unit("ns").asi8


def _fetch(conn: Connection, query: Select) -> Iterator[list[tuple]]:
    """Rows of `query` from the DBAPI cursor, `BATCH` at a time (its parameters already encoded).

    Below SQLAlchemy's result layer on purpose: building a `Row` and converting each value costs
    several microseconds a row, most of the time of reading a million bars.
    """
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), [params[n] for n in compiled.positiontup] if compiled.positional
                       else params)
        while rows := cursor.fetchmany(BATCH):
            yield rows
    finally:
        cursor.close()


def _executemany(conn: Connection, stmt: Insert, columns: dict[str, list]) -> None:
    """Run `stmt` for each row of `columns` (already encoded) in one DBAPI executemany."""
    compiled = stmt.compile(dialect=conn.dialect)
    names = compiled.positiontup if compiled.positional else list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    conn.exec_driver_sql(
        str(compiled), list(rows) if compiled.positional else [dict(zip(names, r, strict=True)) for r in rows]
    )


def _read_range(
    conn: Connection, symbol: str, first: np.int64 | None = None, last: np.int64 | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stored bars of `symbol` (optionally only times `first`..`last`, ns) as (int64 ns, float64 n x 5).

    Ordered by time and fetched `BATCH` rows at a time into numpy, so a million stored bars never
    exist as a million Python row objects at once.
    """
    import numpy as np

    dialect = conn.dialect.name
    query = select(BarRow.ts, *(getattr(BarRow, c) for c in COLUMNS)).where(BarRow.symbol == symbol)
    if first is not None and last is not None:
        lo, hi = _encode_ts(dialect, np.array([first, last], dtype="int64"))
        query = query.where(BarRow.ts >= lo, BarRow.ts <= hi)
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for rows in _fetch(conn, query.order_by(BarRow.ts)):
        ts, *cols = zip(*rows, strict=True)
        times.append(_decode_ts(dialect, ts))
        values.append(np.array(cols, dtype="float64").T)
    if not times:
        return np.empty(0, dtype="int64"), np.empty((0, len(COLUMNS)), dtype="float64")
    return np.concatenate(times), np.concatenate(values)


def _row_hashes(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each bar (its time and the bits of its five values), vectorised.

    Each word is folded in with splitmix64's finaliser (a well-studied 64-bit mixer), one column
    at a time and in place, so a million bars need a few 8 MB temporaries, not a copy of the bars.
    `_canonical` turns -0.0 into 0.0 and fixes NaN's bits. uint64 arithmetic wraps, as intended.
    """
    import numpy as np

    h = np.full(len(ts), 0x9E3779B97F4A7C15, dtype="uint64")
    z = np.empty_like(h)
    columns = (_canonical(values[:, j]).view("uint64") for j in range(values.shape[1]))
    for word in (ts.view("uint64"), *columns):
        np.bitwise_xor(h, word, out=z)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        np.bitwise_xor(z, z >> np.uint64(31), out=h)
    return h


def _canonical(column: np.ndarray) -> np.ndarray:
    """A column with -0.0 as 0.0 (equal as prices) and every NaN (an absent value of a close-only
    series, however a driver returns it) with the same bits, so that equal bars hash equal."""
    import numpy as np

    out = column + 0.0
    nan = np.isnan(out)
    if nan.any():
        out[nan] = np.nan
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise equality of two value blocks, NaN (absent) equal to NaN."""
    import numpy as np

    return ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)


def _digest(hashes: np.ndarray) -> int:
    """Sum of row hashes modulo 2**64, as a signed 64-bit integer (what BIGINT columns hold).

    A sum does not depend on order and is updated by adding new rows' hashes and subtracting the
    replaced rows', so a partial write never needs the symbol's other bars.
    """
    return int(hashes.sum(dtype="uint64").view("int64"))


def _plus(a: int, b: int) -> int:
    """`a + b` wrapped to a signed 64-bit integer, like `_digest`."""
    return (a + b + 2**63) % 2**64 - 2**63


@dataclass
class _Plan:
    """What writing the incoming bars changes, decided from one reading of what is stored."""

    state: tuple  # (source, timeframe, columns), (count, digest), import key as read; same later = same bars
    changed: np.ndarray  # positions of incoming rows to write (new or different)
    inserted: int
    unchanged: int
    bars: int  # the symbol's count and digest once `changed` is written
    digest: int


_ALL_COLUMNS = ",".join(COLUMNS)


def _state(conn: Connection, symbol: str) -> tuple:
    meta = conn.execute(
        select(SymbolRow.source, SymbolRow.timeframe, func.coalesce(SymbolRow.real_columns, _ALL_COLUMNS))
        .where(SymbolRow.symbol == symbol)).one_or_none()
    kept = conn.execute(select(DigestRow.bars, DigestRow.digest, DigestRow.import_key)
                        .where(DigestRow.symbol == symbol)).one_or_none()
    return (None if meta is None else tuple(meta), None if kept is None else tuple(kept[:2]),
            None if kept is None else kept[2])


def _plan(conn: Connection, symbol: str, ts: np.ndarray, values: np.ndarray, hashes: np.ndarray) -> _Plan:
    import numpy as np

    state = _state(conn, symbol)
    kept = state[1]
    if kept == (len(ts), _digest(hashes)):  # same count and digest: the stored bars are these bars
        return _Plan(state, np.empty(0, dtype="int64"), 0, len(ts), *kept)
    # With a digest only the incoming range can change; without one, read all to build it.
    stored_ts, stored_values = (_read_range(conn, symbol, ts[0], ts[-1]) if kept is not None
                                else _read_range(conn, symbol))
    count, digest = kept if kept is not None else (
        len(stored_ts), _digest(_row_hashes(stored_ts, stored_values)))
    pos = np.minimum(np.searchsorted(stored_ts, ts), max(len(stored_ts) - 1, 0))
    found = stored_ts[pos] == ts if len(stored_ts) else np.zeros(len(ts), dtype=bool)
    same = found.copy()
    same[found] = _same(stored_values[pos[found]], values[found])
    replaced = pos[found & ~same]
    changed = np.flatnonzero(~same)
    inserted = len(ts) - int(found.sum())
    digest = _plus(digest, _digest(hashes[changed])
                   - _digest(_row_hashes(stored_ts[replaced], stored_values[replaced])))
    return _Plan(state, changed, inserted, int(same.sum()), count + inserted, digest)


@contextmanager
def _staging(conn: Connection) -> Iterator[Table]:
    """The connection's temporary staging table, empty, dropped (and that committed) on exit."""
    _STAGING.create(conn)
    conn.commit()
    try:
        yield _STAGING
    finally:
        _STAGING.drop(conn)
        conn.commit()


def _stage(conn: Connection, symbol: str, ts: np.ndarray, values: np.ndarray, rows: np.ndarray) -> None:
    """Load the incoming `rows` into the staging table, `BATCH` at a time, encoded for the driver."""
    conn.execute(delete(_STAGING))
    insert = _STAGING.insert()
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        _executemany(conn, insert, {
            "symbol": [symbol] * len(chunk), "ts": _encode_ts(conn.dialect.name, ts[chunk]),
            **dict(zip(COLUMNS, values[chunk].T.tolist(), strict=True)),
        })


def _after(plan: _Plan, meta: tuple[str, str, str], record: ImportRecord | None) -> tuple:
    """The state (as `_state` reads it) once `plan` is written: a write without a record keeps the
    stored one only if the bars stay exactly as they were."""
    kept = (plan.bars, plan.digest)
    key = record.key if record is not None else plan.state[2] if plan.state[1] == kept else None
    return (meta, kept, key)


def upsert_bars(symbol: str, bars: pd.DataFrame, source: str, timeframe: str,
                record: ImportRecord | None = None) -> dict[str, int]:
    """Store `bars` under `symbol` atomically: insert new timestamps, overwrite changed ones.

    Returns how many rows were `inserted`, `updated` (stored with other values) and `unchanged`
    (already stored exactly; not written). When the digest says all are unchanged and the symbol's
    source, timeframe and import record are the same, nothing is written and no lock is taken.
    `record` is stored with the bars, in the same transaction. The real columns (`real_columns_of`)
    are recorded with the symbol; the caller makes sure they are those already stored (`importer`).
    """
    import pandas as pd

    from paiid.data.validate import real_columns_of

    engine = get_engine()
    # Microseconds are what the database keeps; compare at that precision.
    ts = pd.DatetimeIndex(bars.index).as_unit("us").as_unit("ns").asi8
    real = real_columns_of(bars)
    values = bars[COLUMNS].to_numpy(dtype="float64")
    hashes = _row_hashes(ts, values)
    meta = (source, timeframe, ",".join(real))
    with engine.connect() as conn:
        plan = _plan(conn, symbol, ts, values, hashes)
        conn.rollback()  # end the read
        if len(plan.changed) or plan.state != _after(plan, meta, record):
            with _staging(conn):
                _stage(conn, symbol, ts, values, plan.changed)
                conn.commit()
                with write_transaction(conn, lock_key=f"bars:{symbol}"):
                    if _state(conn, symbol) != plan.state:  # another writer came first: decide again
                        plan = _plan(conn, symbol, ts, values, hashes)
                        _stage(conn, symbol, ts, values, plan.changed)
                    _write(conn, symbol, meta, plan, record)
    return {"inserted": plan.inserted, "updated": len(plan.changed) - plan.inserted,
            "unchanged": plan.unchanged}


def _write(conn: Connection, symbol: str, meta: tuple[str, str, str], plan: _Plan,
           record: ImportRecord | None) -> None:
    """Under the write lock: move the staged rows into `bars`, then the digest and symbol rows."""
    if len(plan.changed):
        staged = select(*(_STAGING.c[c.name] for c in BarRow.__table__.c)).where(true())
        conn.execute(upsert_statement(conn, BarRow.__table__, ["symbol", "ts"], rows=staged))
    if plan.state[1:] != _after(plan, meta, record)[1:]:
        imported = ({"import_key": None, "import_bars": None, "import_digest": None, "import_report": None}
                    if record is None else
                    {"import_key": record.key, "import_bars": plan.bars, "import_digest": plan.digest,
                     "import_report": json.dumps(record.report, allow_nan=False)})
        conn.execute(upsert_statement(conn, DigestRow.__table__, ["symbol"]),
                     [{"symbol": symbol, "bars": plan.bars, "digest": plan.digest, **imported}])
    if len(plan.changed) or plan.state[0] != meta:
        _write_symbol(conn, symbol, *meta)


def _write_symbol(conn: Connection, symbol: str, source: str, timeframe: str, columns: str) -> None:
    conn.execute(upsert_statement(conn, SymbolRow.__table__, ["symbol"]), [{
        "symbol": symbol, "source": source, "timeframe": timeframe, "real_columns": columns,
        "updated_at": datetime.now(UTC).replace(tzinfo=None),
    }])


def recorded_import(symbol: str, key: str, source: str) -> dict | None:
    """The report of the import recorded under `key` for `symbol`, if what it stored is still stored.

    That is: the digest row carries `key`, its count and digest are still those the import left
    (nobody wrote the symbol since) and the symbol keeps that import's source and timeframe. Then
    importing the same file again would find every row unchanged and write nothing; None otherwise.
    """
    query = (select(DigestRow.bars, DigestRow.digest, DigestRow.import_bars, DigestRow.import_digest,
                    DigestRow.import_report, SymbolRow.source, SymbolRow.timeframe)
             .join(SymbolRow, SymbolRow.symbol == DigestRow.symbol)
             .where(DigestRow.symbol == symbol, DigestRow.import_key == key))
    with get_engine().connect() as conn:
        row = conn.execute(query).one_or_none()
    if row is None or (row.bars, row.digest) != (row.import_bars, row.import_digest):
        return None
    report = json.loads(row.import_report)
    return report if (row.source, row.timeframe) == (source, report["timeframe"]) else None


def _columns(text: str | None) -> list[str]:
    """`SymbolRow.real_columns` as a list (NULL: all five, see the module docstring)."""
    return list(COLUMNS) if text is None else text.split(",")


def stored_kind(symbol: str) -> tuple[str, list[str]] | None:
    """(source, real columns) of a stored symbol, or None if it was never stored; reads no bars."""
    with get_engine().connect() as conn:
        row = conn.execute(select(SymbolRow.source, SymbolRow.real_columns)
                           .where(SymbolRow.symbol == symbol)).one_or_none()
    return None if row is None else (row.source, _columns(row.real_columns))


def stored_timeframe(symbol: str) -> str | None:
    """The timeframe recorded for a stored symbol, or None if it was never stored."""
    engine = get_engine()
    with engine.connect() as conn:
        query = select(SymbolRow.timeframe).where(SymbolRow.symbol == symbol)
        return conn.execute(query).scalar_one_or_none()


def read_bars(symbol: str) -> pd.DataFrame | None:
    """All stored bars of `symbol` in the bar schema, or None if it was never stored.

    A close-only series carries its symbol, source and real `columns` in `attrs` (`mark_columns`).
    """
    import pandas as pd

    from paiid.data.validate import mark_columns

    engine = get_engine()
    with engine.connect() as conn:
        ts, values = _read_range(conn, symbol)
        kind = conn.execute(select(SymbolRow.source, SymbolRow.real_columns)
                            .where(SymbolRow.symbol == symbol)).one_or_none()
    if not len(ts):
        return None
    index = pd.DatetimeIndex(ts.view("datetime64[ns]"), name="date")
    bars = pd.DataFrame(values, index=index, columns=COLUMNS)
    return mark_columns(bars, _columns(None if kind is None else kind.real_columns), symbol=symbol,
                        source=None if kind is None else kind.source)


def stored_symbols() -> list[dict]:
    """Symbol metadata with bar counts and date ranges, straight from the database.

    One row per `symbols` entry (every write stores it with the bars). First and last come from
    the (symbol, ts) primary-key index and the count from the digest row (counted only for a
    symbol stored before digests), so listing does not scan every stored bar: `claim_symbol` runs
    it on each import.
    """
    bars = BarRow.__table__.c
    of_symbol = bars.symbol == SymbolRow.symbol
    query = (
        select(
            SymbolRow.symbol, SymbolRow.source, SymbolRow.timeframe, SymbolRow.real_columns,
            select(func.min(bars.ts)).where(of_symbol).scalar_subquery(),
            select(func.max(bars.ts)).where(of_symbol).scalar_subquery(),
            func.coalesce(DigestRow.bars, select(func.count()).where(of_symbol).scalar_subquery()),
        )
        .outerjoin(DigestRow, DigestRow.symbol == SymbolRow.symbol)
        .order_by(SymbolRow.symbol)
    )
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"symbol": sym, "source": source, "timeframe": timeframe, "first": _isoformat(first),
         "last": _isoformat(last), "bars": int(count), "columns": _columns(columns)}
        for sym, source, timeframe, columns, first, last, count in rows if count
    ]


def _isoformat(value: object) -> str:
    """`pd.Timestamp(value).isoformat()` without importing pandas for what the drivers return, a
    naive `datetime` (same text: a stored time has no nanoseconds); pandas for anything else."""
    if type(value) is datetime and value.tzinfo is None:
        return value.isoformat()
    import pandas as pd

    return pd.Timestamp(value).isoformat()


def stored_times_of_day(symbol: str) -> set[int]:
    """The distinct times of day (seconds after midnight) of `symbol`'s stored bars; empty if none.

    Computed by the database (one DISTINCT over the symbol's rows, read from its primary-key index),
    so an import can check that new bars use the stored session's stamps without reading the bars
    into Python. SQLite keeps times as text (`_encode_ts`, and SQLAlchemy's format before it), so
    the clock is characters 12-19: cutting them out is several times cheaper than `time()`'s parse.
    """
    with get_engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            clock = func.substr(BarRow.ts, 12, 8, type_=String)
            times = conn.execute(select(clock).where(BarRow.symbol == symbol).distinct()).scalars()
            return {int(t[:2]) * 3600 + int(t[3:5]) * 60 + int(t[6:8]) for t in times}
        clock = cast(BarRow.ts, Time)
        times = conn.execute(select(clock).where(BarRow.symbol == symbol).distinct()).scalars()
        return {t.hour * 3600 + t.minute * 60 + t.second for t in times}

"""One SQLAlchemy engine per database URL, shared by every table the package keeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase

from paiid import config
from paiid.errors import PaiidError

#: How long a writer waits for another one to finish before giving up (SQLite's busy timeout).
BUSY_TIMEOUT_S = 30


class Base(DeclarativeBase):
    """Declarative base for all of paiid's tables (bars, prediction log, ...)."""


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    kwargs: dict = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets readers and several server workers share the file
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    _create_all(engine)
    return engine


def _create_all(engine: Engine) -> None:
    """`create_all`, tolerating another process creating the same table between check and CREATE
    (several server workers or CLI processes opening a fresh database at once), then
    `add_missing_columns`."""
    for attempt in range(5):
        try:
            Base.metadata.create_all(engine)
            break
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 4:
                raise
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the nullable columns a table declares but an older database lacks; the `table.column`s added.

    `create_all` creates missing tables only, so a database written by an earlier version would
    fail on the first query naming a new column (e.g. `symbols.real_columns`). A nullable column
    without a default can be added in place, and NULL is what each such column documents for rows
    written before it existed. Anything else (NOT NULL, keys) is never altered here. Another
    process adding the same column first is fine.
    """
    added: list[str] = []
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        found = inspect(conn)
        for table in Base.metadata.sorted_tables:
            if not found.has_table(table.name):
                continue
            have = {c["name"] for c in found.get_columns(table.name)}
            for col in table.columns:
                if col.name in have or not col.nullable or col.primary_key or col.server_default is not None:
                    continue
                ddl = (f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(col.name)} "
                       f"{col.type.compile(dialect=engine.dialect)}")
                try:
                    conn.exec_driver_sql(ddl)
                    conn.commit()
                except (OperationalError, ProgrammingError) as exc:
                    conn.rollback()
                    if "duplicate" not in str(exc).lower() and "already exists" not in str(exc).lower():
                        raise
                added.append(f"{table.name}.{col.name}")
    return added


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default `PAIID_DATABASE_URL`), with every known table created."""
    return _engine_for(url or config.database_url())


def ensure_tables(engine: Engine) -> None:
    """Create tables declared after the engine was first made (modules imported later)."""
    _create_all(engine)


@contextmanager
def write_transaction(conn: Connection, lock_key: str) -> Iterator[Connection]:
    """A transaction on `conn` that holds the write lock for `lock_key` from its first statement.

    Commits when the block ends, rolls back if it raises. Why: a writer that reads what is stored
    and then writes what differs must not decide from a state another writer is about to change.
    Python's sqlite3 only begins a transaction at the first INSERT, so two imports of one symbol both
    read "nothing stored" and the second failed on the primary key. SQLite: `BEGIN IMMEDIATE` takes
    the database's write lock first, so a second writer waits (busy timeout) and then reads the
    first one's result. PostgreSQL: a transaction-scoped advisory lock on `lock_key` serialises the
    writers of that key only. Readers are never blocked (WAL / MVCC).
    """
    try:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": lock_key})
    except OperationalError as exc:
        if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
            raise
        raise PaiidError(
            f"the database is busy: another write held it for more than {BUSY_TIMEOUT_S} s; "
            "try again when it has finished"
        ) from None
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()

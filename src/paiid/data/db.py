"""One SQLAlchemy engine per database URL, shared by every table the package keeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
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
    (several server workers or CLI processes opening a fresh database at once)."""
    for attempt in range(5):
        try:
            Base.metadata.create_all(engine)
            return
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 4:
                raise


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

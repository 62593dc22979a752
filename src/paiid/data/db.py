"""One SQLAlchemy engine per database URL, shared by every table the package keeps."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase

from paiid import config


class Base(DeclarativeBase):
    """Declarative base for all of paiid's tables (bars, prediction log, ...)."""


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    kwargs: dict = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
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

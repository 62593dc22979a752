"""One SQLAlchemy engine per database URL, shared by every table the package keeps.

The schema is Alembic's: the revisions under `paiid/data/migrations/versions/` say what every table
looks like, and the first time a process opens a database it is upgraded to the newest revision
(`migrate`), SQLite and PostgreSQL alike. Why migrations rather than `create_all`: `create_all` only
creates missing tables, so a database written by an earlier version kept its old columns and
constraints until some code happened to patch them; a revision changes a table in place, once, and
records that it did (`paiid_alembic_version`, not Alembic's default `alembic_version`, which
Optuna's own migrations use when its trials live in the same PostgreSQL database).

Several server workers or CLI processes may open a fresh database at the same moment: the upgrade
runs under a lock (SQLite's write lock, `BEGIN IMMEDIATE`; a session advisory lock on PostgreSQL)
and re-reads the version once it holds it, so exactly one of them creates the tables and the others
find them made. A database created before migrations existed (tables present, no version table)
goes through the first revision, which creates only what is missing and adds what an older
version lacked, keeping every row.

Alembic itself (with Mako and Pygments, about a tenth of `paiid data import`'s start-up) is imported
only when a database is not at `HEAD_REVISION`: a current database, every open after the first, is
recognised by one plain query. `tests/data/test_migrations.py` keeps the constant equal to Alembic's
head, so a new revision that forgets to update it fails the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase

from paiid import config
from paiid.errors import PaiidError

if TYPE_CHECKING:  # Alembic is imported where a migration runs, not at start-up (see the docstring)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: How long a writer waits for another one to finish before giving up (SQLite's busy timeout).
BUSY_TIMEOUT_S = 30
#: Where the revisions live (package data, shipped with the wheel).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest revision under `migrations/versions/`, what `head_revision` reads from Alembic. A
#: database at it needs no migration, so Alembic is not imported; update it with every new revision.
HEAD_REVISION = "0002"
#: Our version table; Optuna keeps its own `alembic_version` and may share a PostgreSQL database.
VERSION_TABLE = "paiid_alembic_version"
#: Key of the PostgreSQL advisory lock held while a process upgrades the schema (any fixed bigint;
#: `hashtext('paiid:migrate')` would do too, a constant is readable in `pg_locks`).
MIGRATE_LOCK_KEY = 0x7061_6969_6400
#: How long a process waits for another one's upgrade before giving up.
MIGRATE_TIMEOUT_S = 300
#: Connections a process keeps open to a PostgreSQL server (more are opened, then closed, under load).
POOL_SIZE = 16


class Base(DeclarativeBase):
    """Declarative base for all of paiid's tables (bars, prediction log, ...)."""


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, built in code (no alembic.ini to ship or find).

    `connection` is handed to `env.py` through `attributes`, so an upgrade runs on the caller's
    connection (the one holding the lock); without it, `env.py` connects to `url`.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    """The revisions, read once per process (the files do not change while it runs)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision, as Alembic reads it from the revision files (see `HEAD_REVISION`)."""
    head = _script().get_current_head()
    assert head is not None, "paiid/data/migrations/versions holds no revision"
    return head


def _upgrade(conn: Connection) -> None:
    """Run the revisions from `conn`'s database's current one to the head, on `conn`.

    What `alembic upgrade head` does through `env.py`, without reading `env.py` and the revision
    files again for each database (a test session opens hundreds of fresh ones).
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    script = _script()

    def steps(rev, _context):  # noqa: ANN001, ANN202 - Alembic's callback signature
        return script._upgrade_revs("head", rev)

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "fn": steps,
                                                     "script": script})
    with Operations.context(context):
        context.run_migrations()


def current_revision(conn: Connection) -> str | None:
    """The revision `conn`'s database is at; None when it has no version table (new or pre-Alembic)."""
    try:
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()
    except (OperationalError, ProgrammingError):  # no such table (PostgreSQL: the transaction is aborted)
        conn.rollback()
        return None


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """Held by the one process upgrading this database; others wait for it here.

    PostgreSQL: a session advisory lock (DDL from two sessions at once would fail on the second's
    duplicate names). SQLite: the upgrade's own `BEGIN IMMEDIATE` (see `migrate`) is the lock, the
    database's single writer lock, so no lock file is left beside the database.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(text(f"SET lock_timeout = '{MIGRATE_TIMEOUT_S}s'"))
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
    conn.commit()  # a session lock: it outlives the transaction that took it
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK_KEY})
        conn.execute(text("RESET lock_timeout"))
        conn.commit()


def migrate(engine: Engine) -> str:
    """Upgrade `engine`'s database to the newest revision, under the migration lock; the revision.

    Costs one small query when the database is already current (every open after the first), and
    no import of Alembic: the stored revision is compared with `HEAD_REVISION`.
    """
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return HEAD_REVISION
        conn.rollback()
        with _migration_lock(conn):
            if conn.dialect.name == "sqlite":
                # The database's write lock first: a second process waits here (busy timeout), then
                # finds the head below. One transaction for every statement (Python's sqlite3 would
                # commit each DDL alone), so a process killed mid-upgrade leaves the file as it was.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            # Alembic reads the revision again under the lock: nothing to run if another process
            # upgraded while we waited.
            _upgrade(conn)
            conn.commit()
    return head_revision()


_migrated: set[str] = set()
_migrating = threading.Lock()


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    kwargs: dict = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql"):
        # A server worker answers from a thread pool, each answer logging a row: with SQLAlchemy's
        # default 5 pooled connections, the 6th concurrent request opens (and closes again) a new
        # one, a fork and a password exchange on the server each time. Keep more of them open.
        kwargs.update(pool_size=POOL_SIZE, max_overflow=2 * POOL_SIZE, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets readers and several server workers share the file
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default `PAIID_DATABASE_URL`), its database upgraded to the newest revision."""
    engine = _engine_for(url or config.database_url())
    ensure_tables(engine)
    return engine


def ensure_tables(engine: Engine) -> None:
    """Make sure `engine`'s database is at the newest revision (once per process and database file).

    Kept for callers written when tables were created module by module: every table now comes with
    the migrations, whichever modules are imported.
    """
    key = str(engine.url)
    if key in _migrated:
        return
    with _migrating:
        if key not in _migrated:
            migrate(engine)
            _migrated.add(key)


def forget_migrated(url: str | None = None) -> None:
    """Check the schema again on the next open (a database file deleted and made anew in-process)."""
    if url is None:
        _migrated.clear()
    else:
        _migrated.discard(str(make_url(url)))


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

"""The test session's throwaway PostgreSQL: one cluster a pytest process, one database a test.

The cluster itself is `paiid.bench.postgres` (initdb into a temporary directory, pg_ctl on a free
127.0.0.1 port, unix socket in that directory, run as `postgres`/`nobody` when the tests run as root),
shared with `paiid bench`. Here: the databases tests get.

Why one cluster per pytest-xdist worker rather than one shared through a file lock: each worker is
its own session, and a shared server needs someone to stop it after the *last* worker finishes,
which no worker knows; a crashed worker would take the others' server with it. A cluster starts in
about 2 s (mostly initdb's file writes, under 1 s of CPU), once a worker and only if a test asks.

Why a database per test: tests count rows, so each needs an empty log and store, as each SQLite
test has its own file. `fresh()` copies a template migrated once per session (about 0.15 s, where
creating and migrating a database costs 0.4 s); `empty()` is a database with no tables at all, for
the migration tests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from paiid.bench.postgres import PostgresCluster, start_cluster

TEMPLATE = "paiid_template"


@dataclass
class TestDatabases:
    """Databases on the session's cluster."""

    __test__ = False  # not a test class, whatever its name

    cluster: PostgresCluster
    _migrated: bool = field(default=False, repr=False)

    def empty(self) -> str:
        """A new database without any table; its URL."""
        return self.cluster.create_database()

    def fresh(self) -> str:
        """A new database at the newest revision (a copy of the session's template); its URL."""
        if not self._migrated:
            from paiid.data import db

            url = self.cluster.create_database(TEMPLATE)
            engine = db.get_engine(url)
            engine.dispose()  # a template may have no open connection when it is copied
            self._migrated = True
        return self.cluster.create_database(template=TEMPLATE)

    def stop(self) -> None:
        self.cluster.stop()


def start() -> TestDatabases:
    return TestDatabases(start_cluster())


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """`sql` (with `?` placeholders, as the sqlite3 checks write it) run by psycopg itself, not by paiid.

    Times come back as SQLite keeps them (`YYYY-MM-DD HH:MM:SS.ffffff` text), so a check written for
    SQLite reads PostgreSQL's rows the same way.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                         dbname=u.database) as conn:
        out = conn.execute(sql.replace("?", "%s"), params or None).fetchall()
    return [tuple(_as_sqlite(v) for v in r) for r in out]


def _as_sqlite(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


@dataclass
class Database:
    """The backend a test runs against (the `database` fixture), and ways to look at it that do not go
    through paiid: the driver itself (sqlite3 or psycopg)."""

    kind: str  # "sqlite" | "postgres"
    url: str
    home: Path

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """`sql` (`?` placeholders) run by the driver itself; times as SQLite's text on both."""
        if self.kind == "postgres":
            return rows(self.url, sql, params)
        with sqlite3.connect(self.home / "paiid.db") as conn:
            return conn.execute(sql, params).fetchall()

    def env(self) -> dict[str, str]:
        """What a child process (`child_env(home, extra)`) needs to use this database."""
        return {"PAIID_DATABASE_URL": self.url} if self.kind == "postgres" else {}

    @contextmanager
    def writes(self) -> Iterator[Any]:
        """`changed()` inside the block: has anyone committed a write to the store since it began?

        SQLite: `PRAGMA data_version` of an observer connection changes when another connection
        commits. PostgreSQL: every row version written gets a new `xmin`, so the store's (table, xmin)
        pairs change with any insert or update, even one that writes the same values.
        """
        if self.kind == "sqlite":
            with sqlite3.connect(self.home / "paiid.db") as observer:
                first = observer.execute("PRAGMA data_version").fetchone()
                yield lambda: observer.execute("PRAGMA data_version").fetchone() != first
            return
        tables = ("bars", "symbols", "bar_digests")
        query = " UNION ALL ".join(f"SELECT '{t}', xmin::text FROM {t}" for t in tables)
        first = sorted(self.rows(query))
        yield lambda: sorted(self.rows(query)) != first

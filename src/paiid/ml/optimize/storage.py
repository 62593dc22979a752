"""Where Optuna keeps the trials: the storage URL chosen from the environment, and how it is opened."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import optuna

from paiid import config

#: `storage="memory"`: one in-memory Optuna storage per process, for quick single-process runs.
MEMORY = "memory"
_memory_storage: Any = None
#: (process id, URL) whose schema version this process has checked: the check goes through alembic
#: (~0.1 s) and a run opens its storage a dozen times. Later opens skip only that check; the tables are
#: still created if missing (a deleted SQLite file comes back empty, not broken).
_checked: set[tuple[int, str]] = set()


def storage_url() -> str:
    """Where Optuna keeps trials so that workers cooperate.

    `PAIID_OPTUNA_STORAGE` if set; else `PAIID_DATABASE_URL` when it is a server database (several
    machines can reach it); else a separate SQLite file `PAIID_HOME/optuna.db` (kept apart from the bar
    store so Optuna's schema and write bursts never touch it).
    """
    settings = config.settings()
    if settings.optuna_storage:
        return settings.optuna_storage
    db = settings.database_url
    if db and not db.startswith("sqlite"):
        return db
    return f"sqlite:///{config.home() / 'optuna.db'}"


def _sqlite_path(url: str) -> str | None:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else None


def open_storage(url: str) -> Any:
    """Optuna's RDB storage on `url` (or the process's in-memory storage for "memory").

    For SQLite: WAL (readers never block the writer), a 60 s busy timeout (concurrent workers queue
    instead of failing) and synchronous=NORMAL (no fsync per trial; in WAL mode a crash of the
    process loses nothing, a power cut at most the last trials).

    For PostgreSQL (`postgresql+psycopg://...`, usually `PAIID_DATABASE_URL` itself): Optuna's tables
    live beside paiid's in the same database without clashing (Optuna's migrations keep the version
    table `alembic_version`, paiid's `paiid_alembic_version`), and connections are checked before
    use (`pool_pre_ping`), so a worker on another machine survives a restart of the database server.
    """
    global _memory_storage
    if url == MEMORY:
        if _memory_storage is None:
            _memory_storage = optuna.storages.InMemoryStorage()
        return _memory_storage
    path = _sqlite_path(url)
    key = (os.getpid(), url)
    kwargs: dict[str, Any] = {}
    if path is not None:

        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            return con

        kwargs["creator"] = connect
    else:
        kwargs["pool_pre_ping"] = True
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=key in _checked)
    _checked.add(key)
    return storage


def prepare_storage(url: str) -> None:
    """Create the schema once in the caller: workers creating it at the same moment would race."""
    if url == MEMORY:
        return
    path = _sqlite_path(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    open_storage(url)


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the report says what matters."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def redact(url: str) -> str:
    """Storage URL without a password (reports get shared)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url

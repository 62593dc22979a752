"""Alembic's entry point for paiid's migrations (run by `alembic`'s commands, never imported by paiid).

`paiid.data.db.migrate` passes the connection it holds the migration lock on (`attributes`); the
`alembic` command line without one connects to `sqlalchemy.url` or else `PAIID_DATABASE_URL`.
Autogenerate compares the revisions with `target_metadata` (default: the tables of the modules
imported so far; the migration test imports them all) and only with paiid's own tables, so
Optuna's tables in a shared PostgreSQL database are never proposed for removal.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from paiid import config as paiid_config
from paiid.data.db import VERSION_TABLE, Base

alembic_config = context.config
target_metadata = alembic_config.attributes.get("target_metadata", Base.metadata)


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Compare only tables the models declare (a reflected table with no model is someone else's)."""
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_object=_ours,
        render_as_batch=True,  # SQLite alters a table by rebuilding it
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = alembic_config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = alembic_config.get_main_option("sqlalchemy.url") or paiid_config.database_url()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()

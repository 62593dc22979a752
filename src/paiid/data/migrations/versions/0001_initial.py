"""The schema as it was when migrations began: bars, symbols, digests, the prediction log, the journal.

Revision ID: 0001
Revises: none

Also the upgrade of a database written before migrations (tables made by `create_all` as modules
were imported, no version table): tables it lacks are created, columns it lacks are added (each was
added nullable, and NULL is what each documents for rows written before it), and the NOT NULL that
`bars` had on open, high, low and volume before close-only series is dropped (SQLite: the table is
rebuilt with its rows, once). Rows are never touched otherwise. The tables are spelled out here, not
read from the models: a revision must stay what it was when later ones change the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Columns of `bars` that close-only series leave NULL (NOT NULL before they existed).
ABSENT_OK = ("open", "high", "low", "volume")


def _tables() -> list[tuple[str, list[sa.Column], list[tuple[str, list[str], dict]]]]:
    """(name, columns, indexes as (name, columns, options)) of every table, in creation order."""
    return [
        ("bar_digests", [
            sa.Column("symbol", sa.String(32), primary_key=True),
            sa.Column("bars", sa.BigInteger(), nullable=False),
            sa.Column("digest", sa.BigInteger(), nullable=False),
            sa.Column("import_key", sa.String(64), nullable=True),
            sa.Column("import_bars", sa.BigInteger(), nullable=True),
            sa.Column("import_digest", sa.BigInteger(), nullable=True),
            sa.Column("import_report", sa.Text(), nullable=True),
        ], []),
        ("bars", [
            sa.Column("symbol", sa.String(32), primary_key=True),
            sa.Column("ts", sa.DateTime(), primary_key=True),
            sa.Column("open", sa.Float(), nullable=True),
            sa.Column("high", sa.Float(), nullable=True),
            sa.Column("low", sa.Float(), nullable=True),
            sa.Column("close", sa.Float(), nullable=False),
            sa.Column("volume", sa.Float(), nullable=True),
        ], []),
        ("symbols", [
            sa.Column("symbol", sa.String(32), primary_key=True),
            sa.Column("source", sa.String(200), nullable=False),
            sa.Column("timeframe", sa.String(8), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.Column("real_columns", sa.String(64), nullable=True),
        ], []),
        ("predictions", [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("symbol", sa.String(32), nullable=False),
            sa.Column("as_of", sa.DateTime(), nullable=False),
            sa.Column("model_name", sa.String(64), nullable=True),
            sa.Column("model_version", sa.Integer(), nullable=True),
            sa.Column("user_id", sa.String(128), nullable=True),
            sa.Column("ab_group", sa.String(8), nullable=True),
            sa.Column("output", sa.Text(), nullable=False),
            sa.Column("horizon_bars", sa.Integer(), nullable=False),
            sa.Column("direction", sa.Integer(), nullable=True),
            sa.Column("probability", sa.Float(), nullable=True),
            sa.Column("realized_return", sa.Float(), nullable=True),
            sa.Column("correct", sa.Boolean(), nullable=True),
            sa.Column("resolved_at", sa.DateTime(), nullable=True),
            sa.Column("outcome", sa.Text(), nullable=True),
        ], [(f"ix_predictions_{c}", [c], {})
            for c in ("ab_group", "created_at", "kind", "resolved_at", "symbol")]),
        ("journal", [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("recorded_at", sa.DateTime(), nullable=False),
            sa.Column("prediction_id", sa.Integer(), nullable=False),
            sa.Column("symbol", sa.String(32), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("template", sa.String(64), nullable=True),
            sa.Column("side", sa.String(8), nullable=True),
            sa.Column("entry", sa.Float(), nullable=True),
            sa.Column("stop", sa.Float(), nullable=True),
            sa.Column("target", sa.Float(), nullable=True),
            sa.Column("entry_date", sa.DateTime(), nullable=False),
            sa.Column("user_id", sa.String(128), nullable=True),
            sa.Column("ab_group", sa.String(8), nullable=True),
            sa.Column("supersedes", sa.Integer(), nullable=True),
            sa.Column("note", sa.Text(), nullable=True),
            sa.Column("source", sa.String(16), nullable=False),
        ], [
            *((f"ix_journal_{c}", [c], {}) for c in ("prediction_id", "recorded_at", "user_id")),
            ("ux_journal_first_entry", ["prediction_id"],
             {"unique": True, "sqlite_where": sa.text("supersedes IS NULL"),
              "postgresql_where": sa.text("supersedes IS NULL")}),
            ("ux_journal_supersedes", ["supersedes"], {"unique": True}),
        ]),
    ]


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    for name, columns, indexes in _tables():
        if not found.has_table(name):
            op.create_table(name, *columns)
            for index, cols, options in indexes:
                op.create_index(index, name, cols, **options)
            continue
        have = {c["name"]: c for c in found.get_columns(name)}
        missing = [c for c in columns if c.name not in have]
        relax = [c for c in ABSENT_OK if name == "bars" and c in have and not have[c]["nullable"]]
        if missing or relax:
            with op.batch_alter_table(name) as batch:
                for column in missing:
                    assert column.nullable, f"{name}.{column.name}: only nullable columns are added in place"
                    batch.add_column(column)
                for column in relax:
                    batch.alter_column(column, existing_type=sa.Float(), nullable=True)
        present = {i["name"] for i in found.get_indexes(name)}
        for index, cols, options in indexes:
            if index not in present:
                op.create_index(index, name, cols, **options)


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)

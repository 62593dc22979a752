"""Training jobs of the API in the database (they were JSON files under `PAIID_HOME/jobs/`).

Revision ID: 0002
Revises: 0001

Why: API workers on several machines share the database, not a home folder, so any of them can
answer `GET /api/ml/train/{job_id}` for a job another one started. Jobs of the JSON files are not
carried over: a job lives minutes, and a restarted server has no thread left running them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("training_jobs")

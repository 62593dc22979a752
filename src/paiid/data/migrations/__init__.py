"""paiid's schema as Alembic revisions (`versions/`), applied by `paiid.data.db.migrate` on first connect.

A change to a table is a new revision here, next to the model change: `tests/data/test_migrations.py`
fails when the models and the revisions disagree (Alembic's autogenerate finds a difference).
"""

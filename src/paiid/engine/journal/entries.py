"""The journal table: what a user did with a served answer, one append-only row per decision.

Why append-only: the report compares what users did with what the models said, after the fact; an entry
that could be edited later (after its outcome is known) would let hindsight into that comparison. A
correction is therefore a new row whose `supersedes` names the row it corrects; the old row stays and is
listed as superseded. Two unique indexes keep the history linear even with several writers at once:
a row can be superseded only once (`supersedes` is unique), and an answer has one first entry (the
partial index on `prediction_id` where `supersedes` is NULL), so every logged answer has exactly one
chain of decisions and counts once in the adoption rate.

Concurrency: each insert is its own short transaction (SQLite in WAL mode with a busy timeout, see
`paiid.data.db`), as the prediction log does, so several uvicorn workers journal at once without losing
a row; a lost race on a unique index is a `BadInput` saying what already exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from paiid.data.db import Base, ensure_tables, get_engine
from paiid.errors import BadInput

#: What a user can do with an answer: take its top template, take another template, trade their own
#: way, or not trade.
ACTIONS: tuple[str, ...] = ("adopt", "adopt_other", "manual", "pass")
#: Actions that are trades (resolved from bars); a pass is resolved as the advice it passed on.
TRADES: tuple[str, ...] = ("adopt", "adopt_other", "manual")
SIDES: tuple[str, ...] = ("long", "short")
#: Who wrote an entry: a person, or `paiid journal simulate`'s synthetic user.
SOURCES: tuple[str, ...] = ("user", "simulated")
#: The fields of an entry, in the order the API and `paiid journal list --json` give them.
FIELDS: tuple[str, ...] = ("id", "prediction_id", "action", "template", "side", "entry", "stop", "target",
                           "entry_date", "supersedes", "note", "user_id", "ab_group", "recorded_at",
                           "source")


class JournalRow(Base):
    """One decision about one logged answer (`predictions.id`)."""

    __tablename__ = "journal"
    __table_args__ = (
        Index("ux_journal_supersedes", "supersedes", unique=True),
        Index("ux_journal_first_entry", "prediction_id", unique=True, sqlite_where=text("supersedes IS NULL"),
              postgresql_where=text("supersedes IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    prediction_id: Mapped[int] = mapped_column(Integer, index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    entry: Mapped[float | None] = mapped_column(Float, nullable=True)
    stop: Mapped[float | None] = mapped_column(Float, nullable=True)
    target: Mapped[float | None] = mapped_column(Float, nullable=True)
    entry_date: Mapped[dt.datetime] = mapped_column(DateTime)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    ab_group: Mapped[str | None] = mapped_column(String(8), nullable=True)
    supersedes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(16))


_ready: set[str] = set()


def engine():
    """The database engine with the journal table created (the engine may predate this module)."""
    eng = get_engine()
    key = str(eng.url)
    if key not in _ready:
        ensure_tables(eng)
        _ready.add(key)
    return eng


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def insert(row: dict[str, Any]) -> dict[str, Any]:
    """Store one validated entry in one short transaction; returns it with its `id`.

    A `supersedes` row is re-checked inside the same transaction (it exists, it is about the same
    answer); the unique indexes settle two writers racing for the same correction or first entry.
    """
    t = JournalRow.__table__
    try:
        with engine().begin() as conn:
            if row.get("supersedes") is not None:
                old = conn.execute(
                    select(t.c.id, t.c.prediction_id).where(t.c.id == row["supersedes"])
                ).first()
                if old is None:
                    raise BadInput(f"supersedes: journal entry {row['supersedes']} does not exist")
                if old.prediction_id != row["prediction_id"]:
                    raise BadInput(
                        f"supersedes: journal entry {row['supersedes']} is about prediction "
                        f"{old.prediction_id}, not {row['prediction_id']}; a correction must be about the "
                        "same answer"
                    )
            result = conn.execute(t.insert().values(**row))
            new_id = int(result.inserted_primary_key[0])
    except IntegrityError:
        raise _conflict(row) from None
    return {**row, "id": new_id}


def _conflict(row: dict[str, Any]) -> BadInput:
    """The precise refusal for a unique-index violation (which row is already there)."""
    t = JournalRow.__table__
    with engine().connect() as conn:
        if row.get("supersedes") is not None:
            by = conn.execute(select(t.c.id).where(t.c.supersedes == row["supersedes"])).scalar()
            return BadInput(f"supersedes: journal entry {row['supersedes']} is already superseded by entry "
                            f"{by}; correct entry {by} instead")
        first = conn.execute(select(t.c.id).where(t.c.prediction_id == row["prediction_id"])
                             .where(t.c.supersedes.is_(None))).scalar()
    latest = latest_in_chain(first) if first is not None else None
    return BadInput(f"prediction {row['prediction_id']} already has journal entry {latest}; entries are "
                    f"append-only: to correct it, send supersedes={latest}")


def get(entry_id: int) -> dict[str, Any] | None:
    """One stored entry, or None."""
    t = JournalRow.__table__
    with engine().connect() as conn:
        row = conn.execute(select(t).where(t.c.id == int(entry_id))).first()
    return None if row is None else dict(row._mapping)


def latest_in_chain(entry_id: int) -> int:
    """The newest entry of the correction chain that starts (or passes) at `entry_id`."""
    t = JournalRow.__table__
    with engine().connect() as conn:
        current = entry_id
        while True:
            nxt = conn.execute(select(t.c.id).where(t.c.supersedes == current)).scalar()
            if nxt is None:
                return current
            current = int(nxt)


def read(*, limit: int | None = None, user: str | None = None,
         source: str | None = None) -> list[dict[str, Any]]:
    """Stored entries, newest first (`limit` of them), optionally one user's or one source's only."""
    t = JournalRow.__table__
    stmt = select(t).order_by(t.c.id.desc())
    if user is not None:
        stmt = stmt.where(t.c.user_id == user)
    if source is not None:
        stmt = stmt.where(t.c.source == source)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    with engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt).all()]


def superseded_ids() -> set[int]:
    """Ids of every entry a later entry corrects (whoever's entries are being listed)."""
    t = JournalRow.__table__
    with engine().connect() as conn:
        found = conn.execute(select(t.c.supersedes).where(t.c.supersedes.is_not(None))).scalars()
        return {int(v) for v in found}

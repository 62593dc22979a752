"""The decision journal over HTTP: `POST /api/journal` records what a user did with a served answer,
`GET /api/journal` lists entries with their status.

Writing needs the API key (every endpoint that writes is guarded); the `X-User-Id` header names the user,
as for the A/B split of the answers, so the entry lands in that user's group. Refusals are 422 with a
`detail` naming the field (`paiid.engine.journal.record`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, Field

from paiid.api.deps import require_api_key
from paiid.engine.journal import record

router = APIRouter(tags=["journal"])

Action = Literal["adopt", "adopt_other", "manual", "pass"]
Side = Literal["long", "short"]
Status = Literal["open", "won", "lost", "timeout", "passed", "superseded"]


class JournalRequest(BaseModel):
    """What the user did with the answer whose `prediction_id` it names."""

    prediction_id: int = Field(..., description="The `prediction_id` of the served answer.")
    action: Action = Field(..., description="adopt (the answer's top template), adopt_other (another "
                           "template), manual (their own trade) or pass (no trade).")
    template: str | None = Field(None, description="Strategy id (adopt: the top template, may be omitted; "
                                 "adopt_other: required; manual: any name of the user's rule).")
    side: Side | None = Field(None, description="long or short (adopt: the answer's side, may be omitted; "
                              "manual: required).")
    entry: float | None = Field(None, description="Entry price used (default: the close of entry_date).")
    stop: float | None = Field(None, description="Stop (below the entry for a long, above for a short).")
    target: float | None = Field(None, description="Target (above the entry for a long, below for a short).")
    entry_date: str | None = Field(None, description="YYYY-MM-DD of the bar whose close the decision was "
                                   "taken at (default: the answer's as_of); not in the future.")
    supersedes: int | None = Field(None, description="Id of an earlier entry about the same answer that this "
                                   "one corrects (entries are never edited).")
    note: str | None = Field(None, max_length=2000)


class JournalEntry(BaseModel):
    id: int
    prediction_id: int
    action: Action
    template: str | None
    side: Side | None
    entry: float | None
    stop: float | None
    target: float | None
    entry_date: str
    supersedes: int | None
    note: str | None
    user_id: str | None
    ab_group: str | None = Field(..., description="manual or ml (null without a user id)")
    recorded_at: str
    source: Literal["user", "simulated"]
    status: Status = Field(..., description="open, won, lost or timeout for a trade (resolved like the trade "
                           "model's labels, point in time); passed; superseded once corrected.")


class JournalList(BaseModel):
    entries: list[JournalEntry] = Field(..., description="Newest first.")


@router.post("/api/journal", status_code=201, response_model=JournalEntry,
             dependencies=[Depends(require_api_key)])
def add_entry(
    body: JournalRequest,
    x_user_id: str | None = Header(None, description="The user journalling (their A/B group goes with it)."),
) -> dict[str, Any]:
    """Record what the user did with a served answer (needs `X-API-Key`); 201 with the stored entry."""
    return record.add(**body.model_dump(), user_id=x_user_id)


@router.get("/api/journal", response_model=JournalList)
def list_entries(
    limit: int = Query(100, ge=1, le=record.MAX_LIST, description="How many of the newest entries."),
    user: str | None = Query(None, description="Only this user's entries."),
) -> dict[str, Any]:
    """Journal entries, newest first, each with its status from the bars stored now."""
    return {"entries": record.list_entries(limit=limit, user=user)}

"""Background training jobs: start one, read its status.

Training is slow, so `POST /api/ml/train` starts a job on a background thread and answers with its id at
once. Job status is a row of the database's `training_jobs` table (one short transaction a change)
rather than memory or a file in the home, so that with several uvicorn workers, on one machine or on
several sharing a PostgreSQL database, any worker can answer `GET /api/ml/train/{job_id}`.
Two jobs never train at once: `train_all` holds a cross-process lock, and a second job waits for it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from paiid.data.db import Base, get_engine
from paiid.data.store import upsert_statement
from paiid.engine import training
from paiid.errors import PaiidError

log = logging.getLogger("paiid.engine.jobs")

#: Job ids are uuid4 hex: checked before any path is built from one, so no id can leave the jobs folder.
_JOB_RE = re.compile(r"^[0-9a-f]{32}$")


class UnknownJob(PaiidError):
    status_code = 404


class JobRow(Base):
    """One training job: its status and the whole JSON document `read` returns (`body`)."""

    __tablename__ = "training_jobs"
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)


def _write(job: dict[str, Any]) -> None:
    """Store the job's current state (insert or replace), in its own transaction."""
    table = JobRow.__table__
    with get_engine().begin() as conn:
        conn.execute(upsert_statement(conn, table, ["job_id"]), [{
            "job_id": job["job_id"], "status": job["status"], "body": json.dumps(job),
            "updated_at": datetime.now(UTC).replace(tzinfo=None),
        }])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read(job_id: str) -> dict[str, Any]:
    """The stored status of a job: queued, running, done (with versions and scores) or failed (with why)."""
    unknown = UnknownJob(f"unknown training job {job_id!r}; POST /api/ml/train returns the job id")
    if not _JOB_RE.match(job_id or ""):
        raise unknown
    with get_engine().connect() as conn:
        body = conn.execute(select(JobRow.body).where(JobRow.job_id == job_id)).scalar_one_or_none()
    if body is None:
        raise unknown
    return json.loads(body)


def start(symbols: list[str] | None, *, seed: int = 0, only: list[str] | None = None) -> dict[str, Any]:
    """Check the request, store a queued job and train it on a background thread; the queued job.

    Unknown model names and unknown, unusable or an empty list of symbols are refused here (422/404),
    not reported later by a failed job; the job screens the default symbols again, so it reports which
    stored symbols it skipped.
    """
    training.select_groups(symbols, training.model_names(only))  # each kind screens the symbols it can use
    job = {"job_id": uuid.uuid4().hex, "status": "queued", "created_at": _now(),
           "request": {"symbols": symbols, "seed": seed, "only": only}}
    _write(job)
    threading.Thread(target=_run, args=(job,), name=f"train-{job['job_id'][:8]}", daemon=True).start()
    return job


def _run(job: dict[str, Any]) -> None:
    req = job["request"]
    job = {**job, "status": "running", "started_at": _now()}
    _write(job)
    try:
        result = training.train_all(req["symbols"], seed=req["seed"], only=req["only"])
        job.update(
            status="done",
            models=[{"name": i.name, "version": i.version, "promoted": i.promoted, "scores": i.scores}
                    for i in result],
            skipped=list(result.skipped),
            skipped_symbols=list(result.skipped_symbols),
            symbols=list(result.symbols),
        )
    except PaiidError as exc:
        job.update(status="failed", error=exc.message)
    except Exception as exc:  # noqa: BLE001 - a job must always end in a readable state
        log.exception("training job %s failed", job["job_id"])
        job.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
    job["finished_at"] = _now()
    _write(job)

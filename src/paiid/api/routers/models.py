"""Model registry, training jobs and live performance endpoints.

Training is slow, so `POST /api/ml/train` starts a background thread and answers with a job id at once.
Job status lives in small JSON files under `PAIID_HOME/jobs/` (written atomically) rather than in
memory, so that with several uvicorn workers any worker can answer `GET /api/ml/train/{job_id}`.
Two training jobs never run at once: `train_all` holds a cross-process lock, and a second job waits.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from paiid import config
from paiid.errors import AuthError, BadInput, PaiidError

log = logging.getLogger("paiid.api.models")
router = APIRouter(tags=["models"])

_JOB_RE = re.compile(r"^[0-9a-f]{32}$")


class UnknownJob(PaiidError):
    status_code = 404


class TrainRequest(BaseModel):
    symbols: list[str] | None = Field(
        default=None,
        description="Symbols to train on (each must have enough usable bars). Omit the field to train on "
                    "every usable symbol with daily bars; an empty list is refused.",
        examples=[["SPX", "GOOG"]],
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed for every trainer.")
    only: list[str] | None = Field(default=None, description="Train only these models (default all).")


def require_api_key(x_api_key: str | None) -> None:
    """401 unless the `X-API-Key` header equals the server's `PAIID_API_KEY` (compared in constant time)."""
    expected = config.api_key()
    if expected is None:
        raise AuthError(
            "this server has no API key configured, so training is disabled: start it with PAIID_API_KEY "
            "set and send the same value in the X-API-Key header"
        )
    if not x_api_key:
        raise AuthError("missing X-API-Key header: send the server's PAIID_API_KEY in it")
    if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise AuthError("wrong X-API-Key: send the server's PAIID_API_KEY")


# --------------------------------------------------------------------------------------------- jobs


def _jobs_dir() -> Path:
    path = config.home() / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_job(job: dict[str, Any]) -> None:
    from paiid.engine.registry import atomic_write_json

    atomic_write_json(_jobs_dir() / f"{job['job_id']}.json", job)


def _read_job(job_id: str) -> dict[str, Any]:
    if not _JOB_RE.match(job_id or ""):
        raise UnknownJob(f"unknown training job {job_id!r}; POST /api/ml/train returns the job id")
    try:
        return json.loads((_jobs_dir() / f"{job_id}.json").read_text())
    except FileNotFoundError:
        raise UnknownJob(f"unknown training job {job_id!r}; POST /api/ml/train returns the job id") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_job(job: dict[str, Any], req: TrainRequest) -> None:
    from paiid.engine.training import train_all

    job = {**job, "status": "running", "started_at": _now()}
    _write_job(job)
    try:
        result = train_all(req.symbols, seed=req.seed, only=req.only)
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
    _write_job(job)


# ---------------------------------------------------------------------------------------- endpoints


@router.get("/api/ml/models")
def list_models() -> dict[str, Any]:
    """Every registered model: versions, which one serves, scores, and whether each file verifies."""
    from paiid.engine.registry import list_models as registry_list

    return {"models": registry_list()}


@router.post("/api/ml/train", status_code=202)
def start_training(
    body: TrainRequest | None = None,
    x_api_key: str | None = Header(default=None, alias="X-API-Key"),
) -> dict[str, Any]:
    """Start training a new version of every model in the background (needs `X-API-Key`).

    Answers at once with a `job_id`; poll `GET /api/ml/train/{job_id}` for its status. The new
    versions are promoted together when all of them trained, or none is.
    """
    require_api_key(x_api_key)
    req = body or TrainRequest()
    from paiid.engine.training import TRAINERS, select_symbols

    unknown = [n for n in (req.only or []) if n not in TRAINERS]
    if unknown:
        raise BadInput(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(TRAINERS)}")
    # unknown, unusable or an empty list of symbols: a 404/422 now, not a failed job later (the job
    # screens the defaults again, so it reports which stored symbols it skipped)
    select_symbols(req.symbols)
    job = {"job_id": uuid.uuid4().hex, "status": "queued", "created_at": _now(),
           "request": req.model_dump()}
    _write_job(job)
    threading.Thread(target=_run_job, args=(job, req), name=f"train-{job['job_id'][:8]}", daemon=True).start()
    return {"job_id": job["job_id"], "status": "queued", "status_url": f"/api/ml/train/{job['job_id']}"}


@router.get("/api/ml/train/{job_id}")
def training_status(job_id: str) -> dict[str, Any]:
    """Status of a training job: queued, running, done (with versions and scores) or failed (with why)."""
    return _read_job(job_id)


@router.get("/api/ml/performance")
def performance(resolve: bool = True) -> dict[str, Any]:
    """Logged predictions and their outcomes: live accuracy, calibration, per-version returns, A/B test,
    feature importances. Resolves predictions whose horizon has passed first (`resolve=false` skips it)."""
    from paiid.engine import tracking

    resolution = tracking.resolve() if resolve else None
    return {"resolution": resolution, **tracking.performance_report()}

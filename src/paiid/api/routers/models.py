"""Model registry, training jobs and live performance endpoints.

`POST /api/ml/train` needs the API key and answers at once with a job id (`paiid.engine.jobs` runs the
job and keeps its status where every uvicorn worker can read it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from paiid.api.deps import require_api_key
from paiid.engine import jobs, registry, tracking

router = APIRouter(tags=["models"])


class TrainRequest(BaseModel):
    symbols: list[str] | None = Field(
        default=None,
        description="Symbols to train on (each must have enough usable bars). Omit the field to train on "
                    "every usable symbol with daily bars; an empty list is refused.",
        examples=[["SPX", "GOOG"]],
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed for every trainer.")
    only: list[str] | None = Field(default=None, description="Train only these models (default all).")


class ModelVersion(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int
    promoted: bool
    status: str = Field(..., description="ok, refused (`problem` says why) or corrupt")


class RegisteredModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    promoted: int | None = Field(..., description="The version that serves.")
    latest: int | None
    versions: list[ModelVersion]


class ModelList(BaseModel):
    models: list[RegisteredModel]


class JobStarted(BaseModel):
    job_id: str
    status: str
    status_url: str = Field(..., description="Poll this for the job's status.")


class TrainingJob(BaseModel):
    """A job as stored; once done it also has `models`, `skipped`, `skipped_symbols` and `symbols`,
    once failed an `error` saying why."""

    model_config = ConfigDict(extra="allow")
    job_id: str
    status: str = Field(..., description="queued, running, done or failed")
    created_at: str
    request: dict[str, Any]


class Performance(BaseModel):
    model_config = ConfigDict(extra="allow")
    resolution: dict[str, Any] | None = Field(
        ..., description="Predictions resolved by this request (null with resolve=false).")
    predictions: dict[str, int]
    accuracy: dict[str, Any]
    calibration: Any
    by_model: Any
    ab_test: Any
    feature_importance: Any


@router.get("/api/ml/models", response_model=ModelList)
def list_models() -> dict[str, Any]:
    """Every registered model: versions, which one serves, scores, and whether each file verifies."""
    return {"models": registry.list_models()}


@router.post("/api/ml/train", status_code=202, response_model=JobStarted,
             dependencies=[Depends(require_api_key)])
def start_training(body: TrainRequest | None = None) -> dict[str, Any]:
    """Start training a new version of every model in the background (needs `X-API-Key`).

    Answers at once with a `job_id`; poll `GET /api/ml/train/{job_id}` for its status. The new
    versions are promoted together when all of them trained, or none is.
    """
    req = body or TrainRequest()
    job = jobs.start(req.symbols, seed=req.seed, only=req.only)
    return {"job_id": job["job_id"], "status": job["status"], "status_url": f"/api/ml/train/{job['job_id']}"}


@router.get("/api/ml/train/{job_id}", response_model=TrainingJob)
def training_status(job_id: str) -> dict[str, Any]:
    """Status of a training job: queued, running, done (with versions and scores) or failed (with why)."""
    return jobs.read(job_id)


@router.get("/api/ml/performance", response_model=Performance)
def performance(resolve: bool = True) -> dict[str, Any]:
    """Logged predictions and their outcomes: live accuracy, calibration, per-version returns, A/B test,
    feature importances. Resolves predictions whose horizon has passed first (`resolve=false` skips it)."""
    resolution = tracking.resolve() if resolve else None
    return {"resolution": resolution, **tracking.performance_report()}

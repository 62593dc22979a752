"""Where paiid keeps its state. Everything comes from the environment so that tests and users
can point a run at a scratch directory without touching anyone's real data."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """`PAIID_HOME`, default `~/.paiid`; created on first use."""
    path = Path(os.environ.get("PAIID_HOME") or Path.home() / ".paiid").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """`PAIID_DATABASE_URL`, default a SQLite file under `PAIID_HOME`."""
    return os.environ.get("PAIID_DATABASE_URL") or f"sqlite:///{home() / 'paiid.db'}"


def models_dir() -> Path:
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def api_key() -> str | None:
    """The key that guards writing/training endpoints; None means those endpoints are closed."""
    return os.environ.get("PAIID_API_KEY") or None


def dask_scheduler() -> str | None:
    return os.environ.get("PAIID_DASK_SCHEDULER") or None

"""Fixtures the engine tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from paiid.bench.api import linked_home
from paiid.engine import orchestrator, service, vintages


@pytest.fixture
def served_home(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PAIID_HOME serving the shared models; caches emptied so no test sees another's."""
    h = linked_home(trained, tmp_path / "home")
    monkeypatch.setenv("PAIID_HOME", str(h))
    orchestrator.cache().clear()
    service.clear_cache()
    vintages.clear_cache()
    return h

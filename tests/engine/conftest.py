"""Fixtures the engine tests share."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
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


def copy_promoted(models: Path, to: Path) -> Path:
    """Copy a models directory with only its promoted version of each model (files, sidecars, pointers).

    Why not all of it: the session's shared home also holds the point-in-time refits (vintages) other
    tests fitted into it, a varying number of 300-tree forests; a test that wants its own writable copy
    of the served models needs none of them, and they would make what it copies and checks depend on
    which tests ran before it. Lock files and the registry's half-written `.*.tmp` files (another test
    process may be saving a vintage right now; the file vanishes mid-copy) are never copied.
    """
    promoted = json.loads((models / "promoted.json").read_text())["versions"]

    def ignore(folder: str, names: list[str]) -> list[str]:
        name = Path(folder).name
        keep = {f"v{promoted[name]}.json", f"v{promoted[name]}.skops"} if name in promoted else set()
        return [n for n in names if n.endswith((".lock", ".tmp")) or (n.startswith("v") and n not in keep)]

    shutil.copytree(models, to, ignore=ignore)
    return to


@pytest.fixture
def promoted_models(trained: Path) -> Callable[[Path], Path]:
    """`copy(home)`: the session's promoted models copied into `home/models` (see `copy_promoted`)."""
    return lambda home: copy_promoted(trained / "models", Path(home) / "models")

"""Every test gets its own PAIID_HOME (database file and model directory) so none touches a user's data."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def paiid_home(tmp_path, monkeypatch):
    home = tmp_path / "paiid_home"
    home.mkdir()
    monkeypatch.setenv("PAIID_HOME", str(home))
    monkeypatch.delenv("PAIID_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAIID_QUIET", "1")
    return home

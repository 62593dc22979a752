"""Model files saved by older code: a clear `ModelError` (CLI exit 1, API 503), or the older good version.

Real registry entries, written the way an older paiid would have: the trained regime model saved
through `registry.save`, then given the sidecar of an older release (its `code_version`, and the state
stamp it wrote: none at all before stamps existed, or an older `STATE_VERSION` of `RegimeDetector`).
Checked through the registry, the real `paiid` console script and a real `paiid serve` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from older_files import as_older_code_wrote_it

from paiid.bench.api import paiid_command, serve
from paiid.engine import registry, service
from paiid.engine.catalog import MODELS
from paiid.errors import ModelError
from paiid.ml.regime import RegimeDetector

pytestmark = pytest.mark.slow

#: Every other model the catalog serves (the panel kinds included), copied so no command trains a missing one.
OTHERS = tuple(name for name in MODELS if name != "regime")
#: The stamp a file of the previous state version of `RegimeDetector` carries.
OLDER_STATE = {"class": registry.type_name(RegimeDetector), "version": RegimeDetector.STATE_VERSION - 1}


def _home(trained: Path, home: Path, monkeypatch: pytest.MonkeyPatch, *, good_first: bool,
          state: dict[str, Any] | None) -> Path:
    """A home with the other trained models and a regime whose promoted version was
    saved by older code with the state stamp `state`; with `good_first`, a good version before it."""
    home.mkdir(parents=True, exist_ok=True)
    for name in OTHERS:
        shutil.copytree(trained / "models" / name, home / "models" / name,
                        ignore=shutil.ignore_patterns("*.lock", "*.tmp"))
    monkeypatch.setenv("PAIID_HOME", str(trained))
    model, _ = registry.load("regime")
    monkeypatch.setenv("PAIID_HOME", str(home))
    if good_first:
        registry.save("regime", model, {"note": "good"})
    info = registry.save("regime", model, {"note": "saved by older code"})
    as_older_code_wrote_it("regime", info.version, state)
    service.clear_cache()
    return home


def _paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PAIID_DATABASE_URL", "PAIID_DEBUG")}
    env.update(PAIID_HOME=str(home), PAIID_QUIET="1")
    return subprocess.run(paiid_command(*args), capture_output=True, text=True, env=env, timeout=600)


def _one_line_error(out: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in out.stderr + out.stdout
    assert out.stdout == ""
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), out.stderr
    return last


@pytest.mark.parametrize(("state", "problem"), [
    (None, "no state version"),  # saved before stamps existed
    (OLDER_STATE, "state has version"),  # saved before the class's learned state changed shape
])
def test_a_file_saved_by_older_code_is_refused_at_load_naming_model_version_and_fix(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: dict | None,
        problem: str) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=False, state=state)
    with pytest.raises(ModelError) as err:
        registry.load("regime")
    msg = err.value.message
    assert "'regime' v1" in msg and problem in msg and "paiid 0.0.1" in msg and "paiid train" in msg
    (row,) = [m for m in registry.list_models() if m["name"] == "regime"][0]["versions"]
    assert row["status"] == "refused" and problem in row["problem"]  # not "ok": listing runs the checks

    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 1, out.stderr
    line = _one_line_error(out)
    assert "'regime'" in line and "v1" in line and problem in line and "`paiid train`" in line
    assert registry.versions("regime") == [1]  # nothing deleted, nothing retrained behind the user's back

    with serve(home) as srv:
        r = httpx.get(f"{srv.url}/api/ml/market-regime", params={"symbol": "SPX"}, timeout=120)
        assert r.status_code == 503, r.text
        detail = r.json()["detail"]
        assert "'regime'" in detail and "v1" in detail and problem in detail and "paiid train" in detail
        assert "Traceback" not in srv.log()


def test_a_stale_promoted_version_falls_back_to_the_older_good_one_in_the_cli_and_the_server(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=True, state=OLDER_STATE)
    model, info = registry.load_serving("regime")
    assert info.version == 1 and info.fallback_from == 2
    assert any("'regime' v2" in p and "state has version" in p for p in info.problems)

    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["current_regime"]
    assert "serving v1" in out.stderr  # the fallback is not silent
    assert registry.promoted_version("regime") == 2 and registry.versions("regime") == [1, 2]

    with serve(home) as srv:
        r = httpx.get(f"{srv.url}/api/ai/recommendations", params={"symbol": "SPX"}, timeout=300)
        assert r.status_code == 200, r.text  # the first request already: the stale file never serves
        assert r.json()["model_versions"]["regime"] == 1
        assert "Traceback" not in srv.log()

"""Model files saved by older code: a clear `ModelError` (CLI exit 1, API 503), or the older good version.

Real registry entries, written the way an older paiid would have: the trained regime model with a
fitted attribute the current `RegimeDetector` sets removed (or its learned state in another shape), saved
through `registry.save` and given the sidecar of an older release (its `code_version`, and none of the
fields newer code records). Checked through the registry, the real `paiid` console script and a real
`paiid serve` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from paiid.bench.api import paiid_command, serve, shared_test_home
from paiid.engine import registry, service
from paiid.errors import ModelError

pytestmark = pytest.mark.slow

OTHERS = ("selector", "tradeprob", "pattern_scorer")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_test_home(tmp_path_factory.getbasetemp())


def _as_older_code_wrote_it(name: str, version: int) -> None:
    """Rewrite a sidecar as paiid 0.0.1 wrote them: its own code version, no `unset_attributes`."""
    path = registry.model_dir(name) / f"v{version}.json"
    doc = json.loads(path.read_text())
    doc.pop("unset_attributes", None)
    doc["code_version"] = {"paiid": "0.0.1", "git_commit": None}
    path.write_text(json.dumps(doc))


def _home(trained: Path, home: Path, monkeypatch: pytest.MonkeyPatch, *, good_first: bool,
          damage: str) -> Path:
    """A home with the trained selector/tradeprob/pattern_scorer and a regime whose promoted version is stale.

    `damage`: "missing" drops the fitted `means_`; "shape" keeps `strategy_sharpe_` as a list (what an
    older release could have stored) so the file passes the load-time checks and fails at predict time.
    """
    home.mkdir(parents=True, exist_ok=True)
    for name in OTHERS:
        shutil.copytree(trained / "models" / name, home / "models" / name)
    monkeypatch.setenv("PAIID_HOME", str(trained))
    model, _ = registry.load("regime")
    monkeypatch.setenv("PAIID_HOME", str(home))
    if good_first:
        registry.save("regime", model, {"note": "good"})
    if damage == "missing":
        del model.means_
    else:
        model.strategy_sharpe_ = sorted(model.strategy_sharpe_)
    info = registry.save("regime", model, {"note": "saved by older code"})
    _as_older_code_wrote_it("regime", info.version)
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


def test_missing_fitted_attribute_is_refused_at_load_naming_model_version_and_fix(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=False, damage="missing")
    with pytest.raises(ModelError) as err:
        registry.load("regime")
    msg = err.value.message
    assert "'regime' v1" in msg and "means_" in msg and "paiid 0.0.1" in msg and "paiid train" in msg
    (row,) = [m for m in registry.list_models() if m["name"] == "regime"][0]["versions"]
    assert row["status"] == "refused" and "means_" in row["problem"]  # not "ok": listing runs the checks

    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 1, out.stderr
    line = _one_line_error(out)
    assert "'regime'" in line and "v1" in line and "means_" in line and "`paiid train`" in line
    assert registry.versions("regime") == [1]  # nothing deleted, nothing retrained behind the user's back

    with serve(home) as srv:
        r = httpx.get(f"{srv.url}/api/ml/market-regime", params={"symbol": "SPX"}, timeout=120)
        assert r.status_code == 503, r.text
        detail = r.json()["detail"]
        assert "'regime'" in detail and "v1" in detail and "paiid train" in detail
        assert "Traceback" not in srv.log()


def test_stale_promoted_version_falls_back_to_the_older_good_one(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=True, damage="missing")
    model, info = registry.load_serving("regime")
    assert info.version == 1 and info.fallback_from == 2
    assert any("'regime' v2" in p and "means_" in p for p in info.problems)

    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["current_regime"]
    assert "serving v1" in out.stderr  # the fallback is not silent
    assert registry.promoted_version("regime") == 2 and registry.versions("regime") == [1, 2]


def test_saving_records_attributes_the_current_code_sets_only_sometimes(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the current code wrote is never refused for an attribute it legitimately left unset."""
    monkeypatch.setenv("PAIID_HOME", str(trained))
    model, _ = registry.load("regime")
    monkeypatch.setenv("PAIID_HOME", str(tmp_path / "home"))
    del model.means_
    info = registry.save("regime", model, {})
    assert info.metadata["unset_attributes"] == {"model": ["means_"]}
    assert registry.load("regime")[1].version == info.version


def test_state_of_another_shape_fails_at_predict_time_as_a_model_error(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=False, damage="shape")
    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 1, out.stderr
    line = _one_line_error(out)
    assert "'regime' v1" in line and "paiid 0.0.1" in line and "`paiid train`" in line

    with serve(home) as srv:
        r = httpx.get(f"{srv.url}/api/ml/market-regime", params={"symbol": "SPX"}, timeout=120)
        assert r.status_code == 503, r.text
        assert "'regime' v1" in r.json()["detail"] and "paiid train" in r.json()["detail"]


def test_predict_time_failure_makes_the_server_fall_back_to_the_older_good_version(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(trained, tmp_path / "home", monkeypatch, good_first=True, damage="shape")
    with serve(home) as srv:
        url = f"{srv.url}/api/ml/market-regime"
        first = httpx.get(url, params={"symbol": "SPX"}, timeout=120)
        assert first.status_code == 503 and "'regime' v2" in first.json()["detail"]
        second = httpx.get(url, params={"symbol": "SPX"}, timeout=120)
        assert second.status_code == 200, second.text  # v1 serves from now on
        assert second.json()["current_regime"]

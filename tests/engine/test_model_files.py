"""Model files as an attacker would write them: nothing in them runs, the previous version serves.

Real models (trained once per session into a shared home by `paiid train`), copied into a home of the
test's own; the hostile version is planted the way someone with write access to `PAIID_HOME/models`
would do it: a skops archive with the sidecar's sha256 and the promoted pointer updated to match, so
only what the registry checks inside the file stands in the way. Checked through the registry, the real
`paiid` console script and a real `paiid serve` answering an unauthenticated request.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import skops.io as sio

from paiid.bench.api import paiid_command, serve
from paiid.engine import registry, service
from paiid.errors import ModelError

pytestmark = pytest.mark.slow

RUNSTRING = "numpy.testing._private.utils.runstring"


@pytest.fixture
def home(promoted_models: Callable[[Path], Path], paiid_home: Path) -> Path:
    """The trained models, copied (the test plants files in them), in this test's own home.

    Only the promoted versions: the point-in-time refits other tests fitted into the shared home are
    not what these tests attack, and `paiid models list` would read and audit each of them."""
    promoted_models(paiid_home)
    service.clear_cache()
    yield paiid_home
    service.clear_cache()


def _payload(marker: Path) -> bytes:
    """A skops archive whose root calls `runstring(code, {})`, i.e. `exec(code)`, which creates `marker`."""
    args = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps(
        (f"open({str(marker)!r}, 'w').write('pwned')", {})))).read("schema.json"))
    module, _, func = RUNSTRING.rpartition(".")
    schema = {"__class__": func, "__module__": module, "__loader__": "ConstructorFromReduceNode",
              "content": {k: v for k, v in args.items() if k not in ("protocol", "_skops_version")},
              "protocol": args["protocol"], "_skops_version": args["_skops_version"]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


def _plant(name: str, data: bytes) -> int:
    """Register `data` as a new, promoted version of `name` with a matching sidecar, as an attacker would."""
    latest = registry.versions(name)[-1]
    version = latest + 1
    d = registry.model_dir(name)
    (d / f"v{version}.skops").write_bytes(data)
    promoted = registry.promoted_version(name)  # not a point-in-time vintage other tests may have added
    doc = json.loads((d / f"v{promoted}.json").read_text())
    doc.update(version=version, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
    (d / f"v{version}.json").write_text(json.dumps(doc))
    pointers = registry.pointer_path(name)
    current = json.loads(pointers.read_text())
    current["versions"][name] = version
    pointers.write_text(json.dumps(current))
    return version


def _paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PAIID_DATABASE_URL", "PAIID_DEBUG")}
    env.update(PAIID_HOME=str(home), PAIID_QUIET="1")
    return subprocess.run(paiid_command(*args), capture_output=True, text=True, env=env, timeout=600)


def test_fresh_models_hold_only_exactly_named_trusted_types_and_are_owner_only(trained: Path,
                                                                              monkeypatch) -> None:
    """Every type and loader in freshly trained files is on the exact allow-lists; files are 0600."""
    monkeypatch.setenv("PAIID_HOME", str(trained))
    assert RUNSTRING not in registry.trusted_types()
    assert all(not t.endswith(".") for t in registry.trusted_types())  # names, never prefixes
    names = registry.model_names()
    assert set(names) == set(registry.MODEL_CLASSES)
    for name in names:
        for v in registry.versions(name):
            _, data = registry.verify(name, v)
            found = registry.audit_schema(data)
            assert found.untrusted() == [], (name, v)
            assert found.root in registry.class_names(registry.MODEL_CLASSES[name])
    files = [p for p in (trained / "models").rglob("*") if p.is_file() and p.suffix in (".skops", ".json")]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [
        (p.name, oct(stat.S_IMODE(p.stat().st_mode))) for p in files]


def test_a_file_that_would_exec_code_is_refused_everywhere_and_the_previous_version_serves(
        home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = _payload(marker)
    # the planted file is live: skops, told to trust what it names, runs the code
    sio.loads(payload, trusted=[RUNSTRING, "builtins.dict", "builtins.str", "builtins.tuple"])
    assert marker.read_text() == "pwned"
    marker.unlink()

    prev = registry.promoted_version("regime")
    bad = _plant("regime", payload)
    with pytest.raises(ModelError, match="untrusted types .*runstring.*ConstructorFromReduceNode"):
        registry.load("regime", bad)
    assert not marker.exists()
    _, info = registry.load_serving("regime")
    assert info.version == prev and info.fallback_from == bad

    out = _paiid(home, "regime", "SPX", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["current_regime"]
    assert f"serving v{prev}" in out.stderr
    assert not marker.exists()

    out = _paiid(home, "models", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = {m["name"]: {v["version"]: v for v in m["versions"]} for m in json.loads(out.stdout)["models"]}
    assert rows["regime"][bad]["status"] == "refused" and "runstring" in rows["regime"][bad]["problem"]
    assert rows["regime"][prev]["status"] == "ok"
    assert not marker.exists()

    with serve(home) as srv:
        for _ in range(2):  # the first request loads the models; the next ones must keep working
            r = httpx.get(f"{srv.url}/api/ai/recommendations", params={"symbol": "SPX"}, timeout=300)
            assert r.status_code == 200, r.text
            assert r.json()["model_versions"]["regime"] == prev
        assert "Traceback" not in srv.log()
    assert not marker.exists()


def test_a_valid_object_of_another_class_is_refused_and_the_previous_version_serves(home: Path) -> None:
    scorer, _ = registry.load("pattern_scorer")
    prev = registry.promoted_version("regime")
    bad = _plant("regime", sio.dumps(scorer))
    with pytest.raises(ModelError, match=r"holds a paiid\.ml\..*PatternScorer, not a .*RegimeDetector"):
        registry.load("regime", bad)
    model, info = registry.load_serving("regime")
    assert type(model).__name__ == "RegimeDetector" and info.version == prev
    status = {v["version"]: v["status"] for m in registry.list_models() if m["name"] == "regime"
              for v in m["versions"]}
    assert status[bad] == "refused" and status[prev] == "ok"
    with pytest.raises(ModelError, match="must be a .*RegimeDetector"):
        registry.save("regime", scorer, {})


def test_a_file_naming_the_public_path_of_a_moved_class_still_loads(home: Path) -> None:
    """Files saved before `paiid.ml.regime` became a package name `paiid.ml.regime.RegimeDetector`."""
    cls = registry.MODEL_CLASSES["regime"]
    _, data = registry.verify("regime", registry.versions("regime")[-1])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(files["schema.json"])
    schema["__module__"] = "paiid.ml.regime"  # the public name, not where the class is defined now
    files["schema.json"] = json.dumps(schema).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    version = _plant("regime", buf.getvalue())
    model, info = registry.load("regime", version)
    assert type(model) is cls and info.version == version

"""Writers and readers of one registry in separate processes, at the same time, as under `make test`.

Why: the session's trained models are shared by every test (`linked_home`); tests on other xdist
workers register point-in-time refits into that one `models/` directory while servers read it. A
reader must then never see a half-written model file, sidecar or pointer file (a sha256 mismatch or
unreadable JSON is a `ModelError`, an HTTP 503), and two writers must never get the same version.

Real processes (`python -c`), each with its own home whose `models` links to one shared directory, the
real trained regime model saved again and again; nothing of ours is mocked. Measured on a 2-core box:
without the temp-file + `os.replace` writes (a plain `write_bytes`) readers fail within a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paiid.bench.api import child_env, linked_home
from paiid.engine import registry

pytestmark = pytest.mark.slow

WRITERS = 2
READERS = 3
SAVES = 25  # per writer; each save also rewrites the pointer file every 5th time

WRITER = r"""
import sys
from paiid.engine import registry
model, info = registry.load("regime", 1)
meta = dict(info.metadata)
for i in range(int(sys.argv[1])):
    meta.update(vintage=True, refit_date="2001-01-01", recipe="concurrency", writer=sys.argv[2], i=i)
    registry.save("regime", model, meta, promote=False)
    if i % 5 == 0:
        registry.promote("regime", 1)  # rewrites promoted.json with the same set
"""

READER = r"""
import json, sys, time
from pathlib import Path
from paiid.engine import registry
from paiid.errors import ModelError
done = Path(sys.argv[1])
rounds, errors = 0, []
while not done.exists() or rounds < 20:
    try:
        for v in sorted(registry.versions("regime"), reverse=True)[:3]:  # the newest: being written
            doc = registry.describe("regime", v).metadata
            registry.verify("regime", v)
            assert doc["version"] == v, (doc["version"], v)
        _, info = registry.load_serving("regime")
        assert info.version == 1 and registry.promoted_version("regime") == 1
        rounds += 1
    except (ModelError, AssertionError) as exc:
        errors.append(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:300])
print(json.dumps({"rounds": rounds, "errors": errors}))
"""


def _spawn(code: str, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=child_env(home), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def test_concurrent_writers_and_readers_see_only_whole_versions(
        trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a registry of our own (never the shared one): the trained regime model promoted as v1
    monkeypatch.setenv("PAIID_HOME", str(trained))
    model, info = registry.load("regime")
    shared = tmp_path / "shared"
    monkeypatch.setenv("PAIID_HOME", str(shared))
    assert registry.save("regime", model, dict(info.metadata)).version == 1

    done = tmp_path / "writers-done"
    homes = [linked_home(shared, tmp_path / f"home{i}") for i in range(WRITERS + READERS)]
    readers = [_spawn(READER, h, str(done)) for h in homes[WRITERS:]]
    time.sleep(1.0)  # readers are reading before the first write
    writers = [_spawn(WRITER, h, str(SAVES), str(i)) for i, h in enumerate(homes[:WRITERS])]
    for w in writers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-3000:]
    done.touch()
    reports = []
    for r in readers:
        out, err = r.communicate(timeout=600)
        assert r.returncode == 0, err[-3000:]
        reports.append(json.loads(out))

    assert all(rep["rounds"] >= 20 for rep in reports), reports
    assert [e for rep in reports for e in rep["errors"]] == []  # no reader saw a partial file
    # every save got its own version number, and every version is whole and is what its writer wrote
    total = 1 + WRITERS * SAVES
    assert registry.versions("regime") == list(range(1, total + 1))
    seen = set()
    for v in range(2, total + 1):
        doc, _ = registry.verify("regime", v)
        seen.add((doc["writer"], doc["i"]))
    assert seen == {(str(w), i) for w in range(WRITERS) for i in range(SAVES)}
    assert registry.promoted_version("regime") == 1

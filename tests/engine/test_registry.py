"""The registry stores versions atomically, verifies them on load and never unpickles.

Tampering tests flip bytes, truncate, swap in a pickle and forge a skops file with an untrusted
type (with a matching sha256, so only the type allowlist stands in the way): each is refused with a
`ModelError`, serving falls back to the previous good version, and nothing else is lost. So is a file
whose state version (written beside it at save) is not the current class's.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from older_files import as_older_code_wrote_it
from tiny_trainers import TinyModel

from paiid import config
from paiid.engine import registry
from paiid.errors import BadInput, ModelError


@pytest.fixture(autouse=True)
def logistic_models(monkeypatch):
    """These tests store tiny logistic regressions under the real names: make that each name's class."""
    for name in ("regime", "selector", "tradeprob", "pattern_scorer"):
        monkeypatch.setitem(registry.MODEL_CLASSES, name, TinyModel)


def _fit(seed: int) -> TinyModel:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.1 * rng.normal(size=40) > 0).astype(int)
    return TinyModel().fit(X, y)


META = {"features": ["a", "b", "c"], "params": {"C": 1.0}, "scores": {"auc": 0.9, "baseline_auc": 0.5},
        "data": [{"symbol": "SPX", "first": "1999-01-04", "last": "2018-12-31", "bars": 5031, "sha256": "x"}]}
X_PROBE = np.array([[0.3, -1.0, 2.0], [-0.5, 0.2, 0.1]])


def test_save_load_roundtrip_and_metadata():
    model = _fit(0)
    info = registry.save("regime", model, META)
    assert info.version == 1 and info.promoted
    d = config.models_dir() / "regime"
    assert (d / "v1.skops").is_file() and (d / "v1.json").is_file()
    side = json.loads((d / "v1.json").read_text())
    keys = ("name", "version", "created_at", "code_version", "data", "features", "params", "scores", "sha256")
    assert all(k in side for k in keys)
    assert side["state"] == {"class": "tiny_trainers.TinyModel", "version": 1}
    assert side["code_version"]["paiid"]
    assert side["created_at"].endswith("+00:00")
    loaded, linfo = registry.load("regime")
    assert type(loaded) is TinyModel
    np.testing.assert_array_equal(loaded.predict_proba(X_PROBE), model.predict_proba(X_PROBE))
    assert linfo.version == 1 and linfo.scores["auc"] == 0.9
    # no temp files left behind
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def test_versions_increase_and_promotion():
    for s in range(3):
        registry.save("selector", _fit(s), META)
    assert registry.versions("selector") == [1, 2, 3]
    assert registry.promoted_version("selector") == 3
    info = registry.save("selector", _fit(9), META, promote=False)
    assert info.version == 4 and not info.promoted
    assert registry.promoted_version("selector") == 3
    assert registry.rollback("selector").version == 2
    assert registry.promoted_version("selector") == 2
    registry.promote("selector", 4)
    assert registry.load("selector")[1].version == 4
    with pytest.raises(BadInput):
        registry.promote("selector", 17)
    # a deleted newest version never gets its number reused
    os.unlink(config.models_dir() / "selector" / "v4.skops")
    os.unlink(config.models_dir() / "selector" / "v4.json")
    assert registry.save("selector", _fit(1), META).version == 5
    listing = {m["name"]: m for m in registry.list_models()}
    assert [v["version"] for v in listing["selector"]["versions"]] == [1, 2, 3, 5]
    assert listing["selector"]["promoted"] == 5
    assert registry.has_model("selector") and not registry.has_model("tradeprob")


def _tamper_flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _tamper_truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _tamper_pickle(path):
    path.write_bytes(pickle.dumps({"not": "a model", "n": 42}))


@pytest.mark.parametrize("tamper", [_tamper_flip, _tamper_truncate, _tamper_pickle])
def test_tampered_file_is_refused_and_serving_falls_back(tamper, caplog):
    good = _fit(1)
    registry.save("regime", good, META)
    registry.save("regime", _fit(2), META)
    v2 = config.models_dir() / "regime" / "v2.skops"
    tamper(v2)
    with pytest.raises(ModelError, match="corrupt or was tampered"):
        registry.load("regime")
    with pytest.raises(ModelError):
        registry.load("regime", 2)
    with caplog.at_level("WARNING", logger="paiid.registry"):
        model, info = registry.load_serving("regime")
    assert info.version == 1 and info.fallback_from == 2 and info.problems
    assert "serving v1" in caplog.text
    np.testing.assert_array_equal(model.predict_proba(X_PROBE), good.predict_proba(X_PROBE))
    # nothing lost: the tampered file is still there for inspection, v1 intact, listing says which is bad
    assert v2.exists()
    status = {v["version"]: v["status"] for v in registry.list_models()[0]["versions"]}
    assert status == {1: "ok", 2: "refused"}
    # a new save gets a fresh number and serves again
    assert registry.save("regime", _fit(3), META).version == 3
    assert registry.load_serving("regime")[1].version == 3


class Evil:
    """A type outside the allowlist; loading it must never instantiate it."""

    def __setstate__(self, state):  # pragma: no cover - would only run if the registry were unsafe
        raise AssertionError("untrusted type instantiated")


def test_forged_file_with_matching_hash_but_untrusted_type_is_refused():
    registry.save("tradeprob", _fit(1), META)
    registry.save("tradeprob", _fit(2), META)
    path = config.models_dir() / "tradeprob" / "v2.skops"
    sio.dump({"payload": Evil()}, path)
    side = config.models_dir() / "tradeprob" / "v2.json"
    doc = json.loads(side.read_text())
    import hashlib

    doc["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    side.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="untrusted types .*Evil"):
        registry.load("tradeprob", 2)
    assert registry.load_serving("tradeprob")[1].version == 1


def test_pickle_with_matching_hash_is_never_unpickled(tmp_path):
    registry.save("tradeprob", _fit(1), META)
    registry.save("tradeprob", _fit(2), META)
    marker = tmp_path / "pwned"
    path = config.models_dir() / "tradeprob" / "v2.skops"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.write_bytes(pickle.dumps(Boom()))
    side = config.models_dir() / "tradeprob" / "v2.json"
    doc = json.loads(side.read_text())
    import hashlib

    doc["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    side.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="corrupt"):
        registry.load("tradeprob", 2)
    assert not marker.exists()
    assert registry.load_serving("tradeprob")[1].version == 1


def test_save_refuses_untrusted_types():
    import pandas as pd

    holding_evil, holding_frame = _fit(0), _fit(1)
    holding_evil.payload_ = Evil()
    holding_frame.frame_ = pd.DataFrame({"a": [1.0]})
    with pytest.raises(ModelError, match="allowlist.*Evil"):
        registry.save("regime", holding_evil, META)
    with pytest.raises(ModelError, match="regime"):
        registry.save("regime", holding_frame, META)
    with pytest.raises(ModelError, match="must be a .*TinyModel, not a builtins.dict"):
        registry.save("regime", {"coef": [1.0]}, META)
    assert not registry.has_model("regime")
    assert not [p for p in (config.models_dir() / "regime").glob("*") if p.suffix in (".skops", ".json")]


def test_corrupt_sidecar_and_missing_file():
    registry.save("pattern_scorer", _fit(1), META)
    registry.save("pattern_scorer", _fit(2), META)
    (config.models_dir() / "pattern_scorer" / "v2.json").write_text("{not json")
    with pytest.raises(ModelError, match="metadata .* corrupt"):
        registry.load("pattern_scorer", 2)
    assert registry.load_serving("pattern_scorer")[1].version == 1
    os.unlink(config.models_dir() / "pattern_scorer" / "v1.skops")
    with pytest.raises(ModelError, match="no usable version"):
        registry.load_serving("pattern_scorer")


def test_rollback_skips_bad_versions_and_refuses_when_none():
    for s in range(3):
        registry.save("regime", _fit(s), META)
    _tamper_flip(config.models_dir() / "regime" / "v2.skops")
    assert registry.rollback("regime").version == 1
    with pytest.raises(BadInput, match="no good version older"):
        registry.rollback("regime")
    with pytest.raises(BadInput):
        registry.rollback("tradeprob")


def test_invalid_name_is_rejected():
    with pytest.raises(BadInput):
        registry.save("../etc", _fit(0), META)


def test_concurrent_saves_get_distinct_versions():
    """Threads in this process and another process save at once: every version is distinct and loads."""
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            registry.save("selector", _fit(seed), META)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import numpy as np; from tiny_trainers import TinyModel; from paiid.engine import registry\n"
        "registry.MODEL_CLASSES['selector'] = TinyModel\n"
        "for i in range(3):\n"
        "    X = np.random.default_rng(i).normal(size=(20, 2)); y = (X[:, 0] > 0).astype(int)\n"
        "    registry.save('selector', TinyModel().fit(X, y), {})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert proc.wait(timeout=60) == 0
    assert not errors
    assert registry.versions("selector") == list(range(1, 8))
    for v in range(1, 8):
        registry.load("selector", v)


@pytest.mark.parametrize(("state", "problem"), [
    (None, "no state version"),
    ({"class": "tiny_trainers.TinyModel", "version": 0}, "state has version 0"),
    ({"class": "paiid.ml.old.Model", "version": 1}, "written for paiid.ml.old.Model"),
])
def test_a_file_with_another_state_version_is_refused_and_the_previous_version_serves(state, problem):
    good = _fit(1)
    registry.save("regime", good, META)
    registry.save("regime", _fit(2), META)
    as_older_code_wrote_it("regime", 2, state)
    with pytest.raises(ModelError) as err:
        registry.load("regime", 2)
    msg = err.value.message
    assert problem in msg and "'regime' v2" in msg and "paiid 0.0.1" in msg and "`paiid train`" in msg
    model, info = registry.load_serving("regime")
    assert info.version == 1 and info.fallback_from == 2 and problem in info.problems[0]
    np.testing.assert_array_equal(model.predict_proba(X_PROBE), good.predict_proba(X_PROBE))
    row = {v["version"]: v for v in registry.list_models()[0]["versions"]}[2]
    assert row["status"] == "refused" and problem in row["problem"]
    with pytest.raises(ModelError, match="state"):
        registry.promote("regime", 2)


def test_bumping_a_class_state_version_retires_the_files_saved_before(monkeypatch):
    registry.save("selector", _fit(1), META)
    monkeypatch.setattr(TinyModel, "STATE_VERSION", 2)
    with pytest.raises(ModelError, match="state has version 1, the current TinyModel reads version 2"):
        registry.load("selector")
    info = registry.save("selector", _fit(2), META)
    assert info.metadata["state"]["version"] == 2 and registry.load("selector")[1].version == 2

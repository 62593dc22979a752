"""Serving access: trains on first use, caches per version, notices promotions from other processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_trainers

from paiid.engine import registry, service, training


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    tiny_trainers.use(monkeypatch)
    service.clear_cache()
    yield tiny_trainers
    service.clear_cache()


def test_first_call_trains_then_cached():
    assert not registry.has_model("regime")
    m1 = service.get_model("regime")
    assert registry.has_model("regime") and registry.has_model("selector")
    m2 = service.get_model("regime")
    assert m1 is m2  # cached: the same instance, no reload
    _, info = service.get_served("regime")
    assert info.version == 1 and info.promoted


def test_new_version_invalidates_cache_and_promote_from_other_process_is_seen():
    m1 = service.get_model("selector")
    training.train_all(["SPX"], seed=5, only=["selector"])
    m2, info = service.get_served("selector")
    assert info.version == 2 and m2 is not m1
    # promote v1 back from a separate process: the pointer's stat changes, the next call serves v1
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import tiny_trainers; "
            "from paiid.engine import registry; "
            "registry.MODEL_CLASSES['selector'] = tiny_trainers.TinyModel; registry.promote('selector', 1)")
    subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), check=True)
    m3, info3 = service.get_served("selector")
    assert info3.version == 1
    assert m3 is m1  # v1 was loaded before: reused from the per-version cache
    x = np.array([[0.01, 0.02]])
    np.testing.assert_array_equal(m3.predict_proba(x), m1.predict_proba(x))


def test_tampered_promoted_version_serves_previous_good():
    service.get_model("regime")
    training.train_all(["SPX"], seed=1, only=["regime"])
    path = registry.model_dir("regime") / "v2.skops"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x55
    path.write_bytes(bytes(data))
    service.clear_cache()
    _, info = service.get_served("regime")
    assert info.version == 1 and info.fallback_from == 2

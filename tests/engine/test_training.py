"""Training orchestration: dependency order, deps, skipping unwritten trainers, ensure_models, locking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tiny_trainers

from paiid import config
from paiid.engine import registry, training
from paiid.errors import BadInput, UnknownSymbol


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(training, "TRAINERS", dict(tiny_trainers.TINY))
    monkeypatch.setattr(training, "_failed", set())
    tiny_trainers.CALLS.clear()
    return tiny_trainers


def test_default_symbols_are_the_daily_ones():
    syms = training.default_symbols()
    assert "SPX" in syms and "GOOG" in syms and "EURUSD" not in syms


def test_train_all_registers_in_order_with_deps_and_skips_missing(tiny):
    result = training.train_all(["SPX", "GOOG"], seed=3)
    assert [i.name for i in result] == ["regime", "selector", "tradeprob"]
    assert result.skipped == [{"name": "pattern_scorer", "reason": result.skipped[0]["reason"]}]
    assert "not available yet" in result.skipped[0]["reason"]
    calls = {c["name"]: c for c in tiny.CALLS}
    assert calls["regime"]["deps"] == [] and calls["selector"]["deps"] == ["regime"]
    assert calls["regime"]["symbols"] == ["SPX", "GOOG"] and calls["regime"]["seed"] == 3
    meta = registry.describe("selector", 1).metadata
    assert meta["training"]["deps"] == {"regime": 1}
    assert meta["training"]["symbols"] == ["SPX", "GOOG"]
    assert [d["symbol"] for d in meta["data"]] == ["SPX", "GOOG"] and meta["data"][0]["sha256"]
    assert set(meta["feature_importances"]) == set(tiny.FEATURES)
    assert abs(sum(meta["feature_importances"].values()) - 1) < 1e-9
    # a second run registers new versions
    again = training.train_all(["SPX"], only=["selector"])
    assert [(i.name, i.version) for i in again] == [("selector", 2)]
    assert tiny.CALLS[-1]["deps"] == ["regime"]  # regime came from the registry this time


def test_bad_inputs(tiny):
    with pytest.raises(BadInput, match="unknown model"):
        training.train_all(["SPX"], only=["nope"])
    with pytest.raises(UnknownSymbol):
        training.train_all(["NOPE"])
    assert training.train_all("SPX,GOOG".split(","), only=["regime"])[0].metadata["training"]["symbols"] == [
        "SPX", "GOOG"]


def test_ensure_models_trains_only_missing(tiny):
    first = training.ensure_models()
    assert [i.name for i in first] == ["regime", "selector", "tradeprob"]
    assert first[0].metadata["training"]["symbols"] == training.default_symbols()
    n = len(tiny.CALLS)
    assert list(training.ensure_models()) == []
    assert len(tiny.CALLS) == n  # nothing retrained


def test_ensure_models_failure_of_other_model_does_not_block(tiny, monkeypatch):
    monkeypatch.setitem(training.TRAINERS, "tradeprob", "tiny_trainers:train_broken")
    got = training.ensure_models(["regime"])
    assert [i.name for i in got] == ["regime", "selector"]
    assert any(s["name"] == "tradeprob" and "always fails" in s["reason"] for s in got.skipped)
    with pytest.raises(RuntimeError, match="always fails"):
        training.ensure_models(["tradeprob"])
    with pytest.raises(RuntimeError, match="always fails"):
        training.train_all(["SPX"], only=["tradeprob"])


def test_missing_dependency_inside_a_trainer_is_an_error(tiny, tmp_path, monkeypatch):
    (tmp_path / "trainer_with_bad_import.py").write_text("import paiid.ml.does_not_exist_either\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(training.TRAINERS, "regime", "trainer_with_bad_import:train")
    with pytest.raises(ModuleNotFoundError):
        training.resolve_trainer("regime")
    assert training.resolve_trainer("pattern_scorer") is None


def test_two_processes_do_not_train_at_once(tmp_path):
    """A second process waits for the lock, then sees the models and trains nothing."""
    engine_tests = str(Path(__file__).parent)
    log = tmp_path / "log.jsonl"
    code = f"""
import json, sys, time
sys.path.insert(0, {engine_tests!r})
import tiny_trainers
from paiid.engine import training
orig = tiny_trainers._trained
def slow(name, symbols, seed, deps):
    with open({str(log)!r}, "a") as fh:
        fh.write(json.dumps({{"event": "start", "name": name, "t": time.time()}}) + "\\n")
    time.sleep(0.4)
    out = orig(name, symbols, seed, deps)
    with open({str(log)!r}, "a") as fh:
        fh.write(json.dumps({{"event": "end", "name": name, "t": time.time()}}) + "\\n")
    return out
tiny_trainers._trained = slow
training.TRAINERS = dict(tiny_trainers.TINY)
res = training.ensure_models()
print(json.dumps([i.name for i in res]))
"""
    env = {**os.environ, "PAIID_HOME": str(config.home())}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(len(o) for o in outs) == [0, 3]  # one trained all three, the other nothing
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) == 6
    # never two trainings overlapping
    depth = 0
    for e in sorted(events, key=lambda e: e["t"]):
        depth += 1 if e["event"] == "start" else -1
        assert depth <= 1
    assert registry.versions("regime") == [1]

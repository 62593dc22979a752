"""Training orchestration: dependency order, deps, ensure_models, locking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tiny_trainers

from paiid import config
from paiid.engine import registry, training
from paiid.errors import BadInput, UnknownSymbol


@pytest.fixture
def tiny(monkeypatch):
    tiny_trainers.use(monkeypatch)
    return tiny_trainers


def test_default_symbols_are_the_daily_ones():
    syms = training.default_symbols()
    assert "SPX" in syms and "GOOG" in syms and "EURUSD" not in syms


ALL = ["regime", "pattern_scorer", "selector", "tradeprob"]


def test_train_all_registers_in_order_with_deps(tiny):
    result = training.train_all(["SPX", "GOOG"], seed=3)
    assert [i.name for i in result] == ALL and result.skipped == []
    calls = {c["name"]: c for c in tiny.CALLS}
    assert calls["regime"]["deps"] == [] and calls["selector"]["deps"] == ["pattern_scorer", "regime"]
    assert calls["tradeprob"]["deps"] == ["pattern_scorer", "regime", "selector"]
    assert calls["regime"]["symbols"] == ["SPX", "GOOG"] and calls["regime"]["seed"] == 3
    meta = registry.describe("selector", 1).metadata
    assert meta["training"]["deps"] == {"regime": 1, "pattern_scorer": 1}
    assert meta["training"]["trainer"] == "tiny_trainers.train_selector"
    assert meta["training"]["symbols"] == ["SPX", "GOOG"]
    assert [d["symbol"] for d in meta["data"]] == ["SPX", "GOOG"] and meta["data"][0]["sha256"]
    assert set(meta["feature_importances"]) == set(tiny.FEATURES)
    assert abs(sum(meta["feature_importances"].values()) - 1) < 1e-9
    # a second run registers new versions
    again = training.train_all(["SPX"], only=["selector"])
    assert [(i.name, i.version) for i in again] == [("selector", 2)]
    assert tiny.CALLS[-1]["deps"] == ["pattern_scorer", "regime"]  # from the registry this time


def test_bad_inputs(tiny):
    with pytest.raises(BadInput, match="unknown model"):
        training.train_all(["SPX"], only=["nope"])
    with pytest.raises(UnknownSymbol):
        training.train_all(["NOPE"])
    assert training.train_all("SPX,GOOG".split(","), only=["regime"])[0].metadata["training"]["symbols"] == [
        "SPX", "GOOG"]


def test_ensure_models_trains_only_missing(tiny):
    first = training.ensure_models()
    assert [i.name for i in first] == ALL
    # every daily symbol with open, high, low and volume (the bundled close-only ones are skipped)
    assert first[0].metadata["training"]["symbols"] == training.usable_symbols()[0] == ["SPX", "GOOG"]
    assert {s["symbol"] for s in first.skipped_symbols} == set(training.default_symbols()) - {"SPX", "GOOG"}
    n = len(tiny.CALLS)
    assert list(training.ensure_models()) == []
    assert len(tiny.CALLS) == n  # nothing retrained


def test_ensure_models_failure_of_other_model_does_not_block(tiny, monkeypatch):
    monkeypatch.setitem(training.TRAINERS, "tradeprob", tiny.train_broken)
    got = training.ensure_models(["regime"])
    assert [i.name for i in got] == ["regime", "pattern_scorer", "selector"]
    assert any(s["name"] == "tradeprob" and "always fails" in s["reason"] for s in got.skipped)
    with pytest.raises(RuntimeError, match="always fails"):
        training.ensure_models(["tradeprob"])
    with pytest.raises(RuntimeError, match="always fails"):
        training.train_all(["SPX"], only=["tradeprob"])


def test_training_lock_excludes_other_threads_and_is_reentrant_within_one():
    """The server trains in a background thread while request threads may call `ensure_models`."""
    events: list[tuple[str, float]] = []
    holding = threading.Event()

    def other() -> None:
        holding.wait(5)
        with training.training_lock():
            events.append(("other acquired", time.monotonic()))

    thread = threading.Thread(target=other)
    thread.start()
    with training.training_lock():
        with training.training_lock():  # nested in the same thread: must not deadlock
            holding.set()
            time.sleep(0.3)
        time.sleep(0.2)  # the inner block's exit did not release the lock either
        events.append(("released", time.monotonic()))
    thread.join(10)
    assert [e for e, _ in sorted(events, key=lambda e: e[1])] == ["released", "other acquired"]


def test_two_processes_do_not_train_at_once(tmp_path):
    """A second process waits for the lock, then sees the models and trains nothing."""
    engine_tests = str(Path(__file__).parent)
    log = tmp_path / "log.jsonl"
    code = f"""
import json, sys, time
sys.path.insert(0, {engine_tests!r})
import tiny_trainers
from paiid.engine import registry, training
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
registry.MODEL_CLASSES.update(dict.fromkeys(tiny_trainers.TINY, tiny_trainers.TinyModel))
res = training.ensure_models()
print(json.dumps([i.name for i in res]))
"""
    env = {**os.environ, "PAIID_HOME": str(config.home())}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(len(o) for o in outs) == [0, 4]  # one trained all four, the other nothing
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) == 8
    # never two trainings overlapping
    depth = 0
    for e in sorted(events, key=lambda e: e["t"]):
        depth += 1 if e["event"] == "start" else -1
        assert depth <= 1
    assert registry.versions("regime") == [1]


def _import_csv(tmp_path: Path, symbol: str, bars) -> None:
    """`paiid data import` of `bars` (a frame in the bar schema) as `symbol`, through the real CLI."""
    from typer.testing import CliRunner

    from paiid.cli.main import app

    path = tmp_path / f"{symbol}.csv"
    bars.rename_axis("date").reset_index().to_csv(path, index=False)
    res = CliRunner().invoke(app, ["data", "import", str(path), "--symbol", symbol])
    assert res.exit_code == 0, res.stderr


def _store_raw(symbol: str, bars) -> None:
    """Write bars straight into the SQLite store, past the importer's checks (what an older import let in)."""
    import sqlite3

    from paiid.data.db import ensure_tables, get_engine

    ensure_tables(get_engine())
    con = sqlite3.connect(config.home() / "paiid.db")
    with con:
        con.executemany(
            "INSERT INTO bars (symbol, ts, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(symbol, ts.strftime("%Y-%m-%d %H:%M:%S.%f"), *map(float, row))
             for ts, row in zip(bars.index, bars[["open", "high", "low", "close", "volume"]].to_numpy(),
                                strict=True)])
        con.execute("INSERT INTO symbols (symbol, source, timeframe, updated_at) VALUES (?, 'test', 'daily', "
                    "'2024-01-01 00:00:00.000000')", (symbol,))
    con.close()


def test_a_short_import_is_skipped_and_reported_by_default_and_refused_when_named(tiny, tmp_path):
    from paiid.data import load_bars
    from paiid.errors import NotEnoughHistory

    _import_csv(tmp_path, "SHORT", load_bars("SPX").iloc[-28:])
    assert "SHORT" in training.default_symbols()
    result = training.train_all(None)
    assert result.symbols == ["SPX", "GOOG"]
    assert [i.name for i in result] == ALL
    (skip,) = _not_close_only(result.skipped_symbols)
    assert skip["symbol"] == "SHORT" and "only 28" in skip["reason"]
    assert str(training.min_train_bars()) in skip["reason"]
    assert all(c["symbols"] == ["SPX", "GOOG"] for c in tiny.CALLS)
    with pytest.raises(NotEnoughHistory, match="SHORT .*281 bars.*only 28"):
        training.train_all(["SPX", "SHORT"])
    with pytest.raises(BadInput, match="empty.*omit it"):
        training.train_all([])


def test_bars_too_extreme_to_compute_features_are_skipped_not_fatal(tiny):
    from paiid.data import load_bars
    from paiid.errors import DataValidationError

    bars = load_bars("SPX").iloc[-400:].copy()
    bars.iloc[300:, :4] = 1.5e308  # near the float limit: moving averages overflow to inf
    _store_raw("HUGE", bars)
    problem = training.unsuitable("HUGE")
    assert isinstance(problem, DataValidationError) and "HUGE" in problem.message
    assert "infinite or undefined" in problem.message and str(bars.index[300].date()) in problem.message
    usable, skipped = training.usable_symbols(None)
    assert usable == ["SPX", "GOOG"] and [s["symbol"] for s in _not_close_only(skipped)] == ["HUGE"]
    assert training.unsuitable("SPX") is None and training.unsuitable("EURUSD") is None


def test_a_failed_run_promotes_nothing_and_the_pointer_file_holds_one_set(tiny, monkeypatch):
    first = training.train_all(["SPX"])
    before = {i.name: i.version for i in first}
    assert registry.promoted_versions() == before == dict.fromkeys(ALL, 1)
    monkeypatch.setitem(training.TRAINERS, "tradeprob", tiny_trainers.train_broken)
    with pytest.raises(RuntimeError, match="always fails"):
        training.train_all(["SPX", "GOOG"])
    # regime, pattern_scorer and selector of the failed run were trained and registered, but none serves
    assert registry.versions("regime") == [1, 2] and registry.versions("selector") == [1, 2]
    assert {n: registry.promoted_version(n) for n in before} == before
    assert json.loads(registry.pointer_path("regime").read_text())["versions"] == before
    # a good run promotes every model of it in one write of the one pointer file
    monkeypatch.setitem(training.TRAINERS, "tradeprob", tiny_trainers.TINY["tradeprob"])
    again = training.train_all(["SPX"])
    assert {i.name: (i.version, i.promoted) for i in again} == {
        "regime": (3, True), "pattern_scorer": (3, True), "selector": (3, True), "tradeprob": (2, True)}
    doc = json.loads(registry.pointer_path("regime").read_text())
    assert doc["versions"] == doc["changed"] == {
        "regime": 3, "pattern_scorer": 3, "selector": 3, "tradeprob": 2}
    # promote / rollback still move one name
    assert registry.rollback("selector").version == 2
    assert registry.promoted_versions() == {"regime": 3, "pattern_scorer": 3, "selector": 2, "tradeprob": 2}


def test_registry_files_are_owner_only(tiny):
    import stat

    training.train_all(["SPX"], only=["regime"])
    files = [p for p in config.models_dir().rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert {p.name for p in files} >= {"v1.skops", "v1.json", "highwater", "promoted.json"}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}


def _not_close_only(skipped: list[dict[str, str]]) -> list[dict[str, str]]:
    """The skipped symbols other than the bundled close-only series (skipped with a reason of their own)."""
    return [s for s in skipped if not s["reason"].startswith("close-only: needs ")]

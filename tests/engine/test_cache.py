"""The answer cache: LRU bounds, and keys that change with a new bar or a new model version."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.engine.cache import BarStamp, LRUCache, answer_key


def test_lru_evicts_least_recently_used_and_counts():
    c: LRUCache[int] = LRUCache(maxsize=2)
    c.put(("a",), 1)
    c.put(("b",), 2)
    assert c.get(("a",)) == 1  # a is now most recent, so b goes first
    c.put(("c",), 3)
    assert ("b",) not in c
    assert c.get(("a",)) == 1 and c.get(("c",)) == 3
    assert c.get(("b",)) is None
    assert c.stats() == {"size": 2, "maxsize": 2, "hits": 3, "misses": 1, "evictions": 1}
    c.clear()
    assert len(c) == 0 and c.stats()["hits"] == 0


def test_get_or_compute_computes_once_per_key():
    c: LRUCache[dict] = LRUCache()
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"x": len(calls)}

    v1, hit1 = c.get_or_compute(("k",), compute)
    v2, hit2 = c.get_or_compute(("k",), compute)
    assert (hit1, hit2) == (False, True)
    assert v1 is v2 and len(calls) == 1


def test_concurrent_misses_of_one_key_compute_once():
    c: LRUCache[int] = LRUCache()
    calls: list[int] = []
    start = threading.Barrier(8)
    results: list[tuple[int, bool]] = []

    def compute() -> int:
        calls.append(1)
        time.sleep(0.3)  # long enough for every other thread to arrive while it runs
        return 42

    def ask() -> None:
        start.wait()
        results.append(c.get_or_compute(("k",), compute))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(calls) == 1
    assert sorted(results) == [(42, False)] + [(42, True)] * 7


def test_a_failed_computation_is_not_cached():
    c: LRUCache[int] = LRUCache()

    def boom() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        c.get_or_compute(("k",), boom)
    assert ("k",) not in c
    assert c.get_or_compute(("k",), lambda: 1) == (1, False)  # the next call computes again


def test_new_bar_and_new_model_version_change_the_key():
    bars = load_bars("SPX")
    versions = {"regime": (1, "aa"), "selector": (1, "bb")}
    key = answer_key("SPX", BarStamp.of(bars.iloc[:-1]), versions)
    assert key == answer_key("SPX", BarStamp.of(bars.iloc[:-1].copy()), dict(reversed(versions.items())))
    # a new bar arrives
    assert answer_key("SPX", BarStamp.of(bars), versions) != key
    # a model is retrained/promoted
    assert answer_key("SPX", BarStamp.of(bars.iloc[:-1]), {**versions, "selector": (2, "cc")}) != key
    # same last timestamp but corrected data (re-import) is a different stamp too
    fixed = bars.iloc[:-1].copy()
    fixed.iloc[-1, fixed.columns.get_loc("close")] += 1.0
    assert answer_key("SPX", BarStamp.of(fixed), versions) != key
    # another symbol
    assert answer_key("GOOG", BarStamp.of(bars.iloc[:-1]), versions) != key


def test_another_home_with_the_same_versions_gets_another_key(tmp_path, monkeypatch):
    """A long-lived worker serving two homes whose models share version numbers keeps them apart."""
    bars = load_bars("SPX")
    versions = {"regime": (1, "aa")}
    key = answer_key("SPX", BarStamp.of(bars), versions)
    monkeypatch.setenv("PAIID_HOME", str(tmp_path / "other"))
    assert answer_key("SPX", BarStamp.of(bars), versions) != key


def test_stale_entries_are_not_served_after_invalidation_and_prune_drops_them():
    bars = load_bars("SPX")
    c: LRUCache[str] = LRUCache()
    v1 = {"regime": (1, "a")}
    v2 = {"regime": (2, "b")}
    c.put(answer_key("SPX", BarStamp.of(bars.iloc[:-1]), v1), "old-bar")
    c.put(answer_key("SPX", BarStamp.of(bars), v1), "v1")
    assert c.get(answer_key("SPX", BarStamp.of(bars), v2)) is None  # new model: miss
    assert c.get(answer_key("SPX", BarStamp.of(bars), v1)) == "v1"
    current = tuple(sorted(v2.items()))
    dropped = c.prune(lambda k: k[2] == current)
    assert dropped == 2 and len(c) == 0


def test_empty_frame_has_a_stamp():
    empty = pd.DataFrame({"close": []}, index=pd.DatetimeIndex([], name="date"))
    assert BarStamp.of(empty).bars == 0


def test_thread_safe_under_concurrent_puts():
    c: LRUCache[int] = LRUCache(maxsize=50)

    def work(t: int) -> None:
        for i in range(500):
            c.put((t, i % 80), i)
            c.get((t, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(c) == 50
    assert c.stats()["hits"] + c.stats()["misses"] == 2000


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError):
        LRUCache(maxsize=0)


def test_a_thread_waiting_on_a_failed_computation_computes_in_turn():
    c: LRUCache[int] = LRUCache()
    started = threading.Event()
    outcome: list[object] = []

    def boom() -> int:
        started.set()
        time.sleep(0.3)  # the second thread arrives and waits meanwhile
        raise ValueError("no")

    def first() -> None:
        try:
            c.get_or_compute(("k",), boom)
        except ValueError as exc:
            outcome.append(exc)

    leader = threading.Thread(target=first)
    leader.start()
    started.wait()
    assert c.get_or_compute(("k",), lambda: 7) == (7, False)  # waited, then computed itself
    leader.join()
    assert isinstance(outcome[0], ValueError) and c.get(("k",)) == 7

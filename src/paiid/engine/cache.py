"""An in-process LRU cache for served answers, keyed so that stale answers can never be returned.

Why keys rather than expiry times: an answer is a pure function of the bars it was computed on and
the model versions that computed it. So the key holds exactly those — the symbol, a fingerprint of
the last bar (its timestamp, the number of bars and its close, which changes if a user re-imports
corrected data) and every model's version. A new bar or a newly promoted model makes a different
key, so the old entry is simply never looked up again and ages out of the LRU; nothing has to
remember to invalidate anything. `prune()` drops such dead entries eagerly when the caller knows
they are dead (e.g. the model versions changed), so memory goes to answers that can still be hit.

The cache is per process (each uvicorn worker has its own); it is thread-safe because FastAPI runs
sync endpoints on a thread pool. The map and its single-flight locking are cachetools'.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import cachetools
import pandas as pd

from paiid import config

V = TypeVar("V")

#: A cache key: (symbol, bar fingerprint, sorted model versions, extra...).
Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class BarStamp:
    """What identifies the bars an answer was computed on, cheaply (no hashing of the whole frame)."""

    last: str
    bars: int
    close: float

    @classmethod
    def of(cls, bars: pd.DataFrame) -> BarStamp:
        """The stamp of a bar frame (empty frames get a stamp too, so callers need no special case)."""
        if len(bars) == 0:
            return cls(last="", bars=0, close=float("nan"))
        return cls(last=bars.index[-1].isoformat(), bars=len(bars), close=float(bars["close"].iloc[-1]))


def answer_key(symbol: str, stamp: BarStamp, versions: Mapping[str, Any], *extra: Hashable) -> Key:
    """The cache key of an answer: where its models and data live, symbol, last-bar stamp, model versions
    (order-independent), extras.

    Why the models folder and database: a long-lived process (a Dask worker, a test session) can serve
    callers with different homes whose model versions carry the same numbers; one must never get the
    other's answer."""
    return (str(config.models_dir()), config.database_url(), symbol, stamp,
            tuple(sorted((str(k), v) for k, v in versions.items())), *extra)


class _CountingLRU(cachetools.LRUCache):
    """cachetools' LRU map, counting evictions (cachetools calls `popitem` only to make room)."""

    evictions = 0

    def popitem(self) -> tuple[Key, Any]:
        self.evictions += 1
        return super().popitem()


class LRUCache(Generic[V]):
    """A bounded, thread-safe least-recently-used map with hit/miss counters.

    `maxsize` bounds memory: the least recently used entry is evicted when a new one would exceed it.
    Storage, eviction and the single-flight locking are cachetools'; this class adds the counters and
    the `prune` the orchestrator needs. cachetools' maps are not thread-safe, so every access holds
    the one lock that `cachetools.cached` also uses.
    """

    def __init__(self, maxsize: int = 512):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._data = _CountingLRU(maxsize)
        self._lock = threading.Lock()
        # Single flight: when several threads miss the same key at once (a burst of requests right
        # after a new bar), one computes and the others wait on the condition instead of all running
        # the models — under load that is the difference between one cold computation and dozens.
        # `compute` runs outside the lock, so hits on other keys are never blocked by it.
        self._single_flight = cachetools.cached(
            self._data, key=lambda key, _compute: key, lock=self._lock,
            condition=threading.Condition(self._lock),
        )(lambda _key, compute: compute())
        self.hits = 0
        self.misses = 0

    def get(self, key: Key) -> V | None:
        """The value for `key` (marking it most recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def peek(self, key: Key) -> V | None:
        """Like `get`, but a miss is not counted (a caller that will ask again with `get_or_compute`)."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self.hits += 1
            return value

    def put(self, key: Key, value: V) -> None:
        """Store `value` under `key`, evicting the least recently used entries beyond `maxsize`."""
        with self._lock:
            self._data[key] = value

    def get_or_compute(self, key: Key, compute: Callable[[], V]) -> tuple[V, bool]:
        """`(value, hit)`: the cached value, or `compute()` stored under `key`.

        Concurrent misses of one key compute once (see `__init__`); the threads that waited get
        `hit=True` (they did not compute). A failed computation stores nothing and raises; a thread
        that was waiting for it then computes in turn.
        """
        computed = False

        def run() -> V:
            nonlocal computed
            computed = True
            return compute()

        value = self._single_flight(key, run)
        with self._lock:
            if computed:
                self.misses += 1
            else:
                self.hits += 1
        return value, not computed

    def prune(self, keep: Callable[[Key], bool]) -> int:
        """Drop every entry whose key fails `keep` (e.g. computed by a model version no longer served)."""
        with self._lock:
            dead = [k for k in self._data if not keep(k)]
            for k in dead:
                del self._data[k]
            return len(dead)

    def clear(self) -> None:
        """Forget everything (counters too), e.g. to measure cold latency."""
        with self._lock:
            self._data.clear()
            self.hits = self.misses = self._data.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def stats(self) -> dict[str, int]:
        """Counters for `/api/ai/cache` style reporting and the tests."""
        with self._lock:
            return {"size": len(self._data), "maxsize": self._data.maxsize, "hits": self.hits,
                    "misses": self.misses, "evictions": self._data.evictions}

"""An in-process LRU cache for served answers, keyed so that stale answers can never be returned.

Why keys rather than expiry times: an answer is a pure function of the bars it was computed on and
the model versions that computed it. So the key holds exactly those — the symbol, a fingerprint of
the last bar (its timestamp, the number of bars and its close, which changes if a user re-imports
corrected data) and every model's version. A new bar or a newly promoted model makes a different
key, so the old entry is simply never looked up again and ages out of the LRU; nothing has to
remember to invalidate anything. `prune()` drops such dead entries eagerly when the caller knows
they are dead (e.g. the model versions changed), so memory goes to answers that can still be hit.

The cache is per process (each uvicorn worker has its own); it is thread-safe because FastAPI runs
sync endpoints on a thread pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pandas as pd

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
    """The cache key of an answer: symbol, last-bar stamp, model versions (order-independent), extras."""
    return (symbol, stamp, tuple(sorted((str(k), v) for k, v in versions.items())), *extra)


class _Flight:
    """A computation in progress that other threads asking for the same key wait for."""

    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class LRUCache(Generic[V]):
    """A bounded, thread-safe least-recently-used map with hit/miss counters.

    `maxsize` bounds memory: the least recently used entry is evicted when a new one would exceed it.
    """

    def __init__(self, maxsize: int = 512):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[Key, V] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[Key, _Flight] = {}
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: Key) -> V | None:
        """The value for `key` (marking it most recently used), or None."""
        with self._lock:
            try:
                value = self._data[key]
            except KeyError:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def peek(self, key: Key) -> V | None:
        """Like `get`, but a miss is not counted (a caller that will ask again with `get_or_compute`)."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: Key, value: V) -> None:
        """Store `value` under `key`, evicting the least recently used entries beyond `maxsize`."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
                self.evictions += 1

    def get_or_compute(self, key: Key, compute: Callable[[], V]) -> tuple[V, bool]:
        """`(value, hit)`: the cached value, or `compute()` stored under `key`.

        Single flight: when several threads miss the same key at once (a burst of requests right
        after a new bar), one computes and the others wait for its result instead of all running the
        models — under load that is the difference between one cold computation and dozens. Waiters
        get `hit=True` (they did not compute) and see the computing thread's exception if it failed.
        `compute` runs outside the lock, so hits on other keys are never blocked by it.
        """
        value = self.get(key)
        if value is not None:
            return value, True
        with self._lock:
            flight = self._inflight.get(key)
            leader = flight is None
            if flight is None:
                flight = self._inflight[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value, True
        try:
            value = compute()
            self.put(key, value)
            flight.value = value
            return value, False
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            flight.done.set()

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
            self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def stats(self) -> dict[str, int]:
        """Counters for `/api/ai/cache` style reporting and the tests."""
        with self._lock:
            return {"size": len(self._data), "maxsize": self.maxsize, "hits": self.hits,
                    "misses": self.misses, "evictions": self.evictions}

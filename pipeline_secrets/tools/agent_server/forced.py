"""refreshNow, honoured and bounded.

A caller sends ``refreshNow=true`` because its copy failed (a refused login): it needs a
value read from Secrets Manager *after* it asked. Answering from the cache breaks that
(a rotation finishing just after another caller's forced read looked like "nothing
new"); fetching every time lets any local caller turn the agent into an API flood.

:class:`ForcedRefreshGate` does both: a forced read that started after a request
arrived answers it (concurrent requests share one read); otherwise the request reads
again, but forced reads of one secret start at least ``min_interval_seconds`` apart (the
request waits for its turn). So every refreshNow answer was fetched after the request
arrived, and a flood costs at most one call per secret per interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

_MAX_KEYS = 10_000


class ForcedRefreshGate:
    def __init__(
        self,
        min_interval_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval_seconds = min_interval_seconds
        self._clock = clock
        self._sleep = sleep
        self._book = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._started: dict[Hashable, float] = {}

    def now(self) -> float:
        return self._clock()

    def run(
        self, key: Hashable, arrived: float, fetch: Callable[[], T], shared: Callable[[], T]
    ) -> tuple[T, bool]:
        """``(fetch(), True)``, or ``(shared(), False)`` when a forced read of ``key``
        started at or after ``arrived`` (the cache already holds what it read)."""
        with self._lock_for(key):
            started = self._started.get(key)
            if started is not None and started >= arrived:
                return shared(), False
            if started is not None:
                wait = started + self.min_interval_seconds - self._clock()
                if wait > 0:
                    self._sleep(wait)
            with self._book:
                self._started[key] = self._clock()
            return fetch(), True

    def _lock_for(self, key: Hashable) -> threading.Lock:
        with self._book:
            lock = self._locks.get(key)
            if lock is None:
                if len(self._locks) >= _MAX_KEYS:
                    self._forget_idle()
                lock = self._locks[key] = threading.Lock()
            return lock

    def _forget_idle(self) -> None:
        """Drop the bookkeeping of keys nobody is refreshing (called under ``_book``)."""
        for key in [k for k, lock in self._locks.items() if not lock.locked()]:
            del self._locks[key]
            self._started.pop(key, None)

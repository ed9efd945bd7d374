"""Run-time counters shared by a cache and its source."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Thread-safe counters. Read them with :meth:`snapshot`."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counts: Counter[str] = field(default_factory=Counter)
    _api_calls: Counter[str] = field(default_factory=Counter)

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def api_call(self, operation: str) -> None:
        with self._lock:
            self._api_calls[operation] += 1

    def snapshot(self) -> dict[str, object]:
        """``{"hits": .., "misses": .., ..., "api_calls": {"GetSecretValue": ..}}``."""
        with self._lock:
            data: dict[str, object] = {
                name: self._counts.get(name, 0)
                for name in (
                    "hits",
                    "misses",
                    "negative_hits",
                    "refreshes",
                    "errors",
                    "stale_serves",
                    "prefetched",
                )
            }
            data.update({k: v for k, v in self._counts.items() if k not in data})
            data["api_calls"] = dict(self._api_calls)
            data["api_calls_total"] = sum(self._api_calls.values())
            return data

    def api_calls(self, operation: str | None = None) -> int:
        with self._lock:
            if operation is None:
                return sum(self._api_calls.values())
            return self._api_calls.get(operation, 0)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._api_calls.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

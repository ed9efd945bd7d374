"""Run-time counters shared by a cache and its source, and the observer hook that lets
an integration forward every counted event to its own metrics system.

The core never imports a metrics library: ``airflow_plugin.metrics`` binds Airflow's
``Stats`` with :func:`add_observer`. An event is a name and string tags (``kind``,
``operation``, ``stage``...); observers get every :class:`Stats` increment of every
cache in the process, plus the events the core reports with :func:`emit`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
Observer = Callable[[str, int, Mapping[str, str]], None]

_observers: tuple[Observer, ...] = ()  # replaced, never mutated: emit reads it lock-free
_NO_TAGS: Mapping[str, str] = {}


def add_observer(observer: Observer) -> None:
    """Call ``observer(event, amount, tags)`` on every event (once per observer)."""
    global _observers
    if observer not in _observers:
        _observers = (*_observers, observer)


def remove_observer(observer: Observer) -> None:
    global _observers
    _observers = tuple(o for o in _observers if o != observer)


def observers() -> tuple[Observer, ...]:
    """The observers bound in this process."""
    return _observers


def emit(event: str, amount: int = 1, **tags: str) -> None:
    """Report ``event`` to the observers. Cheap when none is bound; never raises."""
    if not _observers:
        return
    for observer in _observers:
        try:
            observer(event, amount, tags or _NO_TAGS)
        except Exception as exc:  # metrics must never break a lookup or a rotation
            log.debug("metrics observer failed: %s", type(exc).__name__)


def rotation_step_metrics(func: F) -> F:
    """Decorate a rotation step runner ``func(step, secret_id, ...)``: reports
    ``rotation_step`` with ``step`` and ``outcome`` (``ok`` or ``failed``)."""

    @functools.wraps(func)
    def wrapper(step: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = func(step, *args, **kwargs)
        except BaseException:
            emit("rotation_step", step=str(step), outcome="failed")
            raise
        emit("rotation_step", step=str(step), outcome="ok")
        return result

    return wrapper  # type: ignore[return-value]


@dataclass
class Stats:
    """Thread-safe counters. Read them with :meth:`snapshot`."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counts: Counter[str] = field(default_factory=Counter)
    _api_calls: Counter[str] = field(default_factory=Counter)
    _last: dict[str, float] = field(default_factory=dict)

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount
            self._last[name] = time.time()
        emit(name, amount)

    def api_call(self, operation: str) -> None:
        with self._lock:
            self._api_calls[operation] += 1
            self._last["api_call"] = time.time()
        emit("api_call", operation=operation)

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

    def last_times(self) -> dict[str, float]:
        """Wall-clock time (epoch seconds) each counter last moved; ``api_call`` for calls."""
        with self._lock:
            return dict(self._last)

    def api_calls(self, operation: str | None = None) -> int:
        with self._lock:
            if operation is None:
                return sum(self._api_calls.values())
            return self._api_calls.get(operation, 0)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._api_calls.clear()
            self._last.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

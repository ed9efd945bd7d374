"""Log lines an attacker cannot forge or flood: control characters escaped, repeated
warnings rate-limited."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


def printable(text: object, limit: int = 200) -> str:
    """``text`` with control and non-printable characters escaped, cut at ``limit``."""
    raw = str(text)
    cut = raw[:limit]
    escaped = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut
    )
    return escaped + ("..." if len(raw) > limit else "")


class RateLimitedLog:
    """At most one record per ``interval_seconds``; the next one says how many were
    suppressed meanwhile (a flood of refused requests cannot flood the log)."""

    def __init__(
        self,
        logger: logging.Logger,
        level: int = logging.WARNING,
        interval_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._level = level
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next_at = 0.0
        self._suppressed = 0

    def __call__(self, message: str, *args: object) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next_at:
                self._suppressed += 1
                return
            suppressed, self._suppressed = self._suppressed, 0
            self._next_at = now + self._interval
        suffix = f" ({suppressed} similar suppressed)" if suppressed else ""
        self._logger.log(self._level, message + suffix, *args)

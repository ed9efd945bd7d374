"""Log lines an attacker cannot forge or flood: control characters escaped, repeated
warnings rate-limited."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def printable(text: object, limit: int = 200) -> str:
    """``text`` with control and non-printable characters escaped, cut at ``limit``."""
    raw = str(text)
    cut = raw[:limit]
    escaped = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut
    )
    return escaped + ("..." if len(raw) > limit else "")


@dataclass(eq=False)
class RateLimitedLog:
    """At most one record per ``interval_seconds``; the next one says how many were
    suppressed meanwhile (a flood of refused requests cannot flood the log)."""

    logger: logging.Logger
    level: int = logging.WARNING
    interval_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _next_at: float = field(default=0.0, init=False, repr=False)
    _suppressed: int = field(default=0, init=False, repr=False)

    def __call__(self, message: str, *args: object) -> None:
        with self._lock:
            now = self.clock()
            if now < self._next_at:
                self._suppressed += 1
                return
            suppressed, self._suppressed = self._suppressed, 0
            self._next_at = now + self.interval_seconds
        suffix = f" ({suppressed} similar suppressed)" if suppressed else ""
        self.logger.log(self.level, message + suffix, *args)

"""Prefix prefetch in the background: lookups never wait on it or fail because of it.

One thread loads every secret under each prefix (BatchGetSecretValue, via
:meth:`SecretCache.prefetch`) when the prefix is first asked for, and again at ``refresh_ratio`` of
the TTL, so hot secrets under a prefix are replaced before they expire. A failed pass
backs off exponentially (the cache policy's backoff, jittered) and is logged once per
failure streak; AccessDenied turns that prefix's prefetch off with one WARNING (the
role may grant GetSecretValue only): lookups then go one by one, each cached as usual.

The only wait: a lookup of an uncached secret under a prefix whose *first* pass is
running right now waits for it, at most ``first_pass_wait_seconds``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline_secrets.cache import SecretCache
from pipeline_secrets.errors import SecretAccessDeniedError, SecretError
from pipeline_secrets.tools.agent_server.logsafe import printable
from pipeline_secrets.tools.agent_server.metrics import AgentMetrics

log = logging.getLogger("pipeline_secrets.tools.agent_server")


@dataclass
class _PrefixState:
    prefix: str
    due_at: float = float("inf")  # scheduled on the first lookup under the prefix
    failures: int = 0
    disabled: bool = False
    loaded_once: bool = False
    first_pass: threading.Event = field(default_factory=threading.Event)


class Prefetcher:
    def __init__(
        self,
        cache: SecretCache,
        prefixes: Sequence[str],
        metrics: AgentMetrics,
        *,
        refresh_ratio: float = 0.8,
        first_pass_wait_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.metrics = metrics
        self.refresh_ratio = refresh_ratio
        self.first_pass_wait_seconds = first_pass_wait_seconds
        self._clock = clock
        self._rng = random.Random()
        self._states = [_PrefixState(p) for p in prefixes if p]
        self._wake = threading.Event()
        self._schedule_lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._states and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agent-prefetch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def wait_for_first_pass(self, secret_id: str) -> None:
        """Start loading ``secret_id``'s prefix if it never was, and wait (bounded) while
        that first pass runs."""
        for state in self._states:
            if secret_id.startswith(state.prefix) and not state.disabled:
                if not state.first_pass.is_set():
                    with self._schedule_lock:
                        if state.due_at == float("inf"):
                            state.due_at = 0.0
                            self._wake.set()
                    state.first_pass.wait(self.first_pass_wait_seconds)
                return

    def status(self) -> dict[str, str]:
        out = {}
        for s in self._states:
            out[s.prefix] = (
                "off (access denied)"
                if s.disabled
                else ("backing off" if s.failures else ("loaded" if s.loaded_once else "loading"))
            )
        return out

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()  # before scanning: a wake-up during the scan is not lost
            now = self._clock()
            for state in self._states:
                if not state.disabled and now >= state.due_at:
                    self._pass(state)
            active = [s.due_at for s in self._states if not s.disabled]
            if not active:
                return
            self._wake.wait(min(60.0, max(0.05, min(active) - self._clock())))

    def _pass(self, state: _PrefixState) -> None:
        policy = self.cache.policy
        try:
            result = self.cache.prefetch(name_prefix=state.prefix)
        except SecretAccessDeniedError:
            state.disabled = True
            self.metrics.incr("prefetch_failures")
            log.warning(
                "agent: prefetch of %s is denied (BatchGetSecretValue/ListSecrets not granted); "
                "prefetch of this prefix is off, secrets are looked up one by one",
                printable(state.prefix),
            )
        except SecretError as exc:
            state.failures += 1
            self.metrics.incr("prefetch_failures")
            backoff = min(
                policy.backoff_max_seconds,
                policy.backoff_initial_seconds * 2 ** (state.failures - 1),
            ) * (1.0 + policy.jitter_ratio * self._rng.random())
            state.due_at = self._clock() + backoff
            if state.failures == 1:
                log.warning(
                    "agent: prefetch of %s failed (%s); looking up one by one, retrying in "
                    "%.1fs with backoff",
                    printable(state.prefix),
                    type(exc).__name__,
                    backoff,
                )
        except Exception as exc:  # the thread must survive anything
            state.failures += 1
            state.due_at = self._clock() + policy.backoff_max_seconds
            log.warning(
                "agent: prefetch of %s failed: %s", printable(state.prefix), type(exc).__name__
            )
        else:
            if state.failures:
                log.info("agent: prefetch of %s works again", printable(state.prefix))
            state.failures = 0
            state.loaded_once = True
            self.metrics.incr("prefetch_runs")
            state.due_at = self._clock() + policy.ttl_seconds * self.refresh_ratio
            log.info(
                "agent: prefetched %d secret(s) under %s",
                len(result.values),
                printable(state.prefix),
            )
        finally:
            state.first_pass.set()  # the first pass is over, whatever its outcome

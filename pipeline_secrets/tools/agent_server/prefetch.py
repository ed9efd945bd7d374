"""Prefix prefetch in the background: lookups never wait on it or fail because of it.

One thread loads every secret under each prefix (BatchGetSecretValue, via
:meth:`SecretCache.prefetch`) when the prefix is first asked for, and again at ``refresh_ratio`` of
the TTL, so hot secrets under a prefix are replaced before they expire. A failed pass
backs off exponentially (the cache policy's backoff, jittered) and is logged once per
failure streak; AccessDenied turns that prefix's prefetch off with one WARNING (the
role may grant GetSecretValue only): lookups then go one by one, each cached as usual.

The only wait: a lookup that would miss anyway (nothing fresh cached for it), under a
prefix whose listing is absent or expired and whose prefetch is neither off nor backing
off, starts a pass if none is due and waits for it, at most ``pass_wait_seconds``
(1 s), and not at all once a pass has run longer than that (throttled, retrying).
Schedules and backoff use the cache's clock (simulated clocks in benchmarks work too);
waiting is measured in real time.
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
    passes: int = 0  # passes finished (success or failure)
    running_since: float | None = None
    done: threading.Condition = field(default_factory=threading.Condition)


class Prefetcher:
    def __init__(
        self,
        cache: SecretCache,
        prefixes: Sequence[str],
        metrics: AgentMetrics,
        *,
        refresh_ratio: float = 0.8,
        pass_wait_seconds: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.cache = cache
        self.metrics = metrics
        self.refresh_ratio = refresh_ratio
        self.pass_wait_seconds = pass_wait_seconds
        self._clock = clock or cache.clock.monotonic
        self._rng = random.Random()
        self._states = [_PrefixState(p) for p in prefixes if p]
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._states and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agent-prefetch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def wait_for_pass(self, secret_id: str) -> None:
        """For a lookup that misses anyway: if ``secret_id``'s prefix has no live listing
        and its prefetch may run now, start a pass and wait for it (bounded)."""
        state = next((s for s in self._states if secret_id.startswith(s.prefix)), None)
        if state is None or state.disabled or self.cache.listing_covers(secret_id):
            return
        with state.done:
            now = self._clock()
            if state.failures and now < state.due_at:
                return  # backing off: look up one by one meanwhile
            started = state.running_since  # real time: how long callers would really wait
            if started is not None and time.monotonic() - started > self.pass_wait_seconds:
                return  # a slow pass (throttled, retrying): nobody waits for it
            seen = state.passes
            if state.due_at > self._clock():
                state.due_at = self._clock()
                self._wake.set()
            state.done.wait_for(lambda: state.passes > seen, self.pass_wait_seconds)

    def revalidate(self, secret_id: str) -> bool:
        """For an expired value under a prefix whose prefetch works: make sure a pass is
        running or due now, and say whether the caller may serve the held value meanwhile
        (stale while revalidating: a hot secret never blocks on its refresh)."""
        state = next((s for s in self._states if secret_id.startswith(s.prefix)), None)
        if state is None or state.disabled or state.failures:
            return False
        with state.done:
            if state.due_at > self._clock() and state.running_since is None:
                state.due_at = self._clock()
                self._wake.set()
        return True

    def handles(self, secret_id: str) -> bool:
        """True when a working prefetch keeps ``secret_id`` fresh (no per-secret refresh)."""
        return any(
            secret_id.startswith(s.prefix) and not s.disabled and not s.failures
            for s in self._states
        )

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
            self._wake.wait(min(5.0, max(0.05, min(active) - self._clock())))

    def _pass(self, state: _PrefixState) -> None:
        policy = self.cache.policy
        state.running_since = time.monotonic()
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
            with state.done:
                state.running_since = None
                state.passes += 1
                state.done.notify_all()

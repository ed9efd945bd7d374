"""The in-process secret cache: TTLs, negative caching, stale-if-error, single-flight.

One lock guards every entry; no state is changed outside it. Fetches happen outside
the lock, one per key at a time (single-flight): threads that want the same key
while a fetch is running wait for it and share its outcome.

All durations are seconds (float), named ``*_seconds``, read from the injected clock.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline_secrets import logfilter
from pipeline_secrets import settings as _settings
from pipeline_secrets.clock import SYSTEM_CLOCK, Clock
from pipeline_secrets.errors import (
    SecretError,
    SecretNotFoundError,
    SecretServiceUnavailableError,
    SecretThrottledError,
)
from pipeline_secrets.model import AWSCURRENT, BatchResult, SecretRef, SecretValue
from pipeline_secrets.source import SecretsManagerSource, SecretSource
from pipeline_secrets.stats import Stats

log = logging.getLogger(__name__)
T = TypeVar("T")
CacheKey = tuple[str, str | None, str | None]

_TRANSIENT = (SecretThrottledError, SecretServiceUnavailableError)


@dataclass(frozen=True)
class CachePolicy:
    """How long values live and how failures are handled.

    ``max_stale_seconds``: how long past its expiry a value may still be served while
    refreshing it fails with a transient error (throttling, network, 5xx).
    """

    ttl_seconds: float = 300.0
    negative_ttl_seconds: float = 30.0
    max_stale_seconds: float = 3600.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    jitter_ratio: float = 0.1
    max_entries: int = 10_000

    @classmethod
    def create(
        cls,
        *,
        ttl_seconds: float | None = None,
        negative_ttl_seconds: float | None = None,
        max_stale_seconds: float | None = None,
        backoff_initial_seconds: float | None = None,
        backoff_max_seconds: float | None = None,
        jitter_ratio: float | None = None,
        max_entries: int | None = None,
    ) -> CachePolicy:
        """Arguments first, then ``PIPELINE_SECRETS_*`` variables, then defaults."""
        d = cls()
        r, s = _settings.resolve, _settings.parse_seconds
        return cls(
            ttl_seconds=r("cache_ttl_seconds", ttl_seconds, d.ttl_seconds, s),
            negative_ttl_seconds=r(
                "negative_ttl_seconds", negative_ttl_seconds, d.negative_ttl_seconds, s
            ),
            max_stale_seconds=r("max_stale_seconds", max_stale_seconds, d.max_stale_seconds, s),
            backoff_initial_seconds=r(
                "backoff_initial_seconds", backoff_initial_seconds, d.backoff_initial_seconds, s
            ),
            backoff_max_seconds=r(
                "backoff_max_seconds", backoff_max_seconds, d.backoff_max_seconds, s
            ),
            jitter_ratio=r("jitter_ratio", jitter_ratio, d.jitter_ratio, float),
            max_entries=r("cache_max_entries", max_entries, d.max_entries, int),
        )


@dataclass(frozen=True)
class EntryState:
    """What the cache holds for one key, without a call or a counter change."""

    fresh: bool  # a lookup now is answered without an API call
    age_seconds: float  # since the last fetch (or failed fetch)
    expires_in: float  # until the TTL ends (negative once past)
    backing_off: bool  # a failed fetch is being backed off: no call before it ends
    has_value: bool = False  # a value is held (possibly expired)


@dataclass
class _Entry:
    fetched_at: float
    expires_at: float
    value: SecretValue | None = None
    error: SecretError | None = None  # not-found, or a non-transient failure
    failures: int = 0
    retry_at: float = 0.0
    fetch_seq: int = 0  # the cache's fetch counter when this fetch started


@dataclass
class _Flight:
    seq: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    value: SecretValue | None = None
    error: BaseException | None = None


_ALL_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()


class SecretCache:
    """A thread-safe, fork-safe cache in front of a :class:`SecretSource`.

    A fetch the caller forced (``force_refresh``, ``fetched_after``, or the first one
    after :meth:`invalidate`) passes ``refresh=True`` to the source, so a source with a
    cache of its own (the agent) refetches too.
    """

    def __init__(
        self,
        source: SecretSource | None = None,
        *,
        policy: CachePolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.source: SecretSource = source or SecretsManagerSource()
        self.stats: Stats = self.source.stats
        self.policy = policy or CachePolicy.create()
        self.clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._flights: dict[CacheKey, _Flight] = {}
        self._parsed: OrderedDict[tuple[str, str, Hashable], Any] = OrderedDict()
        self._listings: dict[str, tuple[float, frozenset[str]]] = {}
        self._fetch_seq = 0
        self._stale_downstream: set[str] = set()  # invalidated ids: next fetch refreshes
        _ALL_CACHES.add(self)
        logfilter.install()  # keep values out of botocore's DEBUG wire logs

    # -- reading ---------------------------------------------------------------------
    def get(
        self,
        secret_id: str,
        *,
        version_stage: str | None = None,
        version_id: str | None = None,
        force_refresh: bool = False,
        fetched_after: int | None = None,
    ) -> SecretValue:
        """The secret's value, from the cache when fresh.

        ``force_refresh`` fetches again whatever the TTL says (concurrent callers still
        share one call). ``fetched_after`` (a :meth:`mark`) refreshes only if the cached
        value was fetched before that mark: N threads that saw the same bad value
        cause one refresh, not N.
        """
        stage = version_stage or (None if version_id else AWSCURRENT)
        key: CacheKey = (secret_id, stage, version_id)
        while True:
            with self._lock:
                now = self.clock.monotonic()
                entry = self._entries.get(key)
                wants_new = force_refresh or (
                    fetched_after is not None
                    and entry is not None
                    and entry.fetch_seq <= fetched_after
                )
                if entry is not None and not wants_new:
                    answer = self._answer_from_entry(key, entry, now)
                    if answer is not None:
                        return answer
                if entry is None and not wants_new and self._absent_by_listing(key, now):
                    self.stats.incr("negative_hits")
                    raise SecretNotFoundError(
                        f"secret {secret_id!r} not found (absent from the prefetched listing)",
                        secret_id=secret_id,
                    )
                flight = self._flights.get(key)
                leader = flight is None
                refresh = False
                if flight is None:
                    self._fetch_seq += 1
                    flight = _Flight(seq=self._fetch_seq)
                    self._flights[key] = flight
                    # A caller's mark means "newer than what I saw": an agent's copy
                    # may be older, so ask it to refetch as well.
                    refresh = (
                        force_refresh
                        or fetched_after is not None
                        or secret_id in self._stale_downstream
                    )
                    self._stale_downstream.discard(secret_id)
            if leader:
                return self._fetch_as_leader(
                    key, flight, had_entry=entry is not None, refresh=refresh
                )
            flight.done.wait()
            if fetched_after is not None and flight.seq <= fetched_after:
                continue  # that fetch started too early for this caller
            if flight.value is not None:
                self.stats.incr("hits")
                return flight.value
            if flight.error is not None:
                raise flight.error
            # The leader neither stored nor failed (cannot happen); try again.

    def mark(self) -> int:
        """A point in the cache's fetch history, for ``get(..., fetched_after=mark)``."""
        with self._lock:
            return self._fetch_seq

    def _answer_from_entry(self, key: CacheKey, entry: _Entry, now: float) -> SecretValue | None:
        """Serve from ``entry`` if policy allows; raise a cached error; None means fetch."""
        if now < entry.expires_at:
            self._entries.move_to_end(key)
            if entry.value is not None:
                self.stats.incr("hits")
                return entry.value
            if isinstance(entry.error, SecretNotFoundError):
                self.stats.incr("negative_hits")
            else:
                self.stats.incr("errors")
            assert entry.error is not None
            raise entry.error
        if entry.value is not None and now < entry.retry_at and self._within_stale(entry, now):
            # Still backing off after a failed refresh: serve the last good value.
            self.stats.incr("stale_serves")
            return entry.value
        if entry.error is not None and now < entry.retry_at:
            # Past the stale window and still backing off: repeat the last error
            # instead of calling an endpoint that is down on every lookup.
            self.stats.incr("errors")
            raise entry.error
        return None

    def _within_stale(self, entry: _Entry, now: float) -> bool:
        return now <= entry.expires_at + self.policy.max_stale_seconds

    def _fetch_as_leader(
        self, key: CacheKey, flight: _Flight, *, had_entry: bool, refresh: bool
    ) -> SecretValue:
        secret_id, stage, version_id = key
        try:
            value = self.source.get_secret_value(
                SecretRef(secret_id, stage, version_id), refresh=refresh
            )
        except SecretError as exc:
            try:
                result = self._on_failure(key, exc, flight.seq)
            except BaseException as raised:
                flight.error = raised
                raise
            else:
                flight.value = result
                return result
            finally:
                self._finish(key, flight)
        except BaseException as exc:
            flight.error = exc
            self._finish(key, flight)
            raise
        with self._lock:
            now = self.clock.monotonic()
            self.stats.incr("refreshes" if had_entry else "misses")
            ttl = (
                self.policy.ttl_seconds
                if version_id is None
                else max(self.policy.ttl_seconds, 86_400.0)
            )  # a version id names an immutable value
            self._store(
                key, _Entry(now, now + self._jitter(ttl), value=value, fetch_seq=flight.seq)
            )
        flight.value = value
        self._finish(key, flight)
        return value

    def _on_failure(self, key: CacheKey, exc: SecretError, seq: int) -> SecretValue:
        """Record a failed fetch; return a stale value if allowed, else raise.

        ``seq`` is the failed fetch's own place in the fetch history (not the counter
        now): a "not found" answered to a fetch that started before a caller's mark must
        not satisfy that caller's ``fetched_after``."""
        with self._lock:
            now = self.clock.monotonic()
            entry = self._entries.get(key)
            if isinstance(exc, SecretNotFoundError):
                ttl = self.policy.negative_ttl_seconds
                self._store(key, _Entry(now, now + self._jitter(ttl), error=exc, fetch_seq=seq))
                self.stats.incr("misses" if entry is None else "refreshes")
                raise exc
            self.stats.incr("errors")
            if isinstance(exc, _TRANSIENT) and entry is not None and entry.value is not None:
                entry.failures += 1
                entry.retry_at = now + self._backoff(entry.failures)
                if self._within_stale(entry, now):
                    self.stats.incr("stale_serves")
                    log.warning(
                        "refreshing secret %r failed (%s); serving the cached version %s "
                        "(%.0fs past its TTL, next try in %.1fs)",
                        key[0],
                        type(exc).__name__,
                        entry.value.version_id,
                        max(0.0, now - entry.expires_at),
                        entry.retry_at - now,
                    )
                    return entry.value
                entry.error = exc  # repeated until retry_at (see _answer_from_entry)
                raise exc
            # Nothing to serve, or an error (access denied, KMS, bad request) after which
            # the old value must never be served again: remember it briefly so callers
            # back off instead of calling on every lookup.
            if not isinstance(exc, _TRANSIENT):
                log.error("%s (the cached value, if any, is dropped)", exc)
            failures = (entry.failures + 1) if entry is not None else 1
            backoff = self._backoff(failures)
            self._store(
                key,
                _Entry(now, now + backoff, error=exc, failures=failures, fetch_seq=seq),
            )
            raise exc

    def _finish(self, key: CacheKey, flight: _Flight) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.done.set()

    def get_parsed(
        self,
        secret_id: str,
        parser: Callable[[SecretValue], T],
        *,
        parser_key: Hashable | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        force_refresh: bool = False,
        fetched_after: int | None = None,
    ) -> T:
        """``parser(value)``, parsed once per secret version (a same-version refresh is free)."""
        value = self.get(
            secret_id,
            version_stage=version_stage,
            version_id=version_id,
            force_refresh=force_refresh,
            fetched_after=fetched_after,
        )
        pkey = (value.arn or value.name, value.version_id, parser_key or _qualname(parser))
        with self._lock:
            if pkey in self._parsed:
                self._parsed.move_to_end(pkey)
                return self._parsed[pkey]
        result = parser(value)
        self.stats.incr("parses")
        with self._lock:
            self._parsed[pkey] = result
            while len(self._parsed) > self.policy.max_entries:
                self._parsed.popitem(last=False)
        return result

    # -- prefetch and invalidation ------------------------------------------------------
    def prefetch(
        self, secret_ids: Sequence[str] | None = None, *, name_prefix: str | None = None
    ) -> BatchResult:
        """Load many AWSCURRENT values with BatchGetSecretValue.

        With ``name_prefix``, the cache also learns the complete list of names under the
        prefix, so that lookups of absent names there are answered without a call until
        the TTL runs out.
        """
        result = self.source.batch_get(secret_ids, name_prefix=name_prefix)
        with self._lock:
            now = self.clock.monotonic()
            expires = now + self._jitter(self.policy.ttl_seconds)
            for asked, value in result.values.items():
                for alias in {asked, value.name}:
                    self._store((alias, AWSCURRENT, None), _Entry(now, expires, value=value))
            for asked, error in result.errors.items():
                if isinstance(error, SecretNotFoundError):
                    neg = now + self._jitter(self.policy.negative_ttl_seconds)
                    self._store((asked, AWSCURRENT, None), _Entry(now, neg, error=error))
            if name_prefix is not None:
                names = frozenset(v.name for v in result.values.values())
                self._listings[name_prefix] = (expires, names)
            self.stats.incr("prefetched", len(result.values))
        return result

    def _absent_by_listing(self, key: CacheKey, now: float) -> bool:
        secret_id, stage, version_id = key
        if stage != AWSCURRENT or version_id is not None or secret_id.startswith("arn:"):
            return False
        for prefix, (expires, names) in self._listings.items():
            if now < expires and secret_id.startswith(prefix) and secret_id not in names:
                return True
        return False

    def listing_covers(self, secret_id: str) -> bool:
        """True when a live prefetch listing covers this name (lookups cost no call)."""
        with self._lock:
            now = self.clock.monotonic()
            return any(
                now < expires and secret_id.startswith(prefix)
                for prefix, (expires, _names) in self._listings.items()
            )

    def entry_state(
        self,
        secret_id: str,
        *,
        version_stage: str | None = None,
        version_id: str | None = None,
    ) -> EntryState | None:
        """The state of one key (None: nothing cached), for callers that must not wait
        on or trigger a fetch: the agent's prefetch, refresh-ahead and refreshNow limits."""
        stage = version_stage or (None if version_id else AWSCURRENT)
        key: CacheKey = (secret_id, stage, version_id)
        with self._lock:
            now = self.clock.monotonic()
            entry = self._entries.get(key)
            if entry is None:
                if self._absent_by_listing(key, now):
                    return EntryState(True, 0.0, 0.0, False)
                return None
            backing_off = now < entry.retry_at or (
                entry.value is None
                and entry.error is not None
                and now < entry.expires_at
                and not isinstance(entry.error, SecretNotFoundError)
            )
            fresh = now < entry.expires_at or (
                now < entry.retry_at and (entry.error is not None or self._within_stale(entry, now))
            )
            return EntryState(
                fresh=fresh,
                age_seconds=now - entry.fetched_at,
                expires_in=entry.expires_at - now,
                backing_off=backing_off,
                has_value=entry.value is not None and self._within_stale(entry, now),
            )

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (every stage and version), or everything.

        The next fetch of an invalidated secret passes ``refresh=True`` to the source,
        so an agent in between refetches it too (``refreshNow``)."""
        with self._lock:
            if secret_id is None:
                self._stale_downstream.update(k[0] for k in self._entries)
                self._entries.clear()
                self._parsed.clear()
                self._listings.clear()
                return
            self._stale_downstream.add(secret_id)
            for key in [k for k in self._entries if k[0] == secret_id]:
                del self._entries[key]

    def cached_value(self, secret_id: str, version_stage: str = AWSCURRENT) -> SecretValue | None:
        """What the cache holds now, without any call or TTL check (for diagnostics)."""
        with self._lock:
            entry = self._entries.get((secret_id, version_stage, None))
            return entry.value if entry is not None else None

    # -- internals ---------------------------------------------------------------------
    def _store(self, key: CacheKey, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.policy.max_entries:
            self._entries.popitem(last=False)

    def _jitter(self, seconds: float) -> float:
        ratio = self.policy.jitter_ratio
        if ratio <= 0 or seconds <= 0:
            return seconds
        return seconds * (1.0 - ratio * self._rng.random())

    def _backoff(self, failures: int) -> float:
        p = self.policy
        base = min(p.backoff_max_seconds, p.backoff_initial_seconds * (2 ** max(0, failures - 1)))
        return base * (1.0 + p.jitter_ratio * self._rng.random())

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._flights = {}
        self.stats._after_fork()


def _qualname(parser: Callable[..., Any]) -> str:
    return f"{getattr(parser, '__module__', '')}.{getattr(parser, '__qualname__', repr(parser))}"


def _reset_caches_after_fork() -> None:
    for cache in list(_ALL_CACHES):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_caches_after_fork)

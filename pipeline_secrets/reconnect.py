"""Connecting with a secret's credentials and getting through rotations.

On an authentication failure: refresh the secret (one call however many threads
failed), retry with the new version; if the version did not change, try AWSPENDING
(single-user rotation: between setSecret and finishSecret the database already wants
the pending password); keep going with jittered backoff within a time budget; then
raise one AuthenticationFailedError listing what was tried. Any other failure is
raised at once, unchanged: a database that is down causes no Secrets Manager calls.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from pipeline_secrets.cache import SecretCache
from pipeline_secrets.classify import is_authentication_failure
from pipeline_secrets.credentials import DatabaseCredentials, parse_db_credentials
from pipeline_secrets.errors import AuthenticationFailedError, SecretNotFoundError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, SecretValue
from pipeline_secrets.sanitize import ensure_clean, sanitized
from pipeline_secrets.stats import emit

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try. The default budget covers a one-minute rotation window."""

    budget_seconds: float = 90.0
    initial_backoff_seconds: float = 0.25
    max_backoff_seconds: float = 5.0
    jitter_ratio: float = 0.2
    try_pending: bool = True

    def backoff(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_backoff_seconds, self.initial_backoff_seconds * (2**attempt))
        return base * (1.0 + self.jitter_ratio * (2 * rng.random() - 1))


NO_RETRY = ReconnectPolicy(budget_seconds=0.0, try_pending=False)


class Reconnector:
    """Opens connections with a secret's credentials; remembers which stage works."""

    def __init__(
        self,
        cache: SecretCache,
        policy: ReconnectPolicy | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.cache = cache
        self.policy = policy or ReconnectPolicy()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        # secret id -> version id that last worked while it was only AWSPENDING
        self._pending_that_worked: dict[str, str] = {}

    def credentials(
        self,
        secret_id: str,
        *,
        version_stage: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        force_refresh: bool = False,
        fetched_after: int | None = None,
    ) -> DatabaseCredentials:
        """Parsed credentials from the cache (one parse per version)."""
        defaults_key = tuple(sorted((defaults or {}).items()))

        def parse(value: SecretValue) -> DatabaseCredentials:
            return parse_db_credentials(value, secret_id=secret_id, defaults=defaults)

        return self.cache.get_parsed(
            secret_id,
            parse,
            parser_key=("db", defaults_key),
            version_stage=version_stage,
            force_refresh=force_refresh,
            fetched_after=fetched_after,
        )

    def connect(
        self,
        secret_id: str,
        connect: Callable[[DatabaseCredentials], T],
        *,
        defaults: Mapping[str, Any] | None = None,
        on_refresh: Callable[[DatabaseCredentials], None] | None = None,
    ) -> T:
        """``connect(credentials)``, retried across a rotation as the module describes."""
        clock = self.cache.clock
        started = clock.monotonic()
        deadline = started + self.policy.budget_seconds
        attempts: list[tuple[str, str]] = []
        tried_versions: set[str] = set()
        passwords: list[str] = []

        first = self._first_choice(secret_id, defaults)
        passwords.append(first.password)
        try:
            return connect(first)
        except Exception as exc:
            if not is_authentication_failure(exc):
                _reraise_clean(exc, passwords)
            attempts.append((_label(first, AWSCURRENT), "refused"))
            emit("refused_login")
            log.info(
                "database refused the credentials of secret %r (version %s); refreshing",
                secret_id,
                first.version_id,
            )
            last_exc: BaseException = exc
            tried_versions.add(first.version_id or "")
        failed_at = self.cache.mark()
        round_number = 0
        while True:
            for stage in (AWSCURRENT, AWSPENDING) if self.policy.try_pending else (AWSCURRENT,):
                candidate = self._candidate(secret_id, stage, defaults, failed_at)
                if candidate is None:
                    continue
                if (candidate.version_id or "") in tried_versions:
                    continue
                tried_versions.add(candidate.version_id or "")
                passwords.append(candidate.password)
                if on_refresh is not None:
                    on_refresh(candidate)
                try:
                    result = connect(candidate)
                except Exception as exc:
                    if not is_authentication_failure(exc):
                        _reraise_clean(exc, passwords)
                    attempts.append((_label(candidate, stage), "refused"))
                    emit("refused_login")
                    last_exc = exc
                    continue
                self._remember(secret_id, candidate, stage)
                emit("login_after_refusal", stage=stage)
                log.info(
                    "connected with secret %r version %s (%s) after %d refused attempt(s)",
                    secret_id,
                    candidate.version_id,
                    stage,
                    len(attempts),
                )
                return result
            now = clock.monotonic()
            if now >= deadline:
                raise AuthenticationFailedError(secret_id, attempts, now - started) from sanitized(
                    last_exc, passwords
                )
            pause = min(self.policy.backoff(round_number, self._rng), max(0.0, deadline - now))
            clock.sleep(pause)
            round_number += 1
            tried_versions.clear()  # a version refused before setSecret may work now
            failed_at = self.cache.mark()

    def _first_choice(
        self, secret_id: str, defaults: Mapping[str, Any] | None
    ) -> DatabaseCredentials:
        current = self.credentials(secret_id, defaults=defaults)
        with self._lock:
            pending_id = self._pending_that_worked.get(secret_id)
        if pending_id and pending_id != current.version_id:
            # Mid-rotation: the pending version worked last time; try it first.
            try:
                pending = self.credentials(secret_id, version_stage=AWSPENDING, defaults=defaults)
            except SecretNotFoundError:
                pending = None
            if pending is not None and pending.version_id == pending_id:
                return pending
        if pending_id:
            with self._lock:
                self._pending_that_worked.pop(secret_id, None)
        return current

    def _candidate(
        self,
        secret_id: str,
        stage: str,
        defaults: Mapping[str, Any] | None,
        fetched_after: int,
    ) -> DatabaseCredentials | None:
        try:
            return self.credentials(
                secret_id, version_stage=stage, defaults=defaults, fetched_after=fetched_after
            )
        except SecretNotFoundError:
            if stage == AWSCURRENT:
                raise
            return None

    def _remember(self, secret_id: str, creds: DatabaseCredentials, stage: str) -> None:
        with self._lock:
            if stage == AWSPENDING and creds.version_id:
                self._pending_that_worked[secret_id] = creds.version_id
            else:
                self._pending_that_worked.pop(secret_id, None)


def _reraise_clean(exc: Exception, passwords: list[str]) -> NoReturn:
    """Re-raise a non-authentication failure; sanitized if it quotes a password/DSN."""
    clean = ensure_clean(exc, passwords)
    if clean is exc:
        raise exc
    raise clean from None


def _label(creds: DatabaseCredentials, stage: str) -> str:
    return f"{stage} version {creds.version_id or '?'}"

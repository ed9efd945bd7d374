"""Connecting with credentials that may have rotated: one retry loop for every caller.

:func:`retry_login` is the loop, built from small parts (tenacity-like): a
:class:`Candidates` source (the first credentials, then each round's refreshed ones),
a classifier (is this a refused login?), a policy (budget, backoff), an injected clock
and random generator, and sanitizing on every re-raise. The core :class:`Reconnector`
(secrets), the Airflow hooks' connection-id path and glue_lib's writes all use it.

For a secret, after a refused login: read AWSPENDING, then AWSCURRENT, both fresher
than the refused attempt (one call each however many threads failed: the mark is
taken before the login, so threads refused while another refreshes share its read);
try what is new. If nothing is new and no AWSPENDING exists, fail at once: the
password is wrong, and waiting would only add failed logins (lockout policies). Only
inside a real rotation window (AWSPENDING exists) keep trying, with jittered backoff
within a time budget and a WARNING per round. The error's first line is the
database's own reason, sanitized. Any other failure is raised at once (sanitized if
it quotes a password): a database that is down causes no Secrets Manager calls.

AWSPENDING is read before AWSCURRENT on purpose: if a rotation finishes between the
two reads, the second one sees the new AWSCURRENT, so a finishing rotation is never
mistaken for a wrong password.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, Protocol, TypeVar

from pipeline_secrets.cache import SecretCache
from pipeline_secrets.classify import is_authentication_failure
from pipeline_secrets.clock import SYSTEM_CLOCK, Clock
from pipeline_secrets.credentials import DatabaseCredentials, parse_db_credentials
from pipeline_secrets.errors import AuthenticationFailedError, SecretNotFoundError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, SecretValue
from pipeline_secrets.sanitize import ensure_clean, redact, sanitized
from pipeline_secrets.stats import emit

log = logging.getLogger(__name__)
T = TypeVar("T")
C = TypeVar("C")


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


# -- the loop and its parts ----------------------------------------------------------------
@dataclass(frozen=True)
class Candidate(Generic[C]):
    """Credentials to try. ``key`` tells versions apart (never the password itself);
    ``label`` names it in messages; ``secret`` is redacted from every error."""

    value: C
    key: str
    label: str
    secret: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class Round(Generic[C]):
    """What one refresh found. ``keep_waiting``: a rotation is under way (or the
    credentials just changed), so another round after a pause may succeed.
    ``retry_refused``: the next round may try again what was refused before (a pending
    version refused before setSecret works after it)."""

    candidates: Sequence[Candidate[C]]
    keep_waiting: bool
    why: str = ""
    retry_refused: bool = True


class Candidates(Protocol[C]):
    def first(self) -> Candidate[C]: ...

    def next_round(self) -> Round[C]: ...

    def succeeded(self, candidate: Candidate[C], refused: int) -> None: ...


def retry_login(
    attempt: Callable[[C], T],
    candidates: Candidates[C],
    *,
    name: str,
    policy: ReconnectPolicy,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
    is_login_failure: Callable[[BaseException], bool] = is_authentication_failure,
    on_retry: Callable[[C], None] | None = None,
) -> T:
    """``attempt(credentials)``, retried across a rotation as the module describes.

    ``name`` names what the credentials belong to in messages (a secret id, or
    ``connection:<id>``). Raises :class:`AuthenticationFailedError` when logins keep
    being refused; re-raises any other error at once, sanitized.
    """
    rng = rng or random.Random()
    started = clock.monotonic()
    deadline = started + policy.budget_seconds
    secrets: list[str] = []
    attempts: list[tuple[str, str]] = []
    first = candidates.first()
    secrets.append(first.secret or "")
    try:
        return attempt(first.value)
    except Exception as exc:
        if not is_login_failure(exc):
            _reraise_clean(exc, secrets)
        attempts.append((first.label, "refused"))
        emit("refused_login")
        last: BaseException = exc
    log.info("database refused the credentials of secret %r (%s); refreshing", name, first.label)
    tried = {first.key}
    round_number = 0
    while True:
        found = candidates.next_round()
        for candidate in found.candidates:
            if candidate.key in tried:
                continue
            tried.add(candidate.key)
            secrets.append(candidate.secret or "")
            if on_retry is not None:
                on_retry(candidate.value)
            try:
                result = attempt(candidate.value)
            except Exception as exc:
                if not is_login_failure(exc):
                    _reraise_clean(exc, secrets)
                attempts.append((candidate.label, "refused"))
                emit("refused_login")
                last = exc
                continue
            candidates.succeeded(candidate, len(attempts))
            emit("login_after_refusal", stage=candidate.stage or "unknown")
            return result
        now = clock.monotonic()
        if not found.keep_waiting or now >= deadline:
            reason = database_reason(last, secrets)
            if not found.keep_waiting:
                reason += (
                    "\nno new version and no rotation in progress (no AWSPENDING): "
                    "the credentials are wrong, not rotating"
                )
            raise AuthenticationFailedError(
                name, attempts, now - started, reason=reason
            ) from sanitized(last, secrets)
        pause = min(policy.backoff(round_number, rng), max(0.0, deadline - now))
        log.warning(
            "database refused the credentials of secret %r (%s); retrying in %.1fs "
            "(%d refused so far, %.0fs of a %.0fs budget left)",
            name,
            found.why or "waiting for the credentials to change",
            pause,
            len(attempts),
            deadline - now,
            policy.budget_seconds,
        )
        clock.sleep(pause)
        round_number += 1
        if found.retry_refused:
            tried = set()


class Once(Generic[C]):
    """Candidates for an attempt that must not be repeated (an unstaged append): the
    given credentials, no refresh; a refusal fails at once with the usual error."""

    def __init__(self, value: C, *, key: str, label: str, secret: str | None = None) -> None:
        self._candidate = Candidate(value, key, label, secret)

    def first(self) -> Candidate[C]:
        return self._candidate

    def next_round(self) -> Round[C]:
        return Round((), keep_waiting=False)

    def succeeded(self, candidate: Candidate[C], refused: int) -> None:
        pass


def database_reason(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """The database's own message for ``exc``, redacted, on one line."""
    text = redact(str(exc), secrets)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = " ".join(lines) if lines else type(exc).__name__
    return f"{type(exc).__name__}: {detail}"


def password_key(password: str | None) -> str:
    """Tells passwords apart without keeping them (for :attr:`Candidate.key`)."""
    return hashlib.sha256((password or "").encode("utf-8")).hexdigest()[:16]


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
        policy: ReconnectPolicy | None = None,
    ) -> T:
        """``connect(credentials)``, retried across a rotation (see the module)."""
        return retry_login(
            connect,
            _SecretCandidates(self, secret_id, defaults),
            name=secret_id,
            policy=policy or self.policy,
            clock=self.cache.clock,
            rng=self._rng,
            on_retry=on_refresh,
        )

    def _first_choice(
        self, secret_id: str, defaults: Mapping[str, Any] | None
    ) -> tuple[DatabaseCredentials, str]:
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
                return pending, AWSPENDING
        if pending_id:
            with self._lock:
                self._pending_that_worked.pop(secret_id, None)
        return current, AWSCURRENT

    def _read(
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


class _SecretCandidates:
    """A secret's versions to try, for one :meth:`Reconnector.connect`."""

    def __init__(
        self, reconnector: Reconnector, secret_id: str, defaults: Mapping[str, Any] | None
    ) -> None:
        self.rec = reconnector
        self.secret_id = secret_id
        self.defaults = defaults
        self.mark = 0
        self.seen: set[str] = set()

    def _candidate(self, creds: DatabaseCredentials, stage: str) -> Candidate[DatabaseCredentials]:
        version = creds.version_id or ""
        return Candidate(
            creds,
            key=version or password_key(creds.password),
            label=f"{stage} version {version or '?'}",
            secret=creds.password,
            stage=stage,
        )

    def first(self) -> Candidate[DatabaseCredentials]:
        creds, stage = self.rec._first_choice(self.secret_id, self.defaults)
        # Taken before the login: a refresh anyone starts from now on is fresh enough.
        self.mark = self.rec.cache.mark()
        self.seen.add(creds.version_id or "")
        return self._candidate(creds, stage)

    def next_round(self) -> Round[DatabaseCredentials]:
        rec, mark = self.rec, self.mark
        pending = None
        if rec.policy.try_pending:
            pending = rec._read(self.secret_id, AWSPENDING, self.defaults, mark)
        after_pending = rec.cache.mark()
        current = rec._read(self.secret_id, AWSCURRENT, self.defaults, mark)
        assert current is not None
        if pending is None and (current.version_id or "") in self.seen:
            # Nothing new: fail-fast territory. Make sure that AWSCURRENT was read after
            # AWSPENDING was found missing (a rotation may have finished in between);
            # usually the read above already was, and this costs no call.
            current = rec._read(self.secret_id, AWSCURRENT, self.defaults, after_pending)
            assert current is not None
        self.mark = rec.cache.mark()  # the next round's refreshes must be newer than now
        changed = (current.version_id or "") not in self.seen
        ordered = [(current, AWSCURRENT)] if changed else []  # a finished rotation: try it first
        if pending is not None:
            ordered.append((pending, AWSPENDING))
        if not changed:
            ordered.append((current, AWSCURRENT))
        progressed = changed or (
            pending is not None and (pending.version_id or "") not in self.seen
        )
        self.seen.update(creds.version_id or "" for creds, _stage in ordered)
        why = (
            f"rotation in progress: AWSPENDING is version {pending.version_id or '?'}"
            if pending is not None
            else f"AWSCURRENT changed to version {current.version_id or '?'}"
        )
        return Round(
            [self._candidate(creds, stage) for creds, stage in ordered],
            keep_waiting=pending is not None or progressed,
            why=why,
        )

    def succeeded(self, candidate: Candidate[DatabaseCredentials], refused: int) -> None:
        stage = candidate.stage or AWSCURRENT
        self.rec._remember(self.secret_id, candidate.value, stage)
        log.info(
            "connected with secret %r version %s (%s) after %d refused attempt(s)",
            self.secret_id,
            candidate.value.version_id,
            stage,
            refused,
        )


def _reraise_clean(exc: Exception, secrets: Sequence[str]) -> NoReturn:
    """Re-raise a non-authentication failure; sanitized if it quotes a password/DSN."""
    clean = ensure_clean(exc, secrets)
    if clean is exc:
        raise exc
    raise clean from None

"""Where a SQL hook's credentials come from, and how it gets through a rotation.

* :class:`SecretSource`: a Secrets Manager secret (given as ``secret_id``, or named by
  the connection's ``secret_id`` extra). The core :class:`Reconnector` handles an
  authentication failure: refresh, retry with the new version, try AWSPENDING in the
  window between setSecret and finishSecret, back off within a time budget.
* :class:`ConnectionSource`: an Airflow connection resolved by id through whatever
  secrets backends are configured. On an authentication failure it asks backends that
  offer ``invalidate_connection(conn_id)`` to drop their cached copy (ours then asks
  its agent to refetch too), then re-resolves the connection, within the same time
  budget, until the password changes and works.

Both go through the core's one retry loop (``pipeline_secrets.reconnect.retry_login``)
and register every password they hand out with Airflow's secrets masker. Errors other
than authentication failures are raised at once (sanitized when they quote a password).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from airflow.providers.common.compat.sdk import BaseHook, Connection

from airflow_plugin.hooks.aws_settings import loaded_backends
from airflow_plugin.masking import mask_credentials, mask_text
from pipeline_secrets.clock import SYSTEM_CLOCK, Clock
from pipeline_secrets.credentials import DBAPI_EXTRAS, MYSQL_CA_KEYS, DatabaseCredentials
from pipeline_secrets.reconnect import (
    Candidate,
    Reconnector,
    ReconnectPolicy,
    Round,
    password_key,
    retry_login,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Extras that configure our hooks; never passed on to a database driver.
HOOK_EXTRAS = frozenset({"credentials_id", "secret_id", "secrets_conn_id"})
# The fields a resolved connection hands on to the hook (its extra: _driver_extra).
_CONNECTION_FIELDS = ("host", "port", "login", "password", "schema")
# Secret keys a PostgreSQL-family driver understands (others stay out of connect()).
_PG_SECRET_EXTRAS = tuple(DBAPI_EXTRAS["psycopg2"])  # the core's one per-driver table


class CredentialSource(Protocol):
    def describe(self) -> str: ...

    def current(self) -> Connection: ...

    def connect(self, open_: Callable[[Connection], T]) -> T: ...


@dataclass(frozen=True)
class ConnectionTemplate:
    """What is not a credential: the conn id, driver family and the base connection."""

    conn_id: str
    conn_type: str  # the standard type the parent hook expects: postgres, mysql, redshift
    base: Connection | None = None

    def defaults(self) -> dict[str, Any]:
        """Fields a secret may leave out (RDS-managed secrets: only user and password)."""
        out: dict[str, Any] = {"engine": self.conn_type}
        if self.base is not None:
            if self.base.host:
                out["host"] = self.base.host
            if self.base.port:
                out["port"] = int(self.base.port)
            if self.base.schema:
                out["dbname"] = self.base.schema
        return out

    def _connection(self, extra: dict[str, Any], **fields: Any) -> Connection:
        """A Connection with this template's conn id and type."""
        return Connection(
            conn_id=self.conn_id,
            conn_type=self.conn_type,
            extra=json.dumps(extra) if extra else None,
            **fields,
        )

    def from_credentials(self, creds: DatabaseCredentials) -> Connection:
        extra = _driver_extra(self.base.extra_dejson if self.base is not None else {})
        if self.conn_type in {"postgres", "redshift"}:
            if creds.ssl_mode and "sslmode" not in extra:
                extra["sslmode"] = creds.ssl_mode
            if self.base is None:
                for key in _PG_SECRET_EXTRAS:
                    if key in creds.extras:
                        extra[key] = creds.extras[key]
        else:
            if creds.ssl_mode and "ssl_mode" not in extra:
                extra["ssl_mode"] = creds.ssl_mode
            for key in MYSQL_CA_KEYS:  # the secret's CA reaches the MySQL hook too
                if creds.extras.get(key) and not any(k in extra for k in MYSQL_CA_KEYS):
                    extra[key] = creds.extras[key]
        return self._connection(
            extra,
            host=creds.host,
            port=creds.effective_port,
            login=creds.username,
            password=creds.password,
            schema=creds.dbname,
        )

    def from_connection(self, conn: Connection) -> Connection:
        """``conn``'s endpoint and credentials under this template's conn id and type."""
        fields = {name: getattr(conn, name) for name in _CONNECTION_FIELDS}
        return self._connection(_driver_extra(conn.extra_dejson), **fields)


def _driver_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """A connection's extra without the keys that configure our hooks."""
    return {key: value for key, value in extra.items() if key not in HOOK_EXTRAS}


@dataclass(eq=False)
class SecretSource:
    """Credentials from a secret, through the core reconnect policy."""

    secret_id: str
    reconnector: Reconnector
    template: ConnectionTemplate

    def __post_init__(self) -> None:
        self._defaults = self.template.defaults()

    def describe(self) -> str:
        return f"secret {self.secret_id!r}"

    def credentials(self) -> DatabaseCredentials:
        creds = self.reconnector.credentials(self.secret_id, defaults=self._defaults)
        mask_credentials(creds)
        return creds

    def current(self) -> Connection:
        return self.template.from_credentials(self.credentials())

    def connect(self, open_: Callable[[Connection], T]) -> T:
        def attempt(creds: DatabaseCredentials) -> T:
            mask_credentials(creds)
            return open_(self.template.from_credentials(creds))

        return self.reconnector.connect(self.secret_id, attempt, defaults=self._defaults)


class ConnectionSource:
    """Credentials from an Airflow connection id, re-resolved after a refused login."""

    def __init__(
        self,
        template: ConnectionTemplate,
        policy: ReconnectPolicy | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        resolve: Callable[[str], Connection] | None = None,
    ) -> None:
        self.template = template
        self.policy = policy or ReconnectPolicy()
        self.clock = clock
        self._resolve = resolve or BaseHook.get_connection
        self._rng = random.Random()
        self._latest: Connection | None = None

    def describe(self) -> str:
        return f"connection {self.template.conn_id!r}"

    def _fetch(self) -> Connection:
        conn = self.template.from_connection(self._resolve(self.template.conn_id))
        mask_text(conn.password)
        return conn

    def current(self) -> Connection:
        if self._latest is not None:
            return self._latest
        if self.template.base is not None:
            conn = self.template.from_connection(self.template.base)
            mask_text(conn.password)
            return conn
        return self._fetch()

    def connect(self, open_: Callable[[Connection], T]) -> T:
        """``open_(connection)`` through the core retry loop (sanitized re-raises)."""
        return retry_login(
            open_,
            _ReResolved(self),
            name=f"connection:{self.template.conn_id}",
            policy=self.policy,
            clock=self.clock,
            rng=self._rng,
        )


class _ReResolved:
    """The connection as resolved, then re-resolved after each refusal.

    A connection lookup cannot see AWSPENDING; our secrets backend can: while the
    password stays the same, keep re-resolving (within the budget) only if it reports a
    rotation under way for this connection, else fail at once.
    """

    def __init__(self, source: ConnectionSource) -> None:
        self.source = source
        self.seen: set[str] = set()

    @staticmethod
    def _candidate(conn: Connection, label: str) -> Candidate[Connection]:
        return Candidate(conn, password_key(conn.password), label, secret=conn.password)

    def first(self) -> Candidate[Connection]:
        candidate = self._candidate(self.source.current(), "connection as resolved")
        self.seen.add(candidate.key)
        return candidate

    def next_round(self) -> Round[Connection]:
        conn_id = self.source.template.conn_id
        _invalidate_backends(conn_id)
        conn = self.source._fetch()
        candidate = self._candidate(conn, "re-resolved connection")
        changed = candidate.key not in self.seen
        self.seen.add(candidate.key)
        return Round(
            [candidate],
            # Unchanged and no rotation under way: the password is wrong, fail now.
            keep_waiting=changed or _rotation_pending(conn_id),
            why="rotation in progress: waiting for the connection's password to change",
            retry_refused=False,  # the same password again would only be refused again
        )

    def succeeded(self, candidate: Candidate[Connection], refused: int) -> None:
        self.source._latest = candidate.value
        log.info(
            "connected with the re-resolved connection %r after %d refused attempt(s)",
            self.source.template.conn_id,
            refused,
        )


def _invalidate_backends(conn_id: str) -> None:
    """Ask configured secrets backends that support it to forget ``conn_id``."""
    for backend in _loaded_backends():
        invalidate = getattr(backend, "invalidate_connection", None)
        if callable(invalidate):
            try:
                invalidate(conn_id)
            except Exception:  # best effort: the re-resolution still happens
                log.debug("backend %s could not invalidate %r", type(backend).__name__, conn_id)


def _rotation_pending(conn_id: str) -> bool:
    """True when our secrets backend sees an AWSPENDING version behind ``conn_id``."""
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    for backend in _loaded_backends():
        if isinstance(backend, SecretsManagerBackend):
            try:
                if backend.connection_rotation_pending(conn_id):
                    return True
            except Exception:  # best effort, as for invalidation
                log.debug("backend could not check a rotation of %r", conn_id)
    return False


def _loaded_backends() -> list[Any]:
    return loaded_backends()

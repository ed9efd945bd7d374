"""Reading secrets through an agent (ours or AWS's Secrets Manager Agent).

:class:`AgentSource` is a :class:`~pipeline_secrets.source.SecretSource` that wraps a
fallback source (normally the direct one): single lookups go to the agent; when the
agent cannot be reached they go to the fallback (and the agent is not tried again for
``retry_after_seconds``). Batch, describe and listing calls always go to the fallback.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from pipeline_secrets.agent import wire
from pipeline_secrets.errors import SecretServiceUnavailableError
from pipeline_secrets.model import BatchResult, SecretRef, SecretValue
from pipeline_secrets.source import SecretSource, map_error_code, secret_value_from_response
from pipeline_secrets.stats import Stats

log = logging.getLogger(__name__)
T = TypeVar("T")


class AgentUnavailableError(SecretServiceUnavailableError):
    """The agent did not answer (not running, refused, timed out)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _TCPHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class AgentClient:
    """Speaks the agent protocol. ``address``: ``http://127.0.0.1:2773`` or ``unix:/path``."""

    def __init__(self, address: str, token: str | None = None, *, timeout: float = 2.0) -> None:
        self.address = address
        self._token = token
        self.timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"AgentClient(address={self.address!r}, token={'***' if self._token else None})"

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        if self.address.startswith("unix:"):
            conn = _UnixHTTPConnection(self.address[len("unix:") :], self.timeout)
        else:
            parts = urlsplit(self.address)
            conn = _TCPHTTPConnection(
                parts.hostname or "127.0.0.1",
                parts.port or wire.DEFAULT_PORT,
                timeout=self.timeout,
            )
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def request(self, path: str) -> tuple[int, bytes]:
        headers = {wire.TOKEN_HEADER: self._token} if self._token else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2 or isinstance(exc, ConnectionRefusedError | FileNotFoundError):
                    raise AgentUnavailableError(
                        f"secrets agent at {self.address} unreachable: {type(exc).__name__}"
                    ) from exc
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        try:
            status, _ = self.request(wire.PING_PATH)
        except AgentUnavailableError:
            return False
        return status == 200

    def get_secret_value(self, ref: SecretRef | str, *, refresh: bool = False) -> SecretValue:
        ref = SecretRef.of(ref)
        secret_id = ref.secret_id
        params = {"secretId": secret_id}
        if ref.version_stage:
            params["versionStage"] = ref.version_stage
        if ref.version_id:
            params["versionId"] = ref.version_id
        if refresh:
            params["refreshNow"] = "true"
        status, body = self.request(f"{wire.GET_PATH}?{urlencode(params)}")
        if status == 200:
            import json

            try:
                return secret_value_from_response(secret_id, json.loads(body))
            except ValueError as exc:
                raise AgentUnavailableError(
                    f"secrets agent at {self.address} sent an unreadable answer for {secret_id!r}"
                ) from exc
        code, message = wire.error_from_body(status, body)
        if code == "TooManyRequestsException":
            # The agent's connection cap, not AWS throttling: read directly instead.
            raise AgentUnavailableError(f"secrets agent at {self.address} is at its connection cap")
        raise map_error_code(code, secret_id, "GetSecretValue (agent)", message=message)

    def stats(self) -> dict[str, Any]:
        import json

        status, body = self.request(wire.STATS_PATH)
        if status != 200:
            raise AgentUnavailableError(f"secrets agent at {self.address}: stats HTTP {status}")
        return dict(json.loads(body))


class AgentSource:
    """A :class:`SecretSource`: single lookups through the agent, the fallback source
    when the agent is down; batch, describe and listing calls go to the fallback.

    A lookup with ``refresh=True`` (a forced refresh, a refused password) asks the
    agent to refetch (``refreshNow=true``) instead of serving its cached copy.
    """

    def __init__(
        self,
        agent: AgentClient,
        fallback: SecretSource,
        *,
        retry_after_seconds: float = 30.0,
        on_unavailable: Callable[[], AgentClient | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self.fallback = fallback
        self.stats: Stats = fallback.stats  # one set of counters for both paths
        self.retry_after_seconds = retry_after_seconds
        self._on_unavailable = on_unavailable
        self._clock = clock
        self._down_until = 0.0

    def get_secret_value(self, ref: SecretRef | str, *, refresh: bool = False) -> SecretValue:
        ref = SecretRef.of(ref)
        if self._clock() >= self._down_until:
            try:
                value = self._via_agent(ref, refresh)
            except AgentUnavailableError as exc:
                self.stats.incr("agent_unavailable")
                self._down_until = self._clock() + self.retry_after_seconds
                log.warning(
                    "%s; reading secret %r directly from Secrets Manager (agent retried in %.0fs)",
                    exc,
                    ref.secret_id,
                    self.retry_after_seconds,
                )
            else:
                self.stats.incr("agent_hits")
                return value
        return self.fallback.get_secret_value(ref, refresh=refresh)

    def batch_get(
        self, secret_ids: Sequence[str] | None = None, *, name_prefix: str | None = None
    ) -> BatchResult:
        return self.fallback.batch_get(secret_ids, name_prefix=name_prefix)

    def describe_secret(self, secret_id: str) -> dict[str, Any]:
        return self.fallback.describe_secret(secret_id)

    def list_secrets(self, name_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        return self.fallback.list_secrets(name_prefix)

    def client(self, region: str | None = None) -> Any:
        return self.fallback.client(region)

    def call(self, operation: str, secret_id: str, do: Callable[[Any], T]) -> T:
        return self.fallback.call(operation, secret_id, do)

    def _via_agent(self, ref: SecretRef, refresh: bool) -> SecretValue:
        try:
            return self.agent.get_secret_value(ref, refresh=refresh)
        except AgentUnavailableError:
            replacement = self._on_unavailable() if self._on_unavailable is not None else None
            if replacement is None:
                raise
            self.agent = replacement
        # The hook started an agent: one more try.
        return self.agent.get_secret_value(ref, refresh=refresh)

"""The caching agent: secrets in memory only, served over localhost HTTP or a Unix socket.

Every process of a host asks the agent instead of Secrets Manager, so a value is
fetched once per TTL per host, not once per process. Access control: a token that the
caller sends in ``X-Aws-Parameters-Secrets-Token`` (compared in constant time) and, for
a Unix socket, the socket file's permissions (0600 in a 0700 directory). Requests
carrying ``X-Forwarded-For`` are refused (no use through a proxy, as AWS's agent).
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import logging
import os
import socket
import socketserver
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline_secrets.agent import protocol
from pipeline_secrets.cache import SecretCache
from pipeline_secrets.errors import SecretError, SecretRequestError
from pipeline_secrets.model import AWSCURRENT

log = logging.getLogger(__name__)


class AddressInUseError(OSError):
    """Another agent already listens on the address (the race an on-demand start loses)."""


@dataclass
class AgentConfig:
    """Where the agent listens and what it prefetches."""

    host: str = "127.0.0.1"
    port: int | None = protocol.DEFAULT_PORT
    unix_socket: str | None = None
    token: str | None = field(default=None, repr=False)
    prefetch_prefixes: Sequence[str] = ()
    idle_exit_seconds: float = 0.0  # 0: run until stopped


class _Handler(BaseHTTPRequestHandler):
    server_version = "pipeline-secrets-agent"
    protocol_version = "HTTP/1.1"
    agent: Agent  # set on the subclass built per agent

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # Headers and body go out in separate writes: without this, Nagle's
            # algorithm and delayed ACKs add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds only the secret id; keep it at DEBUG.
        log.debug("agent: %s", format % args)

    def do_GET(self) -> None:
        self.agent.touch()
        if self.headers.get("X-Forwarded-For"):
            self._send(400, {"__type": "InvalidRequestException", "message": "forwarded request"})
            return
        url = urlsplit(self.path)
        if url.path == protocol.PING_PATH:
            self._send(200, {"status": "ok"})
            return
        if not self.agent.token_ok(self.headers.get(protocol.TOKEN_HEADER)):
            self._send(403, {"__type": "AccessDeniedException", "message": "bad or missing token"})
            return
        if url.path == protocol.STATS_PATH:
            self._send(200, self.agent.cache.stats.snapshot())
            return
        if url.path != protocol.GET_PATH:
            self._send(404, {"__type": "InvalidRequestException", "message": "unknown path"})
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        secret_id = query.get("secretId", "")
        if not secret_id:
            self._send(400, {"__type": "InvalidParameterException", "message": "secretId missing"})
            return
        try:
            value = self.agent.get(
                secret_id,
                version_stage=query.get("versionStage") or None,
                version_id=query.get("versionId") or None,
                refresh=query.get("refreshNow", "").lower() == "true",
            )
        except SecretError as exc:
            status, body = protocol.encode_error(exc)
            self._send_raw(status, body)
            return
        except Exception as exc:  # never let a handler thread die silently
            log.warning("agent: lookup of %r failed: %s", secret_id, type(exc).__name__)
            self._send(500, {"__type": "InternalFailure", "message": type(exc).__name__})
            return
        self._send_raw(200, protocol.encode_value(value))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(body).encode("utf-8"))

    def _send_raw(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler wants a (host, port) pair


class _TCPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a second agent on the same port must fail to bind


class Agent:
    """One agent: a cache, a listener, optional prefetch of whole prefixes."""

    def __init__(self, cache: SecretCache, config: AgentConfig) -> None:
        self.cache = cache
        self.config = config
        self._prefetch_locks = {p: threading.Lock() for p in config.prefetch_prefixes}
        self._last_request = time.monotonic()
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    # -- request handling --------------------------------------------------------------
    def token_ok(self, sent: str | None) -> bool:
        expected = self.config.token
        if not expected:
            return True  # only allowed for a Unix socket, see bind()
        return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())

    def touch(self) -> None:
        self._last_request = time.monotonic()

    def get(
        self,
        secret_id: str,
        *,
        version_stage: str | None = None,
        version_id: str | None = None,
        refresh: bool = False,
    ) -> Any:
        if len(secret_id) > 2048:
            raise SecretRequestError("secret id too long", secret_id=secret_id[:64])
        if version_id is None and version_stage in (None, AWSCURRENT):
            self._prefetch_for(secret_id)
        return self.cache.get(
            secret_id,
            version_stage=version_stage,
            version_id=version_id,
            force_refresh=refresh,
        )

    def _prefetch_for(self, secret_id: str) -> None:
        """Load the whole prefix (one BatchGetSecretValue pass per TTL) before a lookup."""
        for prefix, lock in self._prefetch_locks.items():
            if not secret_id.startswith(prefix) or self.cache.listing_covers(secret_id):
                continue
            with lock:
                if self.cache.listing_covers(secret_id):
                    continue  # another thread did it while we waited
                try:
                    result = self.cache.prefetch(name_prefix=prefix)
                    log.info("agent: prefetched %d secret(s) under %r", len(result.values), prefix)
                except SecretError as exc:
                    log.warning(
                        "agent: prefetch of %r failed (%s); looking up one by one",
                        prefix,
                        type(exc).__name__,
                    )

    # -- lifecycle ---------------------------------------------------------------------
    def bind(self) -> str:
        """Open the listener; returns its address. Raises AddressInUseError if taken."""
        handler = type("AgentHandler", (_Handler,), {"agent": self})
        cfg = self.config
        if cfg.unix_socket:
            self._server = self._bind_unix(cfg.unix_socket, handler)
            return f"unix:{cfg.unix_socket}"
        if not cfg.token:
            raise ValueError("a TCP agent needs a token (set one, or use a Unix socket)")
        try:
            server = _TCPServer((cfg.host, cfg.port or 0), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUseError(exc.errno, f"{cfg.host}:{cfg.port} is in use") from exc
            raise
        self._server = server
        host, port = server.server_address[:2]
        return f"http://{host!s}:{port}"

    @staticmethod
    def _bind_unix(path: str, handler: type[_Handler]) -> _UnixHTTPServer:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # a stale socket left by a dead agent
            else:
                raise AddressInUseError(errno.EADDRINUSE, f"{path} has a live agent")
            finally:
                probe.close()
        old_umask = os.umask(0o177)
        try:
            server = _UnixHTTPServer(path, handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        return server

    @property
    def port(self) -> int | None:
        if self._server is None or self.config.unix_socket:
            return None
        return int(self._server.server_address[1])  # type: ignore[index]

    def serve_forever(self) -> None:
        assert self._server is not None, "call bind() first"
        if self.config.idle_exit_seconds > 0:
            threading.Thread(target=self._idle_watch, daemon=True).start()
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self._close()

    def start_in_thread(self) -> str:
        address = self.bind()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return address

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _idle_watch(self) -> None:
        limit = self.config.idle_exit_seconds
        while True:
            time.sleep(min(limit, 5.0))
            if time.monotonic() - self._last_request > limit:
                log.info("agent: idle for %.0fs, exiting", limit)
                assert self._server is not None
                self._server.shutdown()
                return

    def _close(self) -> None:
        if self._server is not None:
            self._server.server_close()
        if self.config.unix_socket and os.path.exists(self.config.unix_socket):
            with contextlib.suppress(OSError):
                os.unlink(self.config.unix_socket)

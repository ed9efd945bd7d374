"""Connection limits: a cap answered with 429, idle and half-open connections dropped,
a real listen backlog, and an accept loop that backs off when file descriptors run out.

Every accepted connection is registered with the :class:`ConnectionTracker`. A
connection is *busy* while a request it sent in full is being answered, *idle*
otherwise (including while it trickles in a request line or headers: a slowloris
client is idle). Idle connections are closed after ``idle_timeout_seconds`` in total,
however slowly they send. At the cap, the longest-idle connection is closed to admit
the new one; only when every connection is busy is the new one answered 429.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import resource
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from pipeline_secrets.tools.agent_server.logsafe import RateLimitedLog
from pipeline_secrets.tools.agent_server.metrics import AgentMetrics

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
FD_RESERVE = 32  # descriptors kept for the cache's HTTPS connections, logs, the listener
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_RESPONSE_429 = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: 73\r\n\r\n"
    b'{"__type": "TooManyRequestsException", "message": "too many connections"}'
)
assert len(_RESPONSE_429.split(b"\r\n\r\n", 1)[1]) == 73


def connection_cap(configured: int) -> int:
    """``configured``, lowered so that the cap is reached before the descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(4, min(configured, soft - FD_RESERVE))


@dataclass
class _Connection:
    sock: socket.socket
    since: float
    busy: bool = False
    dropped: bool = False


class ConnectionTracker:
    """The registry of open connections; see the module docstring."""

    def __init__(
        self,
        max_connections: int,
        idle_timeout_seconds: float,
        metrics: AgentMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.idle_timeout_seconds = idle_timeout_seconds
        self.metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[int, _Connection] = {}
        self._stop = threading.Event()

    def admit(self, sock: socket.socket) -> bool:
        """Register ``sock``; False when the cap is reached and nothing idle can go."""
        with self._lock:
            if len(self._open) >= self.max_connections:
                idle = [c for c in self._open.values() if not c.busy]
                if not idle:
                    return False
                self._drop(min(idle, key=lambda c: c.since))
                self.metrics.incr("connections_evicted")
            self._open[id(sock)] = _Connection(sock, self._clock())
            self.metrics.set_active(len(self._open))
        self.metrics.incr("connections_accepted")
        return True

    def release(self, sock: socket.socket) -> None:
        with self._lock:
            conn = self._open.get(id(sock))
            if conn is not None and conn.sock is sock:
                del self._open[id(sock)]
            self.metrics.set_active(len(self._open))

    def set_busy(self, sock: socket.socket, busy: bool) -> None:
        with self._lock:
            conn = self._open.get(id(sock))
            if conn is not None and conn.sock is sock:
                conn.busy = busy
                conn.since = self._clock()

    def reap(self) -> int:
        """Close connections idle for longer than the timeout; returns how many."""
        limit = self._clock() - self.idle_timeout_seconds
        with self._lock:
            stale = [c for c in self._open.values() if not c.busy and c.since < limit]
            for conn in stale:
                self._drop(conn)
        if stale:
            self.metrics.incr("connections_dropped_idle", len(stale))
        return len(stale)

    def _drop(self, conn: _Connection) -> None:
        """Unblock the connection's thread (it sees EOF and ends); its fd is closed there."""
        del self._open[id(conn.sock)]
        conn.dropped = True
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        self.metrics.set_active(len(self._open))

    def run_reaper(self) -> None:
        interval = max(0.05, min(1.0, self.idle_timeout_seconds / 4))
        while not self._stop.wait(interval):
            self.reap()

    def stop(self) -> None:
        self._stop.set()


class BoundedServerMixin:
    """Socketserver behaviour shared by the TCP and Unix listeners."""

    tracker: ConnectionTracker
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    _accept_warning = RateLimitedLog(log, logging.WARNING, 10.0)

    def get_request(self) -> tuple[Any, Any]:
        try:
            return super().get_request()  # type: ignore[misc]
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:  # EMFILE, ENFILE, ...
                # The pending connection stays in the backlog: pause instead of spinning.
                self.tracker.metrics.incr("accept_errors")
                self._accept_warning(
                    "agent: accept failed (%s); pausing", errno.errorcode.get(exc.errno or 0, "?")
                )
                time.sleep(0.1)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.tracker.admit(request):
            self.tracker.metrics.incr("connections_rejected")
            try:
                request.settimeout(0.2)
                request.sendall(_RESPONSE_429)
            except OSError:
                pass
            self.shutdown_request(request)  # type: ignore[attr-defined]
            return
        super().process_request(request, client_address)  # type: ignore[misc]

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self.tracker.release(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One quiet line instead of a traceback (clients that hang up are normal)."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.debug("agent: connection ended: %s", type(exc).__name__)
        else:
            log.warning("agent: request failed: %s", type(exc).__name__)


class BoundedTCPServer(BoundedServerMixin, ThreadingHTTPServer):
    allow_reuse_address = False  # a second agent on the same port must fail to bind


class BoundedTCP6Server(BoundedTCPServer):
    address_family = socket.AF_INET6


class BoundedUnixServer(BoundedServerMixin, socketserver.ThreadingUnixStreamServer):
    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler wants a (host, port) pair

"""Fault injection for Secrets Manager tests: a proxy in front of moto, and a moto
server that can be stopped and restarted on the same port.

``FaultProxy`` forwards every request to an upstream (moto) and, by rule, answers
some itself: ``ThrottlingException`` (400), ``InternalServiceError`` (500),
``AccessDeniedException``, ``DecryptionFailure``, or a dropped connection. It counts
requests by operation, so tests can bound the calls a client made.

``RestartableMoto`` runs a dedicated moto server on a fixed port; ``stop()`` makes the
endpoint unreachable (connection refused) and ``start()`` brings it back on the same
port. moto keeps its state per process, so the secrets survive the restart.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from devstack.ports import free_port, wait_for_port

THROTTLING = ("ThrottlingException", 400, "Rate exceeded")
SERVER_ERROR = ("InternalServiceError", 500, "An internal error occurred")
ACCESS_DENIED = (
    "AccessDeniedException",
    400,
    "User: arn:aws:sts::123456789012:assumed-role/test is not authorized to perform: "
    "secretsmanager:GetSecretValue",
)
DECRYPTION_FAILURE = (
    "DecryptionFailure",
    400,
    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
)
DROP = ("<drop connection>", 0, "")


@dataclass
class Fault:
    """Answer matching requests with ``error`` (code, status, message) instead of moto.

    ``operation`` (e.g. ``GetSecretValue``) and ``secret_id`` narrow the match (None
    matches all); ``times`` is how many requests to answer so (None: every one).
    """

    error: tuple[str, int, str]
    operation: str | None = None
    secret_id: str | None = None
    times: int | None = None
    used: int = 0

    def matches(self, operation: str, secret_ids: list[str]) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.operation is not None and operation != self.operation:
            return False
        return self.secret_id is None or self.secret_id in secret_ids


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    request_times: list[tuple[float, str]] = field(default_factory=list)
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (op, secret ids)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy._handle(self)

            def do_GET(self) -> None:
                proxy._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
            self.injected.clear()
            self.request_times.clear()
            self.calls.clear()

    def total(self, operation: str | None = None) -> int:
        with self._lock:
            return self.requests[operation] if operation else sum(self.requests.values())

    # -- the request path ---------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        target = handler.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1] if target else handler.path
        secret_ids = _secret_ids(body)
        with self._lock:
            self.requests[operation] += 1
            self.request_times.append((time.monotonic(), operation))
            self.calls.append((operation, tuple(secret_ids)))
            fault = next((f for f in self.faults if f.matches(operation, secret_ids)), None)
            if fault is not None:
                fault.used += 1
                self.injected[f"{operation}:{fault.error[0]}"] += 1
        if fault is not None:
            self._answer_fault(handler, fault)
            return
        self._forward(handler, body)

    def _answer_fault(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        code, status, message = fault.error
        if fault.error is DROP:
            handler.close_connection = True
            handler.connection.close()
            return
        payload = json.dumps({"__type": code, "message": message}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/x-amz-json-1.1")
        handler.send_header("x-amzn-ErrorType", code)
        handler.send_header("x-amzn-RequestId", "fault-injected")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            headers["Host"] = parts.netloc
            conn.request(handler.command, handler.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError:
            handler.send_error(502, "upstream unreachable")
            return
        finally:
            conn.close()
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in {
                "content-length",
                "transfer-encoding",
                "connection",
                "server",
                "date",
            }:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        try:
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the caller gave up waiting (its timeout)


def _secret_ids(body: bytes) -> list[str]:
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return []
    if not isinstance(request, dict):
        return []
    ids = [request["SecretId"]] if isinstance(request.get("SecretId"), str) else []
    ids.extend(str(s) for s in request.get("SecretIdList") or [])
    return ids


class RestartableMoto:
    """A dedicated moto server on a fixed port that tests can stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> RestartableMoto:
        from moto.server import ThreadedMotoServer

        deadline = time.monotonic() + 20
        while True:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            try:
                server.start()
                break
            except OSError:  # the port is still being released
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self._server = server
        wait_for_port("127.0.0.1", self.port, timeout=10)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

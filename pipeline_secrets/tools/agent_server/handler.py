"""The agent's HTTP request handler: header checks, token, routing, quiet logs.

Refused before any lookup: requests carrying ``X-Forwarded-For`` (even empty) or
``Forwarded`` (no use through a proxy, as AWS's agent), GETs with a body (closed, so a
body is never read as the next request), a missing or wrong token (403, logged at
WARNING, rate-limited).
"""

from __future__ import annotations

import json
import logging
import socket
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pipeline_secrets.agent import wire
from pipeline_secrets.errors import SecretError
from pipeline_secrets.model import SecretRef
from pipeline_secrets.tools.agent_server.logsafe import RateLimitedLog, printable

if TYPE_CHECKING:
    from pipeline_secrets.tools.agent_server.server import Agent

log = logging.getLogger("pipeline_secrets.tools.agent_server")

_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded")
_MAX_QUERY_BYTES = 4096


class AgentHandler(BaseHTTPRequestHandler):
    server_version = "pipeline-secrets-agent"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    agent: Agent  # set on the subclass built per agent
    forbidden_log: RateLimitedLog
    refused_log: RateLimitedLog

    def setup(self) -> None:
        super().setup()
        # Per-connection socket timeout (reads and writes); the tracker also closes
        # connections that stay idle or trickle a request for that long in total.
        self.connection.settimeout(self.agent.config.idle_timeout_seconds)
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # Headers and body go out in separate writes: without this, Nagle's
            # algorithm and delayed ACKs add ~40 ms to every answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("agent: %s", printable(format % args, 300))

    def do_GET(self) -> None:
        tracker = self.agent.tracker
        tracker.set_busy(self.connection, True)
        try:
            self._handle_get()
        finally:
            tracker.set_busy(self.connection, False)

    def _handle_get(self) -> None:
        agent = self.agent
        agent.touch()
        agent.metrics.incr("requests")
        if any(name in self.headers for name in _FORWARDING_HEADERS):
            agent.metrics.incr("bad_requests")
            self._send(400, {"__type": "InvalidRequestException", "message": "forwarded request"})
            return
        if self._has_body():
            agent.metrics.incr("bad_requests")
            self.close_connection = True
            self._send(400, {"__type": "InvalidRequestException", "message": "GET with a body"})
            return
        url = urlsplit(self.path)
        if len(url.query) > _MAX_QUERY_BYTES:
            agent.metrics.incr("bad_requests")
            self._send(400, {"__type": "InvalidRequestException", "message": "query too long"})
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == wire.PING_PATH:
            self._send(200, agent.ping_answer(query.get(wire.CHALLENGE_PARAM)))
            return
        if not agent.token_ok(self.headers.get(wire.TOKEN_HEADER)):
            agent.metrics.incr("forbidden")
            self.forbidden_log(
                "agent: refused a request without a valid token (%s %s)",
                self.command,
                printable(url.path, 80),
            )
            self._send(403, {"__type": "AccessDeniedException", "message": "bad or missing token"})
            return
        if url.path == wire.STATS_PATH:
            self._send(200, agent.stats())
            return
        if url.path == wire.METRICS_PATH:
            self._send_raw(200, agent.metrics_text().encode(), "text/plain; version=0.0.4")
            return
        if url.path != wire.GET_PATH:
            self._send(404, {"__type": "InvalidRequestException", "message": "unknown path"})
            return
        self._lookup(query)

    def _lookup(self, query: dict[str, str]) -> None:
        agent = self.agent
        secret_id = query.get("secretId", "")
        if not secret_id:
            self._send(400, {"__type": "InvalidParameterException", "message": "secretId missing"})
            return
        stage = query.get("versionStage") or None
        version_id = query.get("versionId") or None
        reason = agent.scope.refusal(secret_id, stage, version_id)
        if reason is not None:
            agent.metrics.refusal(reason)
            self.refused_log(
                "agent: refused secret %s outside its scope (%s)", printable(secret_id, 120), reason
            )
            self._send(
                403,
                {
                    "__type": "AccessDeniedException",
                    "message": f"outside this agent's scope ({reason})",
                },
            )
            return
        try:
            value = agent.get(
                SecretRef(secret_id, stage, version_id),
                refresh=query.get("refreshNow", "").lower() == "true",
            )
        except SecretError as exc:
            status, body = wire.encode_error(exc)
            self._send_raw(status, body)
            return
        except Exception as exc:  # never let a handler thread die silently
            log.warning(
                "agent: lookup of %s failed: %s", printable(secret_id, 120), type(exc).__name__
            )
            self._send(500, {"__type": "InternalFailure", "message": type(exc).__name__})
            return
        self._send_raw(200, wire.encode_value(value))

    def _has_body(self) -> bool:
        if "Transfer-Encoding" in self.headers:
            return True
        length = self.headers.get("Content-Length")
        return length is not None and length.strip() != "0"

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(body).encode("utf-8"))

    def _send_raw(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

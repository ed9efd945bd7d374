"""The caching agent: secrets in memory only, served over a Unix socket or loopback HTTP.

Every process of a host asks the agent instead of Secrets Manager, so a value is
fetched once per TTL per host, not once per process. Access control: a token (always
required, checked for strength) that callers send in ``X-Aws-Parameters-Secrets-Token``
(compared in constant time); for a Unix socket also the socket's permissions (0600 in a
0700 directory owned by us, checked at start); a :class:`SecretScope` limiting which
secrets a token holder may read. TCP listens on loopback only unless
``allow_non_loopback`` is set explicitly.

Starting on a taken address: the holder is asked to prove, with a challenge, that it
holds the same token (the token itself is never sent). A verified holder makes this
start a no-op (:class:`AddressServedError`); anything else is :class:`AddressInUseError`
and a non-zero exit.

Module map: ``connections`` (cap, idle drop, backlog, accept loop), ``handler`` (HTTP),
``scope`` (allow-list), ``forced`` (refreshNow), ``prefetch`` (background prefix
loading), ``metrics``, ``logsafe`` (escaped, rate-limited logs); token files:
:mod:`pipeline_secrets.agent.tokenfile`.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import ipaddress
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.agent import wire
from pipeline_secrets.agent.identity import verify_listener
from pipeline_secrets.agent.launcher import ensure_private_dir
from pipeline_secrets.agent.tokenfile import check_token
from pipeline_secrets.cache import EntryState, SecretCache
from pipeline_secrets.errors import SecretRequestError
from pipeline_secrets.model import AWSCURRENT, SecretRef, SecretValue
from pipeline_secrets.tools.agent_server.connections import (
    BoundedTCP6Server,
    BoundedTCPServer,
    BoundedUnixServer,
    ConnectionTracker,
    connection_cap,
)
from pipeline_secrets.tools.agent_server.forced import ForcedRefreshGate
from pipeline_secrets.tools.agent_server.handler import AgentHandler
from pipeline_secrets.tools.agent_server.logsafe import RateLimitedLog, printable
from pipeline_secrets.tools.agent_server.metrics import AgentMetrics, render_prometheus
from pipeline_secrets.tools.agent_server.prefetch import Prefetcher
from pipeline_secrets.tools.agent_server.scope import SecretScope

log = logging.getLogger("pipeline_secrets.tools.agent_server")


class AddressInUseError(OSError):
    """The address is held by something that could not prove it is our agent."""


class AddressServedError(OSError):
    """A verified agent (same token) already serves the address: nothing to do."""


@dataclass
class AgentConfig:
    """Where the agent listens, who may ask for what, and its limits."""

    host: str = "127.0.0.1"
    port: int | None = wire.DEFAULT_PORT
    unix_socket: str | None = None
    token: str | None = field(default=None, repr=False)
    prefetch_prefixes: Sequence[str] = ()
    allowed_prefixes: Sequence[str] = ()  # default: prefetch_prefixes
    allow_any_secret: bool = False
    allow_pending: bool = False
    allow_non_loopback: bool = False
    idle_exit_seconds: float = 0.0  # 0: run until stopped
    idle_timeout_seconds: float = 30.0  # an idle or trickling connection is closed after this
    max_connections: int = 800  # as AWS's agent; lowered to fit the descriptor limit
    # refreshNow: forced reads of one secret start at least this far apart (callers wait)
    min_refresh_interval_seconds: float = 1.0
    refresh_ahead_ratio: float = 0.8  # hits past this share of the TTL refresh in the background
    prefetch_wait_seconds: float = 1.0  # a miss waits this long at most for a prefix pass
    config_fingerprint: str = ""  # set by the launcher: proven in /ping answers


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Agent:
    """One agent: a cache, a listener, a scope, a background prefetcher, counters."""

    def __init__(self, cache: SecretCache, config: AgentConfig) -> None:
        self.cache = cache
        self.config = config
        self.token = check_token(config.token)
        self.scope = SecretScope.create(
            config.allowed_prefixes,
            default_prefixes=config.prefetch_prefixes,
            allow_any=config.allow_any_secret,
            allow_pending=config.allow_pending,
        )
        if (
            not _is_loopback(config.host)
            and not config.unix_socket
            and not config.allow_non_loopback
        ):
            raise ValueError(
                f"refusing to listen on {config.host}: the token would cross a network in "
                "plain HTTP. Use a Unix socket (a shared volume for containers), or pass "
                "--allow-non-loopback if you really mean it"
            )
        self.metrics = AgentMetrics()
        self.tracker = ConnectionTracker(
            connection_cap(config.max_connections), config.idle_timeout_seconds, self.metrics
        )
        self.prefetcher = Prefetcher(
            self.cache,
            config.prefetch_prefixes,
            self.metrics,
            pass_wait_seconds=config.prefetch_wait_seconds,
        )
        self._last_request = time.monotonic()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._refreshing: set[tuple[str, str | None, str | None]] = set()
        self._refreshing_lock = threading.Lock()
        self._forced = ForcedRefreshGate(config.min_refresh_interval_seconds)

    # -- request handling --------------------------------------------------------------
    def token_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.token.encode())

    def ping_answer(self, challenge: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": "ok"}
        if challenge:
            answer["proof"] = wire.identity_proof(
                self.token, challenge[:128], self.config.config_fingerprint
            )
        return answer

    def touch(self) -> None:
        self._last_request = time.monotonic()

    def stats(self) -> dict[str, Any]:
        data = dict(self.cache.stats.snapshot())
        data["agent"] = self.metrics.snapshot()
        data["prefetch"] = self.prefetcher.status()
        return data

    def metrics_text(self) -> str:
        return render_prometheus(self.metrics.snapshot(), self.cache.stats.snapshot())

    def get(self, ref: SecretRef, *, refresh: bool = False) -> SecretValue:
        """A lookup the scope allowed. Cache hits never wait on prefetch; refreshNow is
        answered with a value read after the request arrived (:mod:`.forced`); hot
        values are refreshed in the background before they expire."""
        arrived = self._forced.now()
        secret_id, version_stage, version_id = ref.secret_id, ref.version_stage, ref.version_id
        if len(secret_id) > 2048:
            raise SecretRequestError("secret id too long", secret_id=secret_id[:64])
        state = self.cache.entry_state(
            secret_id, version_stage=version_stage, version_id=version_id
        )

        def read(force_refresh: bool = False) -> SecretValue:
            return self.cache.get(
                secret_id,
                version_stage=version_stage,
                version_id=version_id,
                force_refresh=force_refresh,
            )

        if refresh and state is not None and state.backing_off:
            self.metrics.incr("refresh_suppressed")  # the service is failing: no extra call
            refresh = False
        if refresh:
            value, fetched = self._forced.run(ref, arrived, lambda: read(True), read)
            if not fetched:
                self.metrics.incr("refresh_shared")
            return value
        current = version_id is None and version_stage in (None, AWSCURRENT)
        if current and state is not None:
            held = self._held_while_prefetching(secret_id, state)
            if held is not None:
                return held
        if current and (state is None or not state.fresh):
            self.prefetcher.wait_for_pass(secret_id)
        value = read()
        if state is not None and state.fresh and not state.backing_off:
            self._maybe_refresh_ahead(secret_id, version_stage, version_id, state.expires_in)
        return value

    def _held_while_prefetching(self, secret_id: str, state: EntryState) -> SecretValue | None:
        """An expired value whose prefix's pass is running (or starting) now: served as is,
        so a hot secret never blocks on its refresh (stale while revalidating)."""
        if state.fresh or not state.has_value or not self.prefetcher.revalidate(secret_id):
            return None
        held = self.cache.cached_value(secret_id)
        if held is not None:
            self.metrics.incr("served_while_prefetching")
        return held

    def _maybe_refresh_ahead(
        self, secret_id: str, stage: str | None, version_id: str | None, expires_in: float
    ) -> None:
        ttl = self.cache.policy.ttl_seconds
        if version_id is not None or expires_in > ttl * (1.0 - self.config.refresh_ahead_ratio):
            return
        if stage in (None, AWSCURRENT) and self.prefetcher.handles(secret_id):
            return  # its prefix's next prefetch pass refreshes it
        key = (secret_id, stage, version_id)
        with self._refreshing_lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        self.metrics.incr("background_refreshes")

        def refresh() -> None:
            try:
                self.cache.get(secret_id, version_stage=stage, force_refresh=True)
            except Exception as exc:  # the cache recorded it (backoff, stale); just log
                log.debug(
                    "agent: background refresh of %s: %s", printable(secret_id), type(exc).__name__
                )
            finally:
                with self._refreshing_lock:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="agent-refresh", daemon=True).start()

    # -- lifecycle ---------------------------------------------------------------------
    def _handler(self) -> type[AgentHandler]:
        return type(
            "BoundAgentHandler",
            (AgentHandler,),
            {
                "agent": self,
                "forbidden_log": RateLimitedLog(log, logging.WARNING, 10.0),
                "refused_log": RateLimitedLog(log, logging.WARNING, 10.0),
            },
        )

    def bind(self) -> str:
        """Open the listener; returns its address. Raises AddressServedError when a
        verified agent holds it, AddressInUseError when anything else does."""
        cfg = self.config
        handler = self._handler()
        if cfg.unix_socket:
            server: Any = self._bind_unix(cfg.unix_socket, handler)
            address = f"unix:{cfg.unix_socket}"
        else:
            server = self._bind_tcp(cfg.host, cfg.port or 0, handler)
            host, port = server.server_address[:2]
            address = f"http://{host!s}:{port}"
        server.tracker = self.tracker
        self._server = server
        return address

    def _bind_tcp(self, host: str, port: int, handler: type[AgentHandler]) -> BoundedTCPServer:
        try:
            if ":" in host:
                return BoundedTCP6Server((host, port), handler)
            return BoundedTCPServer((host, port), handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            self._holder_check(f"http://{shown}", shown)
            raise AssertionError("unreachable") from exc

    def _holder_check(self, address: str, shown: str) -> None:
        verified = verify_listener(
            address, self.token, config_fingerprint=self.config.config_fingerprint
        )
        if verified:
            raise AddressServedError(errno.EADDRINUSE, f"{shown} is served by a verified agent")
        raise AddressInUseError(
            errno.EADDRINUSE,
            f"{shown} is held by a listener that cannot prove it holds this agent's token "
            "(not ours, or another configuration); refusing to start. The token was not sent",
        )

    def _bind_unix(self, path: str, handler: type[AgentHandler]) -> BoundedUnixServer:
        ensure_private_dir(os.path.dirname(os.path.abspath(path)))
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
        if info is not None:
            if not stat.S_ISSOCK(info.st_mode):
                raise AddressInUseError(errno.EEXIST, f"{path} exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
                live = True
            except OSError:
                live = False
            finally:
                probe.close()
            if live:
                self._holder_check(f"unix:{path}", path)
            os.unlink(path)  # a stale socket left by a dead agent
        old_umask = os.umask(0o177)
        try:
            server = BoundedUnixServer(path, handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        return server

    @property
    def port(self) -> int | None:
        if self._server is None or self.config.unix_socket:
            return None
        return int(self._server.server_address[1])

    def serve_forever(self) -> None:
        assert self._server is not None, "call bind() first"
        threading.Thread(target=self.tracker.run_reaper, name="agent-reaper", daemon=True).start()
        self.prefetcher.start()
        if self.config.idle_exit_seconds > 0:
            threading.Thread(target=self._idle_watch, daemon=True).start()
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self.tracker.stop()
            self.prefetcher.stop()
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
        path = self.config.unix_socket
        if path:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)

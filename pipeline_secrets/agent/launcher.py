"""Start an agent on demand, once per host, whatever the number of racing processes.

Race handling: every process that finds no agent takes an exclusive ``flock`` on
``<runtime dir>/agent.lock``; the holder checks again (another process may have started
one while it waited), then spawns ``python -m pipeline_secrets.tools agent`` in a new session
and waits until it answers ``/ping``. Processes that waited on the lock see the agent
alive and do not start another. If an agent started by other means (a sidecar) binds
the address first, the spawned one finds the address in use and exits 0.

The runtime directory is ``$XDG_RUNTIME_DIR/pipeline-secrets`` or
``/tmp/pipeline-secrets-<uid>``, mode 0700 and owned by the caller (refused otherwise).
It holds the Unix socket, the access token (0600; a request token, not a secret
value) and the agent's log. Secret values are never written there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline_secrets.agent.client import AgentClient

log = logging.getLogger(__name__)


def runtime_dir() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = (
        os.path.join(base, "pipeline-secrets") if base else f"/tmp/pipeline-secrets-{os.getuid()}"
    )
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} must be a directory owned by uid {os.getuid()}, mode 0700")
    return path


def read_or_create_token(path: str) -> str:
    """The token in ``path``, created (0600) if missing."""
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)
    return token


@dataclass
class LaunchSpec:
    """What an on-demand agent is started with."""

    unix_socket: str | None = None  # default: <runtime dir>/agent.sock
    prefetch_prefixes: Sequence[str] = ()
    idle_exit_seconds: float = 900.0
    start_timeout_seconds: float = 10.0
    cache_ttl_seconds: float | None = None
    negative_ttl_seconds: float | None = None
    max_stale_seconds: float | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    profile_name: str | None = None
    role_arns: Sequence[str] = ()
    fallback_regions: Sequence[str] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def command(self, socket_path: str, token_file: str) -> list[str]:
        cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent"]
        cmd += ["--unix-socket", socket_path, "--token-file", token_file]
        cmd += ["--idle-exit-seconds", str(self.idle_exit_seconds)]
        for prefix in self.prefetch_prefixes:
            cmd += ["--prefetch-prefix", prefix]
        for flag, value in (
            ("--ttl-seconds", self.cache_ttl_seconds),
            ("--negative-ttl-seconds", self.negative_ttl_seconds),
            ("--max-stale-seconds", self.max_stale_seconds),
            ("--region", self.region_name),
            ("--endpoint-url", self.endpoint_url),
            ("--profile", self.profile_name),
        ):
            if value is not None:
                cmd += [flag, str(value)]
        for role in self.role_arns:
            cmd += ["--role-arn", role]
        for region in self.fallback_regions:
            cmd += ["--fallback-region", region]
        return cmd


def ensure_agent(spec: LaunchSpec) -> AgentClient:
    """A client for a running agent, started here if none answers."""
    directory = runtime_dir()
    socket_path = spec.unix_socket or os.path.join(directory, "agent.sock")
    token_file = os.path.join(directory, "agent.token")
    with open(os.path.join(directory, "agent.lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            token = read_or_create_token(token_file)
            client = AgentClient(f"unix:{socket_path}", token)
            if client.ping():
                return client
            _spawn(spec, socket_path, token_file, directory)
            deadline = time.monotonic() + spec.start_timeout_seconds
            while time.monotonic() < deadline:
                if client.ping():
                    log.info("started a pipeline-secrets agent on unix:%s", socket_path)
                    return client
                time.sleep(0.05)
            raise TimeoutError(
                f"the pipeline-secrets agent did not answer on {socket_path} within "
                f"{spec.start_timeout_seconds:.0f}s (see {directory}/agent.log)"
            )
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _spawn(spec: LaunchSpec, socket_path: str, token_file: str, directory: str) -> None:
    env = {**os.environ, **dict(spec.extra_env)}
    logfile = os.open(
        os.path.join(directory, "agent.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    try:
        process = subprocess.Popen(
            spec.command(socket_path, token_file),
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=logfile,
            env=env,
            start_new_session=True,  # outlives the Airflow process that started it
            close_fds=True,
        )
    finally:
        os.close(logfile)
    with open(os.path.join(directory, "agent.pid"), "w", encoding="utf-8") as handle:
        handle.write(str(process.pid))

"""Start an agent on demand, once per host and configuration, whatever the number of
racing processes.

One agent per configuration: the socket, token, lock, pid and log files are named after
the :meth:`AgentLaunchConfig.fingerprint` of the whole configuration (client settings,
AWS identity environment, cache policy, prefetch, scope), so a second deployment on the
host (another endpoint, region, profile, role, account) gets its own agent and never
reads through the first one's. The agent also proves on every start check that it holds
this configuration's token and fingerprint (a challenge, without sending the token).

Race handling: every process that finds no agent takes an exclusive ``flock`` on the
configuration's lock file; the holder checks again, then spawns ``python -m
pipeline_secrets.tools agent --launch-config-from-env`` in a new session (the whole
configuration serialized in its environment) and waits until it passes the challenge.

The runtime directory is ``$XDG_RUNTIME_DIR/pipeline-secrets`` or
``/tmp/pipeline-secrets-<uid>``, mode 0700 and owned by the caller (refused otherwise).
It holds the Unix sockets, the access tokens (0600; request tokens, not secret values)
and the agents' logs. Secret values are never written there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline_secrets.agent.client import AgentClient
from pipeline_secrets.agent.identity import verify_listener
from pipeline_secrets.agent.launch_config import ENV_VAR, AgentLaunchConfig
from pipeline_secrets.agent.tokenfile import read_or_create_token_file

log = logging.getLogger(__name__)


class AgentStartError(OSError):
    """The spawned agent exited instead of serving (see its log)."""


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (0700) if missing; refuse it unless it is a real directory (not a
    symlink) owned by us with no access for group or others."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} must be a directory owned by uid {os.getuid()}, mode 0700")
    return path


def runtime_dir() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = (
        os.path.join(base, "pipeline-secrets") if base else f"/tmp/pipeline-secrets-{os.getuid()}"
    )
    return ensure_private_dir(path)


def read_or_create_token(path: str) -> str:
    """The token in ``path``, created (0600, exclusively) if missing; see tokenfile."""
    return read_or_create_token_file(path)


@dataclass
class LaunchSpec:
    """What an on-demand agent is started with."""

    config: AgentLaunchConfig = field(default_factory=AgentLaunchConfig)
    unix_socket: str | None = None  # default: <runtime dir>/agent-<fingerprint>.sock
    start_timeout_seconds: float = 10.0
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def command(self, socket_path: str, token_file: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pipeline_secrets.tools",
            "agent",
            "--unix-socket",
            socket_path,
            "--token-file",
            token_file,
            "--launch-config-from-env",
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **dict(self.extra_env), ENV_VAR: self.config.to_json()}

    def fingerprint(self) -> str:
        return self.config.fingerprint({**os.environ, **dict(self.extra_env)})


@dataclass(frozen=True)
class AgentFiles:
    """The files of one configuration's agent in the runtime directory."""

    directory: str
    name: str

    def path(self, suffix: str) -> str:
        return os.path.join(self.directory, f"{self.name}.{suffix}")


def agent_files(spec: LaunchSpec) -> AgentFiles:
    # Short: a Unix socket path must fit in 108 bytes. Collisions are harmless (the
    # agent must still prove the full fingerprint), only less shared.
    return AgentFiles(runtime_dir(), f"agent-{spec.fingerprint()[:12]}")


def ensure_agent(spec: LaunchSpec) -> AgentClient:
    """A client for a running, verified agent of this configuration, started here if none."""
    files = agent_files(spec)
    fingerprint = spec.fingerprint()
    socket_path = spec.unix_socket or files.path("sock")
    address = f"unix:{socket_path}"
    with open(files.path("lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            token = read_or_create_token(files.path("token"))
            if _verified(address, token, fingerprint, warn=True):
                return AgentClient(address, token)
            process = _spawn(spec, socket_path, files)
            deadline = time.monotonic() + spec.start_timeout_seconds
            while time.monotonic() < deadline:
                if _verified(address, token, fingerprint):
                    log.info("started a pipeline-secrets agent on %s", address)
                    return AgentClient(address, token)
                if process.poll() is not None:
                    raise AgentStartError(
                        f"the pipeline-secrets agent exited with status {process.returncode} "
                        f"instead of serving {socket_path} (see {files.path('log')})"
                    )
                time.sleep(0.05)
            raise TimeoutError(
                f"the pipeline-secrets agent did not answer on {socket_path} within "
                f"{spec.start_timeout_seconds:.0f}s (see {files.path('log')})"
            )
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _verified(address: str, token: str, fingerprint: str, *, warn: bool = False) -> bool:
    answer = verify_listener(address, token, config_fingerprint=fingerprint)
    if answer is False and warn:
        log.warning(
            "the listener on %s is not this configuration's agent (identity check failed); "
            "the token was not sent",
            address,
        )
    return answer is True


def _spawn(spec: LaunchSpec, socket_path: str, files: AgentFiles) -> subprocess.Popen[bytes]:
    logfile = os.open(
        files.path("log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
    )
    try:
        process = subprocess.Popen(
            spec.command(socket_path, files.path("token")),
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=logfile,
            env=spec.environment(),
            start_new_session=True,  # outlives the Airflow process that started it
            close_fds=True,
        )
    finally:
        os.close(logfile)
    fd = os.open(files.path("pid"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(str(process.pid))
    return process

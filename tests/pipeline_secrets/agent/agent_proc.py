"""Real agent subprocesses for the attack tests (``python -m pipeline_secrets.tools agent``)."""

from __future__ import annotations

import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_secrets.agent.client import AgentClient

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_env(moto: Any, **extra: str) -> dict[str, str]:
    env = {**os.environ, **moto.env(), "PYTHONPATH": str(ROOT), **extra}
    for name in ("PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN"):
        env.pop(name, None)
    env.update({k: v for k, v in extra.items()})
    return env


def limit_fds(n: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return apply


@dataclass
class RunningAgent:
    process: subprocess.Popen[str]
    address: str
    token: str
    log_path: Path

    def client(self, timeout: float = 2.0) -> AgentClient:
        return AgentClient(self.address, self.token, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def short_runtime_dir(tmp_path: Path) -> Path:
    """An XDG_RUNTIME_DIR short enough for Unix socket paths (108 bytes), linked from
    tmp_path for the record; removed when the test process exits."""
    import atexit
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="ps-", dir="/tmp"))
    atexit.register(shutil.rmtree, path, True)
    path.chmod(0o700)
    (tmp_path / "runtime").symlink_to(path)
    return path


def known_flags(args: tuple[str, ...]) -> tuple[str, ...]:
    """With ``PIPELINE_SECRETS_ATTACK_BASELINE=1``, drop flags an older agent does not know,
    so that the attacks can be shown working on the code before the hardening."""
    if not os.environ.get("PIPELINE_SECRETS_ATTACK_BASELINE"):
        return args
    help_text = subprocess.run(
        [sys.executable, "-m", "pipeline_secrets.tools", "agent", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    out: list[str] = []
    skip_value = False
    for i, arg in enumerate(args):
        if skip_value:
            skip_value = False
            continue
        if arg.startswith("--") and arg not in help_text:
            skip_value = i + 1 < len(args) and not args[i + 1].startswith("--")
            continue
        out.append(arg)
    return tuple(out)


def start_agent(
    moto: Any,
    tmp_path: Path,
    *args: str,
    port: int | None = None,
    preexec: Callable[[], None] | None = None,
) -> RunningAgent:
    """An agent on 127.0.0.1:<port> with a fresh strong token; waits until it answers."""
    token = secrets.token_urlsafe(32)
    port = port or free_port()
    log_path = tmp_path / f"agent-{port}.log"
    cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent", "--port", str(port)]
    cmd += known_flags(args)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            cmd,
            env=agent_env(moto, PIPELINE_SECRETS_AGENT_TOKEN=token),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
        )
    running = RunningAgent(process, f"http://127.0.0.1:{port}", token, log_path)
    deadline = time.monotonic() + 30
    probe = AgentClient(running.address, None, timeout=1.0)
    while time.monotonic() < deadline:
        if probe.ping():
            return running
        if process.poll() is not None:
            raise AssertionError(f"agent exited {process.returncode}: {running.log()[-2000:]}")
        time.sleep(0.1)
    running.stop()
    raise AssertionError("agent did not start")


def run_agent_expecting_exit(
    env: dict[str, str], *args: str, timeout: float = 30.0
) -> tuple[int | None, str]:
    """Run an agent that should refuse to start: (exit code or None if it kept running, output)."""
    cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent", *known_flags(args)]
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        out, _ = process.communicate(timeout=timeout)
        return process.returncode, out
    except subprocess.TimeoutExpired:
        process.terminate()
        out, _ = process.communicate(timeout=10)
        return None, out

"""The agent tried as an attacker would (issue #13), against real agent subprocesses and
the moto server: denial of service, impersonation, token files, prefetch storms,
refreshNow floods, scope, and the wrong agent."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets.agent import wire
from pipeline_secrets.agent.client import AgentClient
from tests.pipeline_secrets.agent.agent_proc import (
    RunningAgent,
    agent_env,
    free_port,
    limit_fds,
    run_agent_expecting_exit,
    short_runtime_dir,
    start_agent,
)

_DENIED = (400, {"__type": "AccessDeniedException", "message": "not authorized"})
_THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


@pytest.fixture
def agents() -> Iterator[list[RunningAgent]]:
    started: list[RunningAgent] = []
    yield started
    for agent in started:
        agent.stop()


def _open_idle(port: int, n: int) -> list[socket.socket]:
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:  # half of them trickle an unfinished request (slowloris)
            s.sendall(b"GET /secretsmanager/get?secretId=db/x HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    return socks


def _closed_by_peer(s: socket.socket) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(1024) == b"" or True  # EOF, or a 429/400 answer before the close
    except TimeoutError:
        return False
    except OSError:
        return True


def _best_of_three(agent: RunningAgent, secret_id: str, expected: str) -> float:
    """Lookup latency on fresh connections (best of three: 2 shared cores, 7 sessions);
    each one must still beat the client's 2 s timeout."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        assert agent.client().get_secret_value(secret_id).text() == expected
        times.append(time.monotonic() - started)
    return min(times)


def test_slowloris_idle_connections_dropped_requests_answered(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/x", "slow-value")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/", "--idle-timeout-seconds", "2")
    agents.append(agent)
    port = int(agent.address.rsplit(":", 1)[1])
    idle = _open_idle(port, 300)
    try:
        assert _best_of_three(agent, "db/x", "slow-value") < 1.0
        time.sleep(4.0)
        still_open = [s for s in idle if not _closed_by_peer(s)]
        assert not still_open, f"{len(still_open)} of 300 idle connections still held"
        assert _best_of_three(agent, "db/x", "slow-value") < 1.0
    finally:
        for s in idle:
            s.close()


def test_fd_limit_idle_sockets_do_not_lock_out_clients(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/x", "fd-value")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/", preexec=limit_fds(64))
    agents.append(agent)
    port = int(agent.address.rsplit(":", 1)[1])
    idle = _open_idle(port, 100)
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(5):
            started = time.monotonic()
            assert agent.client().get_secret_value("db/x").text() == "fd-value"
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 1.0

        # The accept loop does not spin: over 2 s with 100 sockets held, the agent uses
        # little CPU (utime + stime from /proc, in clock ticks).
        def cpu_ticks() -> int:
            fields = Path(f"/proc/{agent.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        before = cpu_ticks()
        time.sleep(2.0)
        assert cpu_ticks() - before < os.sysconf("SC_CLK_TCK")  # under 1 s of CPU in 2 s
    finally:
        for s in idle:
            s.close()


def test_burst_of_fresh_connections(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/burst", "burst-value")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/")
    agents.append(agent)
    agent.client().get_secret_value("db/burst")  # warm
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            client = AgentClient(agent.address, agent.token, timeout=2.0)  # fresh connection
            started = time.monotonic()
            try:
                client.get_secret_value("db/burst")
            except Exception as exc:
                with lock:
                    failures.append(type(exc).__name__)
                continue
            with lock:
                latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 0.5, f"p99 {p99:.3f}s against a 2 s client timeout"


# -- impersonation and token files ---------------------------------------------------------


def _token_file_case(tmp_path: Path, case: str) -> Path:
    directory = tmp_path / case
    directory.mkdir(mode=0o700)
    path = directory / "agent.token"
    if case == "dangling_symlink":
        path.symlink_to(tmp_path / "attacker-chosen-target")
    elif case == "symlink_to_known":
        known = tmp_path / "known.txt"
        known.write_text("K" * 10 + "known-token-value-abcdefgh")
        known.chmod(0o600)
        path.symlink_to(known)
    elif case == "world_writable_known":
        path.write_text("known-token-value-abcdefgh-0123456789")
        path.chmod(0o666)
    elif case == "empty":
        path.write_text("")
        path.chmod(0o600)
    elif case == "whitespace":
        path.write_text("   \n\t  \n")
        path.chmod(0o600)
    elif case == "short":
        path.write_text("abc123")
        path.chmod(0o600)
    elif case == "low_entropy":
        path.write_text("a" * 40)
        path.chmod(0o600)
    elif case == "huge":
        path.write_text("x" * 100_000)
        path.chmod(0o600)
    return path


TOKEN_FILE_CASES = (
    "dangling_symlink",
    "symlink_to_known",
    "world_writable_known",
    "empty",
    "whitespace",
    "short",
    "low_entropy",
    "huge",
)


@pytest.mark.parametrize("case", TOKEN_FILE_CASES)
def test_token_file_attacks_are_refused(moto: Any, tmp_path: Path, case: str) -> None:
    path = _token_file_case(tmp_path, case)
    code, out = run_agent_expecting_exit(
        agent_env(moto),
        "--port",
        str(free_port()),
        "--token-file",
        str(path),
        "--allow-any-secret",
        timeout=20,
    )
    assert code == 2, f"{case}: agent did not refuse (exit {code})"
    assert not (tmp_path / "attacker-chosen-target").exists()
    assert "known-token" not in out


def test_weak_env_tokens_are_refused(moto: Any) -> None:
    for weak in ("", "   ", "short", "a" * 64):
        env = agent_env(moto, PIPELINE_SECRETS_AGENT_TOKEN=weak)
        code, _ = run_agent_expecting_exit(
            env, "--port", str(free_port()), "--allow-any-secret", timeout=20
        )
        assert code == 2, f"token {len(weak)} chars accepted"


def test_created_token_file_is_private(moto: Any, tmp_path: Path) -> None:
    from pipeline_secrets.agent.tokenfile import read_or_create_token_file

    path = tmp_path / "fresh.token"
    token = read_or_create_token_file(str(path))
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600 and len(token) >= 32
    assert read_or_create_token_file(str(path)) == token


class _Rogue:
    """A listener that records everything sent to it and answers 200 to anything."""

    def __init__(self, family: int, address: Any) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(16)
        self.received = bytearray()
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    self.received += conn.recv(65536)
                    body = b'{"status": "ok", "proof": "0000"}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


def test_taken_port_nonzero_exit_token_not_sent(moto: Any) -> None:
    port = free_port()
    rogue = _Rogue(socket.AF_INET, ("127.0.0.1", port))
    token = "T0k3n-" + os.urandom(16).hex()
    try:
        code, _out = run_agent_expecting_exit(
            agent_env(moto, PIPELINE_SECRETS_AGENT_TOKEN=token),
            "--port",
            str(port),
            "--allow-any-secret",
            timeout=20,
        )
    finally:
        rogue.close()
    assert code not in (0, None), f"exit {code} with an unverified holder"
    assert token.encode() not in rogue.received


def test_taken_socket_launcher_never_sends_the_token(
    moto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline_secrets.agent.launch_config import AgentLaunchConfig
    from pipeline_secrets.agent.launcher import LaunchSpec, agent_files, ensure_agent

    runtime = short_runtime_dir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    spec = LaunchSpec(AgentLaunchConfig(allowed_prefixes=("db/",)), start_timeout_seconds=10)
    files = agent_files(spec)
    rogue = _Rogue(socket.AF_UNIX, files.path("sock"))
    try:
        with pytest.raises(OSError, match="exited"):
            ensure_agent(spec)
        token = Path(files.path("token")).read_text()
        assert token.encode() not in rogue.received
        assert b"challenge=" in rogue.received  # it was asked to prove itself
    finally:
        rogue.close()
        pid = Path(files.path("pid"))
        if pid.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.read_text()), 15)
    log = Path(files.path("log")).read_text()
    assert "cannot prove" in log


def test_socket_directory_and_host_checks(moto: Any, tmp_path: Path) -> None:
    open_dir = tmp_path / "shared"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    env = agent_env(moto, PIPELINE_SECRETS_AGENT_TOKEN=os.urandom(24).hex())
    code, out = run_agent_expecting_exit(
        env, "--unix-socket", str(open_dir / "a.sock"), "--allow-any-secret", timeout=20
    )
    assert code == 2 and "0700" in out
    code, out = run_agent_expecting_exit(
        env, "--host", "0.0.0.0", "--port", str(free_port()), "--allow-any-secret", timeout=20
    )
    assert code == 2 and "allow-non-loopback" in out


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = b""
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks += chunk
        except TimeoutError:
            pass
        return chunks


def test_low_findings(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/low", "low-value")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/")
    agents.append(agent)
    port = int(agent.address.rsplit(":", 1)[1])
    t = agent.token.encode()
    get = b"GET /secretsmanager/get?secretId=db/low HTTP/1.1\r\nHost: x\r\n"
    auth = b"X-Aws-Parameters-Secrets-Token: " + t + b"\r\n"
    for header in (
        b"X-Forwarded-For: \r\n",
        b"X-Forwarded-For: 10.0.0.1\r\n",
        b"Forwarded: for=1.2.3.4\r\n",
    ):
        assert _raw(port, get + auth + header + b"Connection: close\r\n\r\n").startswith(
            b"HTTP/1.1 400"
        )
    # A GET body must not be read as a second request (which would carry no token check
    # of its own here, and would desynchronise the connection).
    smuggled = b"GET /secretsmanager/get?secretId=db/low HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    answer = _raw(port, get + auth + b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled)
    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1
    # 403s at WARNING; control characters escaped; no tracebacks for aborted connections.
    escape = b"GET /secretsmanager/get?secretId=db/\x1b[31mred HTTP/1.1\r\nHost: x\r\n"
    for _ in range(10):  # no token: 403, logged once (rate-limited), escaped
        _raw(port, escape + b"Connection: close\r\n\r\n")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(get + auth + b"\r\n")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(0.5)
    agent.stop()
    log = agent.log()
    assert "WARNING" in log and "without a valid token" in log
    assert log.count("without a valid token") == 1  # rate-limited
    assert "\x1b" not in log
    assert "Traceback" not in log


# -- prefetch, refreshNow, scope -------------------------------------------------------------


def test_batch_denied_cached_lookups_make_no_batch_call(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    for name in ("app/a", "app/b"):
        put_secret(name, f"value-{name}")
    moto.set_fault(lambda op: _DENIED if op == "BatchGetSecretValue" else None)
    agent = start_agent(moto, tmp_path, "--prefetch-prefix", "app/")
    agents.append(agent)
    client = agent.client()
    for _ in range(5):
        for name in ("app/a", "app/b"):
            assert client.get_secret_value(name).text() == f"value-{name}"
    calls = moto.calls
    assert calls["BatchGetSecretValue"] <= 1, dict(calls)
    assert calls["GetSecretValue"] == 2, dict(calls)
    agent.stop()
    assert agent.log().count("denied") == 1


def test_batch_throttled_cached_lookups_never_wait(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("app/hot", "hot-value")
    agent = start_agent(moto, tmp_path, "--prefetch-prefix", "app/", "--ttl-seconds", "1")
    agents.append(agent)
    client = agent.client()
    assert client.get_secret_value("app/hot").text() == "hot-value"
    moto.set_fault(lambda op: _THROTTLED if op == "BatchGetSecretValue" else None)
    moto.reset_counts()
    errors: list[str] = []
    worst = [0.0]

    def lookups() -> None:
        c = AgentClient(agent.address, agent.token, timeout=2.0)
        for _ in range(20):
            started = time.monotonic()
            try:
                c.get_secret_value("app/hot")
            except Exception as exc:
                errors.append(type(exc).__name__)
            worst[0] = max(worst[0], time.monotonic() - started)
            time.sleep(0.1)

    threads = [threading.Thread(target=lookups) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert worst[0] < 1.0, f"a lookup waited {worst[0]:.2f}s"
    # Over ~2 s of throttling the prefetch backs off: a few attempts, not one per lookup.
    assert moto.calls["BatchGetSecretValue"] <= 12, dict(moto.calls)


def _get(
    agent: RunningAgent, secret_id: str, timeout: float = 2.0, **params: str
) -> tuple[int, bytes]:
    query = urllib.parse.urlencode({"secretId": secret_id, **params})
    return agent.client(timeout).request(f"{wire.GET_PATH}?{query}")


def test_refresh_now_right_after_another_returns_what_changed(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    """A rotation that finishes just after another process's forced read: the next
    refreshNow must see it. (Before the gate, a refreshNow within 5 s of the previous one
    was answered from the cache: the old password, which the reconnect loop took for
    "nothing new, not rotating" and failed the task; seen in the multi-host run.)"""
    put_secret("db/r", "r-before")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/")
    agents.append(agent)
    client = agent.client()
    assert client.get_secret_value("db/r", refresh=True).text() == "r-before"
    put_secret("db/r", "r-after")
    assert client.get_secret_value("db/r", refresh=True).text() == "r-after"


def test_refresh_now_flood_is_bounded(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/r", "r-value")
    agent = start_agent(
        moto, tmp_path, "--allow-prefix", "db/", "--min-refresh-interval-seconds", "0.5"
    )
    agents.append(agent)
    assert _get(agent, "db/r")[0] == 200
    # 40 concurrent refreshNow requests share the forced reads under way.
    moto.reset_counts()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(lambda _: _get(agent, "db/r", refreshNow="true")[0], range(40)))
    elapsed = time.monotonic() - started
    assert codes == [200] * 40
    assert moto.calls["GetSecretValue"] <= elapsed / 0.5 + 2, (dict(moto.calls), elapsed)
    # One after another, each request waits its turn: one call per interval, no more.
    moto.reset_counts()
    started = time.monotonic()
    for _ in range(6):
        assert _get(agent, "db/r", refreshNow="true")[0] == 200
    elapsed = time.monotonic() - started
    assert moto.calls["GetSecretValue"] == 6, dict(moto.calls)
    assert elapsed >= 5 * 0.5 - 0.05, elapsed
    # Throttled: the first forced refresh fails (botocore retries it), then backoff.
    time.sleep(0.6)
    moto.set_fault(lambda op: _THROTTLED if op == "GetSecretValue" else None)
    moto.reset_counts()
    started = time.monotonic()
    for _ in range(5):
        _get(agent, "db/r", timeout=30.0, refreshNow="true")
    # One logical call: botocore's 1 + 4 retries; before the fix, 5 requests made 25.
    assert moto.calls["GetSecretValue"] <= 5, dict(moto.calls)
    assert time.monotonic() - started < 20


def test_allow_list_refusals_make_no_api_call(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("airflow/connections/ok", "ok-value")
    other = put_secret("other/topsecret", "top-value")
    agent = start_agent(moto, tmp_path, "--prefetch-prefix", "airflow/connections/")
    agents.append(agent)
    time.sleep(1.0)  # let the background prefetch pass finish
    assert _get(agent, "airflow/connections/ok")[0] == 200
    moto.reset_counts()
    refused = [
        _get(agent, "other/topsecret"),
        _get(agent, other["ARN"]),
        _get(agent, "airflow/connections/ok", versionStage="AWSPENDING"),
        _get(agent, "airflow/connections/ok", versionId=other["VersionId"]),
    ]
    for status, body in refused:
        assert status == 403, body
        assert b"top-value" not in body
    assert sum(moto.calls.values()) == 0, dict(moto.calls)
    metrics = agent.client().request(wire.METRICS_PATH)
    assert metrics[0] == 200 and b"pipeline_secrets_agent_refusals_total" in metrics[1]


def test_metrics_endpoint_needs_the_token(
    moto: Any, put_secret: Any, tmp_path: Path, agents: list[RunningAgent]
) -> None:
    put_secret("db/m", "m-value")
    agent = start_agent(moto, tmp_path, "--allow-prefix", "db/")
    agents.append(agent)
    agent.client().get_secret_value("db/m")
    agent.client().get_secret_value("db/m")
    assert AgentClient(agent.address, None).request(wire.METRICS_PATH)[0] == 403
    status, body = agent.client().request(wire.METRICS_PATH)
    text = body.decode()
    assert status == 200
    assert 'pipeline_secrets_agent_api_calls_total{operation="GetSecretValue"} 1' in text
    assert "pipeline_secrets_agent_cache_hits_total 1" in text
    assert "pipeline_secrets_agent_connections_accepted_total" in text
    stats = json.loads(agent.client().request(wire.STATS_PATH)[1])
    assert stats["hits"] == 1
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline_secrets.tools",
            "agent",
            "status",
            "--address",
            agent.address,
        ],
        env=agent_env(moto, PIPELINE_SECRETS_AGENT_TOKEN=agent.token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert 'api_calls_total{operation="GetSecretValue"}' in status.stdout
    assert agent.token not in status.stdout

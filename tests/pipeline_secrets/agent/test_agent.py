"""The caching agent: protocol, access control, prefetch, fallback, on-demand start."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets.agent.client import AgentClient, AgentSource, AgentUnavailableError
from pipeline_secrets.cache import SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.errors import SecretAccessDeniedError, SecretNotFoundError
from pipeline_secrets.model import SecretRef
from pipeline_secrets.source import SecretsManagerSource
from pipeline_secrets.tools.agent_server.server import Agent, AgentConfig
from tests.pipeline_secrets.agent.agent_proc import short_runtime_dir

TOKEN = "test-token-" + "Qx7vR2mK9pL4wZ8s"


def _cache(moto: Any) -> SecretCache:
    return SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))


@pytest.fixture
def agent(moto: Any) -> Iterator[Agent]:
    running = Agent(
        _cache(moto),
        AgentConfig(
            port=0,
            token=TOKEN,
            prefetch_prefixes=("app/",),
            allowed_prefixes=("app/", "db/"),
            prefetch_wait_seconds=10.0,  # exact call counts on a loaded machine
        ),
    )
    running.start_in_thread()
    yield running
    running.stop()


def _url(agent: Agent) -> str:
    return f"http://127.0.0.1:{agent.port}"


def test_get_secret_value_protocol(agent: Agent, put_secret: Any, secret_value: Any) -> None:
    pw = secret_value("agent")
    put_secret("db/main", {"username": "u", "password": pw})
    request = urllib.request.Request(
        f"{_url(agent)}/secretsmanager/get?secretId=db%2Fmain",
        headers={"X-Aws-Parameters-Secrets-Token": TOKEN},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())
        assert response.headers["Cache-Control"] == "no-store"
    assert set(body) >= {"ARN", "Name", "VersionId", "SecretString", "VersionStages"}
    assert body["Name"] == "db/main" and "AWSCURRENT" in body["VersionStages"]
    assert json.loads(body["SecretString"])["password"] == pw


def test_token_and_forwarding_are_checked(agent: Agent, put_secret: Any) -> None:
    put_secret("db/x", "v-value")
    for headers in ({}, {"X-Aws-Parameters-Secrets-Token": "wrong"}):
        request = urllib.request.Request(
            f"{_url(agent)}/secretsmanager/get?secretId=db/x", headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)
        assert raised.value.code == 403
    forwarded = urllib.request.Request(
        f"{_url(agent)}/secretsmanager/get?secretId=db/x",
        headers={"X-Aws-Parameters-Secrets-Token": TOKEN, "X-Forwarded-For": "10.0.0.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(forwarded, timeout=5)
    assert raised.value.code == 400
    with pytest.raises(SecretAccessDeniedError):
        AgentClient(_url(agent), "wrong").get_secret_value("db/x")


def test_client_values_errors_versions_binary(agent: Agent, moto: Any, put_secret: Any) -> None:
    put_secret("db/v", "one-value")
    put_secret("db/v", "two-value")
    put_secret("db/bin", b"\x00\x01binary", binary=True)
    client = AgentClient(_url(agent), TOKEN)
    assert client.get_secret_value("db/v").secret_string == "two-value"
    assert client.get_secret_value(SecretRef("db/v", "AWSPREVIOUS")).text() == "one-value"
    assert client.get_secret_value("db/bin").secret_binary == b"\x00\x01binary"
    with pytest.raises(SecretNotFoundError):
        client.get_secret_value("db/absent")
    # The agent answered from its cache: a second round costs no API call.
    before = agent.cache.stats.api_calls()
    client.get_secret_value("db/v")
    with pytest.raises(SecretNotFoundError):
        client.get_secret_value("db/absent")
    assert agent.cache.stats.api_calls() == before
    assert client.stats()["api_calls_total"] == before


def test_prefetch_prefix_one_batch_answers_all(agent: Agent, put_secret: Any) -> None:
    for i in range(3):
        put_secret(f"app/s{i}", f"value-{i}")
    client = AgentClient(_url(agent), TOKEN)
    for i in range(3):
        assert client.get_secret_value(f"app/s{i}").secret_string == f"value-{i}"
    with pytest.raises(SecretNotFoundError):
        client.get_secret_value("app/missing")
    calls = agent.cache.stats.snapshot()["api_calls"]
    assert calls == {"BatchGetSecretValue": 1}


def test_unix_socket_agent(moto: Any, put_secret: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "run" / "agent.sock")
    running = Agent(_cache(moto), AgentConfig(unix_socket=path, token=TOKEN, allow_any_secret=True))
    running.start_in_thread()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        put_secret("db/u", "unix-value")
        assert AgentClient(f"unix:{path}", TOKEN).get_secret_value("db/u").text() == "unix-value"
    finally:
        running.stop()
    assert not os.path.exists(path)


def test_agent_source_falls_back_to_direct(moto: Any, put_secret: Any) -> None:
    put_secret("db/f", "fallback-value")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    direct = SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))
    source = AgentSource(AgentClient(f"http://127.0.0.1:{dead_port}", TOKEN), direct)
    assert source.get_secret_value("db/f").text() == "fallback-value"
    assert source.get_secret_value("db/f").text() == "fallback-value"
    snapshot = source.stats.snapshot()
    assert snapshot["agent_unavailable"] == 1  # not retried before retry_after_seconds
    assert snapshot["api_calls"] == {"GetSecretValue": 2}
    with pytest.raises(AgentUnavailableError):
        AgentClient(f"http://127.0.0.1:{dead_port}").get_secret_value("db/f")


def _wait_ping(client: AgentClient, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.ping():
            return
        time.sleep(0.1)
    raise AssertionError("agent did not start")


def test_cli_agent_and_address_race(moto: Any, put_secret: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **moto.env(), "PIPELINE_SECRETS_AGENT_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent", "--port", str(port)]
    cmd += ["--allow-prefix", "db/"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = AgentClient(f"http://127.0.0.1:{port}", TOKEN)
        _wait_ping(client)
        put_secret("db/cli", "cli-value")
        assert client.get_secret_value("db/cli").text() == "cli-value"
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0  # the holder proved it has the same token
        assert "verified agent" in second.stderr
        other = {**env, "PIPELINE_SECRETS_AGENT_TOKEN": "another-token-" + "Hk3Lm9Pq2Rs7"}
        third = subprocess.run(cmd, env=other, capture_output=True, text=True, timeout=60)
        assert third.returncode == 1 and "cannot prove" in third.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=10)
    no_token = {
        k: v for k, v in env.items() if k not in {"PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN"}
    }
    refused = subprocess.run(cmd, env=no_token, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "empty" in refused.stderr


_RACER = """
import sys
from pipeline_secrets.agent.launch_config import AgentLaunchConfig
from pipeline_secrets.agent.launcher import LaunchSpec, ensure_agent
config = AgentLaunchConfig(allowed_prefixes=("db/",), idle_exit_seconds=60)
client = ensure_agent(LaunchSpec(config))
print(client.get_secret_value("db/race").text() == "race-value")
"""


def test_on_demand_start_races_to_one_agent(moto: Any, put_secret: Any, tmp_path: Path) -> None:
    put_secret("db/race", "race-value")
    runtime = short_runtime_dir(tmp_path)
    env = {**os.environ, **moto.env(), "XDG_RUNTIME_DIR": str(runtime)}
    env["PYTHONPATH"] = os.getcwd()
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [r.communicate(timeout=120)[0].strip() for r in racers]
    directory = runtime / "pipeline-secrets"
    (pid_file,) = directory.glob("agent-*.pid")
    pid = int(pid_file.read_text())
    try:
        assert outputs == ["True"] * 4
        (log_file,) = directory.glob("agent-*.log")
        assert log_file.read_text().count("listening on") == 1  # exactly one agent was started
        (token_file,) = directory.glob("agent-*.token")
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    finally:
        os.kill(pid, signal.SIGTERM)


def test_refresh_makes_the_agent_refetch(agent: Agent, moto: Any, put_secret: Any) -> None:
    put_secret("db/r", "value-before-rotation")
    direct = SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))
    source = AgentSource(AgentClient(_url(agent), TOKEN), direct)
    assert source.get_secret_value("db/r").text() == "value-before-rotation"
    put_secret("db/r", "value-after-rotation")
    assert source.get_secret_value("db/r").text() == "value-before-rotation"  # agent's cache
    assert source.get_secret_value("db/r", refresh=True).text() == "value-after-rotation"
    assert source.get_secret_value("db/r").text() == "value-after-rotation"


def test_an_agent_that_cannot_reach_secrets_manager_says_so(moto: Any) -> None:
    """The agent's own error reaches the caller: a task on a host whose route to Secrets
    Manager is down must fail saying so, not with a bare "InternalServiceError"."""
    from pipeline_secrets.errors import SecretServiceUnavailableError

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    settings = ClientSettings.create(
        endpoint_url=dead_endpoint,
        botocore_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    running = Agent(
        SecretCache(SecretsManagerSource(settings)),
        AgentConfig(port=0, token=TOKEN, allowed_prefixes=("db/",)),
    )
    running.start_in_thread()
    try:
        with pytest.raises(SecretServiceUnavailableError) as info:
            AgentClient(_url(running), TOKEN).get_secret_value("db/unreachable")
    finally:
        running.stop()
    message = str(info.value)
    assert "db/unreachable" in message
    assert "could not reach Secrets Manager" in message and "EndpointConnectionError" in message

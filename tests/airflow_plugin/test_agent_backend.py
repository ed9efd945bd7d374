"""The backend through the agent: one cache for many processes, fallback, on-demand start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets.cache import SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.source import SecretsManagerSource
from pipeline_secrets.tools.agent_server.server import Agent, AgentConfig
from tests.pipeline_secrets.agent.agent_proc import short_runtime_dir

TOKEN = "backend-agent-token-" + "Vb8Nq3Xe"


@pytest.fixture
def agent(moto: Any) -> Iterator[Agent]:
    cache = SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))
    running = Agent(
        cache,
        AgentConfig(
            port=0,
            token=TOKEN,
            prefetch_prefixes=("airflow/connections/", "airflow/variables/"),
            # Exact call counts below: on a loaded 2-core machine a prefix pass can take
            # longer than the default bounded wait (1 s), and a miss would go one by one.
            prefetch_wait_seconds=10.0,
        ),
    )
    running.start_in_thread()
    yield running
    running.stop()


_CHILD = """
import json, sys
from airflow_plugin.secrets_manager import SecretsManagerBackend
b = SecretsManagerBackend(**json.loads(sys.argv[1]))
c = b.get_connection("pg")
calls = b.stats()["api_calls_total"]
print(json.dumps([c.host, b.get_variable("v"), b.get_variable("absent"), calls]))
"""


def test_processes_share_the_agent_cache(
    agent: Agent, moto: Any, put_secret: Any, secret_value: Any
) -> None:
    put_secret(
        "airflow/connections/pg",
        {"conn_type": "postgres", "host": "h.example", "password": secret_value("ag")},
    )
    put_secret("airflow/variables/v", "shared-value")
    kwargs = json.dumps({"agent_address": f"http://127.0.0.1:{agent.port}", "agent_token": TOKEN})
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    moto.reset_counts()
    for _ in range(3):  # three new processes, as three Airflow task runs
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, kwargs],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        host, variable, absent, direct_calls = json.loads(out.stdout.strip().splitlines()[-1])
        assert (host, variable, absent, direct_calls) == ("h.example", "shared-value", None, 0)
    # Two prefixes, one BatchGetSecretValue page each, for every lookup of three processes.
    assert dict(moto.calls) == {"BatchGetSecretValue": 2}


def test_agent_down_falls_back_to_direct(moto: Any, put_secret: Any, ours: Any) -> None:
    put_secret("airflow/variables/v", "direct-value")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = ours(agent_address=f"http://127.0.0.1:{port}", agent_token=TOKEN)
    assert backend.get_variable("v") == "direct-value"
    stats = backend.stats()
    assert stats["agent_unavailable"] == 1 and stats["api_calls"] == {"GetSecretValue": 1}


def test_autostart_starts_one_agent(
    moto: Any, put_secret: Any, ours: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_secret("airflow/variables/v", "auto-value")
    runtime = short_runtime_dir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    first = ours(agent_autostart=True, agent_idle_exit_seconds=60)
    second = ours(agent_autostart=True, agent_idle_exit_seconds=60)
    directory = runtime / "pipeline-secrets"
    try:
        assert first.get_variable("v") == "auto-value"
        assert second.get_variable("v") == "auto-value"
        assert first.stats()["agent_hits"] == 1 and second.stats()["agent_hits"] == 1
        assert first.stats()["api_calls_total"] == 0
        (log_file,) = directory.glob("agent-*.log")
        assert log_file.read_text().count("listening on") == 1
    finally:
        for pid_file in directory.glob("agent-*.pid"):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_two_autostart_configurations_never_share_an_agent(
    moto: Any, ours: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same host, same user, another region: each configuration gets its own agent and
    its own answer, never the other's (before: the second read through the first's agent
    and got the first region's value, or "not found")."""
    for region, value in (("us-east-1", "east-value"), ("eu-west-1", "west-value")):
        moto.client(region).create_secret(Name="airflow/variables/v", SecretString=value)
    runtime = short_runtime_dir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    common = {"agent_autostart": True, "agent_idle_exit_seconds": 60}
    east = ours(region_name="us-east-1", **common)
    west = ours(region_name="eu-west-1", **common)
    directory = runtime / "pipeline-secrets"
    try:
        assert east.get_variable("v") == "east-value"
        assert west.get_variable("v") == "west-value"
        assert east.stats()["agent_hits"] == 1 and west.stats()["agent_hits"] == 1
        assert len(list(directory.glob("agent-*.sock"))) == 2
    finally:
        for pid_file in directory.glob("agent-*.pid"):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)

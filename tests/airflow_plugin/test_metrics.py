"""Metrics through Airflow's own StatsD client (``[metrics] statsd_on``), received by a
UDP listener on 127.0.0.1: lookups, cache, API calls, refused and AWSPENDING logins,
rotation steps, agent fallbacks. Names: docs/metrics.md."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_plugin import metrics
from pipeline_secrets.model import SecretRef
from pipeline_secrets.stats import add_observer, emit, observers, remove_observer

pytestmark = pytest.mark.airflow

PREFIX = "airflow_test"


class UdpListener:
    """Collects StatsD datagrams sent to 127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.3)
        self.port = int(self.sock.getsockname()[1])

    def counters(self, quiet_seconds: float = 0.6) -> Counter[str]:
        """Counter values by metric name (without the StatsD prefix) received so far."""
        found: Counter[str] = Counter()
        last = time.monotonic()
        while time.monotonic() - last < quiet_seconds:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            last = time.monotonic()
            for line in data.decode().splitlines():
                name, _, rest = line.partition(":")
                value, _, kind = rest.partition("|")
                if kind.startswith("c") and name.startswith(PREFIX + "."):
                    found[name[len(PREFIX) + 1 :]] += int(value)
        return found

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[UdpListener]:
    """Airflow's Stats initialised the way Airflow's components do it, with StatsD on,
    pointed at the listener; restored afterwards."""
    core = pytest.importorskip("airflow._shared.observability.metrics.stats")
    stats_utils = pytest.importorskip("airflow.observability.metrics.stats_utils")
    pytest.importorskip("statsd")
    listener = UdpListener()
    for key, value in {
        "STATSD_ON": "True",
        "STATSD_HOST": "127.0.0.1",
        "STATSD_PORT": str(listener.port),
        "STATSD_PREFIX": PREFIX,
    }.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
    for attr in ("_factory", "_backend", "_export_legacy_names"):
        monkeypatch.setattr(core, attr, getattr(core, attr))
    core.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    metrics.unbind_airflow_stats()
    yield listener
    metrics.unbind_airflow_stats()
    listener.close()


def test_metric_names() -> None:
    assert metrics.metric_name("lookup", {"kind": "connections", "outcome": "found"}) == (
        "pipeline_secrets.lookups.connections.found"
    )
    assert metrics.metric_name("api_call", {"operation": "GetSecretValue"}) == (
        "pipeline_secrets.api_calls.GetSecretValue"
    )
    assert metrics.metric_name("agent_unavailable", {}) == "pipeline_secrets.agent.fallbacks"
    assert metrics.metric_name("rotation_step", {"outcome": "ok", "step": "a b"}) == (
        "pipeline_secrets.rotation.steps.a_b.ok"
    )


def test_lookups_are_batched_and_rare_events_sent_at_once(statsd: UdpListener) -> None:
    """A cache hit must not cost a StatsD send: hot events go out at most once a second
    per name (or with the next rare event, or at exit)."""
    metrics.bind_airflow_stats()
    for _ in range(500):
        emit("hits")
        emit("lookup", kind="connections", outcome="found")
    emit("api_call", operation="GetSecretValue")  # rare: sent at once, with the batch
    got = statsd.counters()
    assert got["pipeline_secrets.api_calls.GetSecretValue"] == 1
    assert got["pipeline_secrets.cache.hits"] == 500
    assert got["pipeline_secrets.lookups.connections.found"] == 500
    emit("hits")
    assert "pipeline_secrets.cache.hits" not in statsd.counters()  # batched, not yet due
    metrics.flush()
    assert statsd.counters()["pipeline_secrets.cache.hits"] == 1


def test_not_bound_while_airflow_metrics_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``[metrics]`` off, lookups pay nothing for metrics: no observer at all."""
    for key in ("STATSD_ON", "STATSD_DATADOG_ENABLED", "OTEL_ON"):
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", "False")
    metrics.unbind_airflow_stats()
    metrics.bind_airflow_stats()
    assert metrics.forward_to_airflow not in observers()


def test_a_failing_observer_never_breaks_the_caller() -> None:
    def broken(event: str, amount: int, tags: Any) -> None:
        raise RuntimeError("metrics backend down")

    add_observer(broken)
    try:
        emit("hits")  # must not raise
    finally:
        remove_observer(broken)


def test_backend_lookups_reach_statsd(
    statsd: UdpListener, ours: Any, put_secret: Any, secret_value: Any
) -> None:
    put_secret(
        "airflow/connections/m_db",
        {"engine": "postgres", "host": "h", "username": "u", "password": secret_value()},
    )
    put_secret("airflow/variables/m_var", secret_value("var"))
    backend = ours(connections_prefix="airflow/connections", variables_prefix="airflow/variables")
    assert backend.get_conn_value("m_db") is not None
    assert backend.get_conn_value("m_db") is not None  # a cache hit
    assert backend.get_conn_value("m_absent") is None
    assert backend.get_variable("m_var") is not None
    metrics.flush()  # lookups and hits are batched (at most one send per name a second)
    got = statsd.counters()
    assert got["pipeline_secrets.lookups.connections.found"] == 2
    assert got["pipeline_secrets.lookups.connections.not_found"] == 1
    assert got["pipeline_secrets.lookups.variables.found"] == 1
    assert got["pipeline_secrets.cache.hits"] == 1
    assert got["pipeline_secrets.cache.misses"] == 3
    assert got["pipeline_secrets.api_calls.GetSecretValue"] == 3


def test_logins_rotation_and_agent_fallback_reach_statsd(
    statsd: UdpListener, moto: Any, put_secret: Any, secret_value: Any
) -> None:
    from pipeline_secrets.agent.client import AgentClient, AgentSource
    from pipeline_secrets.cache import SecretCache
    from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
    from pipeline_secrets.rotation import rotate_secret
    from pipeline_secrets.rotation.errors import RotationError
    from pipeline_secrets.rotation.runner import run_step
    from pipeline_secrets.source import SecretsManagerSource

    metrics.bind_airflow_stats()
    client = moto.client()
    old, new = secret_value("old"), secret_value("new")
    doc = {"engine": "postgres", "host": "db.example", "username": "app", "dbname": "d"}
    put_secret("m/db", {**doc, "password": old})
    client.put_secret_value(
        SecretId="m/db",
        SecretString=json.dumps({**doc, "password": new}),
        VersionStages=["AWSPENDING"],
    )

    def connect(creds: Any) -> str:  # the database already wants the pending password
        if creds.password != new:
            raise RuntimeError('FATAL: password authentication failed for user "app"')
        return "connected"

    reconnector = Reconnector(
        SecretCache(SecretsManagerSource()), ReconnectPolicy(budget_seconds=5)
    )
    assert reconnector.connect("m/db", connect) == "connected"

    put_secret("m/rotated", {**doc, "password": secret_value("rot")})
    rotate_secret("m/rotated", client=client, stop_after="createSecret")
    with pytest.raises(RotationError):
        run_step("setSecret", "m/rotated", str(uuid.uuid4()), client=client)

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    agent_source = AgentSource(AgentClient(dead, "token"), SecretsManagerSource())
    assert agent_source.get_secret_value(SecretRef("m/db", "AWSCURRENT")).version_id

    metrics.flush()
    got = statsd.counters()
    assert got["pipeline_secrets.logins.refused"] == 1
    assert got["pipeline_secrets.logins.after_refusal.AWSPENDING"] == 1
    assert got["pipeline_secrets.rotation.steps.createSecret.ok"] == 1
    assert got["pipeline_secrets.rotation.steps.setSecret.failed"] == 1
    assert got["pipeline_secrets.agent.fallbacks"] == 1


def test_nothing_is_sent_without_binding(statsd: UdpListener, moto: Any, put_secret: Any) -> None:
    """The control: the listener hears nothing of ours unless the plugin binds Stats."""
    from pipeline_secrets.cache import SecretCache
    from pipeline_secrets.source import SecretsManagerSource

    put_secret("m/plain", "not-a-secret-value")
    SecretCache(SecretsManagerSource()).get("m/plain")
    metrics.flush()
    assert not [k for k in statsd.counters() if k.startswith("pipeline_secrets.")]

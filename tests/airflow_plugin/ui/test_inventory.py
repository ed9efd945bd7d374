"""The page's inventory and actions in-process, against moto: which secrets are listed,
the agent's health, and "refresh now" through the host agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_plugin.ui import actions, inventory
from pipeline_secrets.cache import SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.source import SecretsManagerSource
from pipeline_secrets.tools.agent_server.server import Agent, AgentConfig
from pipeline_secrets.tools.audit import AuditPolicy, PolicySet
from tests.leakguard import GUARD

TOKEN = "ui-agent-token-" + "Hs4Wq9Lz2Rt7Pm5K"


@pytest.fixture
def agent(moto: Any) -> Iterator[Agent]:
    cache = SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))
    running = Agent(cache, AgentConfig(port=0, token=TOKEN, allow_any_secret=True))
    running.start_in_thread()
    yield running
    running.stop()


def test_lists_prefixes_fallbacks_and_explicit_secrets_only(
    ours: Any, put_secret: Any, secret_value: Any
) -> None:
    for name in (
        "airflow/connections/a",
        "legacy/conns/b",
        "rds!db-123",
        "airflow/variables/v",
        "airflow/connections-not-a-prefix/x",
        "unrelated/z",
    ):
        put_secret(name, {"password": secret_value()})
    backend = ours(
        connections_prefix="airflow/connections",
        variables_prefix="airflow/variables",
        connections_fallback_prefixes=["legacy/conns"],
        connections={"orders": {"secret_id": "rds!db-123", "host": "h", "conn_type": "postgres"}},
    )
    stats = backend.cache.source.stats
    before = stats.api_calls("ListSecretVersionIds")
    report = inventory.build_inventory(
        backend, PolicySet.uniform(AuditPolicy(require_rotation=False))
    )
    # One version listing per secret: the audit's, which also gives the page its
    # "last rotation" (the page listed the versions a second time before).
    assert stats.api_calls("ListSecretVersionIds") - before == 4
    got = {(r.name, r.kind, r.key, r.audit_status) for r in report.secrets}
    assert got == {
        ("airflow/connections/a", "connection", "a", "ok"),
        ("legacy/conns/b", "connection", "b", "ok"),
        ("rds!db-123", "connection", "orders", "ok"),
        ("airflow/variables/v", "variable", "v", "ok"),
    }
    assert all(r.last_rotation for r in report.secrets)
    assert not GUARD.find(json.dumps(report.to_dict()))
    assert inventory.served_name(backend, "unrelated/z") is None
    assert inventory.served_name(backend, "airflow/connections/") is None
    assert inventory.served_name(backend, "legacy/conns/b") == ("connection", "b")


def test_refresh_now_goes_through_the_agent(
    agent: Agent, ours: Any, put_secret: Any, moto: Any
) -> None:
    put_secret("airflow/variables/colour", "blue-value-1")
    kwargs = {"agent_address": f"http://127.0.0.1:{agent.port}", "agent_token": TOKEN}
    backend, other_process = ours(**kwargs), ours(**kwargs)
    assert backend.get_variable("colour") == "blue-value-1"
    new_version = moto.client().put_secret_value(
        SecretId="airflow/variables/colour", SecretString="green-value-2"
    )["VersionId"]
    assert other_process.get_variable("colour") == "blue-value-1"  # the agent's cached copy
    result = actions.refresh_now(backend, "airflow/variables/colour")
    assert result == {
        "secret": "airflow/variables/colour",
        "version_id": new_version,
        "via_agent": True,
    }
    other_process.cache.invalidate()
    assert other_process.get_variable("colour") == "green-value-2"  # the agent refetched
    health = inventory.health(backend)
    assert health["agent"]["up"] is True
    assert health["agent"]["address"].endswith(str(agent.port))
    assert isinstance(health["agent"]["stats"], dict)
    assert health["cache"]["agent_hits"] >= 2


def test_policy_from_config(tmp_path: Path) -> None:
    assert inventory.policy_from_config("") == PolicySet()
    given = inventory.policy_from_config('{"max_days_since_rotation": 30}')
    assert given.policy_for("x", {}, "database").max_days_since_rotation == 30
    policy_file = tmp_path / "policy.txt"
    policy_file.write_text("require_rotation = false\n")
    from_file = inventory.policy_from_config(str(policy_file))
    assert from_file.policy_for("x", {}, "database").require_rotation is False


def test_usage_from_dags() -> None:
    rows = [
        ("etl", "extract", {"task_id": "extract", "postgres_conn_id": "orders"}),
        ("etl", "load", {"task_id": "load", "conn_id": "warehouse", "sql": "conn_id"}),
        ("other", "noop", {"task_id": "noop", "retries": 1}),
    ]
    assert inventory.usage_from_dags(rows) == {
        "connection:orders": ["etl.extract"],
        "connection:warehouse": ["etl.load"],
    }


def test_the_page_works_when_the_backend_reads_through_an_agent(
    agent: Agent, ours: Any, put_secret: Any, moto: Any
) -> None:
    """The recommended configuration (an agent) puts an AgentSource behind the backend:
    the inventory's version and policy lookups and "rotate now" go to its fallback
    (they used SecretsManagerSource's private ``_call``, which an AgentSource lacks)."""
    put_secret("airflow/connections/agent_db", {"password": "agent-page-value-1"})
    backend = ours(
        connections_prefix="airflow/connections",
        agent_address=f"http://127.0.0.1:{agent.port}",
        agent_token=TOKEN,
    )
    report = inventory.build_inventory(
        backend, PolicySet.uniform(AuditPolicy(require_rotation=False))
    )
    assert not report.errors
    (row,) = [r for r in report.secrets if r.name == "airflow/connections/agent_db"]
    assert row.last_rotation and row.audit_status == "ok"
    with pytest.raises(actions.RotationNotConfiguredError):
        actions.rotate_now(backend, "airflow/connections/agent_db")

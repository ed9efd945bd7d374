"""A hook given only a conn id, served by our secrets backend, gets through a rotation:
after a refused login it asks the backend to forget its cached copy and re-resolves."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_plugin.hooks import credential_source
from airflow_plugin.hooks.postgres import PostgresSecretsHook
from airflow_plugin.secrets_manager import SecretsManagerBackend
from pipeline_secrets.rotation import rotate_secret


@pytest.fixture
def backend(moto: Any, monkeypatch: pytest.MonkeyPatch) -> SecretsManagerBackend:
    from airflow.providers.common.compat.sdk import BaseHook

    ours = SecretsManagerBackend(
        connections_prefix="airflow/connections",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        cache_ttl_seconds=3600,
    )
    # Airflow's connection lookup, reduced to "ask our backend" (no other backends here).
    monkeypatch.setattr(
        BaseHook, "get_connection", classmethod(lambda cls, conn_id: ours.get_connection(conn_id))
    )
    monkeypatch.setattr(credential_source, "_loaded_backends", lambda: [ours])
    return ours


def test_conn_id_survives_a_finished_rotation(
    backend: SecretsManagerBackend,
    put_secret: Any,
    pg_user: Any,
    moto: Any,
    leak_registry: Any,
) -> None:
    user = pg_user()
    put_secret("airflow/connections/pg_rot", user)
    hook = PostgresSecretsHook(postgres_conn_id="pg_rot")
    assert hook.get_first("SELECT current_user") == (user["username"],)

    client = moto.client()
    result = rotate_secret("airflow/connections/pg_rot", client=client)
    assert result.finished
    new = client.get_secret_value(SecretId="airflow/connections/pg_rot", VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    leak_registry.register_secret_document(new)

    # The backend's cache (TTL one hour) still holds the old password.
    started = time.monotonic()
    assert PostgresSecretsHook(postgres_conn_id="pg_rot").get_first("SELECT 2") == (2,)
    assert time.monotonic() - started < 10  # re-resolved at once, not after the cache TTL

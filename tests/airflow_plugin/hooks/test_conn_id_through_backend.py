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


def test_conn_id_wrong_password_fails_fast(
    backend: SecretsManagerBackend, put_secret: Any, pg_user: Any, secret_value: Any
) -> None:
    from pipeline_secrets.errors import AuthenticationFailedError

    user = pg_user()
    put_secret("airflow/connections/pg_wrong", {**user, "password": secret_value("wrong")})
    started = time.monotonic()
    with pytest.raises(AuthenticationFailedError) as info:
        PostgresSecretsHook(postgres_conn_id="pg_wrong").get_first("SELECT 1")
    assert time.monotonic() - started < 10  # no rotation under way: nothing to wait for
    assert "password authentication failed" in str(info.value).splitlines()[0]
    assert "connection:pg_wrong" in str(info.value)


def test_conn_id_waits_through_a_rotation_window(
    backend: SecretsManagerBackend,
    put_secret: Any,
    pg_user: Any,
    moto: Any,
    leak_registry: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import threading

    user = pg_user()
    put_secret("airflow/connections/pg_window", user)
    assert PostgresSecretsHook(postgres_conn_id="pg_window").get_first("SELECT 1") == (1,)
    client = moto.client()
    # setSecret done: the database wants AWSPENDING's password, the backend serves AWSCURRENT.
    assert not rotate_secret(
        "airflow/connections/pg_window", client=client, stop_after="setSecret"
    ).finished
    pending = client.get_secret_value(
        SecretId="airflow/connections/pg_window", VersionStage="AWSPENDING"
    )["SecretString"]
    leak_registry.register_secret_document(pending)
    finisher = threading.Timer(
        1.5, lambda: rotate_secret("airflow/connections/pg_window", client=client)
    )
    finisher.start()
    try:
        assert PostgresSecretsHook(postgres_conn_id="pg_window").get_first("SELECT 2") == (2,)
    finally:
        finisher.join(30)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "rotation" in r.message]
    assert warnings  # a WARNING per round while waiting in the window

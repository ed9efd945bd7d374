"""PostgresSecretsHook against a SCRAM PostgreSQL cluster and moto, across rotations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_plugin.hooks.postgres import PostgresSecretsHook
from tests.airflow_plugin import rotation_sim


@pytest.fixture
def pg_secret(core: Any, put_secret: Any, pg_user: Any) -> dict[str, Any]:
    user = pg_user()
    put_secret("app/pg", user)
    return user


def _table(hook: PostgresSecretsHook) -> None:
    hook.run("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text)")


def test_runs_across_a_finished_rotation(
    pg_secret: dict[str, Any],
    sm_client: Any,
    pg_set_password: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = PostgresSecretsHook(secret_id="app/pg")
    _table(hook)
    hook.insert_rows("items", [(1, "a")], target_fields=["id", "name"])
    assert hook.get_records("SELECT current_user") == [(pg_secret["username"],)]

    rotation_sim.rotate(sm_client, "app/pg", secret_value("pg2"), pg_set_password)

    # The cached secret still has the old password: the hook is refused, refreshes, retries.
    hook.insert_rows("items", [(2, "b")], target_fields=["id", "name"])
    hook.run("UPDATE items SET name = 'bb' WHERE id = 2")
    assert hook.get_records("SELECT id, name FROM items ORDER BY id") == [(1, "a"), (2, "bb")]
    assert hook.get_first("SELECT count(*) FROM items") == (2,)
    assert "refused the credentials of secret 'app/pg'" in caplog.text


def test_window_between_set_and_finish(
    pg_secret: dict[str, Any],
    sm_client: Any,
    pg_set_password: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = PostgresSecretsHook(secret_id="app/pg")
    conn = hook.get_conn()  # opened with the original password
    conn.close()

    rotation = rotation_sim.start(sm_client, "app/pg", secret_value("pg2"), pg_set_password)
    # AWSCURRENT is still the old password, the database wants AWSPENDING's.
    _table(hook)
    hook.insert_rows("items", [(1, "in window")], target_fields=["id", "name"])
    assert PostgresSecretsHook(secret_id="app/pg").get_records("SELECT name FROM items") == [
        ("in window",)
    ]
    assert "(AWSPENDING)" in caplog.text

    rotation_sim.finish(rotation)
    assert hook.get_records("SELECT count(*) FROM items") == [(1,)]


def test_conn_id_with_secret_extra_and_rds_managed_secret(
    core: Any,
    put_secret: Any,
    pg_user: Any,
    airflow_conn: Any,
    sm_client: Any,
    pg_set_password: Any,
    secret_value: Any,
) -> None:
    user = pg_user()
    # RDS-managed shape: only username and password; host/port/db from the connection.
    put_secret("rds!db-1", {"username": user["username"], "password": user["password"]})
    airflow_conn(
        "pg_app",
        conn_type="pipeline_secrets_postgres",
        host=user["host"],
        port=user["port"],
        schema=user["dbname"],
        extra={"secret_id": "rds!db-1", "connect_timeout": 5},
    )
    hook = PostgresSecretsHook(postgres_conn_id="pg_app")
    assert hook.get_first("SELECT current_database()") == (user["dbname"],)
    rotation_sim.rotate(sm_client, "rds!db-1", secret_value("pg2"), pg_set_password)
    assert hook.get_first("SELECT current_user") == (user["username"],)


def test_conn_id_without_secret_re_resolves_the_connection(
    pg_user: Any, airflow_conn: Any, pg_set_password: Any, secret_value: Any
) -> None:
    user = pg_user()
    fields = {
        "conn_type": "postgres",
        "host": user["host"],
        "port": user["port"],
        "schema": user["dbname"],
        "login": user["username"],
    }
    airflow_conn("pg_plain", password=user["password"], **fields)
    hook = PostgresSecretsHook(postgres_conn_id="pg_plain")
    assert hook.get_first("SELECT 1") == (1,)

    new_password = secret_value("pg2")
    pg_set_password(user["username"], new_password)
    airflow_conn("pg_plain", password=new_password, **fields)  # what a backend would now return
    assert hook.get_first("SELECT 2") == (2,)


def test_other_errors_are_not_retried(
    core: Any, put_secret: Any, pg_user: Any, pg_cluster: Any
) -> None:
    from devstack.ports import free_port

    user = pg_user()
    put_secret("app/down", {**user, "port": free_port()})  # nothing listens there
    hook = PostgresSecretsHook(secret_id="app/down")
    with pytest.raises(Exception) as info:
        hook.get_conn()
    assert "refused" in str(info.value).lower() or "connect" in str(info.value).lower()
    assert core.stats.api_calls("GetSecretValue") == 1  # the first fetch only, no refresh


def test_engine_gets_fresh_credentials_for_new_pooled_connections(
    pg_secret: dict[str, Any], sm_client: Any, pg_set_password: Any, secret_value: Any
) -> None:
    from sqlalchemy import text

    hook = PostgresSecretsHook(secret_id="app/pg")
    engine = hook.get_sqlalchemy_engine(engine_kwargs={"pool_size": 2, "max_overflow": 2})
    first = engine.connect()
    assert first.execute(text("SELECT 1")).scalar() == 1

    rotation_sim.rotate(sm_client, "app/pg", secret_value("pg2"), pg_set_password)

    second = engine.connect()  # a new pooled connection: opened with the new password
    assert second.execute(text("SELECT current_user")).scalar() == pg_secret["username"]
    assert first.execute(text("SELECT 2")).scalar() == 2  # the old session lives on
    first.close()
    second.close()
    engine.dispose()
    assert pg_secret["password"] not in repr(engine.url)


def test_get_df_across_a_rotation(
    pg_secret: dict[str, Any], sm_client: Any, pg_set_password: Any, secret_value: Any
) -> None:
    pytest.importorskip("pandas")
    hook = PostgresSecretsHook(secret_id="app/pg")
    _table(hook)
    hook.insert_rows("items", [(1, "a"), (2, "b")], target_fields=["id", "name"])
    rotation_sim.rotate(sm_client, "app/pg", secret_value("pg2"), pg_set_password)
    df = hook.get_df("SELECT id, name FROM items ORDER BY id", df_type="pandas")
    assert list(df["name"]) == ["a", "b"]


def test_connection_property_never_shows_password(pg_secret: dict[str, Any]) -> None:
    hook = PostgresSecretsHook(secret_id="app/pg")
    conn = hook.connection
    assert conn.conn_type == "postgres"
    assert conn.login == pg_secret["username"]
    assert pg_secret["password"] not in repr(conn)
    assert "secret_id" not in json.loads(conn.extra or "{}")


def test_conn_id_refused_past_the_budget_raises_a_clear_error(
    pg_user: Any, airflow_conn: Any, pg_set_password: Any, secret_value: Any
) -> None:
    from pipeline_secrets.errors import AuthenticationFailedError
    from pipeline_secrets.reconnect import ReconnectPolicy

    user = pg_user()
    airflow_conn(
        "pg_stale",
        conn_type="postgres",
        host=user["host"],
        port=user["port"],
        schema=user["dbname"],
        login=user["username"],
        password=user["password"],
    )
    hook = PostgresSecretsHook(postgres_conn_id="pg_stale")
    assert hook.get_first("SELECT 1") == (1,)
    pg_set_password(user["username"], secret_value("pg2"))  # nobody updates the connection
    source = hook.credential_source()
    source.policy = ReconnectPolicy(budget_seconds=0.3, initial_backoff_seconds=0.1)  # type: ignore[attr-defined]
    with pytest.raises(AuthenticationFailedError) as info:
        hook.get_first("SELECT 1")
    assert "connection:pg_stale" in str(info.value)


def test_secret_never_updated_fails_within_the_connection_budget(
    core: Any,
    put_secret: Any,
    pg_user: Any,
    airflow_conn: Any,
    moto: Any,
    pg_set_password: Any,
    secret_value: Any,
) -> None:
    import time

    from pipeline_secrets.errors import AuthenticationFailedError

    user = pg_user()
    put_secret("app/stale", user)
    airflow_conn(
        "sm_fast",
        conn_type="pipeline_secrets_aws",
        extra={"endpoint_url": moto.endpoint_url, "reconnect_budget_seconds": 1},
    )
    hook = PostgresSecretsHook(secret_id="app/stale", secrets_conn_id="sm_fast")
    pg_set_password(user["username"], secret_value("pg2"))  # the secret is not updated
    started = time.monotonic()
    with pytest.raises(AuthenticationFailedError) as info:
        hook.get_conn()
    assert time.monotonic() - started < 10
    assert "app/stale" in str(info.value) and "AWSCURRENT" in str(info.value)

"""MySqlSecretsHook against MariaDB (passwords checked) and moto, across rotations."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_plugin.hooks.mysql import MySqlSecretsHook
from tests.airflow_plugin import rotation_sim


@pytest.fixture
def maria_secret(core: Any, put_secret: Any, maria_user: Any) -> dict[str, Any]:
    user = maria_user()
    put_secret("app/maria", user)
    return user


def _table(hook: MySqlSecretsHook) -> None:
    hook.run("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name varchar(40))")


def test_runs_across_a_finished_rotation(
    maria_secret: dict[str, Any],
    sm_client: Any,
    maria_set_password: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = MySqlSecretsHook(secret_id="app/maria")
    _table(hook)
    hook.insert_rows("items", [(1, "a")], target_fields=["id", "name"])
    rotation_sim.rotate(sm_client, "app/maria", secret_value("my2"), maria_set_password)

    hook.insert_rows("items", [(2, "b")], target_fields=["id", "name"])
    hook.insert_rows("items", [(2, "bb")], target_fields=["id", "name"], replace=True)
    hook.run("UPDATE items SET name = 'aa' WHERE id = 1", autocommit=True)
    assert list(hook.get_records("SELECT id, name FROM items ORDER BY id")) == [
        (1, "aa"),
        (2, "bb"),
    ]
    assert "refused the credentials of secret 'app/maria'" in caplog.text


def test_window_between_set_and_finish(
    maria_secret: dict[str, Any],
    sm_client: Any,
    maria_set_password: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = MySqlSecretsHook(secret_id="app/maria")
    assert hook.get_first("SELECT CURRENT_USER()")[0].startswith(maria_secret["username"] + "@")
    rotation = rotation_sim.start(sm_client, "app/maria", secret_value("my2"), maria_set_password)
    _table(hook)
    hook.insert_rows("items", [(1, "in window")], target_fields=["id", "name"])
    assert "(AWSPENDING)" in caplog.text
    rotation_sim.finish(rotation)
    assert list(MySqlSecretsHook(secret_id="app/maria").get_records("SELECT name FROM items")) == [
        ("in window",)
    ]


def test_conn_id_with_secret_extra(
    core: Any,
    put_secret: Any,
    maria_user: Any,
    airflow_conn: Any,
    sm_client: Any,
    maria_set_password: Any,
    secret_value: Any,
) -> None:
    user = maria_user()
    put_secret("rds!db-2", {"username": user["username"], "password": user["password"]})
    airflow_conn(
        "maria_app",
        conn_type="pipeline_secrets_mysql",
        host=user["host"],
        port=user["port"],
        schema=user["dbname"],
        extra={"secret_id": "rds!db-2", "charset": "utf8mb4"},
    )
    hook = MySqlSecretsHook(mysql_conn_id="maria_app")
    assert hook.get_first("SELECT DATABASE()") == (user["dbname"],)
    rotation_sim.rotate(sm_client, "rds!db-2", secret_value("my2"), maria_set_password)
    assert hook.get_first("SELECT 1") == (1,)


def test_engine_gets_fresh_credentials_for_new_pooled_connections(
    maria_secret: dict[str, Any], sm_client: Any, maria_set_password: Any, secret_value: Any
) -> None:
    from sqlalchemy import text

    hook = MySqlSecretsHook(secret_id="app/maria")
    engine = hook.get_sqlalchemy_engine()
    assert engine.dialect.driver == "pymysql"
    first = engine.connect()
    assert first.execute(text("SELECT 1")).scalar() == 1
    rotation_sim.rotate(sm_client, "app/maria", secret_value("my2"), maria_set_password)
    second = engine.connect()
    assert second.execute(text("SELECT 2")).scalar() == 2
    first.close()
    second.close()
    engine.dispose()

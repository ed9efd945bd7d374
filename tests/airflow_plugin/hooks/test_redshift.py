"""RedshiftSecretsHook, with PostgreSQL standing in for Redshift.

redshift_connector cannot log in to a SCRAM-only PostgreSQL server, so the driver is
replaced by a psycopg2-based ``connection_factory`` taking redshift_connector's keyword
arguments. What is tested is the hook around the driver: credentials from a Redshift
rotation secret, retry on refused logins, the rotation window and the SQLAlchemy engine
(which uses the postgres dialect, as the provider's hook does). redshift_connector's own
error for a refused login is classified by the core's tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_plugin.hooks.redshift import RedshiftSecretsHook
from tests.airflow_plugin import rotation_sim


def pg_factory(*, host: str, port: int, user: str, password: str, database: str, **_: Any) -> Any:
    import psycopg2

    return psycopg2.connect(
        host=host, port=port, user=user, password=password, dbname=database, connect_timeout=5
    )


@pytest.fixture
def rs_secret(core: Any, put_secret: Any, pg_user: Any) -> dict[str, Any]:
    user = pg_user()
    put_secret("app/redshift", {**user, "engine": "redshift", "dbClusterIdentifier": "c1"})
    return user


def _hook() -> RedshiftSecretsHook:
    return RedshiftSecretsHook(secret_id="app/redshift", connection_factory=pg_factory)


def test_runs_across_a_finished_rotation(
    rs_secret: dict[str, Any],
    sm_client: Any,
    pg_set_password: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook = _hook()
    assert hook.connection.conn_type == "redshift"
    hook.run("CREATE TABLE items (id int, name text)")
    hook.insert_rows("items", [(1, "a")], target_fields=["id", "name"])
    rotation_sim.rotate(sm_client, "app/redshift", secret_value("rs2"), pg_set_password)
    hook.insert_rows("items", [(2, "b")], target_fields=["id", "name"])
    assert hook.get_records("SELECT id, name FROM items ORDER BY id") == [(1, "a"), (2, "b")]
    assert "refused the credentials of secret 'app/redshift'" in caplog.text


def test_window_between_set_and_finish(
    rs_secret: dict[str, Any], sm_client: Any, pg_set_password: Any, secret_value: Any
) -> None:
    hook = _hook()
    assert hook.get_first("SELECT 1") == (1,)
    rotation = rotation_sim.start(sm_client, "app/redshift", secret_value("rs2"), pg_set_password)
    assert hook.get_first("SELECT current_user") == (rs_secret["username"],)
    rotation_sim.finish(rotation)
    assert _hook().get_first("SELECT 2") == (2,)


def test_engine_gets_fresh_credentials_for_new_pooled_connections(
    rs_secret: dict[str, Any], sm_client: Any, pg_set_password: Any, secret_value: Any
) -> None:
    from sqlalchemy import text

    engine = _hook().get_sqlalchemy_engine()
    first = engine.connect()
    assert first.execute(text("SELECT 1")).scalar() == 1
    rotation_sim.rotate(sm_client, "app/redshift", secret_value("rs2"), pg_set_password)
    second = engine.connect()
    assert second.execute(text("SELECT current_user")).scalar() == rs_secret["username"]
    first.close()
    second.close()
    engine.dispose()


def test_default_driver_is_redshift_connector(rs_secret: dict[str, Any]) -> None:
    import redshift_connector

    hook = RedshiftSecretsHook(secret_id="app/redshift")
    assert hook.connection_factory is None
    params = hook._get_conn_params()
    assert params["user"] == rs_secret["username"]
    assert params["database"] == rs_secret["dbname"]
    assert redshift_connector.connect is not None

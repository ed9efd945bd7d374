"""The hooks' provider-info entries: schema-valid, importable, and used by Airflow.

``airflow_plugin.provider_info`` is merged by the lead; here the entries are added to
it for the test, and Airflow's own discovery (the ``apache_airflow_provider`` entry
point) must then map our connection types to our hooks, so that
``SQLExecuteQueryOperator`` picks the rotation-aware hook from the connection type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_plugin.hooks.provider_entries import HOOK_PROVIDER_INFO
from tests.airflow_plugin import rotation_sim


def _schema(name: str) -> dict[str, Any]:
    import airflow

    with open(f"{airflow.__path__[0]}/{name}") as f:
        return dict(json.load(f))


def test_entries_match_airflow_schemas() -> None:
    import jsonschema

    info = {"package-name": "pipeline-secrets", "name": "n", "description": "d"}
    info.update(HOOK_PROVIDER_INFO)
    jsonschema.validate(info, _schema("provider_info.schema.json"))
    # The stricter provider.yaml schema describes conn-fields in full.
    item = _schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(HOOK_PROVIDER_INFO["connection-types"], item)


def test_entries_name_the_hook_classes() -> None:
    from airflow.providers.common.compat.module_loading import import_string

    for entry in HOOK_PROVIDER_INFO["connection-types"]:
        hook = import_string(entry["hook-class-name"])
        assert hook.conn_type == entry["connection-type"]
        assert hook.hook_name == entry["hook-name"]
        old = hook.get_ui_field_behaviour()
        assert old["relabeling"] == entry["ui-field-behaviour"]["relabeling"]
        assert set(entry["conn-fields"]) >= {"credentials_id"} or entry["connection-type"].endswith(
            "aws"
        )


def _reset_providers_manager() -> None:
    """Forget discovered providers (Airflow 3: the task runtime's manager; 2: the only one)."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:  # Airflow 2
        from airflow.providers_manager import ProvidersManager
        from airflow.utils.singleton import Singleton

        instance = Singleton._instances.pop(ProvidersManager, None)
        if instance is not None:
            instance._cleanup()
        ProvidersManager._initialized = False
        return
    if Manager._instance is not None:
        Manager._instance._cleanup()
    Manager._instance = None
    Manager._initialized = False


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import airflow_plugin.provider_info as provider_info

    original = provider_info.get_provider_info

    def merged() -> dict[str, Any]:
        return {**original(), **HOOK_PROVIDER_INFO}

    monkeypatch.setattr(provider_info, "get_provider_info", merged)
    _reset_providers_manager()
    yield
    _reset_providers_manager()


def test_sql_execute_query_operator_uses_our_hook_across_a_rotation(
    registered: None,
    core: Any,
    put_secret: Any,
    pg_user: Any,
    airflow_conn: Any,
    sm_client: Any,
    pg_set_password: Any,
    secret_value: Any,
) -> None:
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

    from airflow_plugin.hooks.postgres import PostgresSecretsHook

    user = pg_user()
    put_secret("app/op", user)
    airflow_conn(
        "pg_op",
        conn_type="pipeline_secrets_postgres",
        host=user["host"],
        port=user["port"],
        schema=user["dbname"],
        extra={"secret_id": "app/op"},
    )
    create = SQLExecuteQueryOperator(
        task_id="create", conn_id="pg_op", sql="CREATE TABLE t (x int); INSERT INTO t VALUES (1)"
    )
    create.execute({})
    assert isinstance(create.get_db_hook(), PostgresSecretsHook)

    rotation_sim.rotate(sm_client, "app/op", secret_value("op2"), pg_set_password)
    select = SQLExecuteQueryOperator(task_id="select", conn_id="pg_op", sql="SELECT x FROM t")
    assert select.execute({}) == [(1,)]


def test_old_style_form_widgets() -> None:
    """WTForms widgets where Flask-AppBuilder is installed (Airflow 2); else none."""
    import importlib.util

    from airflow_plugin.hooks.mysql import MySqlSecretsHook
    from airflow_plugin.hooks.secrets_manager import SecretsManagerHook

    sql_widgets = MySqlSecretsHook.get_connection_form_widgets()
    aws_widgets = SecretsManagerHook.get_connection_form_widgets()
    if importlib.util.find_spec("flask_appbuilder") and importlib.util.find_spec("wtforms"):
        assert set(sql_widgets) == {"credentials_id", "secrets_conn_id"}
        assert {"region_name", "endpoint_url", "role_arn"} <= set(aws_widgets)
    else:
        assert sql_widgets == {} and aws_widgets == {}

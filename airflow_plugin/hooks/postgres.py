"""PostgresSecretsHook: the postgres provider's PostgresHook, rotation-aware."""

from __future__ import annotations

from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook

from airflow_plugin.hooks import form
from airflow_plugin.hooks.credential_source import HOOK_EXTRAS
from airflow_plugin.hooks.rotation_aware import RotationAwareMixin

CONN_TYPE = "pipeline_secrets_postgres"


class PostgresSecretsHook(RotationAwareMixin, PostgresHook):  # type: ignore[misc]
    """PostgreSQL with credentials from Secrets Manager, surviving password rotation.

    :param postgres_conn_id: an Airflow connection (host, port, database, extras; its
        ``secret_id`` extra names the credentials secret). Optional with ``secret_id``.
    :param secret_id: the credentials secret (RDS rotation JSON, RDS-managed, Airflow
        connection JSON or URI); it wins over the connection's login and password.
    :param secrets_conn_id: a ``pipeline_secrets_aws`` connection to reach Secrets Manager.

    Everything else is :class:`PostgresHook`'s (``options``, ``database``, ...).
    """

    conn_type = CONN_TYPE
    hook_name = "PostgreSQL (Secrets Manager, rotation-aware)"
    base_conn_type = "postgres"
    ignored_extra_options = PostgresHook.ignored_extra_options | HOOK_EXTRAS

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return form.SQL_BEHAVIOUR.hook_form()

"""RedshiftSecretsHook: the amazon provider's RedshiftSQLHook, rotation-aware.

``connection_factory`` replaces ``redshift_connector.connect`` (same keyword
arguments: host, port, user, password, database and the connection's extras). The
tests use it to reach PostgreSQL as a stand-in for Redshift with psycopg2, because
redshift_connector cannot log in to a SCRAM-only PostgreSQL server; everything the
hook does around the driver (credentials, retry on refused logins, SQLAlchemy
engine, which uses the postgres dialect as the provider's does) is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

from airflow_plugin.hooks import form
from airflow_plugin.hooks.credential_source import HOOK_EXTRAS
from airflow_plugin.hooks.rotation_aware import RotationAwareMixin

CONN_TYPE = "pipeline_secrets_redshift"


class FactoryRedshiftSQLHook(RedshiftSQLHook):
    """RedshiftSQLHook whose DB-API connect function can be replaced."""

    def __init__(
        self, *args: Any, connection_factory: Callable[..., Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connection_factory = connection_factory

    def get_conn(self) -> Any:  # type: ignore[override]
        if self.connection_factory is None:
            return super().get_conn()
        params: dict[str, Any] = dict(self._get_conn_params())
        params.update({k: v for k, v in self.conn.extra_dejson.items() if k not in HOOK_EXTRAS})
        return self.connection_factory(**params)


class RedshiftSecretsHook(RotationAwareMixin, FactoryRedshiftSQLHook):  # type: ignore[misc]
    """Redshift with credentials from Secrets Manager, surviving password rotation.

    :param redshift_conn_id: an Airflow connection (host, port, database, extras; its
        ``secret_id`` extra names the credentials secret). Optional with ``secret_id``.
    :param secret_id: the credentials secret (e.g. a Redshift rotation secret with
        ``engine: redshift``, ``host``, ``port``, ``dbname``, ``username``, ``password``).
    :param secrets_conn_id: a ``pipeline_secrets_aws`` connection to reach Secrets Manager.
    :param connection_factory: replaces ``redshift_connector.connect``.
    """

    conn_type = CONN_TYPE
    hook_name = "Amazon Redshift (Secrets Manager, rotation-aware)"
    base_conn_type = "redshift"

    @property
    def conn(self) -> Any:  # the provider reads ``self.conn`` (a cached_property there)
        return self.connection

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return form.REDSHIFT_BEHAVIOUR.hook_form()

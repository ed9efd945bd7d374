"""MySqlSecretsHook: MySQL/MariaDB through common-sql's DbApiHook and PyMySQL.

Why not the mysql provider's MySqlHook: that provider hard-depends on ``mysqlclient``,
a C extension that needs the MySQL client headers to build (absent here and on many
workers), and its ``mysql-connector-python`` client is optional. PyMySQL is pure
Python, is SQLAlchemy's ``mysql+pymysql`` driver on 1.4 and 2.x alike, and its errors
(1045/1044/1698) are classified by the core; so this hook is built on DbApiHook
directly, keeping MySqlHook's surface that the SQL operators use (``%s``
placeholders, backtick quoting, ``REPLACE INTO``, autocommit).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_plugin.hooks import form
from airflow_plugin.hooks.credential_source import HOOK_EXTRAS
from airflow_plugin.hooks.rotation_aware import RotationAwareMixin
from pipeline_secrets.credentials import parse_db_credentials

CONN_TYPE = "pipeline_secrets_mysql"


class PyMySqlHook(DbApiHook):
    """A plain MySQL/MariaDB hook on PyMySQL (no rotation handling; see below)."""

    conn_name_attr = "mysql_conn_id"
    default_conn_name = "mysql_default"
    conn_type = "mysql"
    hook_name = "MySQL (PyMySQL)"
    supports_autocommit = True

    def __init__(self, *args: Any, database: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("escape_word_format", "`{}`")
        kwargs.setdefault("replace_statement_format", "REPLACE INTO {} {} VALUES ({})")
        super().__init__(*args, **kwargs)
        self.database = database or kwargs.get("schema")

    @property
    def dialect_name(self) -> str:
        return "mysql"

    def connect_kwargs(self) -> dict[str, Any]:
        """pymysql.connect() keywords, from the core's one per-driver table
        (``DatabaseCredentials.dbapi_kwargs``): the same TLS and CA handling as every
        other path (``sslrootcert`` or ``ssl_ca`` is the CA)."""
        conn = self.connection
        extra = {k: v for k, v in conn.extra_dejson.items() if k not in HOOK_EXTRAS}
        creds = parse_db_credentials(
            {
                "engine": "mysql",
                "host": conn.host or "localhost",
                "port": int(conn.port) if conn.port else None,
                "username": conn.login,
                "password": conn.password or "",
                "dbname": self.database or conn.schema or None,
                "ssl_mode": extra.pop("ssl_mode", None),
                "extra": extra,
            },
            secret_id=f"connection {conn.conn_id}",
        )
        kwargs = creds.dbapi_kwargs("pymysql")
        if isinstance(extra.get("ssl"), dict):
            kwargs["ssl"] = extra["ssl"]  # an explicit pymysql ssl dict wins
        return kwargs

    def get_conn(self) -> Any:
        import pymysql

        return pymysql.connect(**self.connect_kwargs())

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        conn.autocommit(autocommit)

    def get_autocommit(self, conn: Any) -> bool:
        return bool(conn.get_autocommit())

    @property
    def sqlalchemy_url(self) -> Any:
        from sqlalchemy.engine import URL

        kwargs = self.connect_kwargs()
        return URL.create(
            drivername="mysql+pymysql",
            username=kwargs["user"],
            password=kwargs["password"],
            host=kwargs["host"],
            port=kwargs["port"],
            database=kwargs.get("database"),
        )

    def get_uri(self) -> str:
        return str(self.sqlalchemy_url.render_as_string(hide_password=False))


class MySqlSecretsHook(RotationAwareMixin, PyMySqlHook):  # type: ignore[misc]
    """MySQL/MariaDB with credentials from Secrets Manager, surviving password rotation.

    :param mysql_conn_id: an Airflow connection (host, port, database, extras; its
        ``secret_id`` extra names the credentials secret). Optional with ``secret_id``.
    :param secret_id: the credentials secret; it wins over the connection's login/password.
    :param secrets_conn_id: a ``pipeline_secrets_aws`` connection to reach Secrets Manager.
    :param database: the database to use instead of the connection's.
    """

    conn_type = CONN_TYPE
    hook_name = "MySQL/MariaDB (Secrets Manager, rotation-aware)"
    base_conn_type = "mysql"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return form.SQL_BEHAVIOUR.hook_form()

"""The MySQL hook's driver keywords come from the core's one per-driver table."""

from __future__ import annotations

import json

import pytest

from pipeline_secrets.credentials import parse_db_credentials

pytest.importorskip("airflow.providers.common.sql")


def test_connection_extras_through_the_core_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_plugin.hooks.mysql import PyMySqlHook

    conn = {
        "conn_type": "mysql",
        "host": "db.example",
        "login": "app",
        "password": "pw-not-a-secret",
        "schema": "sales",
        "extra": {"ssl_mode": "verify-full", "sslrootcert": "/ca.pem", "charset": "utf8mb4"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_CA", json.dumps(conn))
    kwargs = PyMySqlHook(mysql_conn_id="mysql_ca").connect_kwargs()
    assert kwargs["ssl"] == {"ca": "/ca.pem"} and kwargs["ssl_verify_identity"] is True
    assert kwargs["charset"] == "utf8mb4" and kwargs["port"] == 3306
    assert kwargs["database"] == "sales" and kwargs["user"] == "app"


def test_a_secrets_sslrootcert_reaches_the_hook() -> None:
    """Secret -> Connection (hook path) -> pymysql kwargs: the CA is kept on the way."""
    from airflow_plugin.hooks.credential_source import ConnectionTemplate

    creds = parse_db_credentials(
        {
            "engine": "mariadb",
            "host": "db.example",
            "username": "app",
            "password": "pw-not-a-secret",
            "ssl": "require",
            "sslrootcert": "/rds-ca.pem",
        },
        secret_id="s",
    )
    conn = ConnectionTemplate("c", "mysql").from_credentials(creds)
    extra = json.loads(conn.extra)
    assert extra["sslrootcert"] == "/rds-ca.pem" and extra["ssl_mode"] == "require"
    direct = creds.dbapi_kwargs("pymysql")
    assert direct["ssl"] == {"ca": "/rds-ca.pem"}

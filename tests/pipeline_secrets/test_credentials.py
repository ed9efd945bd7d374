"""parse_db_credentials: every secret shape, renderings, and value-free errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_secrets import SecretFormatError
from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.model import SecretValue

PASSWORD = "p@ss:w/o?r#d%20&x=y+z'\"\\ é"


def test_rotation_json_with_string_port_and_unknown_keys() -> None:
    creds = parse_db_credentials(
        {
            "engine": "aurora-postgresql",
            "host": "db.example",
            "port": "5433",
            "username": "etl",
            "password": PASSWORD,
            "dbname": "orders",
            "dbClusterIdentifier": "cluster-1",
            "masterarn": "arn:aws:...:master",
        },
        secret_id="rds/orders",
    )
    assert (creds.engine, creds.engine_raw, creds.host, creds.port) == (
        "postgres",
        "aurora-postgresql",
        "db.example",
        5433,
    )
    assert creds.dbname == "orders"
    assert creds.password == PASSWORD
    assert creds.extras["dbClusterIdentifier"] == "cluster-1"
    assert creds.is_alternating_users


@pytest.mark.parametrize(
    ("engine", "canonical", "port", "dbname"),
    [
        ("postgres", "postgres", 5432, "postgres"),
        ("aurora-mysql", "mysql", 3306, None),
        ("mariadb", "mariadb", 3306, None),
        ("redshift", "redshift", 5439, "dev"),
        ("oracle", "oracle", 1521, "ORCL"),
        ("sqlserver", "sqlserver", 1433, None),
    ],
)
def test_engine_defaults(engine: str, canonical: str, port: int, dbname: str | None) -> None:
    creds = parse_db_credentials({"engine": engine, "host": "h", "username": "u", "password": "x"})
    assert creds.engine == canonical
    assert creds.effective_port == port
    assert creds.effective_dbname == dbname


def test_rds_managed_secret_takes_host_from_defaults() -> None:
    creds = parse_db_credentials(
        '{"username": "master", "password": "managed-pw-1"}',
        secret_id="rds!db-123",
        defaults={"engine": "postgres", "host": "rds.local", "port": 6543, "dbname": "app"},
    )
    assert (creds.engine, creds.host, creds.port, creds.dbname) == (
        "postgres",
        "rds.local",
        6543,
        "app",
    )
    # A value in the secret wins over a default.
    creds2 = parse_db_credentials(
        {"username": "m", "password": "x", "host": "from-secret"}, defaults={"host": "default"}
    )
    assert creds2.host == "from-secret"


def test_airflow_connection_json_with_aliases_and_extra_string() -> None:
    creds = parse_db_credentials(
        {
            "conn_type": "postgres",
            "login": "airflow",
            "password": PASSWORD,
            "host": "pg",
            "port": 5432,
            "schema": "warehouse",
            "extra": json.dumps({"sslmode": "verify-full", "application_name": "etl"}),
        }
    )
    assert (creds.username, creds.dbname, creds.ssl_mode) == ("airflow", "warehouse", "verify-full")
    assert creds.extras["application_name"] == "etl"
    assert creds.dbapi_kwargs("psycopg2")["application_name"] == "etl"


def test_uri_with_encoded_parts() -> None:
    from urllib.parse import quote

    uri = (
        f"postgresql://etl%40corp:{quote(PASSWORD, safe='')}@db.local:5439/my%20db?sslmode=require"
    )
    creds = parse_db_credentials(uri, secret_id="uri/secret")
    assert creds.username == "etl@corp"
    assert creds.password == PASSWORD
    assert (creds.host, creds.port, creds.dbname, creds.ssl_mode) == (
        "db.local",
        5439,
        "my db",
        "require",
    )
    # The URI renders back and parses to the same values.
    again = parse_db_credentials(creds.to_uri(hide_password=False))
    assert again.password == PASSWORD and again.username == "etl@corp"


def test_secret_value_binary_and_version() -> None:
    value = SecretValue(
        secret_id="bin",
        name="bin",
        arn="arn:bin",
        version_id="v9",
        version_stages=("AWSCURRENT",),
        secret_binary=json.dumps(
            {"username": "u", "password": "binary-pw-1", "engine": "mysql", "host": "h"}
        ).encode(),
    )
    creds = parse_db_credentials(value)
    assert creds.version_id == "v9" and creds.secret_id == "bin" and creds.engine == "mysql"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"password": "x"}, "username"),
        ({"username": "u"}, "password"),
        ({"username": "u", "password": "x", "port": "fifty"}, "port"),
        ({"username": "u", "password": "x", "port": 70000}, "port"),
        ({"username": "u", "password": "x", "port": True}, "port"),
        ({"username": ["u"], "password": "x"}, "username"),
        ({"username": "u", "password": {"v": 1}}, "password"),
        ({"username": "u", "password": "x", "ssl": "sometimes"}, "ssl"),
        ({"username": "u", "password": "x", "extra": "{not json"}, "extra"),
    ],
)
def test_bad_fields_are_named(document: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SecretFormatError) as info:
        parse_db_credentials(document, secret_id="bad/one")
    assert info.value.field == field
    assert "bad/one" in str(info.value)


def test_malformed_json_error_never_echoes_the_value() -> None:
    text = '{"username": "u", "password": "leaky-secret-123",'
    with pytest.raises(SecretFormatError) as info:
        parse_db_credentials(text, secret_id="broken")
    assert "leaky-secret-123" not in str(info.value)
    assert "leaky-secret-123" not in repr(info.value)


def test_repr_and_str_hide_the_password() -> None:
    creds = parse_db_credentials(
        {"engine": "postgres", "host": "h", "username": "u", "password": "hidden-pw-77"}
    )
    assert "hidden-pw-77" not in repr(creds)
    assert "hidden-pw-77" not in str(creds)
    assert str(creds) == "postgres://u:***@h"


def test_sqlalchemy_url_and_dbapi_kwargs() -> None:
    creds = parse_db_credentials(
        {
            "engine": "mysql",
            "host": "h",
            "port": 3307,
            "username": "u@x",
            "password": PASSWORD,
            "dbname": "d",
        }
    )
    url = creds.sqlalchemy_url()
    assert url.drivername == "mysql+pymysql"
    assert url.password == PASSWORD and url.username == "u@x"
    assert PASSWORD not in repr(url)
    kwargs = creds.dbapi_kwargs("pymysql")
    assert kwargs == {
        "host": "h",
        "port": 3307,
        "user": "u@x",
        "password": PASSWORD,
        "database": "d",
    }


def test_missing_host_is_reported_when_rendering() -> None:
    creds = parse_db_credentials({"username": "u", "password": "x"}, secret_id="rds!db-1")
    with pytest.raises(SecretFormatError) as info:
        creds.dbapi_kwargs("psycopg2")
    assert info.value.field == "host"


# -- one alias table, conflicts, one per-driver kwargs table -----------------------------
@pytest.mark.parametrize(
    ("secret", "keys"),
    [
        ({"user": "alice", "username": "bob", "password": "p"}, ("user", "username")),
        (
            {"username": "a", "password": "p", "dbname": "x", "database": "y"},
            ("database", "dbname"),
        ),
        ({"username": "a", "password": "p", "host": "h1", "hostname": "h2"}, ("host", "hostname")),
        (
            {"username": "a", "password": "p", "conn_type": "mysql", "engine": "postgres"},
            ("conn_type", "engine"),
        ),
    ],
)
def test_conflicting_aliases_name_both_keys(secret: dict[str, Any], keys: tuple[str, str]) -> None:
    with pytest.raises(SecretFormatError) as raised:
        parse_db_credentials(secret, secret_id="s")
    assert all(repr(k) in str(raised.value) for k in keys)
    assert "alice" not in str(raised.value) and "bob" not in str(raised.value)


def test_equal_aliases_are_not_a_conflict() -> None:
    creds = parse_db_credentials(
        {
            "user": "a",
            "username": "a",
            "password": "p",
            "port": 5432,
            "engine": "postgresql",
            "conn_type": "postgres",
            "ssl": True,
            "sslmode": "require",
        },
        secret_id="s",
    )
    assert (creds.username, creds.port, creds.engine, creds.ssl_mode) == (
        "a",
        5432,
        "postgres",
        "require",
    )


def test_backend_reads_the_core_alias_table() -> None:
    from pipeline_secrets.credentials import FIELD_ALIASES

    assert FIELD_ALIASES["username"].provider == ("login", "user", "username", "user_name")
    assert FIELD_ALIASES["dbname"].provider == ("database", "schema")
    assert "dbname" in FIELD_ALIASES["dbname"].ours


@pytest.mark.parametrize(
    ("driver", "expected"),
    [
        ("pymysql", {"ssl": {"ca": "/ca.pem"}, "ssl_verify_identity": True}),
        (
            "mysql.connector",
            {"ssl_ca": "/ca.pem", "ssl_disabled": False, "ssl_verify_identity": True},
        ),
        ("MySQLdb", {"ssl": {"ca": "/ca.pem"}}),
    ],
)
def test_mysql_ca_from_sslrootcert_on_every_driver(driver: str, expected: dict[str, Any]) -> None:
    creds = parse_db_credentials(
        {
            "engine": "mysql",
            "host": "h",
            "username": "a",
            "password": "p",
            "ssl_mode": "VERIFY_IDENTITY",
            "sslrootcert": "/ca.pem",
            "charset": "utf8mb4",
        },
        secret_id="s",
    )
    kwargs = creds.dbapi_kwargs(driver)
    for key, value in expected.items():
        assert kwargs[key] == value
    assert kwargs["charset"] == "utf8mb4"

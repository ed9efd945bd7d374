"""to_jdbc: URL formats and driver classes as the vendors document them."""

from __future__ import annotations

import pytest

from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.jdbc import to_jdbc


@pytest.fixture(autouse=True)
def _no_flavor_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests start from the default flavor, whatever an earlier (Spark) test set."""
    monkeypatch.delenv("PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR", raising=False)


def creds(engine: str, **extra: object):  # type: ignore[no-untyped-def]
    return parse_db_credentials(
        {"engine": engine, "host": "db.host", "username": "etl", "password": "jdbc-pw-1", **extra}
    )


@pytest.mark.parametrize(
    ("engine", "url", "driver"),
    [
        ("postgres", "jdbc:postgresql://db.host:5432/sales", "org.postgresql.Driver"),
        ("aurora-postgresql", "jdbc:postgresql://db.host:5432/sales", "org.postgresql.Driver"),
        ("redshift", "jdbc:redshift://db.host:5439/sales", "com.amazon.redshift.jdbc42.Driver"),
        ("mysql", "jdbc:mysql://db.host:3306/sales", "com.mysql.cj.jdbc.Driver"),
        ("mariadb", "jdbc:mysql://db.host:3306/sales", "com.mysql.cj.jdbc.Driver"),
        ("oracle", "jdbc:oracle:thin:@//db.host:1521/sales", "oracle.jdbc.OracleDriver"),
        (
            "sqlserver",
            "jdbc:sqlserver://db.host:1433;databaseName=sales",
            "com.microsoft.sqlserver.jdbc.SQLServerDriver",
        ),
    ],
)
def test_url_and_driver(engine: str, url: str, driver: str) -> None:
    target = to_jdbc(creds(engine, dbname="sales"))
    assert (target.url, target.driver) == (url, driver)
    assert target.java_properties()["user"] == "etl"
    assert "jdbc-pw-1" not in repr(target)


def test_default_databases() -> None:
    assert to_jdbc(creds("postgres")).url.endswith(":5432/postgres")
    assert to_jdbc(creds("redshift")).url.endswith(":5439/dev")


def test_mariadb_connector_flavors() -> None:
    as_mysql = to_jdbc(creds("mariadb", dbname="d"), flavor="mariadb-as-mysql")
    assert as_mysql.driver == "org.mariadb.jdbc.Driver"
    assert as_mysql.url.startswith("jdbc:mysql://")
    native = to_jdbc(creds("mariadb", dbname="d"), flavor="mariadb-connector")
    assert native.url.startswith("jdbc:mariadb://")


@pytest.mark.parametrize(
    ("engine", "ssl", "key", "value"),
    [
        ("postgres", "verify-full", "sslmode", "verify-full"),
        ("mysql", True, "sslMode", "REQUIRED"),
        ("sqlserver", True, "encrypt", "true"),
        ("redshift", "require", "ssl", "true"),
    ],
)
def test_ssl_is_carried(engine: str, ssl: object, key: str, value: str) -> None:
    assert to_jdbc(creds(engine, ssl=ssl)).properties[key] == value


def test_mariadb_flavor_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core reads PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR: every caller renders alike."""
    monkeypatch.setenv("PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR", "mariadb-as-mysql")
    assert to_jdbc(creds("mariadb", dbname="d")).driver == "org.mariadb.jdbc.Driver"
    assert (
        to_jdbc(creds("mariadb", dbname="d"), flavor="mysql").driver == "com.mysql.cj.jdbc.Driver"
    )
    assert to_jdbc(creds("mysql", dbname="d")).driver == "com.mysql.cj.jdbc.Driver"  # MariaDB only


def test_permit_mysql_scheme_rides_in_the_url() -> None:
    """MariaDB Connector/J 3.x reads permitMysqlScheme from the URL only."""
    target = to_jdbc(creds("mariadb", dbname="d", ssl="require"), flavor="mariadb-as-mysql")
    assert target.url == "jdbc:mysql://db.host:3306/d?permitMysqlScheme"
    assert "permitMysqlScheme" not in target.java_properties()
    assert target.properties == {"sslMode": "trust"}


@pytest.mark.parametrize(
    ("engine", "flavor", "ssl", "url"),
    [
        ("postgres", None, "verify-full", "jdbc:postgresql://db.host:5432/d?sslmode=verify-full"),
        ("mysql", None, True, "jdbc:mysql://db.host:3306/d?sslMode=REQUIRED"),
        (
            "mariadb",
            "mariadb-as-mysql",
            "require",
            "jdbc:mysql://db.host:3306/d?permitMysqlScheme&sslMode=trust",
        ),
        (
            "sqlserver",
            None,
            True,
            "jdbc:sqlserver://db.host:1433;databaseName=d;encrypt=true;trustServerCertificate=true",
        ),
        ("postgres", None, None, "jdbc:postgresql://db.host:5432/d"),
    ],
)
def test_url_with_properties(engine: str, flavor: str | None, ssl: object, url: str) -> None:
    """For clients that take no separate properties (Glue's connection_options)."""
    extra = {} if ssl is None else {"ssl": ssl}
    target = to_jdbc(creds(engine, dbname="d", **extra), flavor=flavor)
    assert target.url_with_properties() == url

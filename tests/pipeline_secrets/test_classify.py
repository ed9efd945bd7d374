"""The classifier against the drivers' own exceptions, raised by really failing."""

from __future__ import annotations

import pytest

from devstack.ports import free_port
from pipeline_secrets.classify import FailureKind, classify_failure


def fail(connect):  # type: ignore[no-untyped-def]
    try:
        connect().close()
    except Exception as exc:
        return exc
    raise AssertionError("the connection unexpectedly succeeded")


def test_psycopg2_wrong_password_and_refused(pg_user, pg_cluster) -> None:  # type: ignore[no-untyped-def]
    import psycopg2

    u = pg_user()
    bad = fail(
        lambda: psycopg2.connect(
            host=u["host"],
            port=u["port"],
            user=u["username"],
            password="wrong-password",
            dbname=u["dbname"],
        )
    )
    assert classify_failure(bad) is FailureKind.AUTHENTICATION
    down = fail(
        lambda: psycopg2.connect(
            host="127.0.0.1", port=free_port(), user="x", password="y", connect_timeout=2
        )
    )
    assert classify_failure(down) is FailureKind.NETWORK


def test_psycopg3_wrong_password(pg_user) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    u = pg_user()
    bad = fail(
        lambda: psycopg.connect(
            host=u["host"],
            port=u["port"],
            user=u["username"],
            password="wrong-password",
            dbname=u["dbname"],
        )
    )
    assert classify_failure(bad) is FailureKind.AUTHENTICATION


def test_unknown_user_is_authentication(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    import psycopg2

    bad = fail(
        lambda: psycopg2.connect(
            host=pg_cluster.host,
            port=pg_cluster.port,
            user="nobody_here",
            password="x",
            dbname="postgres",
        )
    )
    assert classify_failure(bad) is FailureKind.AUTHENTICATION


def test_pymysql_wrong_password_and_refused(maria_user) -> None:  # type: ignore[no-untyped-def]
    import pymysql

    u = maria_user()
    bad = fail(
        lambda: pymysql.connect(
            host=u["host"],
            port=u["port"],
            user=u["username"],
            password="wrong-password",
            database=u["dbname"],
        )
    )
    assert bad.args[0] == 1045
    assert classify_failure(bad) is FailureKind.AUTHENTICATION
    down = fail(
        lambda: pymysql.connect(
            host="127.0.0.1", port=free_port(), user="x", password="y", connect_timeout=2
        )
    )
    assert classify_failure(down) is FailureKind.NETWORK


def test_mysql_no_access_to_a_database_is_not_a_login_failure(maria_user) -> None:  # type: ignore[no-untyped-def]
    """1044: the password was right, a grant is missing; new credentials cannot help."""
    import pymysql
    import sqlalchemy

    u = maria_user()
    other = maria_user()  # a database this user was never granted
    denied = fail(
        lambda: pymysql.connect(
            host=u["host"],
            port=u["port"],
            user=u["username"],
            password=u["password"],
            database=other["dbname"],
        )
    )
    assert denied.args[0] == 1044
    assert classify_failure(denied) is FailureKind.OTHER
    url = sqlalchemy.engine.URL.create(
        "mysql+pymysql",
        username=u["username"],
        password=u["password"],
        host=u["host"],
        port=u["port"],
        database=other["dbname"],
    )
    wrapped = fail(lambda: sqlalchemy.create_engine(url).connect())
    assert classify_failure(wrapped) is FailureKind.OTHER  # the message text alone too


def test_sqlalchemy_wraps_the_driver_error(pg_user) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from pipeline_secrets.credentials import parse_db_credentials

    u = pg_user()
    creds = parse_db_credentials({**u, "password": "wrong-password"})
    engine = sa.create_engine(creds.sqlalchemy_url(), poolclass=sa.pool.NullPool)
    with pytest.raises(sa.exc.OperationalError) as info:
        engine.connect()
    assert classify_failure(info.value) is FailureKind.AUTHENTICATION


def test_cause_chain_is_walked() -> None:
    import pymysql

    try:
        try:
            raise pymysql.err.OperationalError(1045, "Access denied")
        except Exception as inner:
            raise RuntimeError("task failed") from inner
    except RuntimeError as outer:
        assert classify_failure(outer) is FailureKind.AUTHENTICATION


def test_codes_of_other_drivers() -> None:
    class RedshiftError(Exception):
        pass

    assert classify_failure(RedshiftError({"S": "FATAL", "C": "28000", "M": "x"})) is (
        FailureKind.AUTHENTICATION
    )
    assert classify_failure(RedshiftError({"S": "ERROR", "C": "42P01", "M": "x"})) is (
        FailureKind.OTHER
    )

    class PyodbcError(Exception):
        pass

    err = PyodbcError("28000", "[28000] Login failed for user 'etl'. (18456)")
    assert classify_failure(err) is FailureKind.AUTHENTICATION


def test_java_error_text_from_spark() -> None:
    text = (
        "An error occurred while calling o51.load.\n: org.postgresql.util.PSQLException: "
        'FATAL: password authentication failed for user "etl"\n\tat org.postgresql...'
    )
    assert classify_failure(Exception(text)) is FailureKind.AUTHENTICATION
    net = "java.net.ConnectException: Connection refused\n\tat java.base/sun.nio..."
    assert classify_failure(Exception(net)) is FailureKind.NETWORK


def test_ordinary_errors_are_other() -> None:
    assert classify_failure(ValueError("division by zero")) is FailureKind.OTHER
    assert classify_failure(Exception('relation "orders" does not exist')) is FailureKind.OTHER

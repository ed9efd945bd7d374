"""Fixtures for glue_lib: one local Spark session for the whole test run, databases
with a secret each, and a hand-driven rotation."""

from __future__ import annotations

import logging
import os
import secrets as pysecrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline_secrets import configure
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.reconnect import ReconnectPolicy
from tests.glue_lib.rotation import Rotation

# py4j logs at INFO from __del__ at interpreter exit, after pytest closed its streams.
logging.getLogger("py4j").setLevel(logging.WARNING)

JARS = ["/usr/share/java/postgresql.jar", "/usr/share/java/mariadb-java-client.jar"]


@pytest.fixture(scope="session")
def spark(moto_server: Any) -> Iterator[Any]:
    pyspark = pytest.importorskip("pyspark")
    del pyspark
    from pyspark.sql import SparkSession

    env = moto_server.env()
    os.environ.update(env)  # python workers inherit the driver's environment
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # Debian ships MariaDB Connector/J, not MySQL's: jdbc:mysql: URL, MariaDB driver.
    os.environ["PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR"] = "mariadb-as-mysql"
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("glue_lib-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.jars", ",".join(j for j in JARS if os.path.exists(j)))
        .config("spark.driver.memory", "1g")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.python.worker.reuse", "true")
    )
    for key, value in env.items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _fresh_core(moto: Any) -> Iterator[None]:
    """A fresh driver-side cache per test, pointed at the (reset) moto server."""
    configure(
        client_settings=ClientSettings.create(endpoint_url=moto.endpoint_url),
        reconnect_policy=ReconnectPolicy(budget_seconds=20.0, initial_backoff_seconds=0.1),
    )
    yield


@dataclass
class Db:
    """A database user with a secret, and admin access to check results."""

    engine: str
    secret_id: str
    creds: dict[str, Any]
    query: Callable[[str], list[tuple[Any, ...]]]
    execute: Callable[[str], None]
    rotation: Rotation

    def table(self, name: str) -> str:
        return name


def _pg_db(pg_cluster: Any, pg_user: Any) -> tuple[dict[str, Any], Any, Any, Any]:
    creds = pg_user()

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = pg_cluster.connect(creds["dbname"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def execute(sql: str) -> None:
        pg_cluster.admin_sql(sql, dbname=creds["dbname"])
        pg_cluster.admin_sql(
            f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{creds["username"]}"',
            dbname=creds["dbname"],
        )

    def set_password(user: str, password: str) -> None:
        pg_cluster.create_user(user, password)

    return creds, query, execute, set_password


def _maria_db(mariadb_server: Any, maria_user: Any) -> tuple[dict[str, Any], Any, Any, Any]:
    creds = maria_user()

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = mariadb_server.connect(database=creds["dbname"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def execute(sql: str) -> None:
        conn = mariadb_server.connect(database=creds["dbname"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def set_password(user: str, password: str) -> None:
        mariadb_server.admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))

    return creds, query, execute, set_password


@pytest.fixture(params=["postgres", "mariadb"])
def db(request: pytest.FixtureRequest, moto: Any, put_secret: Any, secret_value: Any) -> Db:
    if request.param == "postgres":
        creds, query, execute, set_password = _pg_db(
            request.getfixturevalue("pg_cluster"), request.getfixturevalue("pg_user")
        )
    else:
        creds, query, execute, set_password = _maria_db(
            request.getfixturevalue("mariadb_server"), request.getfixturevalue("maria_user")
        )
    secret_id = f"test/glue/{request.param}/{pysecrets.token_hex(4)}"
    put_secret(secret_id, creds)
    rotation = Rotation(moto.client(), secret_id, set_password, lambda: secret_value("rot"))
    return Db(request.param, secret_id, creds, query, execute, rotation)

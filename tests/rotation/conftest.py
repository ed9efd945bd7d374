"""Fixtures for rotation tests (copy them freely).

* ``sm``: a boto3 Secrets Manager client on the (reset) moto server.
* ``db_secret(engine, username=None, alternating=False)``: a real database user
  (PostgreSQL cluster for postgres/aurora-postgresql/redshift, MariaDB for
  mysql/aurora-mysql/mariadb) and a rotation secret for it on moto; returns its name.
  Every password any version of it ever holds is registered with the leak guard when
  the test ends.
* ``can_login(secret_name, stage)``: whether the database accepts that version's
  credentials. ``stages(secret_name)``: stage -> version id.
"""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline_secrets.classify import is_authentication_failure
from pipeline_secrets.rotation.engines import engine_for
from pipeline_secrets.rotation.target import target_from_secret

PG_ENGINES = {"postgres", "aurora-postgresql", "redshift"}
MYSQL_ENGINES = {"mysql", "aurora-mysql", "mariadb"}


@pytest.fixture(autouse=True)
def _no_leaks_in_call_logs(
    request: pytest.FixtureRequest, leak_registry: Any, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """The shared leak guard reads ``caplog.text`` at teardown, which holds only the
    teardown phase's records; this one checks the setup and call phases' records (and
    their tracebacks), after ``db_secret`` registered every generated password."""
    yield
    if request.node.get_closest_marker("allow_secret_output"):
        return
    formatter = logging.Formatter()
    texts = []
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            texts.append(record.getMessage())
            if record.exc_info:
                texts.append(formatter.formatException(record.exc_info))
    leak_registry.assert_clean({"setup/call logs": "\n".join(texts)})


@pytest.fixture
def sm(moto: Any) -> Any:
    return moto.client()


def all_passwords(client: Any, name: str) -> list[str]:
    found = []
    for version in client.describe_secret(SecretId=name).get("VersionIdsToStages", {}):
        try:
            text = client.get_secret_value(SecretId=name, VersionId=version)["SecretString"]
        except Exception:
            continue
        password = json.loads(text).get("password")
        if isinstance(password, str):
            found.append(password)
    return found


def secret_dict(client: Any, name: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    return dict(
        json.loads(client.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])
    )


@pytest.fixture
def stages(sm: Any) -> Callable[[str], dict[str, str]]:
    def get(name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for version, labels in sm.describe_secret(SecretId=name)["VersionIdsToStages"].items():
            for label in labels:
                assert label not in out, f"{label} on two versions"
                out[label] = version
        return out

    return get


@pytest.fixture
def master_secrets(
    sm: Any, pg_cluster: Any, mariadb_server: Any, leak_registry: Any
) -> Iterator[Callable[[str], str]]:
    """``master_secrets(engine)``: the name of a master secret able to manage users."""
    made: dict[str, str] = {}
    maria_users: list[str] = []

    def get(engine: str) -> str:
        family = "pg" if engine in PG_ENGINES else "my"
        if family in made:
            return made[family]
        if family == "pg":
            value = {
                "engine": "postgres",
                "host": pg_cluster.host,
                "port": pg_cluster.port,
                "username": pg_cluster.admin_user,
                "password": pg_cluster.admin_password,
                "dbname": "postgres",
                "ssl": False,  # a local server without TLS (see rotation/tls.py)
            }
        else:
            user = f"rotmaster_{pysecrets.token_hex(3)}"
            password = "Mst-" + pysecrets.token_urlsafe(16)
            mariadb_server.admin_sql(
                "CREATE OR REPLACE USER %s@'%%' IDENTIFIED BY %s", (user, password)
            )
            mariadb_server.admin_sql(
                "GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (user,)
            )
            maria_users.append(user)
            value = {
                "engine": "mariadb",
                "host": mariadb_server.host,
                "port": mariadb_server.port,
                "username": user,
                "password": password,
                "ssl": False,
            }
        leak_registry.register(value["password"])
        name = f"master/{family}-{pysecrets.token_hex(3)}"
        sm.create_secret(Name=name, SecretString=json.dumps(value))
        made[family] = name
        return name

    yield get
    for user in maria_users:
        mariadb_server.drop_user(user)


@pytest.fixture
def db_secret(
    sm: Any,
    pg_user: Any,
    maria_user: Any,
    pg_cluster: Any,
    mariadb_server: Any,
    master_secrets: Callable[[str], str],
    leak_registry: Any,
) -> Iterator[Callable[..., str]]:
    created: list[tuple[str, str, str]] = []  # (secret, engine, username)

    def make(
        engine: str = "postgres",
        username: str | None = None,
        *,
        alternating: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> str:
        if engine in PG_ENGINES:
            value = pg_user(username)
        elif engine in MYSQL_ENGINES:
            value = maria_user(username)
        else:
            raise ValueError(engine)
        value["engine"] = engine
        if alternating:
            value["masterarn"] = sm.describe_secret(SecretId=master_secrets(engine))["ARN"]
        value.update(extra or {})
        leak_registry.register(value["password"])
        name = f"db/{engine}-{pysecrets.token_hex(4)}"
        sm.create_secret(Name=name, SecretString=json.dumps(value))
        created.append((name, engine, value["username"]))
        return name

    yield make
    for name, engine, user in created:
        for password in all_passwords(sm, name):
            leak_registry.register(password)
        clone = user + "_clone"
        if engine in MYSQL_ENGINES:
            mariadb_server.drop_user(clone)
        else:
            _drop_pg_role(pg_cluster, clone)


def _drop_pg_role(cluster: Any, role: str) -> None:
    from psycopg2 import sql

    conn = cluster.connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone():
                cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    finally:
        conn.close()


@pytest.fixture
def can_login(sm: Any) -> Callable[..., bool]:
    def check(name: str, stage: str = "AWSCURRENT") -> bool:
        value = secret_dict(sm, name, stage)
        target = target_from_secret(value, name, stage)
        try:
            conn = engine_for(target.engine).connect(target)
        except Exception as exc:
            if is_authentication_failure(exc):
                return False
            raise
        conn.close()
        return True

    return check

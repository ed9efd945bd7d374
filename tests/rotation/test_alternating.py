from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline_secrets.rotation import rotate_secret
from tests.rotation.conftest import secret_dict


def _pg_table(pg_cluster: Any, value: dict[str, Any]) -> None:
    conn = pg_cluster.connect(value["dbname"], value["username"], value["password"])
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE facts (n int)")
            cur.execute("INSERT INTO facts VALUES (42)")
        conn.commit()
    finally:
        conn.close()


def _pg_read(pg_cluster: Any, value: dict[str, Any]) -> int:
    conn = pg_cluster.connect(value["dbname"], value["username"], value["password"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT n FROM facts")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres", "aurora-postgresql"])
@pytest.mark.parametrize("username", [None, "Alt\"Er'Nate"])
def test_alternating_postgres(
    engine: str,
    username: str | None,
    sm: Any,
    db_secret: Any,
    pg_cluster: Any,
    stages: Any,
    can_login: Any,
) -> None:
    name = db_secret(engine, username, alternating=True)
    first = secret_dict(sm, name)
    _pg_table(pg_cluster, first)

    r1 = rotate_secret(name, client=sm)
    assert r1.finished and r1.strategy == "alternating"
    clone = secret_dict(sm, name)
    assert clone["username"] == first["username"] + "_clone"
    assert clone["masterarn"] == first["masterarn"]
    assert _pg_read(pg_cluster, clone) == 42  # the clone has the user's privileges
    assert can_login(name, "AWSPREVIOUS")  # the old user still works until next time

    r2 = rotate_secret(name, client=sm)
    back = secret_dict(sm, name)
    assert back["username"] == first["username"]
    assert back["password"] != first["password"]
    assert _pg_read(pg_cluster, back) == 42
    assert can_login(name) and can_login(name, "AWSPREVIOUS")
    assert stages(name) == {"AWSCURRENT": r2.token, "AWSPREVIOUS": r1.token}


@pytest.mark.postgres
def test_alternating_redshift_standin_copies_groups(
    sm: Any, db_secret: Any, pg_cluster: Any, can_login: Any
) -> None:
    name = db_secret("redshift", alternating=True)
    user = secret_dict(sm, name)["username"]
    group = f"g_{user}"
    pg_cluster.admin_sql(f'CREATE GROUP "{group}"')
    pg_cluster.admin_sql(f'ALTER GROUP "{group}" ADD USER "{user}"')
    try:
        rotate_secret(name, client=sm)
        clone = secret_dict(sm, name)["username"]
        conn = pg_cluster.connect()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT u.usename FROM pg_group g JOIN pg_user u ON u.usesysid = ANY(g.grolist) "
                "WHERE g.groname = %s ORDER BY 1",
                (group,),
            )
            members = [r[0] for r in cur.fetchall()]
        conn.close()
        assert members == sorted([user, clone])
        assert can_login(name) and can_login(name, "AWSPREVIOUS")
        rotate_secret(name, client=sm)  # back to the first user: an update, not a create
        assert can_login(name) and can_login(name, "AWSPREVIOUS")
    finally:
        pg_cluster.admin_sql(f'DROP GROUP "{group}"')


@pytest.mark.slow  # several full rotations
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["mariadb", "mysql", "aurora-mysql"])
def test_alternating_mysql_family(
    engine: str, sm: Any, db_secret: Any, mariadb_server: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret(engine, "Al\"t'M" if engine == "mysql" else None, alternating=True)
    first = secret_dict(sm, name)
    conn = mariadb_server.connect(first["username"], first["password"], first["dbname"])
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE facts (n int)")
        cur.execute("INSERT INTO facts VALUES (7)")
    conn.close()

    for round_ in range(3):
        result = rotate_secret(name, client=sm)
        value = secret_dict(sm, name)
        expected = first["username"] + ("_clone" if round_ % 2 == 0 else "")
        assert value["username"] == expected
        conn = mariadb_server.connect(value["username"], value["password"], value["dbname"])
        with conn.cursor() as cur:
            cur.execute("SELECT n FROM facts")
            assert cur.fetchone()[0] == 7
            cur.execute("INSERT INTO facts VALUES (8)")  # ALL PRIVILEGES copied
        conn.close()
        assert can_login(name, "AWSPREVIOUS")
        assert stages(name)["AWSCURRENT"] == result.token


@pytest.mark.postgres
def test_rds_managed_master_secret_with_only_username_and_password(
    sm: Any,
    db_secret: Any,
    pg_cluster: Any,
    put_secret: Any,
    can_login: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A master secret like RDS's ``rds!db-...``: username and password only. Its
    endpoint comes from the runner's configuration (never from the user's secret)."""
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_MASTER_HOST", pg_cluster.host)
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_MASTER_PORT", str(pg_cluster.port))
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_MASTER_SSL", "disable")  # local server
    name = db_secret("postgres")
    master = put_secret(
        "rds!db-0123", {"username": pg_cluster.admin_user, "password": pg_cluster.admin_password}
    )
    value = secret_dict(sm, name)
    sm.put_secret_value(
        SecretId=name, SecretString=json.dumps({**value, "masterarn": master["ARN"]})
    )
    result = rotate_secret(name, client=sm)
    assert result.strategy == "alternating"
    assert secret_dict(sm, name)["username"] == value["username"] + "_clone"
    assert can_login(name)


@pytest.mark.mariadb
def test_rerun_repairs_a_clone_created_without_its_privileges(
    sm: Any, db_secret: Any, mariadb_server: Any
) -> None:
    """A crash inside setSecret: the clone exists with the pending password, no grants."""
    name = db_secret("mariadb", alternating=True)
    first = secret_dict(sm, name)
    conn = mariadb_server.connect(first["username"], first["password"], first["dbname"])
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE facts (n int)")
    conn.close()
    # Without a dbname in the secret, the clone can log in before it has any grant.
    sm.put_secret_value(
        SecretId=name, SecretString=json.dumps({k: v for k, v in first.items() if k != "dbname"})
    )
    result = rotate_secret(name, client=sm, stop_after="createSecret")
    pending = secret_dict(sm, name, "AWSPENDING")
    mariadb_server.admin_sql(
        "CREATE USER %s@'%%' IDENTIFIED BY %s", (pending["username"], pending["password"])
    )
    rotate_secret(name, client=sm, token=result.token)
    conn = mariadb_server.connect(pending["username"], pending["password"], first["dbname"])
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM facts")
        assert cur.fetchone()[0] == 0
    conn.close()

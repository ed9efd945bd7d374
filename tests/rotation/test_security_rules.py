"""The rules behind the refusals of issue 12: privileged or master template users, the
master's endpoint (configuration, then RDS), TLS floors, grant classification."""

from __future__ import annotations

import json
import secrets as pysecrets
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_secrets.rotation import RotationConfigError, rotate_secret
from pipeline_secrets.rotation.engines.mysql import (
    NO_CLEARTEXT_MYSQL_PLUGINS,
    MariaDBEngine,
    grant_problem,
)
from pipeline_secrets.rotation.engines.postgres import PostgresEngine
from pipeline_secrets.rotation.master import (
    MasterEndpointError,
    master_connection_value,
)
from pipeline_secrets.rotation.store import SecretStore, default_client
from pipeline_secrets.rotation.target import target_from_secret
from pipeline_secrets.rotation.tls import tls_policy
from tests.rotation.conftest import secret_dict


def _exists(cluster_or_server: Any, engine: str, user: str) -> bool:
    if engine == "mariadb":
        conn = cluster_or_server.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM mysql.user WHERE User = %s", (user,))
            found = cur.fetchone() is not None
        conn.close()
        return found
    conn = cluster_or_server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
        found = cur.fetchone() is not None
    conn.close()
    return found


# -- privileged template users --------------------------------------------------------
@pytest.fixture
def su_role(pg_cluster: Any) -> Iterator[str]:
    role = f"su_{pysecrets.token_hex(3)}"
    pg_cluster.admin_sql(f'CREATE ROLE "{role}" SUPERUSER NOLOGIN')
    yield role
    pg_cluster.admin_sql(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["createrole", "member_of_superuser", "admin_option"])
def test_postgres_privileged_template_user_is_refused(
    how: str, sm: Any, db_secret: Any, pg_cluster: Any, su_role: str, stages: Any
) -> None:
    name = db_secret("postgres", alternating=True)
    user = secret_dict(sm, name)["username"]
    if how == "createrole":
        pg_cluster.admin_sql(f'ALTER ROLE "{user}" CREATEROLE')
        expected = "has CREATEROLE"
    elif how == "member_of_superuser":
        pg_cluster.admin_sql(f'GRANT "{su_role}" TO "{user}"')
        expected = f"is a superuser through role '{su_role}'"
    else:
        pg_cluster.admin_sql(f'GRANT "{su_role}" TO "{user}" WITH ADMIN OPTION')
        expected = "ADMIN OPTION"
    before = stages(name)["AWSCURRENT"]
    try:
        with pytest.raises(RotationConfigError, match="must not be privileged") as info:
            rotate_secret(name, client=sm)
        assert expected in str(info.value) and user in str(info.value)
        assert not _exists(pg_cluster, "postgres", user + "_clone")
        assert stages(name)["AWSCURRENT"] == before
    finally:
        pg_cluster.admin_sql(f'ALTER ROLE "{user}" NOCREATEROLE')
        pg_cluster.admin_sql(f'REVOKE "{su_role}" FROM "{user}"')


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        ("GRANT PROCESS ON *.* TO %s@'%%'", "global privileges"),
        ("GRANT SELECT ON mysql.* TO %s@'%%'", "mysql schema"),
        ("GRANT SELECT ON `{db}`.* TO %s@'%%' WITH GRANT OPTION", "GRANT OPTION"),
    ],
)
def test_mariadb_privileged_template_user_is_refused(
    grant: str, expected: str, sm: Any, db_secret: Any, mariadb_server: Any
) -> None:
    name = db_secret("mariadb", alternating=True)
    value = secret_dict(sm, name)
    mariadb_server.admin_sql(grant.replace("{db}", value["dbname"]), (value["username"],))
    with pytest.raises(RotationConfigError, match="must not be privileged") as info:
        rotate_secret(name, client=sm)
    assert expected in str(info.value)
    assert not _exists(mariadb_server, "mariadb", value["username"] + "_clone")


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_a_secret_naming_the_master_user_itself_is_refused(
    engine: str, sm: Any, db_secret: Any, pg_cluster: Any, mariadb_server: Any
) -> None:
    """Even with the master's real password (so the login proof succeeds)."""
    name = db_secret(engine, alternating=True)
    value = secret_dict(sm, name)
    master = secret_dict(sm, value["masterarn"])
    sm.put_secret_value(
        SecretId=name,
        SecretString=json.dumps(
            {**value, "username": master["username"], "password": master["password"]}
        ),
    )
    with pytest.raises(RotationConfigError, match="master user itself"):
        rotate_secret(name, client=sm)
    server = mariadb_server if engine == "mariadb" else pg_cluster
    assert not _exists(server, engine, master["username"] + "_clone")


@pytest.mark.postgres
def test_a_reused_pending_value_on_another_host_is_refused_at_create(
    sm: Any, db_secret: Any
) -> None:
    name = db_secret("postgres")
    value = secret_dict(sm, name)
    sm.put_secret_value(
        SecretId=name,
        ClientRequestToken="b" * 32,
        SecretString=json.dumps({**value, "host": "elsewhere.example"}),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(RotationConfigError, match=r"createSecret.*another host"):
        rotate_secret(name, client=sm)


@pytest.mark.slow  # several full rotations
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_alternating_five_rotations_in_a_row(
    engine: str, sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret(engine, alternating=True)
    first = secret_dict(sm, name)["username"]
    for round_ in range(5):
        previous = stages(name)["AWSCURRENT"]
        result = rotate_secret(name, client=sm)
        assert result.finished and result.strategy == "alternating"
        now = stages(name)
        assert now["AWSCURRENT"] == result.token and now["AWSPREVIOUS"] == previous
        expected = first + ("_clone" if round_ % 2 == 0 else "")
        assert secret_dict(sm, name)["username"] == expected
        assert can_login(name) and can_login(name, "AWSPREVIOUS")


# -- the master's endpoint ------------------------------------------------------------
@pytest.fixture
def rds(moto: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", moto.endpoint_url)
    return default_client(region_name="us-east-1", service="rds")


def _rds_clients(region: str | None) -> Any:
    return default_client(region_name=region, service="rds")


def _tagged_master(sm: Any, tag: str, arn: str) -> SecretStore:
    created = sm.create_secret(
        Name=f"rds!x-{pysecrets.token_hex(3)}",
        SecretString=json.dumps({"username": "admin", "password": "Adm-" + pysecrets.token_hex(8)}),
        Tags=[{"Key": tag, "Value": arn}],
    )
    return SecretStore(sm, created["ARN"])


def test_master_endpoint_from_the_rds_instance_tag(sm: Any, rds: Any) -> None:
    db = rds.create_db_instance(
        DBInstanceIdentifier="app-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="unused-12345678",
        AllocatedStorage=20,
    )["DBInstance"]
    store = _tagged_master(sm, "aws:rds:primaryDBInstanceArn", db["DBInstanceArn"])
    value = master_connection_value(store.get_dict("AWSCURRENT"), store, _rds_clients, {})
    assert value["host"] == db["Endpoint"]["Address"] and value["port"] == 5432
    assert value["engine"] == "postgres" and value["username"] == "admin"
    # Configuration wins over RDS.
    configured = master_connection_value(
        store.get_dict("AWSCURRENT"),
        store,
        _rds_clients,
        {
            "PIPELINE_SECRETS_ROTATION_MASTER_HOST": "10.0.0.5",
            "PIPELINE_SECRETS_ROTATION_MASTER_PORT": "6543",
        },
    )
    assert (configured["host"], configured["port"]) == ("10.0.0.5", "6543")


def test_master_endpoint_from_the_rds_cluster_tag(sm: Any, rds: Any) -> None:
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="app-cluster",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="unused-12345678",
    )["DBCluster"]
    store = _tagged_master(sm, "aws:rds:primaryDBClusterArn", cluster["DBClusterArn"])
    value = master_connection_value(store.get_dict("AWSCURRENT"), store, _rds_clients, {})
    assert value["host"] == cluster["Endpoint"] and int(value["port"]) == 5432
    assert value["engine"] == "aurora-postgresql"


def test_master_without_host_tag_or_configuration_is_a_clear_error(sm: Any) -> None:
    created = sm.create_secret(Name="rds!bare", SecretString='{"username": "a", "password": "b"}')
    store = SecretStore(sm, created["ARN"])
    with pytest.raises(MasterEndpointError, match=r"no host.*tag.*MASTER_HOST"):
        master_connection_value(store.get_dict("AWSCURRENT"), store, _rds_clients, {})


@pytest.mark.postgres
def test_user_secret_on_another_host_than_the_rds_master_is_refused(
    sm: Any, rds: Any, db_secret: Any, pg_cluster: Any, stages: Any
) -> None:
    db = rds.create_db_instance(
        DBInstanceIdentifier=f"db-{pysecrets.token_hex(3)}",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="postgres",
        MasterUserPassword="unused-12345678",
        AllocatedStorage=20,
    )["DBInstance"]
    store = _tagged_master(sm, "aws:rds:primaryDBInstanceArn", db["DBInstanceArn"])
    name = db_secret("postgres")
    value = secret_dict(sm, name)
    sm.put_secret_value(
        SecretId=name, SecretString=json.dumps({**value, "masterarn": store.secret_id})
    )
    with pytest.raises(RotationConfigError, match="another host than its master secret"):
        rotate_secret(name, client=sm)
    assert not _exists(pg_cluster, "postgres", value["username"] + "_clone")


# -- TLS floors -----------------------------------------------------------------------
def test_tls_policy_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_SECRETS_ROTATION_MASTER_SSL", raising=False)
    aws = "app.abc123.eu-west-1.rds.amazonaws.com"
    assert tls_policy({"ssl": False}, host=aws).mode == "verify-full"
    assert tls_policy({"ssl": "require"}, host="c.x.us-east-1.redshift.amazonaws.com").mode == (
        "verify-full"
    )
    assert tls_policy({"ssl": "verify-ca"}, host=aws).mode == "verify-ca"
    assert tls_policy({}, host="db.internal").mode == "auto"
    assert tls_policy({"ssl": False}, host="db.internal").mode == "disable"
    # The master: verified TLS unless its own secret or the configuration says otherwise.
    assert tls_policy({}, host="db.internal", master=True).mode == "verify-full"
    assert tls_policy({"ssl": "auto"}, host="db.internal", master=True).mode == "verify-full"
    assert tls_policy({"ssl": False}, host="db.internal", master=True).mode == "disable"
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_MASTER_SSL", "disable")
    assert tls_policy({}, host="db.internal", master=True).mode == "disable"
    assert tls_policy({}, host=aws, master=True).mode == "verify-full"


def test_postgres_refuses_cleartext_unless_the_server_is_proven() -> None:
    kwargs = PostgresEngine._tls_kwargs
    assert kwargs("disable", None)["require_auth"] == "!password"
    assert kwargs("prefer", None)["require_auth"] == "!password"
    assert kwargs("require", None)["require_auth"] == "!password"
    assert "require_auth" not in kwargs("verify-full", "/ca.pem")
    assert kwargs("verify-full", "/ca.pem")["sslrootcert"] == "/ca.pem"


def test_mysql_without_verified_tls_refuses_cleartext_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pymysql

    seen: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> Any:
        seen.append(kwargs)
        raise pymysql.err.OperationalError(2003, "stop here")

    monkeypatch.setattr(pymysql, "connect", fake_connect)
    for ssl in (False, "prefer", "require", "verify-full"):
        target = target_from_secret(
            {"engine": "mariadb", "host": "db", "username": "u", "password": "p", "ssl": ssl},
            "s",
            "current",
        )
        with pytest.raises(pymysql.err.OperationalError):
            MariaDBEngine().connect(target)
    maps = [k.get("auth_plugin_map") for k in seen]
    assert maps[:3] == [NO_CLEARTEXT_MYSQL_PLUGINS] * 3 and maps[3] is None
    assert set(NO_CLEARTEXT_MYSQL_PLUGINS) >= {"mysql_clear_password", "sha256_password"}


@pytest.mark.parametrize(
    ("grant", "problem"),
    [
        ("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*AB'", None),
        ("GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`", None),
        ("GRANT SELECT, INSERT ON `app`.`t` TO `u`@`%`", None),
        ("GRANT SUPER ON *.* TO `u`@`%`", "global privileges"),
        ("GRANT CREATE USER ON *.* TO 'u'@'%'", "global privileges"),
        ("GRANT ALL PRIVILEGES ON *.* TO `u`@`%` WITH GRANT OPTION", "GRANT OPTION"),
        ("GRANT SELECT ON `app`.* TO `u`@`%` WITH GRANT OPTION", "GRANT OPTION"),
        ("GRANT UPDATE ON `mysql`.`user` TO `u`@`%`", "mysql schema"),
        ("GRANT PROXY ON ''@'%' TO 'u'@'%'", "PROXY"),
        ("GRANT `dba` TO `u`@`%`", "role"),
        ("GRANT `dba` TO `u`@`%` WITH ADMIN OPTION", "GRANT OPTION"),
    ],
)
def test_grant_classification(grant: str, problem: str | None) -> None:
    found = grant_problem(grant)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_rotation_lambda_policy_allows_the_master_endpoint_lookups() -> None:
    from devstack.iam import PolicyDocument, secret_arn

    policy = PolicyDocument.load("rotation-lambda")
    master = secret_arn("rds!db-0123abcd", "eu-west-1")
    assert policy.allows("secretsmanager:GetSecretValue", master)
    assert policy.allows("secretsmanager:DescribeSecret", master)  # its aws:rds:* tags
    assert policy.allows("rds:DescribeDBInstances", "arn:aws:rds:eu-west-1:1:db:app")
    assert policy.allows("rds:DescribeDBClusters", "arn:aws:rds:eu-west-1:1:cluster:app")
    assert not policy.allows("secretsmanager:PutSecretValue", master)

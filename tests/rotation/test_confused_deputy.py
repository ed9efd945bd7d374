"""Attacks on the rotation functions (issue 12): a secret's content must never choose the
user, host or privileges the master acts on, nor get a password sent in clear text.

Each attack runs on PostgreSQL (the SCRAM cluster) and MariaDB, through the local
runner and through ``lambda_handler``. Every test was first run against the code before
the fix, where the attack worked (the test failed).
"""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline_secrets.rotation import (
    RotationConfigError,
    RotationError,
    lambda_handler,
    rotate_secret,
    run_step,
)
from pipeline_secrets.rotation.handler import reset_client
from tests.rotation.conftest import MYSQL_ENGINES, all_passwords, secret_dict
from tests.rotation.fake_servers import capture_server
from tests.rotation.test_checks import enable_rotation

ENGINES = ["postgres", "mariadb"]
VIA = ["local", "lambda"]
STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


@pytest.fixture(autouse=True)
def _fresh_lambda_client(moto: Any) -> Iterator[None]:
    reset_client()
    yield
    reset_client()


def rotate_via(via: str, sm: Any, name: str) -> None:
    """One rotation, by the local runner or as Secrets Manager drives the Lambda
    (resuming an existing AWSPENDING version, else standing in for the service's
    empty pending version with a local createSecret)."""
    if via == "local":
        rotate_secret(name, client=sm)
        return
    versions = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    token = next(
        (v for v, s in versions.items() if "AWSPENDING" in s and "AWSCURRENT" not in s), None
    )
    if token is None:
        token = str(uuid.uuid4())
        run_step("createSecret", name, token, client=sm)
    for step in STEPS:
        lambda_handler({"SecretId": name, "ClientRequestToken": token, "Step": step}, None)


def _attempt(via: str, sm: Any, name: str) -> bool:
    """Run a rotation that should be refused; whether it was (a RotationError)."""
    try:
        rotate_via(via, sm, name)
    except RotationError:
        return True
    return False


def logs_in(engine: str, host: str, port: int, user: str, password: str, db: str | None) -> bool:
    if engine in MYSQL_ENGINES:
        import pymysql

        try:
            pymysql.connect(
                host=host, port=port, user=user, password=password, database=db, connect_timeout=5
            ).close()
        except pymysql.err.OperationalError as exc:
            if exc.args[0] in (1045, 1044, 1698):
                return False
            raise
        return True
    import psycopg2

    try:
        psycopg2.connect(
            host=host, port=port, user=user, password=password, dbname=db or "postgres"
        ).close()
    except psycopg2.OperationalError as exc:
        if "password authentication failed" in str(exc):
            return False
        raise
    return True


def user_exists(engine: str, user: str, pg_cluster: Any, mariadb_server: Any) -> bool:
    if engine in MYSQL_ENGINES:
        conn = mariadb_server.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM mysql.user WHERE User = %s", (user,))
            found = cur.fetchone() is not None
        conn.close()
        return found
    conn = pg_cluster.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
        found = cur.fetchone() is not None
    conn.close()
    return found


@pytest.fixture
def attacker_password(leak_registry: Any) -> str:
    value = "Atk-" + pysecrets.token_urlsafe(12)
    leak_registry.register(value)
    return value


# -- 1. Alternating users: the pending value names another role ------------------------
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("victim_kind", ["user", "master"])
def test_attack1_pending_value_naming_another_role_is_refused(
    engine: str,
    via: str,
    victim_kind: str,
    sm: Any,
    db_secret: Any,
    stages: Any,
    attacker_password: str,
    pg_cluster: Any,
    mariadb_server: Any,
) -> None:
    name = db_secret(engine, alternating=True)
    if via == "lambda":
        enable_rotation(sm, name)
    current = secret_dict(sm, name)
    if victim_kind == "user":
        victim = secret_dict(sm, db_secret(engine))
    else:
        victim = secret_dict(sm, current["masterarn"])
    before = stages(name)["AWSCURRENT"]
    # Someone allowed only PutSecretValue on this secret plants a pending version.
    sm.put_secret_value(
        SecretId=name,
        ClientRequestToken=str(uuid.uuid4()),
        SecretString=json.dumps(
            {**current, "username": victim["username"], "password": attacker_password}
        ),
        VersionStages=["AWSPENDING"],
    )
    host, port = current["host"], int(current["port"])
    try:
        with pytest.raises(RotationConfigError, match="alternate"):
            rotate_via(via, sm, name)
        assert not logs_in(engine, host, port, victim["username"], attacker_password, None)
        assert logs_in(engine, host, port, victim["username"], victim["password"], None)
        assert stages(name)["AWSCURRENT"] == before
    finally:  # on the old code the victim's password changed: put it back
        if logs_in(engine, host, port, victim["username"], attacker_password, None):
            if engine in MYSQL_ENGINES:
                mariadb_server.admin_sql(
                    "SET PASSWORD FOR %s@'%%' = PASSWORD(%s)",
                    (victim["username"], victim["password"]),
                )
            else:
                import psycopg2

                conn = psycopg2.connect(
                    host=host,
                    port=port,
                    user=victim["username"],
                    password=attacker_password,
                    dbname="postgres",
                )
                conn.autocommit = True
                from psycopg2 import sql

                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD %s").format(
                            sql.Identifier(victim["username"])
                        ),
                        (victim["password"],),
                    )
                conn.close()


# -- 2. Alternating users: the current value names another role ------------------------
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("engine", ENGINES)
def test_attack2_current_value_naming_another_role_is_refused(
    engine: str,
    via: str,
    sm: Any,
    db_secret: Any,
    attacker_password: str,
    pg_cluster: Any,
    mariadb_server: Any,
    leak_registry: Any,
) -> None:
    name = db_secret(engine, alternating=True)
    if via == "lambda":
        enable_rotation(sm, name)
    current = secret_dict(sm, name)
    victim_name = db_secret(engine)
    victim = secret_dict(sm, victim_name)
    if engine in MYSQL_ENGINES:  # an admin: the clone would copy its global grants
        mariadb_server.admin_sql(
            "GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (victim["username"],)
        )
    # A new AWSCURRENT naming the victim (its password is unknown to the attacker).
    sm.put_secret_value(
        SecretId=name,
        SecretString=json.dumps(
            {**current, "username": victim["username"], "password": attacker_password}
        ),
    )
    with pytest.raises(RotationError, match="current or previous"):
        rotate_via(via, sm, name)
    clone = victim["username"] + "_clone"
    try:
        assert not user_exists(engine, clone, pg_cluster, mariadb_server)
        written = secret_dict(sm, name)
        assert written["username"] == victim["username"]
        assert written["password"] == attacker_password  # nothing new was written
    finally:
        for password in all_passwords(sm, name):
            leak_registry.register(password)
        if engine in MYSQL_ENGINES:
            mariadb_server.drop_user(clone)
        else:
            pg_cluster.admin_sql(f'DROP ROLE IF EXISTS "{clone}"')


# -- 3. RDS-managed master secret: the endpoint came from the user's secret ------------
@pytest.fixture
def rds_master(sm: Any, moto: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict, str], str]:
    """``rds_master(credentials, engine)``: an ``rds!db-...`` master secret (username and
    password only) tagged with a moto RDS instance, as RDS creates it. Its ARN."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", moto.endpoint_url)
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=moto.endpoint_url)

    def make(creds: dict[str, Any], engine: str) -> str:
        ident = f"db-{pysecrets.token_hex(4)}"
        instance = rds.create_db_instance(
            DBInstanceIdentifier=ident,
            Engine=engine,
            DBInstanceClass="db.t3.micro",
            MasterUsername=creds["username"],
            MasterUserPassword="unused-" + pysecrets.token_hex(8),
            AllocatedStorage=20,
            **({"EngineVersion": "10.11.6"} if engine == "mariadb" else {}),
        )["DBInstance"]
        created = sm.create_secret(
            Name=f"rds!{ident}-{pysecrets.token_hex(3)}",
            SecretString=json.dumps({"username": creds["username"], "password": creds["password"]}),
            Tags=[{"Key": "aws:rds:primaryDBInstanceArn", "Value": instance["DBInstanceArn"]}],
        )
        return str(created["ARN"])

    return make


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("engine", ENGINES)
def test_attack3_master_password_never_goes_to_a_host_of_the_users_secret(
    engine: str,
    via: str,
    sm: Any,
    db_secret: Any,
    master_secrets: Any,
    rds_master: Any,
) -> None:
    name = db_secret(engine)
    if via == "lambda":
        enable_rotation(sm, name)
    master_creds = secret_dict(sm, master_secrets(engine))
    master_arn = rds_master(master_creds, engine)
    current = secret_dict(sm, name)
    protocol = "mysql" if engine in MYSQL_ENGINES else "postgres"
    with capture_server(protocol) as server:
        # Whoever may write the user's secret points it at a server of their own.
        sm.put_secret_value(
            SecretId=name,
            SecretString=json.dumps(
                {
                    **current,
                    "masterarn": master_arn,
                    "host": server.host,
                    "port": server.port,
                    "ssl": False,
                }
            ),
        )
        refused = _attempt(via, sm, name)
    assert master_creds["password"] not in server.passwords
    assert master_creds["username"] not in server.users
    assert refused, "the rotation finished against a server the attacker chose"


# -- 4. TLS downgrade: cleartext passwords to a server that refuses TLS ---------------
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("engine", ENGINES)
def test_attack4_no_cleartext_password_after_a_refused_tls(
    engine: str, via: str, sm: Any, db_secret: Any
) -> None:
    name = db_secret(engine)
    if via == "lambda":
        enable_rotation(sm, name)
    current = secret_dict(sm, name)
    protocol = "mysql" if engine in MYSQL_ENGINES else "postgres"
    with capture_server(protocol) as server:
        # No "ssl" key: the default. The server (or a man in the middle) refuses TLS
        # and asks for the password in clear text.
        sm.put_secret_value(
            SecretId=name,
            SecretString=json.dumps({**current, "host": server.host, "port": server.port}),
        )
        refused = _attempt(via, sm, name)
    assert server.users, "the rotation never reached the server: the test proves nothing"
    assert server.passwords == []
    assert refused


# -- 5. Passwords in botocore's DEBUG wire logs ----------------------------------------
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize(("engine", "alternating"), [("postgres", False), ("mariadb", True)])
def test_attack5_debug_logging_rotation_logs_no_password(
    engine: str,
    alternating: bool,
    via: str,
    sm: Any,
    db_secret: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline_secrets import logfilter

    logfilter.uninstall()  # a fresh process: nothing installed it yet
    monkeypatch.setenv("PIPELINE_SECRETS_LOG_LEVEL", "DEBUG")
    name = db_secret(engine, alternating=alternating)
    if via == "lambda":
        enable_rotation(sm, name)
    master = secret_dict(sm, secret_dict(sm, name)["masterarn"]) if alternating else None
    caplog.set_level(logging.DEBUG)  # root: botocore, urllib3, ours
    for noisy in ("botocore", "urllib3"):  # whatever an earlier test or Airflow set
        caplog.set_level(logging.DEBUG, logger=noisy)
        monkeypatch.setattr(logging.getLogger(noisy), "propagate", True)
    monkeypatch.setattr(logging.root.manager, "disable", logging.NOTSET)
    try:
        rotate_via(via, sm, name)
    finally:
        logging.getLogger("pipeline_secrets").setLevel(logging.NOTSET)
    passwords = all_passwords(sm, name) + ([master["password"]] if master else [])
    assert len(passwords) >= 2
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "botocore" in {r.name.split(".")[0] for r in caplog.records}, "no wire logs"
    leaked = [i for i, p in enumerate(passwords) if p in text]
    assert leaked == [], f"{len(leaked)} password(s) in the DEBUG logs"


# -- 6. Rough edges: binary non-UTF-8 secrets, configuration problems -----------------
def test_binary_non_utf8_secret_is_a_clear_error(sm: Any, moto: Any) -> None:
    sm.create_secret(Name="bin/db", SecretBinary=b"\xff\xfe\x00garbage")
    with pytest.raises(RotationConfigError, match=r"'bin/db'.*SecretBinary.*UTF-8"):
        rotate_secret("bin/db", client=sm)
    token = str(uuid.uuid4())
    with pytest.raises(RotationConfigError, match="UTF-8"):
        run_step("createSecret", "bin/db", token, client=sm)


def test_missing_region_is_a_clear_error_at_the_first_step(
    monkeypatch: pytest.MonkeyPatch, moto: Any
) -> None:
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "PIPELINE_SECRETS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(RotationConfigError, match="region"):
        rotate_secret("any/secret")
    with pytest.raises(RotationConfigError, match="region"):
        lambda_handler({"SecretId": "any", "ClientRequestToken": "t", "Step": "createSecret"}, None)


def test_missing_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, moto: Any) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(RotationConfigError, match="credentials"):
        rotate_secret("any/secret")


def test_unreachable_endpoint_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from devstack.ports import free_port
    from pipeline_secrets.tools.cli import main

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PIPELINE_SECRETS_ENDPOINT_URL", url)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    with pytest.raises(RotationError, match=r"start of secret 'any/secret'.*unreachable"):
        rotate_secret("any/secret")
    assert main(["rotate", "any/secret", "--endpoint-url", url]) == 1
    err = capsys.readouterr().err
    assert "unreachable" in err and "Traceback" not in err

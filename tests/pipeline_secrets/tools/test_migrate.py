"""Migrating Airflow connections and variables into Secrets Manager (moto)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipeline_secrets import ClientSettings, SecretsManagerSource
from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.tools.migrate import (
    MigrationInputError,
    Targets,
    connection_from_uri,
    items_from_connections_file,
    items_from_env,
    items_from_variables_file,
    migrate,
)

TARGETS = Targets()


def source_for(moto: Any) -> SecretsManagerSource:
    return SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))


def test_uri_parsing_follows_airflow() -> None:
    conn = connection_from_uri(
        "postgresql://app:p%40ss%2Fw%3Ard@db.internal:5433/dw?sslmode=require&application_name=x",
        "x",
    )
    assert conn == {
        "conn_type": "postgres",
        "login": "app",
        "password": "p@ss/w:rd",
        "host": "db.internal",
        "port": 5433,
        "schema": "dw",
        "extra": {"sslmode": "require", "application_name": "x"},
    }
    assert connection_from_uri("http://h?timeout=5&verify=false&name=", "h")["extra"] == {
        "timeout": 5,
        "verify": False,
        "name": "",
    }
    extra = quote(json.dumps({"region_name": "eu-west-1"}))
    assert connection_from_uri(f"aws://?__extra__={extra}", "a") == {
        "conn_type": "aws",
        "extra": {"region_name": "eu-west-1"},
    }
    with pytest.raises(MigrationInputError, match="'bad'") as info:
        connection_from_uri("postgres://u:secret-pw-77@h:notaport/db", "bad")
    assert "secret-pw-77" not in str(info.value)


def test_env_and_files_to_secrets(
    moto: Any, secret_value: Any, tmp_path: Path, leak_registry: Any
) -> None:
    pg_pw, file_pw, var = secret_value("pg"), secret_value("file"), secret_value("var")
    env = {
        "AIRFLOW_CONN_WAREHOUSE": f"postgres://etl:{quote(pg_pw, safe='')}@wh:5432/dw",
        "AIRFLOW_CONN_API": json.dumps(
            {"conn_type": "http", "host": "api.internal", "extra": {"timeout": 5}}
        ),
        "AIRFLOW_VAR_API_TOKEN": var,
        "PATH": "/usr/bin",
    }
    export = tmp_path / "connections.json"
    export.write_text(
        json.dumps(
            {
                "orders_db": {
                    "conn_type": "mysql",
                    "description": None,
                    "host": "orders",
                    "login": "app",
                    "password": file_pw,
                    "schema": "shop",
                    "port": 3306,
                    "extra": json.dumps({"charset": "utf8mb4"}),
                }
            }
        )
    )
    variables = tmp_path / "variables.json"
    variables.write_text(json.dumps({"batch_size": 500, "region": "eu-west-1"}))
    items = (
        items_from_env(env, TARGETS)
        + items_from_connections_file(export, TARGETS)
        + items_from_variables_file(variables, TARGETS)
    )
    names = [i.secret_name for i in items]
    assert names == [
        "airflow/connections/api",
        "airflow/connections/warehouse",
        "airflow/variables/api_token",
        "airflow/connections/orders_db",
        "airflow/variables/batch_size",
        "airflow/variables/region",
    ]
    for item in items:
        assert pg_pw not in repr(item) and pg_pw not in item.summary

    source = source_for(moto)
    dry = migrate(items, source)
    assert {o.action for o in dry} == {"would-create"}
    assert list(source.list_secrets("airflow/")) == []  # a dry run writes nothing

    done = migrate(items, source, apply=True)
    assert {o.action for o in done} == {"create"}
    client = moto.client()

    def read(name: str) -> str:
        return str(
            client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
        )

    warehouse = json.loads(read("airflow/connections/warehouse"))
    assert warehouse == {
        "conn_type": "postgres",
        "host": "wh",
        "login": "etl",
        "password": pg_pw,
        "port": 5432,
        "schema": "dw",
    }
    creds = parse_db_credentials(read("airflow/connections/warehouse"))  # what backends read
    assert (creds.engine, creds.username, creds.password, creds.dbname) == (
        "postgres",
        "etl",
        pg_pw,
        "dw",
    )
    orders = json.loads(read("airflow/connections/orders_db"))
    assert orders["extra"] == {"charset": "utf8mb4"} and orders["password"] == file_pw
    assert read("airflow/variables/api_token") == var
    assert read("airflow/variables/batch_size") == "500"
    tags = client.describe_secret(SecretId="airflow/variables/region")["Tags"]
    assert {"Key": "managed-by", "Value": "pipeline-secrets-migrate"} in tags

    again = migrate(items, source, apply=True)
    assert {o.action for o in again} == {"skip-exists"}
    assert not any(o.ok for o in again)
    assert {o.action for o in migrate(items, source, apply=True, force=True)} == {"unchanged"}

    new_pw = secret_value("new")
    env["AIRFLOW_CONN_WAREHOUSE"] = f"postgres://etl:{quote(new_pw, safe='')}@wh:5432/dw"
    changed = items_from_env({"AIRFLOW_CONN_WAREHOUSE": env["AIRFLOW_CONN_WAREHOUSE"]}, TARGETS)
    assert [o.action for o in migrate(changed, source, force=True)] == ["would-update"]
    assert json.loads(read("airflow/connections/warehouse"))["password"] == pg_pw
    assert [o.action for o in migrate(changed, source, apply=True, force=True)] == ["update"]
    assert json.loads(read("airflow/connections/warehouse"))["password"] == new_pw
    text = "\n".join(o.format() for o in done + again)
    assert leak_registry.find(text) == []


_COMPARE = """
import json, sys
from airflow.models.connection import Connection
data = json.load(sys.stdin)
original = Connection(conn_id="wh", uri=data["uri"])
restored = Connection.from_json(data["payload"], conn_id="wh")
same = {name: getattr(restored, name) == getattr(original, name)
        for name in ("conn_type", "host", "login", "password", "schema", "port")}
# Airflow 3 JSON-decodes URI query values ("5" -> 5); Airflow 2 keeps them as text.
def text(d): return {k: str(v) for k, v in d.items()}
same["extra"] = text(restored.extra_dejson) == text(original.extra_dejson)
print(json.dumps(same))
"""


@pytest.mark.airflow
def test_payload_reads_back_as_the_same_airflow_connection(secret_value: Any) -> None:
    """Airflow's own Connection parses the URI and our payload to the same fields.
    (In a child process: importing Airflow reconfigures logging for the whole session.)"""
    if importlib.util.find_spec("airflow") is None:
        pytest.skip("Airflow is not installed")
    password = secret_value("af")
    uri = f"postgres://etl:{quote(password, safe='')}@wh:5432/dw?sslmode=require&connect_timeout=5"
    (item,) = items_from_env({"AIRFLOW_CONN_WH": uri}, TARGETS)
    proc = subprocess.run(
        [sys.executable, "-c", _COMPARE],
        input=json.dumps({"uri": uri, "payload": item.payload}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    same = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(same.values()), same

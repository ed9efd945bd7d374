"""Issue #16's attacks on migrate, against a moto server: echoed input lines, --force
replacing secrets migrate did not create (rotation on, AWSPENDING), conflicting
duplicates, and what the report says about the replaced version."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipeline_secrets.tools.cli import main

TAG = {"Key": "managed-by", "Value": "pipeline-secrets-migrate"}
RDS_JSON = {"engine": "postgres", "host": "orders.internal", "username": "app"}


def aws(moto: Any) -> list[str]:
    return ["--endpoint-url", moto.endpoint_url, "--region", "us-east-1"]


def current(moto: Any, name: str) -> str:
    value = moto.client().get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return str(value["SecretString"])


@pytest.mark.parametrize("apply", [False, True])
def test_env_file_line_without_conn_id_is_not_echoed(
    moto: Any, secret_value: Any, tmp_path: Path, capsys: Any, apply: bool
) -> None:
    password = secret_value("envline", special=False)
    export = tmp_path / "connections.env"
    export.write_text(f"postgres://app:{password}@db:5432/x?sslmode=require\n")
    args = ["migrate", *aws(moto), "--connections-file", str(export)]
    assert main([*args, *(["--apply"] if apply else [])]) == 2
    out, err = capsys.readouterr()
    assert password not in out + err
    assert "postgres://" not in out + err and "app:" not in out + err
    assert f"{export}:1" in err


def test_force_does_not_replace_a_secret_migrate_did_not_create(
    moto: Any, secret_value: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = {**RDS_JSON, "password": secret_value("rds-old")}
    moto.client().create_secret(Name="airflow/connections/orders", SecretString=json.dumps(old))
    new_pw = secret_value("new")
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS", f"postgres://app:{quote(new_pw, safe='')}@db/x")
    assert main(["migrate", *aws(moto), "--apply", "--force"]) == 1
    out, _ = capsys.readouterr()
    assert "skip-unmanaged" in out and "--force-unmanaged" in out
    assert json.loads(current(moto, "airflow/connections/orders")) == old
    assert main(["migrate", *aws(moto), "--apply", "--force", "--force-unmanaged"]) == 0
    out, _ = capsys.readouterr()
    described = moto.client().describe_secret(SecretId="airflow/connections/orders")
    stages = described["VersionIdsToStages"]
    previous = next(v for v, s in stages.items() if "AWSPREVIOUS" in s)
    assert f"replaced version {previous}" in out
    assert json.loads(current(moto, "airflow/connections/orders"))["password"] == new_pw


def test_never_replaces_a_rotating_or_pending_secret(
    moto: Any, secret_value: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = moto.client()
    for name in ("airflow/connections/rot", "airflow/connections/pend"):
        value = {**RDS_JSON, "password": secret_value("kept")}
        client.create_secret(Name=name, SecretString=json.dumps(value), Tags=[TAG])
    # moto turns rotation on even though it cannot find the Lambda
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.rotate_secret(
            SecretId="airflow/connections/rot",
            RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rotate",
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    assert client.describe_secret(SecretId="airflow/connections/rot")["RotationEnabled"]
    for version, labels in client.describe_secret(SecretId="airflow/connections/rot")[
        "VersionIdsToStages"
    ].items():
        if "AWSPENDING" in labels:
            client.update_secret_version_stage(
                SecretId="airflow/connections/rot",
                VersionStage="AWSPENDING",
                RemoveFromVersionId=version,
            )
    client.put_secret_value(
        SecretId="airflow/connections/pend",
        SecretString=json.dumps({**RDS_JSON, "password": secret_value("pending")}),
        VersionStages=["AWSPENDING"],
    )
    before = {n: current(moto, n) for n in ("airflow/connections/rot", "airflow/connections/pend")}
    for conn_id in ("ROT", "PEND"):
        password = quote(secret_value("x"), safe="")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", f"postgres://app:{password}@db/x")
    flags = ["--apply", "--force", "--force-unmanaged"]
    assert main(["migrate", *aws(moto), *flags]) == 1
    out, _ = capsys.readouterr()
    assert "skip-rotating" in out and "skip-pending" in out
    assert {n: current(moto, n) for n in before} == before


def test_conflicting_duplicates_rejected_before_any_write(
    moto: Any, secret_value: Any, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = secret_value("dup-a"), secret_value("dup-b")
    monkeypatch.setenv("AIRFLOW_CONN_FIRST", "postgres://app:pw1-first@db/x")
    monkeypatch.setenv("AIRFLOW_CONN_WH", f"postgres://etl:{quote(a, safe='')}@wh/dw")
    export = tmp_path / "conns.json"
    export.write_text(json.dumps({"wh": {"conn_type": "postgres", "host": "wh", "password": b}}))
    args = ["migrate", *aws(moto), "--from-env", "--connections-file", str(export), "--apply"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "airflow/connections/wh" in err and "env AIRFLOW_CONN_WH" in err
    assert moto.client().list_secrets()["SecretList"] == []  # not even FIRST was written
    # The same connection from two sources is one item.
    export.write_text(json.dumps({"wh": f"postgres://etl:{quote(a, safe='')}@wh/dw"}))
    assert main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(o["secret_name"] for o in report["outcomes"]) == [
        "airflow/connections/first",
        "airflow/connections/wh",
    ]
    assert report["summary"]["create"] == 2 and report["schema_version"] == 1


def test_invalid_conn_ids_rejected_without_echo(moto: Any, capsys: Any, tmp_path: Path) -> None:
    export = tmp_path / "conns.json"
    export.write_text(json.dumps({"bad id with spaces?*": "postgres://u:pw-x9@h/d"}))
    assert main(["migrate", *aws(moto), "--connections-file", str(export)]) == 2
    err = capsys.readouterr().err
    assert "not a valid Airflow conn id" in err and "spaces" not in err

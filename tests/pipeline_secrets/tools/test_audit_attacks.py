"""Issue #16's findings on audit, against a moto server: a rotation done by our own
runner (stage moves, no RotateSecret) shows as a rotation; the age rule applies with
rotation off; a normal deployment (Variables, API tokens, databases) passes the default
policy except where a database is not rotated; per-prefix/tag policies and exclusions."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline_secrets import ClientSettings, SecretsManagerSource
from pipeline_secrets.tools.audit import AuditPolicy, audit_secrets
from pipeline_secrets.tools.cli import main

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rotate"


def source_for(moto: Any) -> SecretsManagerSource:
    return SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))


def rotate_like_our_runner(client: Any, name: str, value: str) -> str:
    """What pipeline_secrets.rotation's local runner does: PutSecretValue (AWSPENDING),
    then move AWSCURRENT onto it and drop AWSPENDING. No RotateSecret call."""
    current = next(
        v
        for v, s in client.describe_secret(SecretId=name)["VersionIdsToStages"].items()
        if "AWSCURRENT" in s
    )
    new = client.put_secret_value(SecretId=name, SecretString=value, VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=new, RemoveFromVersionId=current
    )
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=new
    )
    return str(new)


def enable_rotation(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.rotate_secret(
            SecretId=name,
            RotationLambdaARN=LAMBDA,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    for version, labels in client.describe_secret(SecretId=name)["VersionIdsToStages"].items():
        if "AWSPENDING" in labels:
            client.update_secret_version_stage(
                SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )


def test_a_rotation_by_our_runner_counts(moto: Any) -> None:
    client = moto.client()
    client.create_secret(Name="db/orders", SecretString='{"password": "a1-audit-x"}')
    client.create_secret(Name="db/fresh", SecretString='{"password": "a2-audit-x"}')
    rotate_like_our_runner(client, "db/orders", '{"password": "a3-audit-x"}')
    report = audit_secrets(source_for(moto), ["db/"], AuditPolicy(require_rotation=False))
    by_name = {s.name: s for s in report.secrets}
    assert by_name["db/orders"].last_rotated is not None
    assert by_name["db/fresh"].last_rotated is None  # created, never rotated
    assert "db/orders" in report.to_table() and "never" in report.to_table()


def test_age_rule_applies_with_rotation_off(moto: Any) -> None:
    client = moto.client()
    client.create_secret(Name="db/old", SecretString='{"password": "a4-audit-x"}')
    later = datetime.now(timezone.utc) + timedelta(days=120)
    policy = AuditPolicy(require_rotation=False, max_days_since_rotation=90)
    (old,) = audit_secrets(source_for(moto), ["db/old"], policy, now=later).secrets
    assert {f.rule for f in old.findings} == {"rotation-age"} and old.failed


def seed_deployment(client: Any) -> None:
    """A normal deployment: Variables, API tokens, rotated databases, one that is not."""
    for key in ("batch_size", "region", "mode", "slack_channel", "feature_flags", "owner"):
        client.create_secret(Name=f"airflow/variables/{key}", SecretString="v")
    for name in ("airflow/connections/partner_api", "airflow/connections/slack_webhook"):
        client.create_secret(Name=name, SecretString='{"conn_type": "http", "password": "t"}')
    for name in ("airflow/connections/orders_db", "airflow/connections/redshift_warehouse"):
        client.create_secret(Name=name, SecretString='{"password": "a5-audit-x"}')
        enable_rotation(client, name)
    client.create_secret(Name="airflow/connections/legacy_mysql_db", SecretString="{}")
    client.create_secret(
        Name="airflow/variables/ui_theme",
        SecretString="dark",
        Tags=[{"Key": "audit", "Value": "skip"}],
    )


def test_default_policy_passes_a_normal_deployment(moto: Any) -> None:
    seed_deployment(moto.client())
    report = audit_secrets(source_for(moto), ["airflow/"])
    failing = sorted(s.name for s in report.secrets if s.failed)
    assert failing == ["airflow/connections/legacy_mysql_db"]
    kinds = {s.name: s.kind for s in report.secrets}
    assert kinds["airflow/variables/batch_size"] == "variable"
    assert kinds["airflow/connections/orders_db"] == "database"
    assert kinds["airflow/connections/partner_api"] == "api-token"


def test_policies_per_prefix_and_tag_with_exclusions(moto: Any, tmp_path: Any, capsys: Any) -> None:
    seed_deployment(moto.client())
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "exclude": ["airflow/connections/legacy_*", "tag:audit=skip"],
                "kinds": {"variable": {"max_days_since_rotation": 30}},
                "rules": [{"prefix": "airflow/connections/partner", "require_rotation": True}],
            }
        )
    )
    args = ["audit", "--endpoint-url", moto.endpoint_url, "--region", "us-east-1", "--quiet"]
    assert main([*args, "--prefix", "airflow/", "--policy", str(policy), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failing = sorted(s["name"] for s in report["secrets"] if s["failed"])
    assert failing == ["airflow/connections/partner_api"]
    assert sorted(report["excluded"]) == [
        "airflow/connections/legacy_mysql_db",
        "airflow/variables/ui_theme",
    ]
    later = tmp_path / "later.json"
    later.write_text(json.dumps({"exclude": ["airflow/connections/*"]}))
    assert main([*args, "--prefix", "airflow/", "--policy", str(later)]) == 0
    capsys.readouterr()

"""The compliance audit against moto: rotation, stuck AWSPENDING, replicas, policies."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets import ClientSettings, SecretsManagerSource
from pipeline_secrets.tools.audit import AuditPolicy, audit_secrets

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rotate"


def seed(moto: Any) -> None:
    """db/good: rotation on, replica, policy. db/stuck: a rotation that failed half-way.
    db/norotate: rotation off. other/x: outside the audited prefix."""
    client = moto.client()
    client.create_secret(
        Name="db/good",
        SecretString='{"password": "x1-audit"}',
        AddReplicaRegions=[{"Region": "eu-west-1"}],
    )
    client.put_resource_policy(
        SecretId="db/good", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    client.create_secret(Name="db/stuck", SecretString='{"password": "x2-audit"}')
    client.create_secret(Name="db/norotate", SecretString='{"password": "x3-audit"}')
    client.create_secret(Name="other/x", SecretString="v")
    for name in ("db/good", "db/stuck"):
        # moto enables rotation even though it cannot find the Lambda
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.rotate_secret(
                SecretId=name,
                RotationLambdaARN=LAMBDA,
                RotationRules={"AutomaticallyAfterDays": 30},
                RotateImmediately=False,
            )
    # db/good's rotation "finished": drop the AWSPENDING label moto left behind.
    for name in ("db/good",):
        stages = client.describe_secret(SecretId=name)["VersionIdsToStages"]
        for version, labels in stages.items():
            if "AWSPENDING" in labels:
                client.update_secret_version_stage(
                    SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=version
                )
    # db/stuck: createSecret ran, the rest never did.
    client.put_secret_value(
        SecretId="db/stuck", SecretString='{"password": "x4-audit"}', VersionStages=["AWSPENDING"]
    )


def source_for(moto: Any) -> SecretsManagerSource:
    return SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))


def test_audit_flags_what_the_policy_says(moto: Any) -> None:
    seed(moto)
    policy = AuditPolicy(
        pending_grace_minutes=0,
        require_replica_regions=("eu-west-1",),
        require_resource_policy=True,
    )
    seen: list[str] = []
    report = audit_secrets(
        source_for(moto),
        ["db/"],
        policy,
        progress=lambda i, n, name: seen.append(f"{i}/{n} {name}"),
    )
    by_name = {s.name: s for s in report.secrets}
    assert set(by_name) == {"db/good", "db/stuck", "db/norotate"}
    assert seen[-1].startswith("3/3")
    assert not by_name["db/good"].failed, by_name["db/good"].findings
    assert by_name["db/good"].replication[0]["Status"] == "InSync"
    assert by_name["db/good"].next_rotation is not None
    rules = {name: {f.rule for f in s.findings} for name, s in by_name.items()}
    assert "stuck-pending" in rules["db/stuck"]
    assert by_name["db/stuck"].pending_version is not None
    assert rules["db/norotate"] >= {"rotation-disabled", "replica-missing", "no-resource-policy"}
    assert report.failed
    text = report.to_table() + report.to_json()
    assert "STUCK" in report.to_table()
    for value in ("x1-audit", "x2-audit", "x3-audit", "x4-audit"):
        assert value not in text  # metadata only, never a value


def test_pending_within_grace_is_only_a_warning(moto: Any) -> None:
    seed(moto)
    report = audit_secrets(source_for(moto), ["db/stuck"], AuditPolicy())
    (stuck,) = report.secrets
    assert [f.rule for f in stuck.findings] == ["rotation-in-progress"]
    assert stuck.status == "WARN" and not report.failed
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    report = audit_secrets(source_for(moto), ["db/stuck"], AuditPolicy(), now=later)
    assert {f.rule for f in report.secrets[0].findings} == {"stuck-pending"}


def test_overdue_and_age_rules(moto: Any) -> None:
    seed(moto)
    far = datetime.now(timezone.utc) + timedelta(days=45)
    policy = AuditPolicy(max_days_since_rotation=40, warn_only=("rotation-age",))
    (good,) = audit_secrets(source_for(moto), ["db/good"], policy, now=far).secrets
    rules = {f.rule: f.severity for f in good.findings}
    assert rules == {"rotation-overdue": "fail", "rotation-age": "warn"}


def test_policy_files(tmp_path: Path) -> None:
    simple = tmp_path / "policy.conf"
    simple.write_text(
        "# audit policy\nrequire_rotation = false\n"
        "require-replica-regions = eu-west-1, us-west-2\n"
        "pending_grace_minutes: 5\nmax_days_since_rotation = none\n"
    )
    policy = AuditPolicy.from_file(simple)
    assert policy.require_rotation is False
    assert policy.require_replica_regions == ("eu-west-1", "us-west-2")
    assert policy.pending_grace_minutes == 5.0
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({"require_resource_policy": True, "warn_only": ["x"]}))
    assert AuditPolicy.from_file(as_json).warn_only == ("x",)
    bad = tmp_path / "bad.conf"
    bad.write_text("no_such_rule = 1\n")
    with pytest.raises(ValueError, match="no_such_rule"):
        AuditPolicy.from_file(bad)

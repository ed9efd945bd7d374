"""Least privilege: the calls each role's code makes are allowed by its policy in
docs/iam/, and the policies really are narrow (calls outside them are refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.iam import (
    POLICY_DIR,
    ApiCall,
    ApiCallRecorder,
    PolicyDocument,
    implied_calls,
    secret_arn,
)
from pipeline_secrets import ClientSettings, SecretCache, SecretsManagerSource
from pipeline_secrets.reconnect import Reconnector
from pipeline_secrets.tools.audit import AuditPolicy, audit_secrets
from pipeline_secrets.tools.migrate import Targets, items_from_env, migrate


def make_cache(moto: Any) -> SecretCache:
    return SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))


def test_policy_documents_are_valid() -> None:
    names = sorted(p.name for p in POLICY_DIR.glob("*.json"))
    assert names == [
        "airflow-backend.json",
        "audit.json",
        "glue-job.json",
        "migrate.json",
        "rotation-lambda.json",
    ]
    for name in names:
        document = json.loads((POLICY_DIR / name).read_text())
        assert document["Version"] == "2012-10-17"
        policy = PolicyDocument(document, name)
        for st in policy.statements:  # no wildcard actions, no secretsmanager:* anywhere
            assert all("*" not in a for a in st.actions), (name, st.actions)
            if any(
                a.startswith("secretsmanager:")
                and "Secret" in a
                and a not in {"secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"}
                for a in st.actions
            ):
                assert "*" not in st.resources, (name, st)


def test_airflow_backend_calls_are_allowed(moto: Any, put_secret: Any) -> None:
    for name in ("airflow/connections/warehouse", "airflow/variables/mode", "db/orders"):
        put_secret(name, {"username": "u", "password": "iam-test-pw"})
    recorder = ApiCallRecorder()
    with recorder.active():
        cache = make_cache(moto)
        cache.get("airflow/connections/warehouse")
        result = cache.prefetch(name_prefix="airflow/variables/")
        Reconnector(cache).credentials("db/orders")
    calls = recorder.calls + implied_calls(v.name for v in result.values.values())
    assert recorder.actions() == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue",
    }
    policy = PolicyDocument.load("airflow-backend")
    assert policy.denied(calls) == []
    # ... and it is narrow: other prefixes and write actions are refused.
    assert not policy.allows("secretsmanager:GetSecretValue", secret_arn("glue/x", "us-east-1"))
    assert not policy.allows(
        "secretsmanager:PutSecretValue", secret_arn("airflow/connections/x", "us-east-1")
    )


def test_glue_job_calls_are_allowed(moto: Any, put_secret: Any) -> None:
    put_secret("db/warehouse", {"username": "u", "password": "iam-test-pw"})
    put_secret("glue/settings", {"username": "u", "password": "iam-test-pw"})
    recorder = ApiCallRecorder()
    with recorder.active():
        cache = make_cache(moto)
        result = cache.prefetch(["db/warehouse", "glue/settings"])
        cache.get("db/warehouse", force_refresh=True)
    calls = recorder.calls + implied_calls(v.name for v in result.values.values())
    policy = PolicyDocument.load("glue-job")
    assert policy.denied(calls) == []
    denied = policy.denied(
        [
            ApiCall(
                "secretsmanager:GetSecretValue",
                (secret_arn("airflow/connections/x", "us-east-1"),),
                "us-east-1",
            )
        ]
    )
    assert len(denied) == 1


def test_audit_reads_metadata_only(moto: Any, put_secret: Any) -> None:
    put_secret("db/a", {"username": "u", "password": "iam-test-pw"})
    put_secret("airflow/connections/b", {"username": "u", "password": "iam-test-pw"})
    recorder = ApiCallRecorder()
    with recorder.active():
        source = SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))
        report = audit_secrets(source, ["db/", "airflow/"], AuditPolicy())
    assert len(report.secrets) == 2 and not report.errors
    assert "secretsmanager:GetSecretValue" not in recorder.actions()
    assert PolicyDocument.load("audit").denied(recorder.calls) == []


def test_migrate_calls_are_allowed(moto: Any, tmp_path: Path) -> None:
    env = {"AIRFLOW_CONN_X": "postgres://u:iam-migrate-pw@h/db", "AIRFLOW_VAR_Y": "v"}
    items = items_from_env(env, Targets())
    recorder = ApiCallRecorder()
    with recorder.active():
        source = SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))
        migrate(items, source, apply=True)
        migrate(items, source, apply=True, force=True)
    calls = recorder.calls + [
        ApiCall("secretsmanager:TagResource", c.resources, c.region)
        for c in recorder.calls
        if c.action.endswith("CreateSecret")
    ]
    assert PolicyDocument.load("migrate").denied(calls) == []


@pytest.mark.parametrize(
    "action",
    [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ],
)
def test_rotation_lambda_policy_covers_the_four_steps(action: str) -> None:
    """createSecret/setSecret/testSecret/finishSecret need these on the rotated secret;
    the lead wires the recorder into the rotation end-to-end tests."""
    policy = PolicyDocument.load("rotation-lambda")
    assert policy.allows(action, secret_arn("db/orders", "eu-west-1"))
    assert not policy.allows(action, secret_arn("airflow/connections/x", "eu-west-1"))
    assert policy.allows("secretsmanager:GetRandomPassword", "*")


def test_evaluator_deny_wins_and_wildcards() -> None:
    policy = PolicyDocument(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": "arn:aws:secretsmanager:*:*:secret:prod/*",
                },
            ]
        }
    )
    assert policy.allows("secretsmanager:GetSecretValue", secret_arn("dev/x", "us-east-1"))
    assert policy.allows("SecretsManager:getsecretvalue", secret_arn("dev/x", "us-east-1"))
    assert not policy.allows("secretsmanager:GetSecretValue", secret_arn("prod/x", "us-east-1"))
    assert not policy.allows("secretsmanager:ListSecrets")

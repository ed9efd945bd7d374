"""The counting moto server: exact counts across processes, and injected faults."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from devstack.moto_server import read_counts


def test_counts_calls_from_another_process(moto) -> None:  # type: ignore[no-untyped-def]
    moto.client().create_secret(Name="c/one", SecretString="count-me-value")
    code = (
        "import boto3; c = boto3.client('secretsmanager', region_name='us-east-1', "
        f"endpoint_url='{moto.endpoint_url}');"
        "[c.get_secret_value(SecretId='c/one', VersionStage='AWSCURRENT') for _ in range(3)]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)
    counts = read_counts(moto.endpoint_url)
    assert counts["GetSecretValue"] == 3
    assert counts["CreateSecret"] == 1
    assert read_counts(moto.endpoint_url, reset=True)["GetSecretValue"] == 3
    assert moto.calls == {}


def test_injected_fault(moto) -> None:  # type: ignore[no-untyped-def]
    client = moto.client()
    client.create_secret(Name="c/two", SecretString="fault-value-1")
    moto.set_fault(
        lambda op: (
            (400, {"__type": "ThrottlingException", "message": "slow down"})
            if op == "GetSecretValue"
            else None
        )
    )
    import boto3
    from botocore.config import Config

    raw = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=moto.endpoint_url,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    with pytest.raises(ClientError) as info:
        raw.get_secret_value(SecretId="c/two", VersionStage="AWSCURRENT")
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    moto.set_fault(None)
    assert raw.get_secret_value(SecretId="c/two")["SecretString"] == "fault-value-1"


def test_stage_moves_change_what_unstaged_and_batch_reads_return(moto) -> None:  # type: ignore[no-untyped-def]
    """On AWS, GetSecretValue without a stage and BatchGetSecretValue return AWSCURRENT.
    moto 5 returns its 'default version', which UpdateSecretVersionStage never moves: after
    a rotation, the agent's prefetch re-cached the rotated-away password (the multi-host
    run's faults then served it from the stale window). The devstack server fixes that."""
    client = moto.client()
    client.create_secret(Name="c/rotated", SecretString="stage-old-value")
    old = client.get_secret_value(SecretId="c/rotated")["VersionId"]
    new = client.put_secret_value(
        SecretId="c/rotated", SecretString="stage-new-value", VersionStages=["AWSPENDING"]
    )["VersionId"]
    client.update_secret_version_stage(
        SecretId="c/rotated", VersionStage="AWSCURRENT", MoveToVersionId=new,
        RemoveFromVersionId=old,
    )  # fmt: skip
    client.update_secret_version_stage(
        SecretId="c/rotated", VersionStage="AWSPENDING", RemoveFromVersionId=new
    )
    assert client.get_secret_value(SecretId="c/rotated")["VersionId"] == new
    by_id = client.batch_get_secret_value(SecretIdList=["c/rotated"])["SecretValues"]
    name_filter = [{"Key": "name", "Values": ["c/rotated"]}]
    by_filter = client.batch_get_secret_value(Filters=name_filter)["SecretValues"]
    assert [v["VersionId"] for v in by_id + by_filter] == [new, new]
    assert "AWSCURRENT" in by_id[0]["VersionStages"]

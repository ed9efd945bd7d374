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

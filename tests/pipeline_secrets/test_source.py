"""SecretsManagerSource against a real moto server."""

from __future__ import annotations

import pytest

from devstack.ports import free_port
from pipeline_secrets import (
    ClientSettings,
    SecretNotFoundError,
    SecretServiceUnavailableError,
    SecretsManagerSource,
)
from pipeline_secrets.errors import SecretDeletedError


def make_source(moto, **kwargs):  # type: ignore[no-untyped-def]
    return SecretsManagerSource(
        ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1", **kwargs)
    )


def test_get_by_name_arn_stage_and_version(moto, put_secret):  # type: ignore[no-untyped-def]
    first = put_secret("app/db", {"username": "a", "password": "first-password"})
    second = put_secret("app/db", {"username": "a", "password": "second-password"})
    source = make_source(moto)

    current = source.get_secret_value("app/db")
    assert current.version_id == second["VersionId"]
    assert "AWSCURRENT" in current.version_stages
    assert current.json()["password"] == "second-password"

    by_arn = source.get_secret_value(first["ARN"])
    assert by_arn.name == "app/db"
    assert by_arn.version_id == second["VersionId"]

    previous = source.get_secret_value("app/db", version_stage="AWSPREVIOUS")
    assert previous.version_id == first["VersionId"]
    by_version = source.get_secret_value("app/db", version_id=first["VersionId"])
    assert by_version.json()["password"] == "first-password"
    assert source.stats.api_calls("GetSecretValue") == 4


def test_binary_secret_and_repr_hides_value(moto, put_secret):  # type: ignore[no-untyped-def]
    put_secret("bin/one", b"\x00\x01binary-secret-bytes", binary=True)
    value = make_source(moto).get_secret_value("bin/one")
    assert value.is_binary
    assert value.secret_binary == b"\x00\x01binary-secret-bytes"
    assert "binary-secret" not in repr(value)
    assert "value=***" in str(value)


def test_not_found_and_deleted(moto, put_secret):  # type: ignore[no-untyped-def]
    source = make_source(moto)
    with pytest.raises(SecretNotFoundError) as info:
        source.get_secret_value("missing/one")
    assert "missing/one" in str(info.value)
    assert info.value.secret_id == "missing/one"

    put_secret("to/delete", "x-value-123")
    moto.client().delete_secret(SecretId="to/delete", RecoveryWindowInDays=7)
    with pytest.raises(SecretDeletedError):
        source.get_secret_value("to/delete")


def test_batch_get_paginates_and_reports_errors(moto, put_secret):  # type: ignore[no-untyped-def]
    names = [f"batch/s{i:02d}" for i in range(45)]
    for name in names:
        put_secret(name, f"value-of-{name}")
    source = make_source(moto)
    result = source.batch_get([*names, "batch/absent"])
    assert set(result.values) == set(names)
    assert result.values["batch/s07"].secret_string == "value-of-batch/s07"
    assert set(result.errors) == {"batch/absent"}
    assert isinstance(result.errors["batch/absent"], SecretNotFoundError)
    # 46 ids in chunks of 20: three calls.
    assert source.stats.api_calls("BatchGetSecretValue") == 3


def test_batch_get_by_prefix(moto, put_secret):  # type: ignore[no-untyped-def]
    for i in range(25):
        put_secret(f"airflow/connections/c{i}", f"postgres://u:p{i}-abcdef@h/db")
    put_secret("other/x", "not-included-value")
    result = make_source(moto).batch_get(name_prefix="airflow/connections/")
    assert len(result.values) == 25
    assert all(k.startswith("airflow/connections/") for k in result.values)


def test_fallback_region_on_outage(moto, put_secret):  # type: ignore[no-untyped-def]
    moto.client("us-west-2").create_secret(Name="replicated", SecretString="replica-value-1")
    dead = f"http://127.0.0.1:{free_port()}"
    settings = ClientSettings.create(
        region_name="us-east-1",
        fallback_regions=["us-west-2"],
        endpoint_urls_by_region={"us-east-1": dead, "us-west-2": moto.endpoint_url},
        botocore_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    value = SecretsManagerSource(settings).get_secret_value("replicated")
    assert value.secret_string == "replica-value-1"

    lone = ClientSettings.create(
        region_name="us-east-1",
        endpoint_url=dead,
        botocore_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    with pytest.raises(SecretServiceUnavailableError):
        SecretsManagerSource(lone).get_secret_value("replicated")


def test_not_found_does_not_fail_over(moto):  # type: ignore[no-untyped-def]
    settings = ClientSettings.create(
        region_name="us-east-1", endpoint_url=moto.endpoint_url, fallback_regions="us-west-2"
    )
    source = SecretsManagerSource(settings)
    with pytest.raises(SecretNotFoundError):
        source.get_secret_value("nowhere")
    assert source.stats.api_calls() == 1

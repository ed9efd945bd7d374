"""SecretsManagerHook against moto: values, stages, binary, JSON, credentials, masking."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from airflow_plugin.hooks.secrets_manager import SecretsManagerHook


def _redacted(text: str) -> str:
    from airflow.providers.common.compat.sdk import redact

    return str(redact(text))


def test_string_secret_is_returned_and_masked(
    core: Any, put_secret: Any, secret_value: Any
) -> None:
    value = secret_value("tok")
    put_secret("api/token", value)
    hook = SecretsManagerHook(aws_conn_id=None)
    assert hook.get_secret("api/token") == value
    assert value not in _redacted(f"token is {value}")


def test_binary_secret_comes_back_as_stored_bytes(core: Any, put_secret: Any) -> None:
    raw = b"\x00\x01binary\xff"
    put_secret("bin/key", raw, binary=True)
    # A base64 text stored as binary must not be decoded a second time.
    b64 = base64.b64encode(b"payload")
    put_secret("bin/b64", b64, binary=True)
    hook = SecretsManagerHook(aws_conn_id=None)
    assert hook.get_secret("bin/key") == raw
    assert hook.get_secret("bin/b64") == b64


def test_stages_and_version_ids(
    core: Any, put_secret: Any, sm_client: Any, secret_value: Any
) -> None:
    first, second = secret_value("v1"), secret_value("v2")
    created = put_secret("app/versioned", first)
    put_secret("app/versioned", second)
    hook = SecretsManagerHook(aws_conn_id=None)
    assert hook.get_secret("app/versioned") == second
    assert hook.get_secret("app/versioned", version_stage="AWSPREVIOUS") == first
    assert hook.get_secret("app/versioned", version_id=created["VersionId"]) == first


def test_json_and_db_credentials_are_masked(core: Any, put_secret: Any, pg_user: Any) -> None:
    user = {
        "engine": "postgres",
        "host": "db.internal",
        "port": "5432",
        "username": "app",
        "password": "S3cret-json-value",
        "dbname": "sales",
    }
    put_secret("app/db", user)
    hook = SecretsManagerHook(aws_conn_id=None)
    assert hook.get_secret_json("app/db")["dbname"] == "sales"
    creds = hook.get_db_credentials("app/db")
    assert (creds.host, creds.port, creds.username) == ("db.internal", 5432, "app")
    assert "S3cret-json-value" not in _redacted("password=S3cret-json-value")
    assert "S3cret-json-value" not in repr(creds)


def test_cache_serves_repeated_reads(core: Any, put_secret: Any) -> None:
    put_secret("app/cached", "value-1234")
    hook = SecretsManagerHook(aws_conn_id=None)
    for _ in range(5):
        hook.get_secret("app/cached")
    assert core.stats.api_calls("GetSecretValue") == 1


def test_aws_connection_settings(
    moto: Any, put_secret: Any, airflow_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_secret("app/elsewhere", "via-connection")
    # The environment no longer points at moto: only the connection does.
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    airflow_conn(
        "sm_test",
        conn_type="pipeline_secrets_aws",
        extra={
            "endpoint_url": moto.endpoint_url,
            "region_name": "us-east-1",
            "cache_ttl_seconds": 5,
        },
    )
    hook = SecretsManagerHook(aws_conn_id="sm_test")
    assert hook.get_secret("app/elsewhere") == "via-connection"
    assert hook.cache.policy.ttl_seconds == 5
    assert SecretsManagerHook(aws_conn_id="sm_test").cache is hook.cache  # shared
    ok, message = hook.test_connection()
    assert ok, message


def test_missing_default_connection_falls_back_to_environment(core: Any) -> None:
    hook = SecretsManagerHook()
    assert hook.cache is core


def test_ui_field_behaviour_and_widgets() -> None:
    behaviour = SecretsManagerHook.get_ui_field_behaviour()
    assert "host" in behaviour["hidden_fields"]
    assert isinstance(SecretsManagerHook.get_connection_form_widgets(), dict)

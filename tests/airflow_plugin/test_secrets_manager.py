"""Our backend beyond the provider's: more shapes, caching, errors, strict mode, masking."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.airflow_plugin.conftest import AIRFLOW_MAJOR, api_calls, conn_fields
from tests.airflow_plugin.faults import inject

PREFIX = "airflow/connections"


def _rds(engine: str, pw: str, **more: Any) -> dict[str, Any]:
    return {
        "engine": engine,
        "host": "db.example",
        "port": 5432,
        "username": "app",
        "password": pw,
        "dbname": "sales",
        **more,
    }


@pytest.mark.parametrize(
    ("engine", "conn_type"),
    [
        ("postgres", "postgres"),
        ("aurora-postgresql", "postgres"),
        ("mysql", "mysql"),
        ("aurora-mysql", "mysql"),
        ("mariadb", "mysql"),
        ("redshift", "redshift"),
        ("oracle", "oracle"),
        ("sqlserver-ex", "mssql"),
    ],
)
def test_rds_rotation_json(
    engine: str, conn_type: str, put_secret: Any, secret_value: Any, ours: Any
) -> None:
    pw = secret_value("rot")
    put_secret(
        f"{PREFIX}/db",
        _rds(engine, pw, dbInstanceIdentifier="db-1", masterarn="arn:x", options="-c x=1"),
    )
    got = conn_fields(ours().get_connection("db"))
    assert got is not None
    assert got["conn_type"] == conn_type
    assert (got["host"], got["port"], got["login"], got["schema"]) == (
        "db.example",
        5432,
        "app",
        "sales",
    )
    assert got["password"] == pw
    assert got["extra"] == {}  # as the provider: unknown keys dropped by default
    opted = conn_fields(ours(unknown_keys_to_extra=True).get_connection("db"))
    assert opted is not None
    assert opted["extra"] == {"options": "-c x=1"}  # unknown key kept, RDS metadata not
    kept = conn_fields(
        ours(unknown_keys_to_extra=True, rds_metadata_to_extra=True).get_connection("db")
    )
    assert kept is not None
    assert kept["extra"]["dbInstanceIdentifier"] == "db-1"


def test_postgres_ssl_flag_becomes_sslmode(put_secret: Any, secret_value: Any, ours: Any) -> None:
    put_secret(f"{PREFIX}/db", _rds("postgres", secret_value("ssl"), ssl=True))
    got = conn_fields(ours().get_connection("db"))
    assert got is not None and got["extra"] == {"sslmode": "require"}


def test_unknown_keys_are_dropped_unless_asked(
    put_secret: Any, secret_value: Any, ours: Any
) -> None:
    put_secret(f"{PREFIX}/db", _rds("postgres", secret_value("drop"), application_name="x"))
    got = conn_fields(ours().get_connection("db"))
    assert got is not None and got["extra"] == {}
    kept = conn_fields(ours(unknown_keys_to_extra=True).get_connection("db"))
    assert kept is not None and kept["extra"] == {"application_name": "x"}


def test_rds_managed_secret_with_base_connection(
    put_secret: Any, secret_value: Any, ours: Any
) -> None:
    pw = secret_value("mgd")
    put_secret("rds!db-0123-abcd", {"username": "master", "password": pw})
    backend = ours(
        connections={
            "warehouse": {
                "secret_id": "rds!db-0123-abcd",
                "conn_type": "postgres",
                "host": "wh.example",
                "port": 5432,
                "schema": "dw",
                "extra": {"sslmode": "require"},
            }
        }
    )
    got = conn_fields(backend.get_connection("warehouse"))
    assert got == {
        "conn_type": "postgres",
        "host": "wh.example",
        "login": "master",
        "password": pw,
        "schema": "dw",
        "port": 5432,
        "extra": {"sslmode": "require"},
    }


def test_secret_binary(put_secret: Any, secret_value: Any, ours: Any, official: Any) -> None:
    pw = secret_value("bin")
    doc = json.dumps({"conn_type": "postgres", "login": "a", "password": pw}).encode()
    put_secret(f"{PREFIX}/bin", doc, binary=True)
    got = conn_fields(ours().get_connection("bin"))
    assert got is not None and got["password"] == pw
    assert official().get_connection("bin") is None  # the provider ignores SecretBinary


def test_version_stage(moto: Any, put_secret: Any, secret_value: Any, ours: Any) -> None:
    old, new = secret_value("old"), secret_value("new")
    put_secret(f"{PREFIX}/rot", {"conn_type": "postgres", "password": old})
    put_secret(f"{PREFIX}/rot", {"conn_type": "postgres", "password": new})
    assert ours().get_connection("rot").password == new
    assert ours(version_stage="AWSPREVIOUS").get_connection("rot").password == old


def test_fallback_prefixes(put_secret: Any, secret_value: Any, ours: Any) -> None:
    put_secret("legacy/conns/old_one", {"conn_type": "mysql", "password": secret_value("fb")})
    put_secret("airflow/variables/v", "main")
    put_secret("legacy/vars/v", "legacy")
    put_secret("legacy/vars/w", "legacy-w")
    backend = ours(
        connections_fallback_prefixes=["legacy/conns"],
        variables_fallback_prefixes="legacy/vars",  # an env-style string
    )
    assert backend.get_connection("old_one").conn_type == "mysql"
    assert backend.get_variable("v") == "main"  # the main prefix wins
    assert backend.get_variable("w") == "legacy-w"
    assert backend.get_variable("nowhere") is None


def test_variables_plain_and_json_value(put_secret: Any, ours: Any) -> None:
    put_secret("airflow/variables/plain", "hello world")
    put_secret("airflow/variables/wrapped", json.dumps({"value": "unwrapped"}))
    put_secret("airflow/variables/wrapped_obj", json.dumps({"value": {"a": 1}}))
    put_secret("airflow/variables/doc", json.dumps({"value": "x", "other": 1}))
    put_secret("airflow/variables/brace", "{not json")
    backend = ours(variable_value_key="value")  # opt-in: unwrap {"value": ...}
    assert backend.get_variable("plain") == "hello world"
    assert backend.get_variable("wrapped") == "unwrapped"
    assert json.loads(backend.get_variable("wrapped_obj")) == {"a": 1}
    assert json.loads(backend.get_variable("doc")) == {"value": "x", "other": 1}
    assert backend.get_variable("brace") == "{not json"
    # By default, as the provider: the JSON text itself.
    assert ours().get_variable("wrapped") == json.dumps({"value": "unwrapped"})


def test_env_string_kwargs_are_parsed(put_secret: Any, ours: Any) -> None:
    put_secret("airflow/variables/v", "value-1")
    put_secret(f"{PREFIX}/c", json.dumps({"conn_type": "http"}))
    backend = ours(
        connections_prefix="null",
        variables_prefix="airflow/variables/",
        cache_ttl_seconds="60",
        config_kwargs='{"connect_timeout": 3, "retries": {"max_attempts": 2}}',
        strict="false",
        fallback_regions="us-west-2,eu-west-1",
        extra_conn_words='{"user": ["usr"]}',
    )
    assert backend.get_connection("c") is None
    assert backend.get_variable("v") == "value-1"
    assert backend.cache.policy.ttl_seconds == 60
    assert backend.cache.source.clients.regions() == [None, "us-west-2", "eu-west-1"]
    with pytest.raises(ValueError, match="cache_ttl_seconds"):
        ours(cache_ttl_seconds="soon")


def test_lookups_are_cached_including_misses(put_secret: Any, ours: Any) -> None:
    put_secret(f"{PREFIX}/c", json.dumps({"conn_type": "http", "host": "h"}))
    backend = ours()
    for _ in range(5):
        assert backend.get_connection("c").host == "h"
        assert backend.get_connection("absent") is None
    assert api_calls(backend) == 2


def test_prefetch_answers_absent_names_without_calls(put_secret: Any, ours: Any) -> None:
    for i in range(25):  # more than one BatchGetSecretValue page
        put_secret(f"{PREFIX}/c{i}", json.dumps({"conn_type": "http", "host": f"h{i}"}))
    backend = ours(prefetch=True)
    for i in range(25):
        assert backend.get_connection(f"c{i}").host == f"h{i}"
    for i in range(10):
        assert backend.get_connection(f"absent{i}") is None
    calls = backend.stats()["api_calls"]
    assert calls.get("GetSecretValue", 0) == 0
    assert calls["BatchGetSecretValue"] == 2


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _backend_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The backend's own warnings (the core cache logs its errors too, under its name)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("airflow_plugin")
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [("AccessDeniedException", "access denied"), ("DecryptionFailure", "KMS could not decrypt")],
)
def test_denied_and_kms_failures_warn_or_raise(
    code: str, reason: str, put_secret: Any, ours: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_secret(f"{PREFIX}/locked", json.dumps({"conn_type": "http"}))
    backend = ours()
    inject(backend, code)
    assert backend.get_conn_value("locked") is None
    (message,) = [m for m in _backend_warnings(caplog) if "locked" in m]
    assert f"{PREFIX}/locked" in message and reason in message
    strict = ours(strict=True)
    inject(strict, code)
    with pytest.raises(PermissionError, match=reason) as raised:
        strict.get_conn_value("locked")
    if AIRFLOW_MAJOR >= 3:
        from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

        assert isinstance(raised.value, AirflowSecretsBackendAccessDenied)


def test_malformed_secret_warns_with_field_not_value(
    put_secret: Any, secret_value: Any, ours: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pw = secret_value("bad")
    put_secret(f"{PREFIX}/broken", '{"conn_type": "http", "password": "' + pw + '", ')
    put_secret(
        f"{PREFIX}/badextra",
        {"conn_type": "http", "password": pw, "extra": "not-json", "unknown": 1},
    )
    backend = ours(unknown_keys_to_extra=True)
    assert backend.get_conn_value("broken") is None
    kept = backend.get_conn_value("badextra")  # as the provider: the extra string stays
    assert kept is not None and json.loads(kept)["extra"] == "not-json"
    messages = _warnings(caplog)
    assert any("broken" in m and "not valid JSON" in m for m in messages)
    assert any("badextra" in m and "'extra'" in m and "'unknown'" in m for m in messages)
    with pytest.raises(PermissionError):
        ours(strict=True).get_conn_value("broken")


def test_not_found_is_silent(ours: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert ours(strict=True).get_conn_value("nothing") is None
    assert _warnings(caplog) == []


def test_throttling_is_served_stale(
    put_secret: Any, ours: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_secret("airflow/variables/v", "cached-value")
    backend = ours(cache_ttl_seconds=0.05, config_kwargs={"retries": {"max_attempts": 2}})
    assert backend.get_variable("v") == "cached-value"
    time.sleep(0.1)
    fault = inject(backend, "ThrottlingException")
    assert backend.get_variable("v") == "cached-value"
    assert fault.hits >= 2  # botocore retried with backoff before giving up
    assert backend.stats()["stale_serves"] == 1
    assert any("serving the cached version" in m for m in _warnings(caplog))


def test_replica_region_failover(
    moto: Any, put_secret: Any, ours: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    put_secret("airflow/variables/v", "replica-value")  # moto's us-east-1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    backend = ours(
        region_name="us-west-2",
        fallback_regions="us-east-1",
        region_endpoint_urls={"us-west-2": dead, "us-east-1": moto.endpoint_url},
        config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    assert backend.get_variable("v") == "replica-value"
    assert any("trying region us-east-1" in m for m in _warnings(caplog))

"""A wrong password fails fast and says why (issue 14, item 9), against a SCRAM
PostgreSQL that really checks passwords and a moto server that counts every call."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from airflow_plugin.hooks.postgres import PostgresSecretsHook
from pipeline_secrets.errors import AuthenticationFailedError


def _refused_logins(pg_cluster: Any, user: str) -> int | None:
    """Password failures for ``user`` in the server's own log (None: no log here)."""
    if pg_cluster.data_dir is None:
        return None
    log = Path(pg_cluster.data_dir).parent / "log"
    text = log.read_text(errors="replace")
    return text.count(f'password authentication failed for user "{user}"')


def test_wrong_password_fails_fast_with_the_database_reason(
    core: Any,
    moto: Any,
    put_secret: Any,
    pg_user: Any,
    pg_cluster: Any,
    secret_value: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = pg_user()
    put_secret("app/wrong", {**user, "password": secret_value("wrong")})  # not the database's
    moto.reset_counts()
    before = _refused_logins(pg_cluster, user["username"])

    hook = PostgresSecretsHook(secret_id="app/wrong")
    # The first read, and Airflow's own first-use work (on 2.11 the first Connection
    # object imports the ORM: ~12 s on a loaded 2-core machine), before the clock starts.
    assert hook.connection.login == user["username"]
    started = time.monotonic()
    with pytest.raises(AuthenticationFailedError) as info:
        hook.get_first("SELECT 1")
    elapsed = time.monotonic() - started

    assert elapsed < 10, elapsed
    # Counted at the server: the first read, then AWSPENDING (none) and AWSCURRENT
    # (unchanged) once each. The limit is 3.
    assert moto.calls["GetSecretValue"] == 3
    if before is not None:
        refused = _refused_logins(pg_cluster, user["username"])
        assert refused is not None and refused - before == 1  # the limit is 4
    first_line = str(info.value).splitlines()[0]
    assert "password authentication failed" in first_line  # the database's own reason
    assert user["username"] in first_line
    assert "app/wrong" in str(info.value)
    # No value anywhere (the leak guard checks the message and every log line too).
    assert user["password"] not in str(info.value)
    ours = [r for r in caplog.records if r.name.startswith(("pipeline_secrets", "airflow_plugin"))]
    assert not [r for r in ours if r.levelname == "WARNING"]  # nothing to wait for


def test_other_driver_errors_on_the_conn_id_path_are_sanitized(
    airflow_conn: Any, secret_value: Any
) -> None:
    """A driver error that is not a refused login is re-raised at once, without the
    password it quotes (libpq echoes the unreadable part of a DSN)."""
    password = secret_value("dsn", special=False)
    airflow_conn(
        "pg_broken",
        conn_type="postgres",
        host="127.0.0.1",
        port=1,
        login="u",
        password=password,
        schema="db",
        extra={"sslmode": password},  # a value libpq quotes back in its error
    )
    with pytest.raises(Exception) as info:
        PostgresSecretsHook(postgres_conn_id="pg_broken").get_first("SELECT 1")
    assert not isinstance(info.value, AuthenticationFailedError)
    assert password not in str(info.value)

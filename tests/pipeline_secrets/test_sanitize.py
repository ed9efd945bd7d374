"""Driver errors that quote a DSN are sanitised before they reach users (real drivers)."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg2
import pymysql
import pytest

from devstack.ports import free_port
from pipeline_secrets import ClientSettings, SecretCache, SecretsManagerSource
from pipeline_secrets.reconnect import NO_RETRY, Reconnector
from pipeline_secrets.sanitize import SanitizedDatabaseError, ensure_clean, redact


def _error(call: Any) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("the driver accepted the DSN")


def _dsns(password: str, port: int) -> list[str]:
    return [
        f"postgresql://user:{password}%ZZ@127.0.0.1:{port}/db",  # bad percent-encoding
        f"host=127.0.0.1 port={port} user=u password={password} extra",  # missing "="
        f"postgresql://user:{password}@[::1/db",  # broken IPv6: libpq quotes the URI
    ]


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_libpq_dsn_errors_are_redacted(driver: str, secret_value: Any) -> None:
    password = secret_value("dsn", special=False)
    module: Any = psycopg2 if driver == "psycopg2" else psycopg
    for dsn in _dsns(password, free_port()):
        exc = _error(lambda dsn=dsn: module.connect(dsn, connect_timeout=1))
        # Without the password given, the patterns alone must remove it.
        assert password not in redact(str(exc)), type(exc).__name__
        clean = ensure_clean(exc)
        assert clean is not exc
        assert isinstance(clean, SanitizedDatabaseError)
        assert password not in str(clean)
        assert clean.original_type.endswith("ProgrammingError")


def test_space_in_password_fragment_psycopg(secret_value: Any) -> None:
    password = secret_value("sp", special=False)
    dsn = f"postgresql://user:x@host {password}/db"
    exc = _error(lambda: psycopg.connect(dsn, connect_timeout=1))
    assert password in str(exc)  # psycopg really quotes it...
    assert password not in str(ensure_clean(exc))  # ...and we do not


def test_errors_without_secrets_are_left_alone(secret_value: Any) -> None:
    port = free_port()
    password = secret_value("my", special=False)
    exc = _error(
        lambda: pymysql.connect(
            host="127.0.0.1", port=port, user="u", password=password, connect_timeout=1
        )
    )
    assert ensure_clean(exc, [password]) is exc  # callers can still catch pymysql's class
    refused = pymysql.err.OperationalError(
        1045, "Access denied for user 'u'@'h' (using password: YES)"
    )
    assert redact(str(refused)) == str(refused)
    exc2 = _error(lambda: psycopg2.connect(host="127.0.0.1", port=port, connect_timeout=1))
    assert ensure_clean(exc2, [password]) is exc2


def test_reconnector_sanitises_a_dsn_error(moto: Any, put_secret: Any, secret_value: Any) -> None:
    """A secret whose value makes libpq quote it: the user sees a sanitised error."""
    password = secret_value("q", special=False) + " tail"
    put_secret(
        "db/broken",
        {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": free_port(),
            "username": "u",
            "password": password,
        },
    )
    cache = SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))

    def connect(creds: Any) -> Any:
        # Build a keyword DSN by hand, the way naive code does.
        return psycopg2.connect(
            f"host={creds.host} port={creds.port} user={creds.username} "
            f"password={creds.password} connect_timeout=1"
        )

    with pytest.raises(SanitizedDatabaseError) as info:
        Reconnector(cache, NO_RETRY).connect("db/broken", connect)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert cache.stats.api_calls() == 1  # not an authentication failure: no refresh

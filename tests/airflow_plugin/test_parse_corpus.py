"""One parser: the backend's Connection and the core's credentials agree on every sample.

For every sample secret (the malformed-corpus cases the core accepts, and the shapes the
backend tests use), the Connection Airflow gets from our backend has the same login,
password, host, port, schema and engine as ``parse_db_credentials``. The one documented
exception (docs/airflow-backend.md, "Conflicting keys"): two of the amazon provider's
keys for one field that disagree. The core refuses such a secret, naming both keys; the
backend keeps the provider's rule (the first of them in the secret's order).
"""

from __future__ import annotations

import functools
import hashlib
import json
import types
from typing import Any

import pytest

from airflow_plugin import connection_shapes
from pipeline_secrets import SecretFormatError, SecretValue
from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.engine_facts import canonical_engine
from tests.pipeline_secrets.malformed_corpus import CASES as CORPUS
from tests.pipeline_secrets.malformed_corpus import PW

SHAPES: dict[str, Any] = {
    "airflow-canonical": {
        "conn_type": "postgres",
        "login": "app",
        "password": PW,
        "host": "db.example",
        "port": 5432,
        "schema": "sales",
        "extra": {"sslmode": "require"},
    },
    "airflow-aliases": {
        "connection_type": "mysql",
        "user": "app",
        "pass": PW,
        "remote_host": "db.example",
        "database": "sales",
        "port": "3306",
        "extra": json.dumps({"charset": "utf8"}),
    },
    "airflow-more-aliases": {"conn_id": "postgres", "user_name": "app", "key": PW, "server": "h"},
    "rds-rotation": {
        "engine": "aurora-postgresql",
        "host": "cluster.example",
        "port": 5432,
        "username": "app",
        "password": PW,
        "dbname": "sales",
        "dbClusterIdentifier": "cluster-1",
    },
    "rds-mariadb": {"engine": "mariadb", "host": "h", "username": "app", "password": PW},
    "redshift": {
        "engine": "redshift",
        "host": "h",
        "port": "5439",
        "username": "a",
        "password": PW,
    },
    "our-aliases": {"dialect": "postgresql", "hostname": "h", "user": "a", "passwd": PW, "db": "d"},
    "endpoint-alias": {"engine": "mysql", "endpoint": "h", "username": "a", "password": PW},
    "same-value-twice": {"user": "app", "username": "app", "password": PW, "port": "5432"},
    "same-port-two-types": {"username": "app", "password": PW, "port": 5432, "host": "h"},
    "dbname-and-database-equal": {"username": "a", "password": PW, "dbname": "x", "database": "x"},
    "uri": f"postgresql://app:{PW.replace('-', '%2D')}@db.example:5432/sales?sslmode=require",
    "uri-mysql": f"mysql://app:{PW}@db.example/sales",
}

# Provider-order cases: the provider's keys disagree; backend = first in the secret.
# name -> (secret, Connection field, the value the backend must give, the two keys)
PROVIDER_ORDER: dict[str, tuple[dict[str, Any], str, Any, tuple[str, str]]] = {
    "login-user-vs-username": (
        {"user": "alice", "username": "bob", "password": PW},
        "login",
        "alice",
        ("user", "username"),
    ),
    "login-username-first": (
        {"username": "bob", "login": "alice", "password": PW},
        "login",
        "bob",
        ("login", "username"),
    ),
    "password-pass-vs-password": (
        {"username": "a", "pass": PW, "password": PW + "-other"},
        "password",
        PW,
        ("password", "pass"),
    ),
    "host-server-vs-host": (
        {"username": "a", "password": PW, "server": "s", "host": "h"},
        "host",
        "s",
        ("host", "server"),
    ),
    "schema-database-vs-schema": (
        {"username": "a", "password": PW, "schema": "s", "database": "d"},
        "schema",
        "s",
        ("database", "schema"),
    ),
    # The example: the provider's "database" defines the schema; "dbname" is ours.
    "schema-database-vs-dbname": (
        {"user": "alice", "username": "alice", "dbname": "x", "database": "y", "password": PW},
        "schema",
        "y",
        ("database", "dbname"),
    ),
    "host-vs-hostname": (
        {"username": "a", "password": PW, "hostname": "ours", "host": "theirs"},
        "host",
        "theirs",
        ("host", "hostname"),
    ),
    "conn-type-vs-engine": (
        {"engine": "mysql", "conn_type": "postgres", "username": "a", "password": PW},
        "conn_type",
        "mysql",
        ("conn_type", "engine"),
    ),
}

# Our own keys disagreeing: a format error in the core and in the backend alike.
OURS_CONFLICTING: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "dbname-vs-db": ({"username": "a", "password": PW, "dbname": "x", "db": "y"}, ("dbname", "db")),
    "hostname-vs-endpoint": (
        {"username": "a", "password": PW, "hostname": "x", "endpoint": "y"},
        ("hostname", "endpoint"),
    ),
}


def _samples() -> dict[str, Any]:
    samples: dict[str, Any] = {}
    for case in CORPUS:
        if not case.ok:
            continue
        samples[f"corpus:{case.name}"] = case.secret
    samples.update({f"shape:{name}": secret for name, secret in SHAPES.items()})
    return samples


SAMPLES = _samples()


def _text(secret: Any) -> str:
    if isinstance(secret, bytes):
        value = SecretValue("s", "s", "arn:s", "v1", ("AWSCURRENT",), secret_binary=secret)
        return value.text()
    return secret if isinstance(secret, str) else json.dumps(secret)


@functools.cache
def _backend() -> Any:
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    return SecretsManagerBackend()


def _backend_connection(secret: Any) -> Any:
    """What our backend hands Airflow, deserialized by Airflow itself."""
    text = _text(secret)
    parsed = connection_shapes.parse_connection_secret(text, "corpus")
    conn: dict[str, Any] | None = None
    if parsed is not None:
        words = connection_shapes.word_lists(None)
        conn = connection_shapes.connection_dict(parsed, secret_id="corpus", words=words)
        text = connection_shapes.connection_json(conn)
    # Compared as the backend returned it, not through Airflow's Connection, where that
    # cannot hold the value (a lone surrogate: it encrypts the password as UTF-8) or would
    # register a megabyte-long password with the process-wide masker (slowing every later
    # log line of the session).
    if conn is not None and (len(text) > 100_000 or not _utf8(str(conn.get("password")))):
        return types.SimpleNamespace(**conn)
    return _backend().deserialize_connection(conn_id="corpus", value=text)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _digest(value: Any) -> str | None:
    if value is None:
        return None
    return hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _engine(value: Any) -> str | None:
    """The Airflow conn_type an engine name stands for (mariadb and mysql: mysql)."""
    if not value:
        return None
    text = str(value).replace("_", "-")
    canonical = canonical_engine(text)
    if canonical is None:
        return text.lower()
    return connection_shapes.airflow_conn_type(canonical) or canonical


def _from_backend(conn: Any) -> dict[str, Any]:
    return {
        "login": None if conn.login is None else str(conn.login),
        "password": _digest(conn.password),
        "host": conn.host or None,
        "port": conn.port,
        "schema": conn.schema or None,
        "engine": _engine(conn.conn_type),
    }


def _from_core(secret: Any) -> dict[str, Any]:
    if isinstance(secret, bytes):
        secret = _text(secret)
    creds = parse_db_credentials(secret, secret_id="corpus")
    return {
        "login": creds.username,
        "password": _digest(creds.password),
        "host": creds.host,
        "port": creds.port,
        "schema": creds.dbname,
        "engine": _engine(creds.engine or creds.engine_raw),
    }


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_backend_connection_equals_core_parse(name: str) -> None:
    secret = SAMPLES[name]
    assert _from_backend(_backend_connection(secret)) == _from_core(secret), name


@pytest.mark.parametrize("name", sorted(PROVIDER_ORDER))
def test_provider_order_cases(name: str, caplog: pytest.LogCaptureFixture) -> None:
    secret, conn_field, expected, keys = PROVIDER_ORDER[name]
    with pytest.raises(SecretFormatError) as raised:
        parse_db_credentials(secret, secret_id="corpus")
    for key in keys:
        assert repr(key) in str(raised.value)
    conn = _backend_connection(secret)
    got = getattr(conn, conn_field)
    if conn_field == "password":
        assert got == expected
    else:
        assert str(got) == expected
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(all(repr(k) in m for k in keys) for m in warnings)


@pytest.mark.parametrize("name", sorted(OURS_CONFLICTING))
def test_our_keys_conflicting_are_refused_by_both(name: str) -> None:
    secret, keys = OURS_CONFLICTING[name]
    for parse in (
        lambda: parse_db_credentials(secret, secret_id="corpus"),
        lambda: _backend_connection(secret),
    ):
        with pytest.raises(SecretFormatError) as raised:
            parse()
        assert all(repr(k) in str(raised.value) for k in keys)
        assert PW not in str(raised.value)


def test_no_sample_is_skipped() -> None:
    """Every corpus case the core accepts takes part (the corpus may grow)."""
    accepted = [c for c in CORPUS if c.ok]
    assert len(accepted) >= 15
    assert all(f"corpus:{c.name}" in SAMPLES for c in accepted)

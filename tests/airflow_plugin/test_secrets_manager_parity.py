"""Differential suite: the amazon provider's backend and ours, same kwargs, same moto server.

Every case builds both backends with the same arguments (keyword or positional), seeds
the same secrets, and observes what a user can see: Connection fields, Variable and
config values, the public ``client`` (region, endpoint, TLS, API version, botocore
config, TLS verification) and, for role cases, the STS identity its credentials carry
(role and session name). The observations must be equal, except in the cases listed in
``SUPERSETS``, where ours must equal the provider's with exactly the documented fields
changed (docs/airflow-backend.md, "Differences from the amazon provider").

``test_every_provider_kwarg_is_covered`` fails when the provider accepts a kwarg that no
case exercises. Not exercised: ``assume_role_with_saml`` (needs an identity provider;
passed to the provider's own session factory unchanged, like web identity, which is).
"""

from __future__ import annotations

import configparser
import hashlib
import inspect
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devstack.moto_server import MotoServer
from tests.airflow_plugin.conftest import conn_fields

PREFIX = "airflow/connections"
ROLE = "arn:aws:iam::123456789012:role/reader"

# Every kwarg the provider's backend reads: its signature, the two client arguments it
# pops, and the AWS connection extras its SessionFactory / AwsConnectionWrapper read.
PROVIDER_CLIENT_KWARGS = ("api_version", "use_ssl")
PROVIDER_AWS_EXTRAS = (
    "region_name",
    "endpoint_url",
    "profile_name",
    "role_arn",
    "assume_role_method",
    "assume_role_kwargs",
    "config_kwargs",
    "verify",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "session_kwargs",
    "service_config",
    "assume_role_with_web_identity_federation",
    "assume_role_with_web_identity_token_file",
)


@dataclass
class Ctx:
    """What a case may refer to: the moto server, a temp dir, a password."""

    moto: MotoServer
    tmp_path: Path
    pw: str


@dataclass
class Case:
    kwargs: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    secrets: dict[str, Any] = field(default_factory=dict)  # name -> str, dict or bytes
    binary: tuple[str, ...] = ()  # names stored as SecretBinary
    conns: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    client: bool = False  # observe the public client
    identity: bool = False  # observe the STS identity of the client's credentials
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset


def _pg_json(pw: str, **more: Any) -> dict[str, Any]:
    return {
        "conn_type": "postgres",
        "login": "app",
        "password": pw,
        "host": "db.example",
        "port": 5432,
        "schema": "sales",
        **more,
    }


def _rds(engine: str, pw: str, **more: Any) -> dict[str, Any]:
    return {
        "engine": engine,
        "host": "db.example",
        "port": 5432,
        "username": "app",
        "password": pw,
        **more,
    }


def _profile_files(tmp_path: Path) -> None:
    config = configparser.ConfigParser()
    config["profile moto"] = {"region": "eu-west-1"}
    credentials = configparser.ConfigParser()
    credentials["moto"] = {"aws_access_key_id": "profilekey", "aws_secret_access_key": "x"}
    for name, parser in (("config", config), ("credentials", credentials)):
        buffer = io.StringIO()
        parser.write(buffer)
        (tmp_path / name).write_text(buffer.getvalue())


def _conn_shapes(c: Ctx) -> Case:
    pw = c.pw
    secrets: dict[str, Any] = {
        "uri": f"postgresql://app:{quote(pw, safe='')}@db.example:5432/sales?sslmode=require",
        "canonical": _pg_json(pw, extra={"sslmode": "require", "connect_timeout": 5}),
        "aliases": {
            "connection_type": "mysql",
            "user": "app",
            "pass": pw,
            "remote_host": "db.example",
            "database": "sales",
            "port": "3306",
            "extra": json.dumps({"charset": "utf8"}),
        },
        "more_aliases": {"conn_id": "postgres", "user_name": "app", "key": pw, "server": "h"},
        "order": {"login": "first", "user": "second", "password": pw, "conn_type": "http"},
        "extra_string": {"conn_type": "http", "password": pw, "extra": '{"verify": false}'},
        "extra_not_json": {"conn_type": "http", "password": pw, "extra": "plain text"},
        "minimal": {"conn_type": "aws"},
        "engine_postgres": _rds("postgres", pw),
    }
    return Case(
        secrets={f"{PREFIX}/{k}": v for k, v in secrets.items()},
        conns=(*secrets, "absent"),
    )


CASES: dict[str, Callable[[Ctx], Case]] = {
    # -- secret shapes the provider understands ---------------------------------------
    "connection_shapes": _conn_shapes,
    # 7: unknown top-level keys are dropped (PostgresHook would pass them to libpq).
    "unknown_keys_dropped": lambda c: Case(
        secrets={f"{PREFIX}/db": _pg_json(c.pw, team="data-eng", cost_center=12)},
        conns=("db",),
    ),
    "unknown_keys_and_extra": lambda c: Case(
        secrets={f"{PREFIX}/db": _pg_json(c.pw, team="x", extra={"sslmode": "require"})},
        conns=("db",),
    ),
    # -- Variables and config -----------------------------------------------------------
    # 3: a {"value": ...} Variable is returned as its JSON text.
    "variable_value_wrapper": lambda c: Case(
        secrets={
            "airflow/variables/wrapped": json.dumps({"value": "inner"}),
            "airflow/variables/wrapped_obj": json.dumps({"value": {"a": 1}}),
            "airflow/variables/plain": "hello world",
            "airflow/variables/doc": json.dumps({"a": 1, "b": [1, 2]}),
            "airflow/variables/brace": "{not json",
        },
        variables=("wrapped", "wrapped_obj", "plain", "doc", "brace", "absent"),
    ),
    "config": lambda c: Case(
        secrets={"airflow/config/sql_alchemy_conn": "sqlite:////tmp/x.db"},
        configs=("sql_alchemy_conn", "absent"),
    ),
    # -- the provider's own kwargs, by keyword ----------------------------------------
    "connections_prefix": lambda c: Case(
        kwargs={"connections_prefix": "team/conns/"},
        secrets={"team/conns/c1": _pg_json(c.pw)},
        conns=("c1",),
    ),
    "connections_prefix_empty": lambda c: Case(
        kwargs={"connections_prefix": ""}, secrets={"c1": _pg_json(c.pw)}, conns=("c1",)
    ),
    "prefixes_none": lambda c: Case(
        kwargs={"connections_prefix": None, "variables_prefix": None, "config_prefix": None},
        secrets={
            f"{PREFIX}/c1": _pg_json(c.pw),
            "airflow/variables/v1": "v",
            "airflow/config/k1": "k",
        },
        conns=("c1",),
        variables=("v1",),
        configs=("k1",),
    ),
    "variables_and_config_prefix": lambda c: Case(
        kwargs={"variables_prefix": "vars", "config_prefix": "cfg"},
        secrets={"vars/v1": "variable", "cfg/k1": "config"},
        variables=("v1",),
        configs=("k1",),
    ),
    "sep": lambda c: Case(
        kwargs={"connections_prefix": "conns", "variables_prefix": "vars", "sep": "_"},
        secrets={"conns_c1": _pg_json(c.pw), "vars_v1": "value"},
        conns=("c1",),
        variables=("v1",),
    ),
    "lookup_patterns": lambda c: Case(
        kwargs={
            "connections_lookup_pattern": "^PG_",
            "variables_lookup_pattern": "^pub",
            "config_lookup_pattern": "^sql",
        },
        secrets={
            f"{PREFIX}/pg_main": _pg_json(c.pw),
            f"{PREFIX}/other": _pg_json(c.pw),
            "airflow/variables/public_v": "a",
            "airflow/variables/hidden": "b",
            "airflow/config/sql_x": "c",
            "airflow/config/other": "d",
        },
        conns=("pg_main", "other", "xpg_main"),
        variables=("public_v", "hidden"),
        configs=("sql_x", "other"),
    ),
    "extra_conn_words": lambda c: Case(
        kwargs={
            "extra_conn_words": {
                "user": ["usr"],
                "password": ["pwd"],
                "host": ["hostname"],
                "schema": ["db"],
                "conn_type": ["kind"],
                "port": ["p"],
            }
        },
        secrets={
            f"{PREFIX}/custom": {
                "usr": "app",
                "pwd": c.pw,
                "hostname": "h",
                "db": "d",
                "kind": "postgres",
                "p": 5433,
            }
        },
        conns=("custom",),
    ),
    # 6: positional arguments, in the provider's order.
    "positional_prefix": lambda c: Case(
        args=("custom/conns",), secrets={"custom/conns/c1": _pg_json(c.pw)}, conns=("c1",)
    ),
    "positional_all": lambda c: Case(
        args=("c", "^a", "v", "^a", "k", "^a", ":", {"user": ["usr"]}),
        secrets={
            "c:a1": {"usr": "app", "password": c.pw, "conn_type": "http"},
            "v:a1": "variable",
            "k:a1": "config",
        },
        conns=("a1", "b1"),
        variables=("a1", "b1"),
        configs=("a1", "b1"),
    ),
    "positional_and_keyword": lambda c: Case(
        args=("c",),
        kwargs={"variables_prefix": "v", "sep": "."},
        secrets={"c.c1": _pg_json(c.pw), "v.v1": "variable"},
        conns=("c1",),
        variables=("v1",),
    ),
    # -- AWS connection kwargs: what the public client (4) looks like -------------------
    "client_default": lambda c: Case(conns=("absent",), client=True),
    "region_name": lambda c: Case(kwargs={"region_name": "eu-central-1"}, client=True),
    "endpoint_url": lambda c: Case(
        kwargs={"endpoint_url": c.moto.endpoint_url, "region_name": "us-east-1"},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        client=True,
        env={"AWS_ENDPOINT_URL_SECRETS_MANAGER": None},
    ),
    "profile_name": lambda c: Case(
        kwargs={"profile_name": "moto"},
        client=True,
        env={
            "AWS_CONFIG_FILE": str(c.tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(c.tmp_path / "credentials"),
            "AWS_DEFAULT_REGION": None,
            "AWS_REGION": None,
        },
    ),
    "explicit_keys": lambda c: Case(
        kwargs={
            "aws_access_key_id": "keyid",
            "aws_secret_access_key": "secretkey",
            "aws_session_token": "token",
        },
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        client=True,
    ),
    "session_kwargs_keys": lambda c: Case(
        kwargs={"session_kwargs": {"aws_access_key_id": "sk", "aws_secret_access_key": "ss"}},
        client=True,
    ),
    "config_kwargs": lambda c: Case(
        kwargs={"config_kwargs": {"retries": {"max_attempts": 2}, "connect_timeout": 3}},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        client=True,
    ),
    "service_config": lambda c: Case(
        kwargs={"service_config": {"secretsmanager": {"x": 1}}},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        client=True,
    ),
    "verify_false": lambda c: Case(kwargs={"verify": False}, client=True),
    "verify_bundle": lambda c: Case(kwargs={"verify": "/etc/ssl/certs/ca.pem"}, client=True),
    # 5: use_ssl and api_version reach boto3.
    "use_ssl_false": lambda c: Case(
        kwargs={"use_ssl": False, "region_name": "eu-west-1"},
        client=True,
        env={"AWS_ENDPOINT_URL_SECRETS_MANAGER": None},
    ),
    "api_version": lambda c: Case(
        kwargs={"api_version": "2017-10-17"},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        client=True,
    ),
    "api_version_unknown": lambda c: Case(kwargs={"api_version": "1999-01-01"}, client=True),
    # -- roles: 1 and 2 ---------------------------------------------------------------
    "role_arn": lambda c: Case(
        kwargs={"role_arn": ROLE},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        identity=True,
    ),
    "assume_role_kwargs": lambda c: Case(
        kwargs={
            "role_arn": ROLE,
            "assume_role_method": "assume_role",
            "assume_role_kwargs": {"DurationSeconds": 900},
        },
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        identity=True,
    ),
    "assume_role_session_name": lambda c: Case(
        kwargs={"role_arn": ROLE, "assume_role_kwargs": {"RoleSessionName": "etl-reader"}},
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        identity=True,
    ),
    "web_identity": lambda c: Case(
        kwargs={
            "role_arn": "arn:aws:iam::123456789012:role/web",
            "assume_role_method": "assume_role_with_web_identity",
            "assume_role_with_web_identity_federation": "file",
            "assume_role_with_web_identity_token_file": str(c.tmp_path / "token"),
        },
        secrets={f"{PREFIX}/c1": _pg_json(c.pw)},
        conns=("c1",),
        identity=True,
    ),
    # -- where ours keeps what the provider loses (see SUPERSETS) -----------------------
    "dbname": lambda c: Case(
        secrets={f"{PREFIX}/db": _rds("postgres", c.pw, dbname="sales")}, conns=("db",)
    ),
    "our_keys": lambda c: Case(
        secrets={
            f"{PREFIX}/ours": {
                "dialect": "postgresql",
                "hostname": "h",
                "user": "app",
                "passwd": c.pw,
                "db": "d",
            }
        },
        conns=("ours",),
    ),
    "bom_json": lambda c: Case(
        secrets={f"{PREFIX}/bom": "\ufeff" + json.dumps(_pg_json(c.pw))}, conns=("bom",)
    ),
    "rds_engine_names": lambda c: Case(
        secrets={
            f"{PREFIX}/aurora": _rds("aurora-postgresql", c.pw, dbClusterIdentifier="cl-1"),
            f"{PREFIX}/mariadb": _rds("mariadb", c.pw, dbInstanceIdentifier="db-1"),
        },
        conns=("aurora", "mariadb"),
    ),
    "rds_postgres_ssl": lambda c: Case(
        secrets={f"{PREFIX}/db": _rds("postgres", c.pw, ssl=True)}, conns=("db",)
    ),
    "binary_secret": lambda c: Case(
        secrets={
            f"{PREFIX}/bin": json.dumps(_pg_json(c.pw)).encode(),
            "airflow/variables/bin": b"binary value",
        },
        binary=(f"{PREFIX}/bin", "airflow/variables/bin"),
        conns=("bin",),
        variables=("bin",),
    ),
}

# Documented differences (docs/airflow-backend.md): case -> {observation path: ours}.
# Everything not listed must be equal to the provider's observation.
SUPERSETS: dict[str, dict[tuple[str, ...], Any]] = {
    # The provider drops dbname; ours reads it as the schema when no alias key is set.
    "dbname": {("conns", "db", "schema"): "sales"},
    # Our keys fill fields none of the provider's keys set (the provider drops them).
    "our_keys": {
        ("conns", "ours", "conn_type"): "postgres",
        ("conns", "ours", "host"): "h",
        ("conns", "ours", "password"): "<pw>",
        ("conns", "ours", "schema"): "d",
    },
    # A byte-order mark before JSON: the provider hands Airflow the text as a URI.
    "bom_json": {("conns", "bom"): "<json-connection>"},
    # RDS engine names map to the hook's conn_type (the provider keeps
    # "aurora_postgresql"/"mariadb", which no hook has).
    "rds_engine_names": {
        ("conns", "aurora", "conn_type"): "postgres",
        ("conns", "mariadb", "conn_type"): "mysql",
    },
    # An RDS secret's "ssl": true becomes sslmode=require for PostgreSQL.
    "rds_postgres_ssl": {("conns", "db", "extra"): {"sslmode": "require"}},
    # The provider accepts config_kwargs and never gives them to its client (botocore's
    # defaults apply); ours applies them.
    "config_kwargs": {
        ("client", "config"): {
            "retries": {"total_max_attempts": 3, "mode": "standard"},
            "connect_timeout": 3,
        }
    },
    # The provider ignores SecretBinary (None); ours decodes UTF-8 binary secrets.
    "binary_secret": {
        ("conns", "bin"): "<binary-connection>",
        ("variables", "bin"): "binary value",
    },
}


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:16]


def _conn(backend: Any, conn_id: str, pw: str) -> Any:
    try:
        fields = conn_fields(backend.get_connection(conn_id))
    except Exception as exc:
        return f"raised {type(exc).__name__}"
    if fields is not None and fields.get("password"):
        # Compared by digest, so that a failing diff never prints a password.
        fields["password"] = _digest(fields["password"])
    return fields


def _outcome(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception as exc:
        return f"raised {type(exc).__name__}"


def _client_view(backend: Any, config_keys: tuple[str, ...]) -> Any:
    try:
        client = backend.client
    except Exception as exc:
        return f"raised {type(exc).__name__}"
    creds = client._request_signer._credentials
    frozen = creds.get_frozen_credentials() if creds is not None else None
    config = client.meta.config
    return {
        "service": client.meta.service_model.service_name,
        "api_version": client.meta.service_model.api_version,
        "region": client.meta.region_name,
        "endpoint_url": client.meta.endpoint_url,
        "verify": client._endpoint.http_session._verify,
        "access_key": frozen.access_key if frozen else None,
        "config": {k: getattr(config, k) for k in config_keys},
    }


def _identity(backend: Any, moto: MotoServer) -> Any:
    """The ARN of the client's credentials: assumed role and session name."""
    import boto3

    frozen = backend.client._request_signer._credentials.get_frozen_credentials()
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=moto.endpoint_url,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )
    arn = str(sts.get_caller_identity()["Arn"])
    # botocore names web-identity sessions after the clock: compare the name's form.
    return re.sub(r"/botocore-session-\d+$", "/botocore-session-<time>", arn)


def observe(backend: Any, case: Case, ctx: Ctx) -> dict[str, Any]:
    seen: dict[str, Any] = {
        "conns": {c: _conn(backend, c, ctx.pw) for c in case.conns},
        "variables": {v: _outcome(lambda v=v: backend.get_variable(v)) for v in case.variables},
        "configs": {k: _outcome(lambda k=k: backend.get_config(k)) for k in case.configs},
    }
    if case.client:
        keys = tuple((case.kwargs.get("config_kwargs") or {}).keys())
        seen["client"] = _client_view(backend, keys)
    if case.identity:
        seen["identity"] = _identity(backend, ctx.moto)
    return seen


def _apply(observation: dict[str, Any], changes: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    expected = json.loads(json.dumps(observation))
    for path, value in changes.items():
        node = expected
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return expected


def _normalize(observation: dict[str, Any], case: Case, ctx: Ctx) -> dict[str, Any]:
    """Binary and BOM-prefixed connections are compared by content, not by rendering;
    the case's password by a placeholder."""
    out = json.loads(json.dumps(observation, default=str))
    for fields in out["conns"].values():
        if isinstance(fields, dict) and fields.get("password") == _digest(ctx.pw):
            fields["password"] = "<pw>"
    bom = out["conns"].get("bom")
    if isinstance(bom, dict) and bom.get("password") == "<pw>" and bom.get("login") == "app":
        out["conns"]["bom"] = "<json-connection>"
    for name in case.binary:
        conn_id = name.rsplit("/", 1)[-1]
        if name.startswith(PREFIX) and isinstance(out["conns"].get(conn_id), dict):
            fields = out["conns"][conn_id]
            if fields.get("password") == "<pw>" and fields.get("login") == "app":
                out["conns"][conn_id] = "<binary-connection>"
    return out


@pytest.fixture
def ctx(moto: MotoServer, tmp_path: Path, secret_value: Any) -> Ctx:
    _profile_files(tmp_path)
    (tmp_path / "token").write_text("header.payload.signature")
    return Ctx(moto=moto, tmp_path=tmp_path, pw=secret_value("par"))


@pytest.fixture
def provider_backend(moto: MotoServer) -> Callable[..., Any]:
    """The provider's class itself (its client is built lazily, as Airflow does)."""
    module = pytest.importorskip("airflow.providers.amazon.aws.secrets.secrets_manager")
    return module.SecretsManagerBackend  # type: ignore[no-any-return]


@pytest.fixture
def our_backend(moto: MotoServer) -> Callable[..., Any]:
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    return SecretsManagerBackend


def _run(name: str, ctx: Ctx, put_secret: Any, official: Any, ours: Any, monkeypatch: Any) -> Any:
    case = CASES[name](ctx)
    for key, value in case.env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    for secret_name, value in case.secrets.items():
        put_secret(secret_name, value, binary=secret_name in case.binary)
    theirs = official(*case.args, **case.kwargs)
    mine = ours(*case.args, **case.kwargs)
    return case, observe(theirs, case, ctx), observe(mine, case, ctx)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_the_provider(
    name: str,
    ctx: Ctx,
    put_secret: Any,
    provider_backend: Any,
    our_backend: Any,
    monkeypatch: Any,
) -> None:
    case, theirs, mine = _run(name, ctx, put_secret, provider_backend, our_backend, monkeypatch)
    expected = _apply(_normalize(theirs, case, ctx), SUPERSETS.get(name, {}))
    got = _normalize(mine, case, ctx)
    assert got == expected, f"case {name!r} differs from the provider"
    if name in SUPERSETS:
        # A documented superset must really differ: otherwise the entry is stale.
        assert _normalize(theirs, case, ctx) != got, f"superset entry {name!r} is stale"


def test_every_provider_kwarg_is_covered(tmp_path: Path) -> None:
    module = pytest.importorskip("airflow.providers.amazon.aws.secrets.secrets_manager")
    signature = inspect.signature(module.SecretsManagerBackend.__init__)
    named = [p for p in signature.parameters if p not in {"self", "kwargs"}]
    from airflow_plugin.backend_options import POSITIONAL_KWARGS

    assert tuple(named) == POSITIONAL_KWARGS, "the provider's positional order changed"
    accepted = {*named, *PROVIDER_CLIENT_KWARGS, *PROVIDER_AWS_EXTRAS}
    ctx = Ctx(moto=MotoServer.__new__(MotoServer), tmp_path=tmp_path, pw="x")
    ctx.moto.__dict__["endpoint_url"] = "http://127.0.0.1:1"
    covered: set[str] = set()
    for build in CASES.values():
        case = build(ctx)
        covered.update(case.kwargs)
        covered.update(POSITIONAL_KWARGS[: len(case.args)])
    assert accepted - covered == set()

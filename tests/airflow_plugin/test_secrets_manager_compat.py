"""The amazon provider's backend and ours on the same moto server: same Connections.

Every kwarg of the provider's backend is exercised on both; for every secret the
provider understands, the Connection fields must be equal. Where the provider loses
data (``dbname``, unknown keys, engine names that are no conn_type), ours must return
the same fields plus what it kept.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.airflow_plugin.conftest import api_calls, conn_fields

PREFIX = "airflow/connections"


def _shapes(pw: str) -> dict[str, Any]:
    """Secret shapes the provider's backend understands, keyed by conn_id."""
    return {
        "uri_pg": f"postgresql://app:{quote(pw, safe='')}@db.example:5432/sales?sslmode=require",
        "json_canonical": {
            "conn_type": "postgres",
            "login": "app",
            "password": pw,
            "host": "db.example",
            "port": 5432,
            "schema": "sales",
            "extra": {"sslmode": "require", "connect_timeout": 5},
        },
        "json_aliases": {
            "connection_type": "mysql",
            "user": "app",
            "pass": pw,
            "remote_host": "db.example",
            "database": "sales",
            "port": "3306",
            "extra": json.dumps({"charset": "utf8"}),
        },
        "json_more_aliases": {
            "conn_id": "postgres",
            "user_name": "app",
            "key": pw,
            "server": "db.example",
        },
        "json_order": {"login": "first", "user": "second", "password": pw, "conn_type": "http"},
        "json_engine_pg": {
            "engine": "postgres",
            "username": "app",
            "password": pw,
            "host": "db.example",
            "port": 5432,
        },
        "json_extra_string_plain": {
            "conn_type": "http",
            "host": "api.example",
            "password": pw,
            "extra": json.dumps({"verify": False, "headers": {"X-A": "1"}}),
        },
        "json_minimal": {"conn_type": "aws"},
    }


@pytest.fixture
def seeded(put_secret: Any, secret_value: Any) -> dict[str, Any]:
    pw = secret_value("cmp")
    shapes = _shapes(pw)
    for conn_id, value in shapes.items():
        put_secret(f"{PREFIX}/{conn_id}", value)
    return shapes


def _both(official: Any, ours: Any, **kwargs: Any) -> tuple[Any, Any]:
    return official(**kwargs), ours(**kwargs)


def _assert_same(theirs: Any, mine: Any, conn_id: str) -> None:
    expected = conn_fields(theirs.get_connection(conn_id))
    got = conn_fields(mine.get_connection(conn_id))
    assert expected is not None, f"the provider found no {conn_id}"
    assert got == expected, f"{conn_id}: fields differ"


def test_every_understood_shape_gives_the_same_connection(
    seeded: dict[str, Any], official: Any, ours: Any
) -> None:
    theirs, mine = _both(official, ours)
    for conn_id in seeded:
        _assert_same(theirs, mine, conn_id)
    assert mine.get_connection("absent") is None and theirs.get_connection("absent") is None


def test_extra_conn_words(put_secret: Any, secret_value: Any, official: Any, ours: Any) -> None:
    pw = secret_value("ecw")
    put_secret(
        f"{PREFIX}/custom",
        {"usr": "app", "pwd": pw, "hostname": "h.example", "db": "d", "kind": "postgres"},
    )
    words = {
        "user": ["usr"],
        "password": ["pwd"],
        "host": ["hostname"],
        "schema": ["db"],
        "conn_type": ["kind"],
    }
    theirs, mine = _both(official, ours, extra_conn_words=words)
    _assert_same(theirs, mine, "custom")


@pytest.mark.parametrize(
    ("kwargs", "secret_name"),
    [
        ({"connections_prefix": "team/conns/"}, "team/conns/c1"),  # trailing sep stripped
        ({"connections_prefix": "team-conns", "sep": "_"}, "team-conns_c1"),
        ({"connections_prefix": ""}, "c1"),  # no prefix: the id is the name
    ],
)
def test_prefix_and_sep(
    kwargs: dict[str, Any],
    secret_name: str,
    put_secret: Any,
    secret_value: Any,
    official: Any,
    ours: Any,
) -> None:
    put_secret(secret_name, {"conn_type": "postgres", "password": secret_value("pfx")})
    theirs, mine = _both(official, ours, **kwargs)
    _assert_same(theirs, mine, "c1")


def test_prefix_none_disables_kind_without_calls(
    seeded: dict[str, Any], put_secret: Any, official: Any, ours: Any
) -> None:
    put_secret("airflow/variables/v1", "hello")
    put_secret("airflow/config/c1", "value")
    kwargs = {"connections_prefix": None, "variables_prefix": None, "config_prefix": None}
    theirs, mine = _both(official, ours, **kwargs)
    for backend in (theirs, mine):
        assert backend.get_connection("json_canonical") is None
        assert backend.get_variable("v1") is None
        assert backend.get_config("c1") is None
        assert api_calls(backend) == 0


@pytest.mark.parametrize("kind", ["connections", "variables", "config"])
def test_lookup_patterns(kind: str, put_secret: Any, official: Any, ours: Any) -> None:
    put_secret(f"airflow/{kind}/pg_main", json.dumps({"conn_type": "postgres"}))
    put_secret(f"airflow/{kind}/other", json.dumps({"conn_type": "postgres"}))
    kwargs = {f"{kind}_lookup_pattern": "^PG_"}  # case-insensitive, anchored
    theirs, mine = _both(official, ours, **kwargs)
    getter = {"connections": "get_conn_value", "variables": "get_variable", "config": "get_config"}
    for backend in (theirs, mine):
        get = getattr(backend, getter[kind])
        assert get("other") is None
        assert api_calls(backend) == 0
        assert get("pg_main") is not None
        assert get("xpg_main") is None  # re.match: anchored at the start


def test_variables_and_config_same(
    put_secret: Any, secret_value: Any, official: Any, ours: Any
) -> None:
    value = secret_value("var")
    put_secret("airflow/variables/plain", value)
    put_secret("airflow/variables/json_doc", json.dumps({"a": 1, "b": [1, 2]}))
    put_secret("airflow/config/sql_alchemy_conn", "sqlite:////tmp/x.db")
    theirs, mine = _both(official, ours)
    for key in ("plain", "json_doc", "absent"):
        assert mine.get_variable(key) == theirs.get_variable(key)
    assert mine.get_config("sql_alchemy_conn") == theirs.get_config("sql_alchemy_conn")


def _client_kwarg_cases(moto: Any, tmp_path: Path) -> list[dict[str, Any]]:
    config = configparser.ConfigParser()
    config["profile moto"] = {"region": "us-east-1"}
    credentials = configparser.ConfigParser()
    credentials["moto"] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    (tmp_path / "config").write_text(_ini(config))
    (tmp_path / "credentials").write_text(_ini(credentials))
    return [
        {"region_name": "us-east-1"},
        {"endpoint_url": moto.endpoint_url, "region_name": "us-east-1"},
        {"profile_name": "moto"},
        {"role_arn": "arn:aws:iam::123456789012:role/reader"},
        {
            "role_arn": "arn:aws:iam::123456789012:role/reader",
            "assume_role_method": "assume_role",
            "assume_role_kwargs": {"DurationSeconds": 900},
        },
        {"config_kwargs": {"retries": {"max_attempts": 2}, "connect_timeout": 3}},
        {"verify": False},
        {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
    ]


def _ini(parser: configparser.ConfigParser) -> str:
    import io

    buffer = io.StringIO()
    parser.write(buffer)
    return buffer.getvalue()


def test_aws_connection_kwargs(
    seeded: dict[str, Any],
    moto: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    official: Any,
    ours: Any,
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for kwargs in _client_kwarg_cases(moto, tmp_path):
        theirs, mine = _both(official, ours, **kwargs)
        _assert_same(theirs, mine, "json_canonical")
        _assert_same(theirs, mine, "uri_pg")


def test_multi_team_rules(
    multi_team: None, put_secret: Any, secret_value: Any, official: Any, ours: Any
) -> None:
    put_secret(f"{PREFIX}/team_a--db", {"conn_type": "postgres", "password": secret_value("ta")})
    put_secret(f"{PREFIX}/db", {"conn_type": "mysql", "password": secret_value("gl")})
    put_secret("airflow/variables/team_a--v", "team-a-value")
    put_secret("airflow/variables/v", "global-value")
    theirs, mine = _both(official, ours)
    for team in ("team_a", "team_b", None):
        expected = theirs.get_conn_value("db", team_name=team)
        assert expected is not None
        got = mine.get_conn_value("db", team_name=team)
        assert json.loads(got) == json.loads(expected)
        assert mine.get_variable("v", team_name=team) == theirs.get_variable("v", team_name=team)
    assert json.loads(mine.get_conn_value("db", team_name="team_a"))["conn_type"] == "postgres"
    assert json.loads(mine.get_conn_value("db", team_name="team_b"))["conn_type"] == "mysql"
    # An id naming a team namespace is refused for every caller, without a call.
    before = api_calls(mine)
    for team in ("team_a", "team_b", None):
        assert theirs.get_conn_value("team_a--db", team_name=team) is None
        assert mine.get_conn_value("team_a--db", team_name=team) is None
        assert mine.get_variable("team_a--v", team_name=team) is None
        assert mine.get_config("team_a--c") is None
    assert api_calls(mine) == before


def test_where_the_provider_loses_data_we_keep_it(
    put_secret: Any, secret_value: Any, official: Any, ours: Any
) -> None:
    pw = secret_value("rds")
    put_secret(
        f"{PREFIX}/rds",
        {
            "engine": "aurora-postgresql",
            "host": "cluster.example",
            "port": 5432,
            "username": "app",
            "password": pw,
            "dbname": "sales",
            "dbClusterIdentifier": "cluster-1",
            "application_name": "etl",
        },
    )
    theirs, mine = _both(official, ours)
    expected = conn_fields(theirs.get_connection("rds"))
    got = conn_fields(mine.get_connection("rds"))
    assert expected is not None and got is not None
    # The provider drops dbname and unknown keys, and keeps the engine as conn_type.
    assert expected["schema"] is None and expected["extra"] == {}
    assert expected["conn_type"] == "aurora_postgresql"  # no hook has that conn_type
    for name in ("host", "login", "password", "port"):
        assert got[name] == expected[name]
    assert got["schema"] == "sales"
    assert got["conn_type"] == "postgres"
    assert got["extra"] == {}  # as the provider: unknown keys dropped by default
    opted = conn_fields(ours(unknown_keys_to_extra=True).get_connection("rds"))
    assert opted is not None
    assert opted["extra"] == {"application_name": "etl"}  # RDS metadata not passed to drivers


def test_web_identity_role_is_delegated_to_the_provider_session(
    seeded: dict[str, Any], tmp_path: Path, official: Any, ours: Any
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("header.payload.signature")
    kwargs = {
        "role_arn": "arn:aws:iam::123456789012:role/web",
        "assume_role_method": "assume_role_with_web_identity",
        "assume_role_with_web_identity_federation": "file",
        "assume_role_with_web_identity_token_file": str(token_file),
    }
    theirs, mine = _both(official, ours, **kwargs)
    _assert_same(theirs, mine, "json_canonical")

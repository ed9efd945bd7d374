"""Malformed secrets (a corpus) and property-based tests of the parsers.

Parsing either succeeds with the right values or raises SecretFormatError naming
the field; never another exception, never the value in the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline_secrets import SecretFormatError, SecretValue
from pipeline_secrets.credentials import FIELD_ALIASES, DatabaseCredentials, parse_db_credentials
from tests.leakguard import exception_text
from tests.pipeline_secrets.malformed_corpus import CASES, MARK, Case

FIELDS = {*(k for a in FIELD_ALIASES.values() for k in a.keys), *FIELD_ALIASES, "extra", None}
EXAMPLES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def as_secret(raw: Any) -> Any:
    if isinstance(raw, bytes):
        return SecretValue(
            "corpus", "corpus", "arn:corpus", "v1", ("AWSCURRENT",), secret_binary=raw
        )
    return raw


def test_corpus_size() -> None:
    malformed = [c for c in CASES if not c.ok]
    assert len(malformed) >= 50, len(malformed)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus(case: Case) -> None:
    if case.ok:
        creds = parse_db_credentials(as_secret(case.secret), secret_id="corpus")
        for name, value in case.expect.items():
            assert getattr(creds, name) == value, name
        assert MARK not in repr(creds) and MARK not in str(creds)
        return
    with pytest.raises(SecretFormatError) as info:
        parse_db_credentials(as_secret(case.secret), secret_id="corpus")
    assert info.value.field == case.field
    assert "corpus" in str(info.value)  # names the secret
    assert MARK not in exception_text(info.value)  # never the value, nor in a cause


# -- property-based ------------------------------------------------------------------------
no_nul = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40)
nonempty = st.text(
    st.characters(blacklist_characters="\x00", codec="utf-8"), min_size=1, max_size=40
)
passwords = no_nul.map(lambda s: "PW\u00a7" + s)  # marked, so we can search messages
engines = st.sampled_from(
    [
        "postgres",
        "aurora-postgresql",
        "mysql",
        "aurora-mysql",
        "mariadb",
        "redshift",
        "oracle",
        "sqlserver",
    ]
)
ports = st.integers(1, 65535)
ssl_values = st.sampled_from([True, False, "require", "verify-full", "disable", "true"])
EXPECTED_SSL = {True: "require", False: "disable", "true": "require"}


@st.composite
def good_secrets(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid secret in one of the supported key spellings, and the expected fields."""
    user_key = draw(st.sampled_from(["username", "login", "user", "user_name"]))
    pass_key = draw(st.sampled_from(["password", "pass", "passwd"]))
    db_key = draw(st.sampled_from(["dbname", "database", "schema"]))
    username, password = draw(nonempty), draw(passwords)
    secret: dict[str, Any] = {user_key: username, pass_key: password}
    expect: dict[str, Any] = {"username": username, "password": password}
    if draw(st.booleans()):
        engine = draw(engines)
        secret["engine"] = engine
        expect["engine_raw"] = engine
    if draw(st.booleans()):
        secret["host"] = expect["host"] = draw(nonempty)
    if draw(st.booleans()):
        port = draw(ports)
        secret["port"] = draw(st.sampled_from([port, str(port)]))
        expect["port"] = port
    if draw(st.booleans()):
        secret[db_key] = expect["dbname"] = draw(nonempty)
    if draw(st.booleans()):
        ssl = draw(ssl_values)
        secret["ssl"] = ssl
        expect["ssl_mode"] = EXPECTED_SSL.get(ssl, ssl)
    extras = draw(
        st.dictionaries(
            st.text(min_size=1, max_size=8).map(lambda k: "x_" + k),
            st.integers() | st.text(max_size=8),
            max_size=4,
        )
    )
    secret.update(extras)
    expect["extras"] = extras
    return secret, expect


def check(creds: DatabaseCredentials, expect: dict[str, Any]) -> None:
    for name, value in expect.items():
        if name == "extras":
            for key, item in value.items():
                assert creds.extras[key] == item
        else:
            assert getattr(creds, name) == value, name
    assert "PW\u00a7" not in repr(creds) + str(creds)


@EXAMPLES
@given(good_secrets())
def test_property_valid_json_dicts(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    secret, expect = pair
    check(parse_db_credentials(secret, secret_id="p"), expect)


@EXAMPLES
@given(good_secrets())
def test_property_valid_json_text(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    secret, expect = pair
    check(parse_db_credentials(json.dumps(secret), secret_id="p"), expect)
    value = SecretValue("p", "p", "arn:p", "v9", ("AWSCURRENT",), secret_string=json.dumps(secret))
    creds = parse_db_credentials(value)
    check(creds, expect)
    assert creds.version_id == "v9"


hostnames = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}\Z")


@EXAMPLES
@given(
    nonempty,
    passwords,
    hostnames,
    st.one_of(st.none(), ports),
    st.one_of(st.none(), nonempty),
    st.sampled_from(["postgresql", "postgres", "mysql", "mariadb", "redshift"]),
)
@example("u", "PW\u00a7!#$%&'()*+,/:;=?@[]~ ", "h", 5432, "d/b", "postgresql")
def test_property_valid_uris(
    username: str, password: str, host: str, port: int | None, dbname: str | None, scheme: str
) -> None:
    uri = f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    uri += f":{port}" if port else ""
    uri += f"/{quote(dbname, safe='')}" if dbname else ""
    creds = parse_db_credentials(uri, secret_id="p")
    check(
        creds,
        {"username": username, "password": password, "host": host, "port": port, "dbname": dbname},
    )


def assert_clean_failure(exc: SecretFormatError, password: Any) -> None:
    assert exc.field in FIELDS, exc.field
    if isinstance(password, str) and password.startswith("PW\u00a7") and len(password) > 4:
        assert password not in exception_text(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
alias_keys = st.sampled_from(
    [
        "engine",
        "conn_type",
        "host",
        "server",
        "port",
        "username",
        "login",
        "user",
        "password",
        "pass",
        "key",
        "dbname",
        "database",
        "schema",
        "ssl",
        "sslmode",
        "extra",
        "other",
    ]
)


@EXAMPLES
@given(
    st.dictionaries(
        alias_keys, json_values | passwords | st.text("0123456789\u00b2 .-", max_size=8)
    )
)
def test_property_arbitrary_dicts(secret: dict[str, Any]) -> None:
    for form in (secret, json.dumps(secret)):
        try:
            creds = parse_db_credentials(form, secret_id="p")
        except SecretFormatError as exc:
            assert_clean_failure(exc, secret.get("password"))
        else:
            assert isinstance(creds.username, str) and creds.username
            assert isinstance(creds.password, str)
            assert creds.port is None or 0 < creds.port < 65536


@EXAMPLES
@given(st.text(max_size=80), passwords)
def test_property_arbitrary_text_and_uris(text: str, password: str) -> None:
    for form in (
        text,
        "postgres://" + text,
        f"mysql://u:{password}@{text}",
        f"postgres://u:{quote(password, safe='')}@h:{text}/db",
    ):
        try:
            parse_db_credentials(form, secret_id="p")
        except SecretFormatError as exc:
            assert_clean_failure(exc, password)


@EXAMPLES
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), json_values.map(json.dumps)))
def test_property_secret_value_json(raw: bytes | str) -> None:
    value = SecretValue(
        "p",
        "p",
        "arn:p",
        "v1",
        ("AWSCURRENT",),
        secret_string=raw if isinstance(raw, str) else None,
        secret_binary=raw if isinstance(raw, bytes) else None,
    )
    try:
        parsed = value.json()
    except SecretFormatError as exc:
        assert exc.field is None
        assert "p" in str(exc)
    else:
        assert isinstance(parsed, Mapping)

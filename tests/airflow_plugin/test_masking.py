"""Masking through Airflow's real secrets masker, both ways.

Secret values are masked (a connection's password, extra fields whose names Airflow
treats as sensitive, values the user marks); values that are not secret are not
(``sslmode: require`` must not turn "we require it" into "we *** it").
"""

from __future__ import annotations

import json
import secrets as pysecrets
from typing import Any

import pytest

from airflow_plugin import masking
from tests.airflow_plugin.conftest import AIRFLOW_MAJOR

PREFIX = "airflow/connections"


def _redact(text: str) -> str:
    if AIRFLOW_MAJOR >= 3:
        from airflow.sdk._shared.secrets_masker import redact
    else:
        from airflow.utils.log.secrets_masker import redact
    return str(redact(text))


def _hidden(value: str) -> bool:
    return value not in _redact(f"log line with {value} inside")


def _plain(prefix: str) -> str:
    """A value that is not secret (not registered with the leak guard)."""
    return f"{prefix}-{pysecrets.token_hex(6)}"


def test_connection_password_and_sensitive_extras_only(
    put_secret: Any, secret_value: Any, ours: Any
) -> None:
    pw, token, key = secret_value("mpw"), secret_value("mtok"), secret_value("mkey")
    app, region = _plain("etl-app"), _plain("region")
    put_secret(
        f"{PREFIX}/m",
        {
            "conn_type": "postgres",
            "password": pw,
            "extra": {
                "sslmode": "require",
                "application_name": app,
                "nested": {"client_token": token, "region": region},
                "private_key": key,
            },
        },
    )
    ours().get_conn_value("m")  # only our backend's registrations: no Connection built
    for value in (pw, token, key):
        assert _hidden(value)
    for value in (app, region):
        assert not _hidden(value)
    assert _redact("we require it") == "we require it"


def test_uri_connection_password_and_query_by_name(
    put_secret: Any, secret_value: Any, ours: Any
) -> None:
    pw, token = secret_value("upw", special=False), secret_value("utok", special=False)
    app = _plain("uapp")
    put_secret(
        f"{PREFIX}/u",
        f"postgresql://user:{pw}@h.example/db?sslmode=require&api_token={token}"
        f"&application_name={app}",
    )
    ours().get_conn_value("u")
    assert _hidden(pw) and _hidden(token)
    assert not _hidden(app)


def test_values_the_user_marks(put_secret: Any, secret_value: Any, ours: Any) -> None:
    app, var, listed = secret_value("mapp"), secret_value("mvar"), secret_value("mlst")
    other = _plain("other-var")
    put_secret(f"{PREFIX}/m", {"conn_type": "http", "extra": {"Application_Name": app}})
    put_secret("airflow/variables/plain_name", var)
    put_secret("airflow/variables/listed", listed)
    put_secret("airflow/variables/unlisted", other)
    ours(mask_extra_fields="application_name").get_conn_value("m")
    ours(mask_variables=True).get_variable("plain_name")
    named = ours(mask_variables=["listed"])
    named.get_variable("listed")
    named.get_variable("unlisted")
    assert _hidden(app) and _hidden(var) and _hidden(listed)
    assert not _hidden(other)


def test_variables_by_airflows_name_rule(put_secret: Any, secret_value: Any, ours: Any) -> None:
    token = secret_value("vtok")
    plain = _plain("plain-var")
    put_secret("airflow/variables/service_api_key", token)
    put_secret("airflow/variables/report_title", plain)
    backend = ours()
    assert backend.get_variable("service_api_key") == token
    assert backend.get_variable("report_title") == plain
    assert _hidden(token)
    assert not _hidden(plain)


def test_hook_json_secret_masks_password_aliases_not_host(secret_value: Any) -> None:
    pw, key = secret_value("hpw"), secret_value("hkey")
    host = _plain("db-host")
    document = {"username": "app", "pass": pw, "key": key, "host": host}
    masking.mask_json(json.dumps(document), document)
    assert _hidden(pw) and _hidden(key)
    assert not _hidden(host)


def test_the_extra_naming_the_secret_stays_visible() -> None:
    if AIRFLOW_MAJOR >= 3:
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    else:
        from airflow.utils.log.secrets_masker import should_hide_value_for_key
    assert not should_hide_value_for_key(masking.CREDENTIALS_EXTRA)
    assert should_hide_value_for_key("secret_id")  # why the field was renamed
    extra = {"secret_id": "legacy/db", "sslmode": "require"}
    assert masking.credentials_secret_id(extra) == "legacy/db"
    extra["credentials_id"] = "new/db"
    assert masking.credentials_secret_id(extra) == "new/db"
    from airflow_plugin.hooks import form

    names = {f.name for f in form.SQL_FIELDS}
    assert masking.CREDENTIALS_EXTRA in names and "secret_id" not in names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("false", False), ("a, b", ("a", "b")), ('["x"]', ("x",)), (None, False)],
)
def test_mask_variables_kwarg(raw: Any, expected: Any) -> None:
    from airflow_plugin.backend_options import parse_options

    assert parse_options({"mask_variables": raw}).mask_variables == expected
